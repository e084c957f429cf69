/* The lab: steps through the sub-steps the server rendered, and keeps typed values across htmx swaps.
 *
 * The same script plays the embed page (data-view="embed") and the standalone HTML export
 * (data-view="static", no server: it never touches the URL). In the lab and the embed the URL
 * holds the whole state (webapp/lab/state.py): after each move the script writes the state with the
 * sub-step shown and the open panels into ?state=, and keeps the Embed dialog's links in step.
 *
 * The page holds the sub-step shown, not every sub-step: the server writes it out (its title, its
 * equation with the numbers, each matrix as a table of coloured cells), and #lab-data holds how every
 * matrix is drawn (its heatmap's trace and layout) and the frames of the shown SGD step. Plotly is
 * loaded after that first paint; each matrix then gets one heatmap, drawn once and restyled with the
 * values of each frame, and the diagram and the loss curve are updated in place. The frames of the
 * SGD steps around the one shown are asked for (POST /lab/frames) as the student moves, so the
 * page's size does not grow with the number of steps. Cards are never moved in the DOM: the flex
 * order arranges them and aria-owns reads them in the equation's order. The page is never reloaded
 * to move.
 */
(function () {
  "use strict";

  var PLOT_CONFIG = { displayModeBar: false, responsive: false, scrollZoom: false, doubleClick: false, showTips: false };
  var PLAY_INTERVAL_MS = 1100;
  var NETWORK_PLOTS = 3; // the shown sub-step's diagram and one drawn ahead on either side

  /* Drawing ahead runs in timer tasks, one figure each: a key press (an input task, which the browser runs
   * first) waits at most one figure. (Idle callbacks would be nicer, but headless Chromium stops giving
   * idle periods once the page has been used.) The first waits for the frame that shows the sub-step. */
  function whenIdle(then, first) {
    var handle = { timer: null, frame: null };
    var run = function () { handle.timer = window.setTimeout(function () { then({ timeRemaining: function () { return 0; } }); }, first ? 8 : 0); };
    if (first) handle.frame = window.requestAnimationFrame(run);
    else run();
    return handle;
  }
  function cancelIdle(handle) {
    window.cancelAnimationFrame(handle.frame);
    window.clearTimeout(handle.timer);
  }
  var current = null;
  var pendingTyped = null;
  var plotlyWaiting = [];

  /* Plotly is loaded after the first sub-step is on screen (it is most of the page's bytes); `then` runs once it is. */
  function whenPlotly(then) {
    if (typeof Plotly !== "undefined") {
      then();
      return;
    }
    plotlyWaiting.push(then);
    if (plotlyWaiting.length > 1) return;
    var root = document.getElementById("lab");
    var source = root && root.dataset.plotly;
    if (!source || document.querySelector("script[data-plotly-loader]")) return;
    var script = document.createElement("script");
    script.src = source;
    script.dataset.plotlyLoader = "";
    script.addEventListener("load", function () {
      var waiting = plotlyWaiting;
      plotlyWaiting = [];
      waiting.forEach(function (callback) { callback(); });
    });
    // After the first paint: the sub-step the server wrote is on screen before Plotly's bytes are asked for.
    window.requestAnimationFrame(function () {
      window.setTimeout(function () { document.head.appendChild(script); }, 0);
    });
  }

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

  /* A page's URL with a state: in its query while the URL stays shorter than servers accept (gunicorn takes
   * request lines of 8,190 bytes), else in its fragment, which the page posts to the server itself. */
  var MAX_URL = 7900;

  function withState(url, token) {
    url = new URL(url.href);
    url.hash = "";
    url.searchParams.set("state", token);
    if (url.pathname.length + url.search.length <= MAX_URL) return url;
    url.searchParams.delete("state");
    url.hash = "state=" + token;
    return url;
  }

  function tokenOf(url) {
    if (url.hash.indexOf("#state=") === 0) return url.hash.slice("#state=".length);
    return url.searchParams.get("state");
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
      var link = event.target.closest("[data-export]");
      if (link && link.dataset.post) {
        event.preventDefault();
        var form = document.createElement("form");
        form.method = "post";
        form.action = dialog.dataset.exportPath;
        form.hidden = true;
        [["state", self.lab.token], ["format", link.dataset.export]].forEach(function (pair) {
          var input = document.createElement("input");
          input.type = "hidden";
          input.name = pair[0];
          input.value = pair[1];
          form.appendChild(input);
        });
        document.body.appendChild(form);
        form.submit();
        form.remove();
      }
    });
  }

  Share.prototype.render = function () {
    var token = this.lab.token;
    var origin = window.location.origin;
    this.permalink.value = withState(new URL(this.dialog.dataset.labPath, origin), token).href;
    var embed = new URL(this.dialog.dataset.embedPath, origin);
    var panels = this.panelBoxes.filter(function (box) { return box.checked; })
      .map(function (box) { return box.dataset.embedPanel; });
    if (panels.length !== this.panelBoxes.length) embed.searchParams.set("panels", panels.join(","));
    if (this.readonly.checked) embed.searchParams.set("readonly", "1");
    embed = withState(embed, token);
    this.snippet.value = this.snippet.value.replace(/src="[^"]*"/, 'src="' + escapeAttribute(embed.href) + '"');
    var exportPath = this.dialog.dataset.exportPath;
    this.exports.forEach(function (link) {
      var url = new URL(exportPath, origin);
      url.searchParams.set("state", token);
      url.searchParams.set("format", link.dataset.export);
      link.href = url.pathname + url.search;
      // Too long for a link: the export is asked for with a posted form instead (see the click handler).
      link.dataset.post = url.pathname.length + url.search.length > MAX_URL ? "1" : "";
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

  /* A wide equation, a heatmap card wider than the page: a region whose content overflows takes the focus, so
   * the keyboard can reach it and scroll it (the arrows scroll it: see the keydown handler); one that fits
   * is no tab stop. */
  function reachIfScrolls(region) {
    if (region.closest("[hidden]")) return;
    if (region.scrollWidth > region.clientWidth || region.scrollHeight > region.clientHeight) {
      if (region.tabIndex !== 0) region.tabIndex = 0;
    } else if (region.hasAttribute("tabindex")) {
      region.removeAttribute("tabindex");
    }
  }

  /* A matrix sent as Plotly's typed-array spec ({dtype: "f8", bdata: base64, shape: "r,c"}) as rows of numbers. */
  function matrixOf(spec) {
    var bytes = window.atob(spec.bdata);
    var buffer = new ArrayBuffer(bytes.length);
    var view = new Uint8Array(buffer);
    for (var i = 0; i < bytes.length; i++) view[i] = bytes.charCodeAt(i);
    var flat = new Float64Array(buffer);
    var shape = spec.shape.split(",").map(Number);
    var rows = [];
    for (var r = 0; r < shape[0]; r++) rows.push(flat.subarray(r * shape[1], (r + 1) * shape[1]));
    return rows;
  }

  /* A float as Python's repr writes it (the server's tables use repr): shortest round trip, 1e-05 not 0.00001. */
  function reprOf(value) {
    if (Number.isInteger(value) && Math.abs(value) < 1e16) return value.toFixed(1);
    var text = String(value);
    var exponent = text.indexOf("e");
    if (exponent < 0) {
      var magnitude = Math.abs(value);
      if (magnitude !== 0 && magnitude < 1e-4) {
        text = value.toExponential();
        exponent = text.indexOf("e");
      } else {
        return text;
      }
    }
    var mantissa = text.slice(0, exponent);
    var power = Number(text.slice(exponent + 1));
    return mantissa + "e" + (power < 0 ? "-" : "+") + (Math.abs(power) < 10 ? "0" : "") + Math.abs(power);
  }

  /* A hidden figure drawn ahead stays warm: laid out and painted out of view (lab.css), so showing it costs
   * little more than the frame. It is not read and is no tab stop meanwhile (aria-hidden and tabindex, not
   * `inert`: that one is inherited, and taking it off would restyle everything inside). */
  function warmUp(el) {
    if (el.dataset.warm !== undefined) return;
    el.setAttribute("aria-hidden", "true");
    el.removeAttribute("tabindex"); // a region that scrolled: reachRegions gives it back once shown
    Array.prototype.forEach.call(el.querySelectorAll("a[href]"), function (link) { link.tabIndex = -1; });
    el.dataset.warm = "";
  }
  function show(el) {
    if (el.dataset.warm !== undefined) {
      delete el.dataset.warm;
      el.removeAttribute("aria-hidden");
      Array.prototype.forEach.call(el.querySelectorAll("a[href]"), function (link) { link.removeAttribute("tabindex"); });
    }
    el.hidden = false;
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  /* The screen-reader table of a matrix at one frame (values in full precision). */
  function fillTable(table, name, rows, meta, frame, steps) {
    var shape = meta.shape;
    var when = steps > 1 && name !== "X" && name !== "T" ? ", SGD step " + (frame + 1) : "";
    table.textContent = "";
    table.appendChild(element("caption", "", name + " (" + shape[0] + "×" + shape[1] + when + ")"));
    var head = element("thead");
    var headRow = element("tr");
    headRow.appendChild(element("td"));
    var body = element("tbody");
    if (meta.vector) {
      ["index", "value"].forEach(function (text) {
        var th = element("th", "", text);
        th.scope = "col";
        headRow.appendChild(th);
      });
      var k = 0;
      rows.forEach(function (row) {
        Array.prototype.forEach.call(row, function (value) {
          var tr = element("tr");
          var th = element("th", "", name + "[" + (++k) + "]");
          th.scope = "row";
          tr.appendChild(th);
          tr.appendChild(element("td", "", reprOf(value)));
          body.appendChild(tr);
        });
      });
    } else {
      for (var j = 0; j < shape[1]; j++) {
        var th = element("th", "", "column " + (j + 1));
        th.scope = "col";
        headRow.appendChild(th);
      }
      rows.forEach(function (row, i) {
        var tr = element("tr");
        var rowHead = element("th", "", "row " + (i + 1));
        rowHead.scope = "row";
        tr.appendChild(rowHead);
        Array.prototype.forEach.call(row, function (value) { tr.appendChild(element("td", "", reprOf(value))); });
        body.appendChild(tr);
      });
    }
    head.appendChild(headRow);
    table.appendChild(head);
    table.appendChild(body);
  }

  /* One matrix's card: a heatmap drawn once with Plotly and then restyled with each frame's values. */
  function Card(lab, slug, el) {
    this.lab = lab;
    this.slug = slug;
    this.meta = lab.data.cards[slug];
    this.el = el || this.build();
    this.plots = this.el.querySelector(".plots");
    this.table = this.el.querySelector("table.visually-hidden");
    this.notes = this.el.querySelector("ul.errata");
    this.plot = null;
    this.frame = el ? Number(el.dataset.frame) : -1;
    this.drawn = -1;
  }

  Card.prototype.build = function () {
    var meta = this.meta;
    var figure = element("figure", "panel");
    figure.id = this.slug;
    figure.dataset.tensor = meta.name;
    figure.setAttribute("aria-label", meta.name);
    figure.setAttribute("data-scroll", "");
    var plots = element("div", "plots");
    plots.setAttribute("aria-hidden", "true");
    figure.appendChild(plots);
    var caption = element("figcaption", "", meta.caption);
    caption.hidden = !meta.caption;
    figure.hidden = true; // shown by Lab.show (or drawn ahead, hidden, for the next key)
    figure.appendChild(caption);
    var edit = this.lab.edits[meta.name];
    if (edit) {
      var link = element("a", "card-edit");
      link.href = "#" + edit[0];
      link.dataset.edit = edit[0];
      var pen = element("span", "", "✎");
      pen.setAttribute("aria-hidden", "true");
      link.appendChild(pen);
      link.appendChild(document.createTextNode(" Edit " + edit[1]));
      figure.appendChild(link);
    }
    // In a visually hidden box: a table is as wide as its numbers whatever its width, and would make its card scroll.
    var box = element("div", "visually-hidden");
    box.appendChild(element("table", "visually-hidden"));
    figure.appendChild(box);
    var notes = element("ul", "errata");
    notes.setAttribute("aria-label", "Slips in the source");
    notes.hidden = true;
    figure.appendChild(notes);
    this.lab.panelBox.appendChild(figure);
    return figure;
  };

  /* Show the card at a frame: its values in the heatmap, the table and the source's slips about them. */
  Card.prototype.show = function (frame) {
    var rows = this.lab.valuesOf(this.slug, frame);
    if (this.frame !== frame) {
      this.frame = frame;
      this.el.dataset.frame = String(frame);
      fillTable(this.table, this.meta.name, rows, this.meta, frame, this.lab.data.steps);
      var notes = (this.lab.errata[this.slug] || {})[frame] || [];
      this.notes.textContent = "";
      notes.forEach(function (note) {
        var item = element("li");
        if (note.cell) {
          item.appendChild(element("strong", "", note.cell));
          item.appendChild(document.createTextNode(": "));
        }
        item.appendChild(document.createTextNode(note.text));
        this.notes.appendChild(item);
      }, this);
      this.notes.hidden = notes.length === 0;
    }
    this.draw(frame);
  };

  /* The heatmap at a frame: the shown one's (no argument), or, for a hidden card, the frame a neighbour shows. */
  Card.prototype.draw = function (frame) {
    if (frame === undefined) frame = this.frame;
    if (typeof Plotly === "undefined" || frame < 0 || this.drawn === frame) return;
    var rows = this.lab.valuesOf(this.slug, frame);
    if (!this.plot) {
      this.plots.textContent = ""; // the server's table of coloured cells, in the same box
      this.plot = element("div", "plot sized");
      this.plot.style.width = this.meta.layout.width + "px";
      this.plot.style.height = this.meta.layout.height + "px";
      this.plots.appendChild(this.plot);
      Plotly.react(this.plot, [Object.assign({}, this.meta.trace, { z: rows })], this.meta.layout, PLOT_CONFIG);
    } else {
      Plotly.restyle(this.plot, { z: [rows] }, [0]);
    }
    this.drawn = frame;
  };

  Card.prototype.purge = function () {
    if (this.plot && typeof Plotly !== "undefined") Plotly.purge(this.plot);
  };

  function Lab(root) {
    var self = this;
    this.root = root;
    this.data = JSON.parse(root.querySelector("#lab-data").textContent);
    var edits = root.querySelector("#lab-edits");
    this.edits = edits ? JSON.parse(edits.textContent) : {};
    this.perStep = this.data.perStep;
    this.total = this.data.total;
    this.substeps = {}; // sub-step index -> its frame
    this.values = {};
    this.errata = {};
    this.loaded = {}; // SGD step -> true once its frames are here
    this.asked = {}; // SGD step -> true while asked for
    this.merge(this.data.frames, this.data.window);
    this.panelBox = root.querySelector("#panels");
    this.cards = {};
    Array.prototype.forEach.call(root.querySelectorAll("#panels > .panel"), function (el) {
      self.cards[el.id] = new Card(self, el.id, el);
    });
    this.breaks = Array.prototype.slice.call(root.querySelectorAll("#panels > .row-break"));
    this.section = root.querySelector("#substep");
    this.titleEl = root.querySelector("#substep-title");
    this.equation = root.querySelector("#equation");
    this.noteEl = root.querySelector("#substep-note");
    this.chipList = root.querySelector("#chips");
    this.networkBox = root.querySelector("#network-plot");
    this.lossBox = root.querySelector("#loss-plot");
    this.lossTable = root.querySelector("#loss-table tbody");
    this.networkPlots = []; // up to NETWORK_PLOTS diagrams: the shown sub-step's, and its neighbours' drawn ahead
    this.lossPlot = null;
    this.direction = 1;
    this.warmTasks = [];
    this.warmHandle = null;
    this.scrubber = root.querySelector("#scrubber");
    this.positionNumber = root.querySelector("#position-number");
    this.stepNumber = root.querySelector("#step-number");
    this.lossReadout = root.querySelector("#loss-readout");
    this.live = root.querySelector("#live");
    this.playButton = root.querySelector('[data-move="play"]');
    this.atField = root.querySelector("#at-field");
    this.chipStep = Number(this.data.position / this.perStep | 0);
    this.urlTimer = null;
    this.index = Number(root.dataset.start || this.data.position || 0);
    this.wanted = this.index;
    this.timer = null;
    this.view = root.dataset.view || "lab";
    this.framesUrl = root.dataset.framesUrl;
    var stateElement = root.querySelector("#lab-state");
    this.stateData = stateElement ? JSON.parse(stateElement.textContent) : null;
    this.token = root.dataset.url ? tokenOf(new URL(root.dataset.url, window.location.href)) : null;
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
    this.root.dataset.position = String(this.index);
    this.writeUrl(true);
    this.ask(this.substeps[this.index].step);
  }

  /* Frames that arrived (the page's own, or an answer of POST /lab/frames) for SGD steps first..stop-1. */
  Lab.prototype.merge = function (frames, window) {
    var self = this;
    frames.substeps.forEach(function (substep) { self.substeps[substep.index] = substep; });
    Object.keys(frames.values).forEach(function (slug) {
      self.values[slug] = Object.assign(self.values[slug] || {}, frames.values[slug]);
    });
    Object.keys(frames.errata).forEach(function (slug) {
      self.errata[slug] = Object.assign(self.errata[slug] || {}, frames.errata[slug]);
    });
    for (var step = window[0]; step < window[1]; step++) this.loaded[step] = true;
  };

  Lab.prototype.valuesOf = function (slug, frame) {
    var entry = this.values[slug][frame];
    if (!Array.isArray(entry)) entry = this.values[slug][frame] = matrixOf(entry);
    return entry;
  };

  /* Ask for the frames of the SGD steps around `step` that are not here yet (a few at a time). */
  Lab.prototype.ask = function (step) {
    var self = this;
    if (!this.framesUrl || !this.token) return;
    var first = Math.max(0, step - 2);
    var stop = Math.min(this.data.steps, step + 3);
    while (first < stop && (this.loaded[first] || this.asked[first])) first++;
    while (stop > first && (this.loaded[stop - 1] || this.asked[stop - 1])) stop--;
    if (first >= stop) return;
    for (var k = first; k < stop; k++) this.asked[k] = true;
    delete this.root.dataset.drawn;
    window.fetch(this.framesUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ state: this.token, from: first, to: stop })
    }).then(function (response) {
      if (!response.ok) throw new Error("frames " + response.status);
      return response.json();
    }).then(function (frames) {
      for (var k = first; k < stop; k++) delete self.asked[k];
      if (current !== self) return;
      self.merge(frames, [first, stop]);
      if (self.wanted !== self.index) self.show(self.wanted);
      self.markReady();
    }, function () {
      for (var k = first; k < stop; k++) delete self.asked[k];
      if (current === self) self.lossReadout.textContent = "Could not load these sub-steps; try again.";
    });
  };

  /* After Plotly arrived: draw what the sub-step shows. */
  Lab.prototype.drawAll = function () {
    var substep = this.substeps[this.index];
    var self = this;
    substep.panels.forEach(function (panel) { self.cards[panel[0]].draw(); });
    this.drawNetwork(substep);
    this.drawLoss(substep.step);
    this.reachRegions();
    this.markReady();
    this.warm();
  };

  /* data-drawn="all" once the sub-step shown is drawn and no frames are on their way (tests and benchmarks wait for it). */
  Lab.prototype.markReady = function () {
    if (typeof Plotly === "undefined" || Object.keys(this.asked).length || this.wanted !== this.index) {
      delete this.root.dataset.drawn;
    } else {
      this.root.dataset.drawn = "all";
    }
  };

  /* Which of the regions shown scroll (the equation, the cards, the figures): those take the focus. */
  Lab.prototype.reachRegions = function () {
    if (current === this) Array.prototype.forEach.call(this.root.querySelectorAll("[data-scroll]"), reachIfScrolls);
  };

  /* The diagram of a sub-step. A diagram drawn ahead for it (see warm) is shown as it is; otherwise the shown
   * one is redrawn. */
  Lab.prototype.drawNetwork = function (substep) {
    if (typeof Plotly === "undefined" || this.networkBox.closest("[hidden]")) return;
    var plots = this.networkPlots;
    var plot = plots.filter(function (p) { return p.index === substep.index; })[0] ||
      plots.filter(function (p) { return !p.el.hidden; })[0];
    if (!plot) plot = this.networkPlotSpare();
    if (plot.index !== substep.index) this.drawNetworkIn(plot, substep);
    plots.forEach(function (p) {
      if (p === plot) show(p.el);
      else p.el.hidden = true;
    });
  };

  Lab.prototype.drawNetworkIn = function (plot, substep) {
    var figure = substep.network;
    var layout = figure.layout;
    if (layout.width === undefined) layout = Object.assign({}, layout, { width: this.networkWidth() });
    Plotly.react(plot.el, figure.data, layout, PLOT_CONFIG);
    plot.index = substep.index;
  };

  Lab.prototype.networkWidth = function () {
    if (!this.networkBoxWidth) this.networkBoxWidth = this.networkBox.clientWidth || 600;
    return this.networkBoxWidth;
  };

  /* A diagram not shown: a new one while there are fewer than NETWORK_PLOTS, else the farthest from the shown. */
  Lab.prototype.networkPlotSpare = function () {
    var index = this.index;
    var spares = this.networkPlots.filter(function (p) { return p.el.hidden || p.index === -1; });
    if (this.networkPlots.length < NETWORK_PLOTS) {
      var el = element("div", "plot");
      el.hidden = this.networkPlots.length > 0;
      this.networkBox.appendChild(el);
      var plot = { el: el, index: -1 };
      this.networkPlots.push(plot);
      return plot;
    }
    spares.sort(function (a, b) { return Math.abs(b.index - index) - Math.abs(a.index - index); });
    return spares[0];
  };

  /* Draw ahead, while the page is idle, what the next key shows: the neighbouring sub-steps' heatmaps (their
   * cards hidden) and diagrams, the direction of travel first, one figure a time so that a key is never kept
   * waiting long. A key that comes first just draws what is not ready. */
  Lab.prototype.warm = function () {
    var self = this;
    if (this.warmHandle !== null) cancelIdle(this.warmHandle);
    this.warmHandle = null;
    this.warmTasks = [];
    if (typeof Plotly === "undefined" || !this.substeps[this.index]) return;
    var shown = {};
    this.substeps[this.index].panels.forEach(function (panel) { shown[panel[0]] = true; });
    [this.index + this.direction, this.index - this.direction].forEach(function (i) {
      var near = self.substeps[i];
      if (!near) return;
      near.panels.forEach(function (panel) {
        if (panel[0] in shown) return; // shown now: drawn at its frame when that sub-step shows it
        self.warmTasks.push(function () {
          var card = self.cards[panel[0]] || (self.cards[panel[0]] = new Card(self, panel[0]));
          if (!card.el.hidden) return;
          card.draw(panel[1]);
          warmUp(card.el);
        });
      });
      if (!self.networkBox.closest("[hidden]")) {
        self.warmTasks.push(function () {
          if (self.networkPlots.some(function (p) { return p.index === i; })) return;
          var plot = self.networkPlotSpare();
          self.drawNetworkIn(plot, near);
          warmUp(plot.el);
        });
      }
    });
    this.warmNext(true);
  };

  Lab.prototype.warmNext = function (first) {
    var self = this;
    if (!this.warmTasks.length) return;
    this.warmHandle = whenIdle(function (deadline) {
      self.warmHandle = null;
      if (current !== self) return;
      do { self.warmTasks.shift()(); } while (self.warmTasks.length && deadline.timeRemaining() > 20);
      self.warmNext(false);
    }, first);
  };

  Lab.prototype.drawLoss = function (step) {
    if (typeof Plotly === "undefined" || this.lossBox.closest("[hidden]")) return;
    var history = this.data.lossHistory;
    if (!this.lossPlot) {
      this.lossPlot = element("div", "plot");
      this.lossBox.appendChild(this.lossPlot);
      var figure = this.data.lossCurve;
      var layout = Object.assign({}, figure.layout, { width: this.lossBox.clientWidth || 600 });
      Plotly.react(this.lossPlot, figure.data, layout, PLOT_CONFIG);
      this.lossStep = this.data.lossCurve.data[1].x[0];
    }
    if (this.lossStep !== step) {
      this.lossStep = step;
      Plotly.restyle(this.lossPlot, { x: [[step]], y: [[history[step]]],
                                      hovertext: [["current step " + step + ": loss " + history[step]]] }, [1]);
    }
  };

  Lab.prototype.go = function (move) {
    var last = this.total - 1;
    var target = { first: 0, previous: this.wanted - 1, next: this.wanted + 1, last: last }[move];
    this.show(Math.max(0, Math.min(last, target)));
  };

  Lab.prototype.show = function (index) {
    if (index < 0 || index >= this.total) return;
    this.wanted = index;
    var substep = this.substeps[index];
    if (!substep) {
      // Not here yet: say so, and show it as soon as it arrives.
      this.positionNumber.textContent = String(index + 1);
      this.scrubber.value = String(index);
      this.lossReadout.textContent = "Loading sub-step " + (index + 1) + "…";
      this.ask(Math.floor(index / this.perStep));
      return;
    }
    if (index === this.index) return;
    var self = this;
    this.direction = index < this.index ? -1 : 1;
    this.index = index;
    this.section.className = "substep substep-" + substep.kind;
    this.section.dataset.key = substep.key;
    this.titleEl.textContent = substep.title;
    this.equation.innerHTML = substep.equation; // MathML the server wrote from the numbers
    this.noteEl.textContent = substep.note;
    this.noteEl.hidden = !substep.note;

    var wanted = {};
    var used = 0;
    substep.panels.forEach(function (panel, k) {
      wanted[panel[0]] = true;
      if (panel[2]) {
        if (used === self.breaks.length) {
          var rowBreak = element("div", "row-break");
          self.panelBox.appendChild(rowBreak);
          self.breaks.push(rowBreak);
        }
        self.breaks[used].style.order = String(2 * k);
        self.breaks[used++].hidden = false;
      }
      var card = self.cards[panel[0]] || (self.cards[panel[0]] = new Card(self, panel[0]));
      card.el.style.order = String(2 * k + 1);
      show(card.el);
      card.show(panel[1]);
    });
    for (var unused = used; unused < this.breaks.length; unused++) this.breaks[unused].hidden = true;
    // Cards of the sub-steps on either side stay (hidden) for the next key; the rest leave the page.
    [index - 1, index + 1].forEach(function (i) {
      var near = self.substeps[i];
      if (near) near.panels.forEach(function (panel) { if (!(panel[0] in wanted)) wanted[panel[0]] = false; });
    });
    Object.keys(this.cards).forEach(function (slug) {
      if (wanted[slug]) return;
      var card = self.cards[slug];
      if (wanted[slug] === false) {
        card.el.hidden = true;
        card.table.textContent = ""; // a hidden card keeps its heatmap, not its table
        card.frame = -1;
      } else {
        card.purge();
        card.el.remove();
        delete self.cards[slug];
      }
    });
    this.panelBox.setAttribute("aria-owns", substep.panels.map(function (panel) { return panel[0]; }).join(" "));
    this.drawNetwork(substep);
    this.drawLoss(substep.step);
    this.showChips(substep);
    this.showLossRows(substep.step);

    this.scrubber.value = String(index);
    this.scrubber.setAttribute("aria-valuetext", substep.title);
    this.positionNumber.textContent = String(index + 1);
    this.stepNumber.textContent = String(substep.step + 1);
    this.lossReadout.textContent = substep.loss;
    this.live.textContent = substep.title;
    if (this.atField) this.atField.value = substep.key;
    this.root.dataset.position = String(index);
    // After the frame that shows the sub-step (its layout is done by then: reading it costs nothing).
    window.clearTimeout(this.reachTimer);
    window.cancelAnimationFrame(this.reachFrame);
    this.reachFrame = window.requestAnimationFrame(function () {
      self.reachTimer = window.setTimeout(function () { self.reachRegions(); }, 0);
    });
    // The URL holds the sub-step; written once the student pauses (browsers throttle history updates).
    window.clearTimeout(this.urlTimer);
    this.urlTimer = window.setTimeout(function () { self.writeUrl(false); }, 150);
    this.ask(substep.step);
    this.markReady();
    this.warm();
  };

  /* The chips of the shown SGD step's sub-steps (rebuilt when the SGD step changes). */
  Lab.prototype.showChips = function (substep) {
    var self = this;
    if (this.chipStep !== substep.step) {
      this.chipStep = substep.step;
      this.chipList.textContent = "";
      var letters = { forward: "F", loss: "L", backward: "B", update: "U" };
      for (var i = substep.step * this.perStep; i < (substep.step + 1) * this.perStep; i++) {
        var item = this.substeps[i];
        var li = element("li", "chip-item");
        var button = element("button", "chip chip-" + item.kind);
        button.type = "button";
        button.dataset.index = String(i);
        button.title = item.title;
        var letter = element("span", "", letters[item.kind] + (item.layer || ""));
        letter.setAttribute("aria-hidden", "true");
        button.appendChild(letter);
        button.appendChild(element("span", "visually-hidden", item.title));
        li.appendChild(button);
        this.chipList.appendChild(li);
      }
    }
    Array.prototype.forEach.call(this.chipList.querySelectorAll(".chip"), function (chip) {
      if (Number(chip.dataset.index) === self.index) chip.setAttribute("aria-current", "step");
      else chip.removeAttribute("aria-current");
    });
  };

  /* The loss table reads the steps around the shown one. */
  Lab.prototype.showLossRows = function (step) {
    if (!this.lossTable || this.lossRowsStep === step) return;
    this.lossRowsStep = step;
    var history = this.data.lossHistory;
    var steps = this.data.steps;
    var low = Math.max(0, step - 5);
    var high = Math.min(steps, step + 6);
    if (high === steps) high += 1;
    this.lossTable.textContent = "";
    for (var k = low; k < high; k++) {
      var tr = element("tr");
      var th = element("th", "", String(k));
      th.scope = "row";
      tr.appendChild(th);
      tr.appendChild(element("td", "", reprOf(history[k])));
      this.lossTable.appendChild(tr);
    }
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
    this.redrawWide();
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
    url.searchParams.delete("step"); // the state now names the sub-step
    url = withState(url, token);
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    this.root.dataset.token = token;
    if (this.share) this.share.render();
  };

  Lab.prototype.toggle = function () {
    if (this.timer) this.pause();
    else this.play();
  };

  Lab.prototype.play = function () {
    var self = this;
    if (this.wanted >= this.total - 1) this.show(0);
    this.timer = window.setInterval(function () {
      if (self.wanted >= self.total - 1) self.pause();
      else self.show(self.wanted + 1);
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

  /* The diagram and the loss curve are as wide as their card: redraw them after the page width changed. */
  Lab.prototype.redrawWide = function () {
    var substep = this.substeps[this.index];
    this.networkPlots.forEach(function (plot) { Plotly.purge(plot.el); plot.el.remove(); });
    if (this.lossPlot) {
      Plotly.purge(this.lossPlot);
      this.lossPlot.remove();
    }
    this.networkPlots = [];
    this.networkBoxWidth = 0;
    this.lossPlot = null;
    this.drawNetwork(substep);
    this.drawLoss(substep.step);
    this.warm();
  };

  Lab.prototype.destroy = function () {
    this.pause();
    window.clearTimeout(this.urlTimer);
    this.urlTicket++;
    var cards = this.cards;
    Object.keys(cards).forEach(function (slug) { cards[slug].purge(); });
    if (this.warmHandle !== null) cancelIdle(this.warmHandle);
    this.warmTasks = [];
    if (typeof Plotly !== "undefined") {
      this.networkPlots.forEach(function (plot) { Plotly.purge(plot.el); });
      if (this.lossPlot) Plotly.purge(this.lossPlot);
    }
  };

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      if (current && typeof Plotly !== "undefined") current.redrawWide();
    }, 200);
  });

  /* /lab#state=... and /embed#state=...: post the state, show the lab that comes back. */
  function openShell(shell) {
    var url = new URL(window.location.href);
    var token = tokenOf(url);
    if (!token) {
      if (shell.dataset.view === "embed") {
        shell.querySelector(".shell-status").textContent = "This embedded example cannot be shown: its link holds no network.";
      } else {
        window.location.replace(shell.dataset.galleryUrl);
      }
      return;
    }
    var form = new URLSearchParams({ state: token, view: shell.dataset.view });
    ["panels", "step", "readonly"].forEach(function (name) {
      if (url.searchParams.has(name)) form.set(name, url.searchParams.get(name));
    });
    window.fetch(shell.dataset.renderUrl, { method: "POST", body: form }).then(function (response) {
      return response.text().then(function (html) { return { ok: response.ok, html: html }; });
    }).then(function (answer) {
      if (!answer.ok) {
        document.open();
        document.write(answer.html); // the friendly error page, whole
        document.close();
        return;
      }
      shell.outerHTML = answer.html;
      var root = document.getElementById("lab");
      if (window.htmx) window.htmx.process(root);
      start();
    }, function () {
      shell.querySelector(".shell-status").textContent = "The lab could not be opened: reload the page to try again.";
    });
  }

  function start() {
    var shell = document.getElementById("lab-shell");
    if (shell) {
      openShell(shell);
      return;
    }
    var root = document.getElementById("lab");
    if (!root) return;
    if (current) current.destroy();
    var lab = current = new Lab(root);
    whenPlotly(function () { if (current === lab) lab.drawAll(); });
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
