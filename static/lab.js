/* The lab: steps through the sub-steps the server rendered, and keeps typed values across htmx swaps.
 *
 * The same script plays the embed page (data-view="embed") and the standalone HTML export
 * (data-view="static", no server: it never touches the URL). In the lab and the embed the URL
 * holds the whole state (webapp/lab/state.py): after each move the script writes the state with the
 * sub-step shown and the open panels into ?state=, and keeps the Embed dialog's links in step.
 *
 * The page carries every sub-step: its section (title, equation), the heatmap cards, and in
 * #lab-data the Plotly figures (one per matrix, one frame per SGD step, plus the network
 * diagram of each sub-step and the loss curve of each SGD step) with the panels each sub-step
 * shows. Each figure frame is drawn once with Plotly.react into its own element; moving only
 * shows and hides elements, so a step costs no drawing once its frames are drawn. Frames near
 * the current sub-step are drawn ahead of time when the browser is idle, and what the sub-steps on
 * either side show is laid out ("warm") right after each step's frame, so a step costs little style
 * or layout work either.
 * Cards are never moved in the DOM (a moved element loses its layout): the flex order arranges
 * them and aria-owns reads them in the equation's order. Nothing is fetched and the page is never
 * reloaded to move.
 */
(function () {
  "use strict";

  var PLOT_CONFIG = { displayModeBar: false, responsive: false, scrollZoom: false, doubleClick: false, showTips: false };
  var PLAY_INTERVAL_MS = 1100;
  var current = null;
  var pendingTyped = null;

  var idle = window.requestIdleCallback
    ? function (callback) { return window.requestIdleCallback(callback, { timeout: 500 }); }
    : function (callback) { return window.setTimeout(function () { callback({ timeRemaining: function () { return 16; } }); }, 30); };
  var cancelIdle = window.cancelIdleCallback || window.clearTimeout;

  /* A state as the server writes it: compact JSON with sorted keys, deflated (zlib), base64url. */
  function canonical(value) {
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (value !== null && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (key) {
        return JSON.stringify(key) + ":" + canonical(value[key]);
      }).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  function base64url(bytes) {
    var text = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return window.btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /* A promise of the URL token of `data`, or of null where the browser cannot deflate. */
  function encodeState(data) {
    if (typeof CompressionStream === "undefined") return Promise.resolve(null);
    var stream = new Blob([canonical(data)]).stream().pipeThrough(new CompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (buffer) { return base64url(new Uint8Array(buffer)); });
  }

  function escapeAttribute(text) {
    return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  /* The Embed dialog: the permalink, the iframe snippet with its options, the export links. */
  function Share(dialog, lab) {
    var self = this;
    this.dialog = dialog;
    this.lab = lab;
    this.permalink = dialog.querySelector("#share-permalink");
    this.snippet = dialog.querySelector("#share-snippet");
    this.readonly = dialog.querySelector("#embed-readonly");
    this.panelBoxes = Array.prototype.slice.call(dialog.querySelectorAll("[data-embed-panel]"));
    this.exports = Array.prototype.slice.call(dialog.querySelectorAll("[data-export]"));
    this.status = dialog.querySelector("#share-status");
    lab.root.querySelector("#share-open").addEventListener("click", function () {
      self.status.textContent = "";
      self.render();
      dialog.showModal();
    });
    dialog.addEventListener("change", function (event) {
      var box = event.target;
      if (box.dataset.embedPanel !== undefined && !self.panelBoxes.some(function (b) { return b.checked; })) {
        box.checked = true; // an embed shows at least one panel
        self.status.textContent = "The embedded lab needs at least one panel.";
      }
      self.render();
    });
    dialog.addEventListener("click", function (event) {
      var button = event.target.closest("[data-copy]");
      if (button) self.copy(dialog.querySelector("#" + button.dataset.copy));
    });
  }

  Share.prototype.render = function () {
    var token = this.lab.token;
    var origin = window.location.origin;
    var lab = new URL(this.dialog.dataset.labPath, origin);
    lab.searchParams.set("state", token);
    this.permalink.value = lab.href;
    var embed = new URL(this.dialog.dataset.embedPath, origin);
    embed.searchParams.set("state", token);
    var panels = this.panelBoxes.filter(function (box) { return box.checked; })
      .map(function (box) { return box.dataset.embedPanel; });
    if (panels.length !== this.panelBoxes.length) embed.searchParams.set("panels", panels.join(","));
    if (this.readonly.checked) embed.searchParams.set("readonly", "1");
    this.snippet.value = this.snippet.value.replace(/src="[^"]*"/, 'src="' + escapeAttribute(embed.href) + '"');
    var exportPath = this.dialog.dataset.exportPath;
    this.exports.forEach(function (link) {
      var url = new URL(exportPath, origin);
      url.searchParams.set("state", token);
      url.searchParams.set("format", link.dataset.export);
      link.href = url.pathname + url.search;
    });
  };

  Share.prototype.copy = function (field) {
    var status = this.status;
    var fallback = function () {
      field.select();
      status.textContent = document.execCommand("copy") ? "Copied." : "Select the text and copy it (Ctrl+C).";
    };
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { status.textContent = "Copied."; }, fallback);
    } else {
      fallback();
    }
  };

  /* Hiding and showing what a sub-step draws. A hidden element stays "warm" while a sub-step next to the
   * current one shows it: laid out but transparent and out of the flow (lab.css), so showing it again
   * costs no style or layout work; other hidden elements are display: none. A warm element is hidden
   * from screen readers with aria-hidden (opacity does not hide it), and neither its links nor its scroll
   * regions can take the focus (nothing in it scrolls: lab.css). */
  function hide(element, warmed) {
    keepWarm(element);
    element.hidden = true;
    warmed.push(element);
  }

  function keepWarm(element) {
    element.dataset.warm = "";
    element.setAttribute("aria-hidden", "true");
    unfocusable(element, true);
  }

  function reveal(element) {
    delete element.dataset.warm;
    element.removeAttribute("aria-hidden");
    unfocusable(element, false);
    element.hidden = false;
  }

  /* The links of a warm element leave the tab order (a CSS rule reaching into its subtree would make
   * the browser walk that whole subtree each time the element is shown or hidden), and so do its scroll
   * regions; shown again, a region is back in it if it scrolls (reachIfScrolls, after the next frame). */
  function unfocusable(element, yes) {
    if (!element.labLinks) element.labLinks = Array.prototype.slice.call(element.querySelectorAll("a[href]"));
    element.labLinks.forEach(function (link) {
      if (yes) link.tabIndex = -1;
      else link.removeAttribute("tabindex");
    });
    if (!yes) return;
    if (!element.labRegions) {
      element.labRegions = Array.prototype.slice.call(element.querySelectorAll("[data-scroll]"));
      if (element.hasAttribute("data-scroll")) element.labRegions.push(element);
    }
    element.labRegions.forEach(function (region) { region.removeAttribute("tabindex"); });
  }

  /* A wide equation, a heatmap card wider than the page: a region whose content overflows takes the focus, so
   * the keyboard can reach it and scroll it (the arrows scroll it: see the keydown handler); one that fits
   * is no tab stop. */
  function scrolls(region) {
    return region.scrollWidth > region.clientWidth || region.scrollHeight > region.clientHeight;
  }

  function reachIfScrolls(region) {
    if (region.closest("[hidden]")) return; // out of reach already (display: none, or warm: unfocusable)
    if (scrolls(region)) {
      if (region.tabIndex !== 0) region.tabIndex = 0;
    } else if (region.hasAttribute("tabindex")) {
      region.removeAttribute("tabindex");
    }
  }

  /* A set of figures drawn on demand into hidden elements of one container: show(key) shows one. */
  function Gallery(container, figureOf, warmed) {
    this.container = container;
    this.figureOf = figureOf;
    this.warmed = warmed;
    this.elements = {};
    this.shown = null;
  }

  Gallery.prototype.draw = function (key) {
    var element = this.elements[key];
    if (element) return false;
    element = document.createElement("div");
    element.className = "plot";
    element.hidden = key !== this.shown;
    element.dataset.key = String(key);
    this.container.appendChild(element);
    this.elements[key] = element;
    var figure = this.figureOf(key);
    var layout = figure.layout;
    if (layout.width === undefined) {
      // Drawn ahead of time into a hidden element, a figure cannot size itself: give it the container's width.
      layout = Object.assign({}, layout, { width: this.container.clientWidth || 600 });
      element.dataset.width = String(layout.width);
    }
    if (layout.width !== undefined && layout.height !== undefined) {
      // A figure of a known size is laid out and painted on its own (lab.css: .plot.sized).
      element.style.width = layout.width + "px";
      element.style.height = layout.height + "px";
      element.classList.add("sized");
    }
    Plotly.react(element, figure.data, layout, PLOT_CONFIG);
    return true;
  };

  /* After the page width changed: redraw the shown figure of a container-wide gallery, forget the rest. */
  Gallery.prototype.resize = function () {
    var elements = this.elements;
    var shown = this.shown;
    if (shown === null || !elements[shown] || this.figureOf(shown).layout.width !== undefined) return;
    var width = this.container.clientWidth;
    if (!width || Number(elements[shown].dataset.width) === width) return; // hidden, or drawn at this width
    Object.keys(elements).forEach(function (key) {
      Plotly.purge(elements[key]);
      elements[key].remove();
    });
    this.elements = {};
    this.draw(shown);
  };

  Gallery.prototype.show = function (key) {
    if (this.shown === key) return;
    if (this.shown !== null && this.elements[this.shown]) hide(this.elements[this.shown], this.warmed);
    this.shown = key;
    if (this.elements[key]) reveal(this.elements[key]);
    else this.draw(key);
  };

  Gallery.prototype.purge = function () {
    var elements = this.elements;
    Object.keys(elements).forEach(function (key) { Plotly.purge(elements[key]); });
  };

  function Lab(root) {
    var self = this;
    this.root = root;
    this.data = JSON.parse(root.querySelector("#lab-data").textContent);
    this.substeps = this.data.substeps;
    this.sections = Array.prototype.slice.call(root.querySelectorAll(".substep"));
    this.chips = Array.prototype.slice.call(root.querySelectorAll(".chip"));
    this.panelBox = root.querySelector("#panels");
    this.warmed = [];
    this.cards = {};
    Array.prototype.forEach.call(root.querySelectorAll(".panel"), function (el) {
      var figure = self.data.figures[el.id];
      self.cards[el.id] = {
        el: el,
        frame: -1,
        plots: new Gallery(el.querySelector(".plots"), function (frame) {
          return { data: [Object.assign({}, figure.data[0], figure.frames[frame].data[0])], layout: figure.layout };
        }, self.warmed),
        tables: Array.prototype.slice.call(el.querySelectorAll("table[data-frame]")),
        notes: Array.prototype.slice.call(el.querySelectorAll("li[data-frame]"))
      };
    });
    this.networks = new Gallery(root.querySelector("#network-plot"), function (index) { return self.data.networks[index]; },
                                this.warmed);
    this.lossCurves = new Gallery(root.querySelector("#loss-plot"), function (step) { return self.data.lossCurves[step]; },
                                  this.warmed);
    this.scrubber = root.querySelector("#scrubber");
    this.regions = Array.prototype.slice.call(root.querySelectorAll("[data-scroll]"));
    this.positionNumber = root.querySelector("#position-number");
    this.stepNumber = root.querySelector("#step-number");
    this.lossReadout = root.querySelector("#loss-readout");
    this.live = root.querySelector("#live");
    this.playButton = root.querySelector('[data-move="play"]');
    this.atField = root.querySelector("#at-field");
    this.visible = [];
    this.breaks = [];
    this.layout = null;
    this.chipShown = -1;
    this.urlTimer = null;
    this.index = -1;
    this.timer = null;
    this.idleHandle = null;
    this.warmFrame = null;
    this.warmTimer = null;
    this.view = root.dataset.view || "lab";
    var stateElement = root.querySelector("#lab-state");
    this.stateData = stateElement ? JSON.parse(stateElement.textContent) : null;
    this.token = root.dataset.url ? new URL(root.dataset.url, window.location.href).searchParams.get("state") : null;
    this.urlTicket = 0;
    this.allPanels = (root.dataset.allPanels || "").split(",");
    this.panelsField = root.querySelector("#panels-field");
    this.toggles = Array.prototype.slice.call(root.querySelectorAll("[data-panel-toggle]"));
    this.toggles.forEach(function (toggle) {
      toggle.addEventListener("change", function () { self.applyPanels(); });
    });
    var dialog = root.querySelector("#share-dialog");
    this.share = dialog ? new Share(dialog, this) : null;

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

  function keepInView(chip) {
    var strip = chip.parentNode.parentNode;
    if (strip.scrollWidth <= strip.clientWidth) return;
    var left = chip.offsetLeft - strip.offsetLeft;
    if (left < strip.scrollLeft || left + chip.offsetWidth > strip.scrollLeft + strip.clientWidth) {
      strip.scrollLeft = left - strip.clientWidth / 2;
    }
  }

  Lab.prototype.go = function (move) {
    var last = this.substeps.length - 1;
    var target = { first: 0, previous: this.index - 1, next: this.index + 1, last: last }[move];
    this.show(Math.max(0, Math.min(last, target)));
  };

  Lab.prototype.show = function (index) {
    if (index === this.index || index < 0 || index >= this.substeps.length) return;
    var self = this;
    var first = this.index < 0;
    var substep = this.substeps[index];
    if (!first) hide(this.sections[this.index], this.warmed);
    var section = this.sections[index];
    reveal(section);
    this.index = index;

    var wanted = {};
    substep.panels.forEach(function (panel) { wanted[panel[0]] = true; });
    this.visible.forEach(function (slug) {
      if (!wanted[slug]) hide(self.cards[slug].el, self.warmed);
    });
    var layout = substep.panels.map(function (panel) { return panel[0] + (panel[2] ? "|" : ""); }).join(" ");
    var reorder = layout !== this.layout;
    this.layout = layout;
    // The cards stay where they are in the DOM (moving one would throw away its drawn state): the flex
    // order puts them in the equation's reading order, one row per equation, and aria-owns gives
    // screen readers the same order.
    var used = 0;
    substep.panels.forEach(function (panel, k) {
      var card = self.cards[panel[0]];
      if (reorder) {
        if (panel[2]) {
          if (used === self.breaks.length) {
            var rowBreak = document.createElement("div");
            rowBreak.className = "row-break";
            self.panelBox.appendChild(rowBreak);
            self.breaks.push(rowBreak);
          }
          self.breaks[used].style.order = String(2 * k);
          self.breaks[used++].hidden = false;
        }
        card.el.style.order = String(2 * k + 1);
      }
      reveal(card.el);
      if (card.frame !== panel[1]) {
        card.frame = panel[1];
        card.plots.show(panel[1]);
        // Only what changes: setting an attribute, even to its value, costs the element a style update.
        card.notes.forEach(function (el) {
          var shown = Number(el.dataset.frame) === panel[1];
          if (el.hidden === shown) el.hidden = !shown;
        });
        // The screen-reader tables of all frames stay laid out (visually hidden); only the current one is read.
        card.tables.forEach(function (el) {
          var shown = Number(el.dataset.frame) === panel[1];
          if (el.hasAttribute("aria-hidden") === shown) {
            if (shown) el.removeAttribute("aria-hidden");
            else el.setAttribute("aria-hidden", "true");
          }
        });
      }
    });
    if (reorder) {
      for (var unused = used; unused < this.breaks.length; unused++) this.breaks[unused].hidden = true;
      this.panelBox.setAttribute("aria-owns", substep.panels.map(function (panel) { return panel[0]; }).join(" "));
    }
    this.visible = substep.panels.map(function (panel) { return panel[0]; });

    if (first) {
      // The heatmaps first; the diagram and the loss curve right after the first paint.
      window.requestAnimationFrame(function () {
        window.setTimeout(function () {
          if (self.index < 0) return;
          var now = self.substeps[self.index];
          self.networks.show(now.network);
          self.lossCurves.show(now.step);
          self.reachRegions();
          self.drawAhead(true);
        }, 0);
      });
    } else {
      this.networks.show(substep.network);
      this.lossCurves.show(substep.step);
    }

    var title = section.querySelector(".substep-title").textContent;
    this.scrubber.value = String(index);
    this.scrubber.setAttribute("aria-valuetext", title);
    this.positionNumber.textContent = String(index + 1);
    this.stepNumber.textContent = String(substep.step + 1);
    this.lossReadout.textContent = section.dataset.loss;
    var chip = this.chips[index];
    if (this.chips[this.chipShown]) this.chips[this.chipShown].removeAttribute("aria-current");
    this.chipShown = index;
    if (chip) chip.setAttribute("aria-current", "step");
    // Read the layout in the next frame, when it is computed anyway, not now.
    window.requestAnimationFrame(function () {
      if (chip) keepInView(chip);
      self.reachRegions();
    });
    this.live.textContent = title;
    if (this.atField) this.atField.value = substep.key;
    this.root.dataset.position = String(index);
    // The URL holds the sub-step; written once the student pauses (browsers throttle history updates).
    window.clearTimeout(this.urlTimer);
    this.urlTimer = window.setTimeout(function () { self.writeUrl(first); }, first ? 0 : 150);
    if (!first) {
      this.warmAfterFrame();
      this.drawAhead();
    }
  };

  /* Warm what the sub-steps on either side show right after this frame is drawn: not when the browser is next
   * idle, which may come after the next key press (and the next step would then lay all that out itself). */
  Lab.prototype.warmAfterFrame = function () {
    var self = this;
    window.cancelAnimationFrame(this.warmFrame);
    window.clearTimeout(this.warmTimer);
    this.warmFrame = window.requestAnimationFrame(function () {
      self.warmTimer = window.setTimeout(function () {
        if (current === self && self.index >= 0) self.warm();
      }, 0);
    });
  };

  /* Which of the regions shown scroll (the equation, the cards): those take the focus. */
  Lab.prototype.reachRegions = function () {
    if (current === this && this.index >= 0) this.regions.forEach(reachIfScrolls);
  };

  /* The panels open now, as a state keeps them: null when all are. */
  Lab.prototype.openPanels = function () {
    if (!this.toggles.length) return this.stateData.panels || null;
    var closed = {};
    this.toggles.forEach(function (toggle) { closed[toggle.dataset.panelToggle] = !toggle.checked; });
    var open = this.allPanels.filter(function (panel) { return !closed[panel]; });
    return open.length === this.allPanels.length ? null : open;
  };

  Lab.prototype.applyPanels = function () {
    var open = {};
    this.toggles.forEach(function (toggle) { open[toggle.dataset.panelToggle] = toggle.checked; });
    Array.prototype.forEach.call(this.root.querySelectorAll("[data-panel]"), function (el) {
      if (el.dataset.panel in open) el.hidden = !open[el.dataset.panel];
    });
    if (this.panelsField) this.panelsField.value = (this.openPanels() || this.allPanels).join(",");
    this.networks.resize();
    this.lossCurves.resize();
    this.reachRegions();
    this.writeUrl(false);
  };

  /* Write the state (this sub-step, these panels) into the URL; the page's own URL at first. */
  Lab.prototype.writeUrl = function (first) {
    if (this.view === "static" || !this.stateData) return;
    if (first) {
      this.useToken(this.token);
      return;
    }
    var self = this;
    var ticket = ++this.urlTicket;
    var data = Object.assign({}, this.stateData, { substep: this.substeps[this.index].key });
    var panels = this.openPanels();
    if (panels) data.panels = panels;
    else delete data.panels;
    encodeState(data).then(function (token) {
      if (token && ticket === self.urlTicket && current === self) self.useToken(token);
    });
  };

  Lab.prototype.useToken = function (token) {
    this.token = token;
    var url = new URL(this.root.dataset.url, window.location.href);
    url.searchParams.set("state", token);
    url.searchParams.delete("step"); // the state now names the sub-step
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    this.root.dataset.token = token;
    if (this.share) this.share.render();
  };

  /* Draw, when the browser is idle, the frames of the sub-steps nearest to the current one (and first warm the
   * neighbours, where no step has scheduled that: at the start, after a resize). */
  Lab.prototype.drawAhead = function (warmFirst) {
    var self = this;
    if (this.idleHandle !== null) cancelIdle(this.idleHandle);
    var order = [];
    for (var distance = 1; distance < this.substeps.length; distance++) {
      if (this.index + distance < this.substeps.length) order.push(this.index + distance);
      if (this.index - distance >= 0) order.push(this.index - distance);
    }
    var tasks = warmFirst ? [[this, "warm"]] : [];
    order.forEach(function (i, k) {
      var substep = self.substeps[i];
      substep.panels.forEach(function (panel) { tasks.push([self.cards[panel[0]].plots, panel[1]]); });
      tasks.push([self.networks, substep.network]);
      tasks.push([self.lossCurves, substep.step]);
      if (k === 1) tasks.push([self, "warm"]); // the sub-steps on either side are drawn: warm them
    });
    var next = 0;
    var work = function (deadline) {
      self.idleHandle = null;
      while (next < tasks.length && deadline.timeRemaining() > 4) {
        var task = tasks[next++];
        if (task[1] === "warm") task[0].warm();
        else task[0].draw(task[1]);
      }
      if (next < tasks.length) self.idleHandle = idle(work);
      else self.root.dataset.drawn = "all";
    };
    this.idleHandle = idle(work);
  };

  /* Keep warm what the sub-steps on either side of this one show, and only that; lay it out now, while idle. */
  Lab.prototype.warm = function () {
    var self = this;
    var wanted = [];
    [this.index + 1, this.index - 1].forEach(function (i) {
      if (i < 0 || i >= self.substeps.length) return;
      var substep = self.substeps[i];
      wanted.push(self.sections[i]);
      substep.panels.forEach(function (panel) {
        var card = self.cards[panel[0]];
        wanted.push(card.el, card.plots.elements[panel[1]]);
      });
      wanted.push(self.networks.elements[substep.network], self.lossCurves.elements[substep.step]);
    });
    wanted = wanted.filter(function (element) { return element && element.hidden; });
    this.warmed.forEach(function (element) {
      if (element.hidden && wanted.indexOf(element) < 0) delete element.dataset.warm;
    });
    wanted.forEach(keepWarm);
    this.warmed.length = 0;
    Array.prototype.push.apply(this.warmed, wanted);
    void this.root.offsetHeight; // their style and layout, computed now rather than at the next step
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
    if (this.idleHandle !== null) cancelIdle(this.idleHandle);
    window.cancelAnimationFrame(this.warmFrame);
    window.clearTimeout(this.warmTimer);
    window.clearTimeout(this.urlTimer);
    this.urlTicket++;
    this.index = -1;
    var cards = this.cards;
    Object.keys(cards).forEach(function (slug) { cards[slug].plots.purge(); });
    this.networks.purge();
    this.lossCurves.purge();
  };

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      if (!current) return;
      current.networks.resize();
      current.lossCurves.resize();
      current.reachRegions();
      current.drawAhead(true);
    }, 200);
  });

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
    if (current.share && current.share.dialog.open) return; // keys belong to the dialog
    var target = event.target;
    if (target && target.id === "scrubber") {
      if (event.key !== " ") return; // the range input moves itself on arrows, Home and End
    } else if (editable(target)) {
      return;
    } else if ((event.key === "ArrowLeft" || event.key === "ArrowRight") && target && target.hasAttribute("data-scroll")
               && target.scrollWidth > target.clientWidth) {
      return; // the arrows scroll the focused region that is wider than its box
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

  /* Enter in a field of the editor fires change (the edit leaves: htmx posts the form) and then submit, which
   * would post the same form again and abort the first request (hx-sync="this:replace"); so would a click on
   * Apply right after typing. A submit that would post what is already on its way is dropped: one edit, one
   * request. htmx marks the form with its request class while a request is on its way. */
  function formText(form) {
    return new URLSearchParams(new FormData(form)).toString();
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.id === "lab-form") form.labSent = formText(form);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.id !== "lab-form" || !form.classList.contains("htmx-request")) return;
    var submitter = event.submitter;
    if (submitter && submitter.name === "action" && submitter.value !== "apply") return; // another action: send it
    if (formText(form) !== form.labSent) return;
    event.preventDefault();
    event.stopPropagation(); // captured on the document: htmx, on the form, never sees it
  }, true);

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

  // "Edit W1" on a heatmap card and the editor's "Numbers" links: focus the grid's first cell.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("[data-edit]") : null;
    var cell = link ? document.getElementById(link.dataset.edit) : null;
    if (!cell) return;
    event.preventDefault(); // the URL keeps the state, not a fragment
    var closed = cell.closest("details:not([open])");
    if (closed) closed.open = true;
    cell.focus({ preventScroll: true });
    cell.scrollIntoView({ block: "center" });
    cell.select();
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
