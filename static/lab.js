/* The lab: steps through the sub-steps the server rendered, and keeps typed values across htmx swaps.
 *
 * The page carries every sub-step: its section (title, equation), the heatmap cards, and in
 * #lab-data the Plotly figures (one per matrix, one frame per SGD step) with the panels each
 * sub-step shows. Moving shows the current section and cards and calls Plotly.react only on a
 * card whose frame changed; nothing is fetched and the page is never reloaded to move.
 */
(function () {
  "use strict";

  var PLOT_CONFIG = { displayModeBar: false, responsive: false, scrollZoom: false, doubleClick: false, showTips: false };
  var PLAY_INTERVAL_MS = 1100;
  var current = null;
  var pendingTyped = null;

  function Lab(root) {
    var self = this;
    this.root = root;
    this.data = JSON.parse(root.querySelector("#lab-data").textContent);
    this.substeps = this.data.substeps;
    this.sections = Array.prototype.slice.call(root.querySelectorAll(".substep"));
    this.chips = Array.prototype.slice.call(root.querySelectorAll(".chip"));
    this.panelBox = root.querySelector("#panels");
    this.cards = {};
    Array.prototype.forEach.call(root.querySelectorAll(".panel"), function (el) {
      self.cards[el.id] = { el: el, plot: el.querySelector(".plot"), frame: -1 };
    });
    this.networkPlot = root.querySelector("#network-plot");
    this.lossPlot = root.querySelector("#loss-plot");
    this.scrubber = root.querySelector("#scrubber");
    this.positionNumber = root.querySelector("#position-number");
    this.stepNumber = root.querySelector("#step-number");
    this.lossReadout = root.querySelector("#loss-readout");
    this.live = root.querySelector("#live");
    this.playButton = root.querySelector('[data-move="play"]');
    this.atField = root.querySelector("#at-field");
    this.visible = [];
    this.breaks = [];
    this.networkShown = -1;
    this.lossShown = -1;
    this.index = -1;
    this.timer = null;

    root.querySelector(".timeline").addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) return;
      if (button.dataset.index !== undefined) {
        self.pause();
        self.show(Number(button.dataset.index));
        return;
      }
      var move = button.dataset.move;
      if (move === "play") self.toggle();
      else if (move) {
        self.pause();
        self.go(move);
      }
    });
    this.scrubber.addEventListener("input", function () {
      self.pause();
      self.show(Number(self.scrubber.value));
    });
    this.show(Number(root.dataset.start || 0));
  }

  Lab.prototype.go = function (move) {
    var last = this.substeps.length - 1;
    var target = { first: 0, previous: this.index - 1, next: this.index + 1, last: last }[move];
    this.show(Math.max(0, Math.min(last, target)));
  };

  Lab.prototype.show = function (index) {
    if (index === this.index || index < 0 || index >= this.substeps.length) return;
    var substep = this.substeps[index];
    if (this.index >= 0) this.sections[this.index].hidden = true;
    var section = this.sections[index];
    section.hidden = false;
    this.index = index;

    var wanted = {};
    var self = this;
    substep.panels.forEach(function (panel) { wanted[panel[0]] = true; });
    this.visible.forEach(function (slug) {
      if (!wanted[slug]) self.cards[slug].el.hidden = true;
    });
    this.breaks.forEach(function (rowBreak) { rowBreak.remove(); });
    var used = 0;
    substep.panels.forEach(function (panel) {
      var card = self.cards[panel[0]];
      if (panel[2]) {
        // One row per equation of the sub-step.
        if (used === self.breaks.length) {
          var rowBreak = document.createElement("div");
          rowBreak.className = "row-break";
          self.breaks.push(rowBreak);
        }
        self.panelBox.appendChild(self.breaks[used++]);
      }
      card.el.hidden = false;
      self.panelBox.appendChild(card.el); // DOM order = reading order, for screen readers too
      if (card.frame !== panel[1]) self.drawCard(panel[0], card, panel[1]);
    });
    this.visible = substep.panels.map(function (panel) { return panel[0]; });

    if (this.networkPlot && substep.network !== this.networkShown) {
      Plotly.react(this.networkPlot, this.data.networks[substep.network], PLOT_CONFIG);
      this.networkShown = substep.network;
    }
    if (this.lossPlot && substep.step !== this.lossShown) {
      Plotly.react(this.lossPlot, this.data.lossCurves[substep.step], PLOT_CONFIG);
      this.lossShown = substep.step;
    }

    var title = section.querySelector(".substep-title").textContent;
    this.scrubber.value = String(index);
    this.scrubber.setAttribute("aria-valuetext", title);
    this.positionNumber.textContent = String(index + 1);
    this.stepNumber.textContent = String(substep.step + 1);
    this.lossReadout.textContent = section.dataset.loss;
    this.chips.forEach(function (chip, i) {
      if (i === index) chip.setAttribute("aria-current", "step");
      else chip.removeAttribute("aria-current");
    });
    var chip = this.chips[index];
    if (chip && chip.scrollIntoView && chip.parentNode.parentNode.scrollWidth > chip.parentNode.parentNode.clientWidth) {
      chip.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    this.live.textContent = title;
    if (this.atField) this.atField.value = substep.key;
    var url = new URL(window.location.href);
    url.searchParams.set("at", substep.key);
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    this.root.dataset.position = String(index);
  };

  Lab.prototype.drawCard = function (slug, card, frame) {
    var figure = this.data.figures[slug];
    var trace = Object.assign({}, figure.data[0], figure.frames[frame].data[0]);
    Plotly.react(card.plot, [trace], figure.layout, PLOT_CONFIG);
    card.frame = frame;
    Array.prototype.forEach.call(card.el.querySelectorAll("[data-frame]"), function (el) {
      el.hidden = Number(el.dataset.frame) !== frame;
    });
  };

  Lab.prototype.toggle = function () {
    if (this.timer) this.pause();
    else this.play();
  };

  Lab.prototype.play = function () {
    var self = this;
    if (this.index >= this.substeps.length - 1) this.show(0);
    this.timer = window.setInterval(function () {
      if (self.index >= self.substeps.length - 1) self.pause();
      else self.show(self.index + 1);
    }, PLAY_INTERVAL_MS);
    this.playButton.setAttribute("aria-pressed", "true");
    this.playButton.querySelector(".play-icon").textContent = "❚❚";
    this.playButton.querySelector(".play-label").textContent = "Pause";
  };

  Lab.prototype.pause = function () {
    if (!this.timer) return;
    window.clearInterval(this.timer);
    this.timer = null;
    this.playButton.setAttribute("aria-pressed", "false");
    this.playButton.querySelector(".play-icon").textContent = "▶";
    this.playButton.querySelector(".play-label").textContent = "Play";
  };

  Lab.prototype.destroy = function () {
    this.pause();
    Array.prototype.forEach.call(this.root.querySelectorAll(".js-plotly-plot"), function (el) {
      Plotly.purge(el);
    });
  };

  function start() {
    var root = document.getElementById("lab");
    if (!root || typeof Plotly === "undefined") return;
    if (current) current.destroy();
    current = new Lab(root);
  }

  function editable(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || target.closest("form") !== null;
  }

  document.addEventListener("keydown", function (event) {
    if (!current || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target;
    if (target && target.id === "scrubber") {
      if (event.key !== " ") return; // the range input moves itself on arrows, Home and End
    } else if (editable(target)) {
      return;
    }
    var isButton = target && (target.tagName === "BUTTON" || target.tagName === "A" || target.tagName === "SUMMARY");
    switch (event.key) {
      case "ArrowRight": current.pause(); current.go("next"); break;
      case "ArrowLeft": current.pause(); current.go("previous"); break;
      case "Home": current.pause(); current.go("first"); break;
      case "End": current.pause(); current.go("last"); break;
      case " ":
      case "Spacebar":
        if (isButton) return; // Space presses the focused button
        current.toggle();
        break;
      default: return;
    }
    event.preventDefault();
  });

  // A swap of the lab must not lose what is being typed in the field that has the focus.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "lab") return;
    var active = document.activeElement;
    pendingTyped = null;
    if (active && active.tagName === "INPUT" && active.id && active.type === "text" && active.value !== active.defaultValue) {
      pendingTyped = { id: active.id, value: active.value, start: active.selectionStart, end: active.selectionEnd };
    }
    if (current) {
      current.destroy();
      current = null;
    }
  });

  document.addEventListener("htmx:load", function (event) {
    if (!event.target || event.target.id !== "lab") return;
    start();
    if (!pendingTyped) return;
    var field = document.getElementById(pendingTyped.id);
    if (field && field.value !== pendingTyped.value) {
      field.value = pendingTyped.value;
      field.dataset.typed = "1";
      if (document.activeElement === field && field.setSelectionRange) {
        field.setSelectionRange(pendingTyped.start, pendingTyped.end);
      }
    }
    pendingTyped = null;
  });

  document.addEventListener("input", function (event) {
    if (event.target && event.target.dataset) delete event.target.dataset.typed;
  });

  // A restored value the student did not touch again still has to be sent when they leave the field.
  document.addEventListener("focusout", function (event) {
    var field = event.target;
    if (field && field.dataset && field.dataset.typed) {
      delete field.dataset.typed;
      if (field.value !== field.defaultValue) field.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
