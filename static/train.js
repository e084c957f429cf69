/* The training page: play, pause, step and reset a run the server computes in chunks.
 *
 * #train-data holds the run's setup, its state at step 0 and the Plotly figures. Playing asks
 * POST /api/v1/train/advance for several frames at a time (a frame every `speed` steps), never
 * across a multiple of `chunk` steps, so the state at every multiple is kept as a checkpoint.
 * Frames wait in a queue and are shown one an animation frame; the next request leaves while the
 * queue still holds a few, so the server computes while the page draws.
 *
 * A frame redraws the field under the boundary's axes (a figure without axes, quick to redraw);
 * the unit mosaic and the curves are slower and are redrawn a few times a second, at most one of
 * them a frame, each with one Plotly.react. Picking a step asks POST /api/v1/train/open, which
 * replays from the checkpoint before it, for the lab link of that exact step, and rings its batch.
 */
(function () {
  "use strict";

  var FIXED_SIZE = { displayModeBar: false, responsive: false };
  var CONFIGS = { curves: { displayModeBar: false, responsive: true } };
  var FRAMES_PER_REQUEST = 10;
  var LOW_WATER = 6; // ask for more when the queue holds this few frames (200 ms at 30 frames a second)
  var MAX_CURVE_POINTS = 4000;
  var UNITS_EVERY = 60; // ms between redraws of the unit mosaic while playing
  var CURVES_EVERY = 400; // ms between redraws of the curves while playing
  var current = null;

  function config(name) { return CONFIGS[name] || FIXED_SIZE; }

  function Trainer(root) {
    this.root = root;
    this.data = JSON.parse(root.querySelector("#train-data").textContent);
    this.plots = {};
    this.figures = {};
    var self = this;
    Array.prototype.forEach.call(root.querySelectorAll("[data-figure]"), function (el) {
      var name = el.getAttribute("data-figure");
      if (self.data.figures[name]) self.plots[name] = el;
    });
    this.playButton = root.querySelector('[data-action="play"]');
    this.speedSelect = root.querySelector('[data-role="speed"]');
    this.stepText = root.querySelector('[data-role="step"]');
    this.readout = root.querySelector('[data-role="readout"]');
    this.status = root.querySelector('[data-role="status"]');
    this.openStep = root.querySelector('[data-role="open-step"]');
    this.openResult = root.querySelector('[data-role="open-result"]');
    this.listeners = [];
    this.generation = 0;
    this.frames = 0;
    this.on(root.querySelector('[data-action="reset"]'), "click", function () { self.reset(); });
    this.on(this.playButton, "click", function () { self.toggle(); });
    this.on(root.querySelector('[data-action="step"]'), "click", function () { self.stepOnce(); });
    this.on(root.querySelector('[data-role="open-form"]'), "submit", function (event) {
      event.preventDefault();
      self.pause();
      self.pick(parseInt(self.openStep.value, 10));
    });
    this.reset();
    if (this.plots.curves) {
      this.plots.curves.on("plotly_click", function (event) {
        if (!event.points || !event.points.length) return;
        self.pause();
        self.pick(Math.round(event.points[0].x));
      });
    }
  }

  Trainer.prototype.on = function (el, type, handler) {
    if (!el) return;
    el.addEventListener(type, handler);
    this.listeners.push([el, type, handler]);
  };

  /* Step 0 of the same run: the state, checkpoints, curves and figures as the page came. */
  Trainer.prototype.reset = function () {
    this.setPlaying(false);
    this.generation += 1; // answers to requests made before are dropped
    this.inflight = false;
    this.state = this.data.state; // the server's latest state (the end of the last chunk)
    this.serverStep = 0;
    this.step = 0; // the step shown
    this.checkpoints = { 0: this.data.state };
    this.queue = [];
    this.picked = null;
    this.pending = {};
    this.lastDrawn = { units: 0, curves: 0 };
    this.metrics = {};
    for (var key in this.data.metrics) {
      this.metrics[key] = this.data.metrics[key] === null ? null : this.data.metrics[key].slice();
    }
    for (var name in this.plots) {
      this.figures[name] = JSON.parse(JSON.stringify(this.data.figures[name])); // updates write into it
      Plotly.react(this.plots[name], this.figures[name].data, this.figures[name].layout, config(name));
    }
    this.setStatus("");
    this.showPick(null);
    this.show();
    reachRegions(this.root);
  };

  Trainer.prototype.setPlaying = function (playing) {
    this.playing = playing;
    this.playButton.setAttribute("aria-pressed", playing ? "true" : "false");
    this.playButton.querySelector(".play-icon").textContent = playing ? "❚❚" : "▶";
    this.playButton.querySelector(".play-label").textContent = playing ? "Pause" : "Play";
  };

  Trainer.prototype.toggle = function () {
    if (this.playing) this.pause();
    else this.play();
  };

  Trainer.prototype.play = function () {
    if (this.playing) return;
    this.setPlaying(true);
    this.setStatus("");
    this.fetchMore();
    this.scheduleDraw();
  };

  /* Stop where the server is: the queued frames are shown at once, the last of them on screen. */
  Trainer.prototype.pause = function () {
    if (!this.playing) return;
    this.setPlaying(false);
    this.scheduleDraw();
  };

  Trainer.prototype.stepOnce = function () {
    this.pause();
    this.request(1, 1);
  };

  Trainer.prototype.fetchMore = function () {
    if (!this.playing || this.inflight || this.queue.length > LOW_WATER) return;
    var speed = parseInt(this.speedSelect.value, 10) || 1;
    this.request(speed * FRAMES_PER_REQUEST, speed);
  };

  Trainer.prototype.request = function (steps, every) {
    if (this.inflight) return;
    var chunk = this.data.chunk;
    steps = Math.max(1, Math.min(steps, chunk - (this.serverStep % chunk)));
    var self = this;
    var generation = this.generation;
    this.inflight = true;
    post(this.data.urls.advance, { setup: this.data.setup, state: this.state, steps: steps, every: Math.min(every, steps) })
      .then(function (answer) {
        if (generation !== self.generation) return;
        self.inflight = false;
        self.receive(answer);
        self.fetchMore(); // the next chunk is computed while these frames are shown
        self.scheduleDraw();
      })
      .catch(function (problem) {
        if (generation !== self.generation) return;
        self.inflight = false;
        self.setPlaying(false);
        self.setStatus(problemText(problem) + " Reset, or lower the learning rate in the setup.");
        self.scheduleDraw();
      });
  };

  /* Queue an answer's frames, each with its slice of the metrics. */
  Trainer.prototype.receive = function (answer) {
    this.state = answer.state;
    this.serverStep = answer.step;
    if (answer.step % this.data.chunk === 0) this.checkpoints[answer.step] = answer.state;
    var metrics = answer.metrics;
    var first = metrics.steps[0];
    answer.frames.forEach(function (frame) {
      var count = frame.step - first + 1;
      var slice = {};
      for (var key in metrics) slice[key] = metrics[key] === null ? null : metrics[key].slice(0, count);
      for (key in metrics) if (metrics[key] !== null) metrics[key] = metrics[key].slice(count);
      first = frame.step + 1;
      frame.metrics = slice;
      this.queue.push(frame);
    }, this);
  };

  Trainer.prototype.scheduleDraw = function () {
    if (this.frameRequested || this.destroyed) return;
    this.frameRequested = true;
    var self = this;
    window.requestAnimationFrame(function (now) {
      self.frameRequested = false;
      self.draw(now);
    });
  };

  /* One animation frame: the next queued frame (all of them when paused), then one slow figure if due. */
  Trainer.prototype.draw = function (now) {
    if (this.destroyed) return;
    var frame = null;
    while (this.queue.length && (frame === null || !this.playing)) {
      frame = this.queue.shift();
      this.take(frame);
    }
    if (frame !== null) this.show();
    var due = function (name, every) { return !this.playing || now - this.lastDrawn[name] >= every; }.bind(this);
    if (this.pending.units && due("units", UNITS_EVERY)) {
      this.update("units", this.pending.units);
      this.pending.units = null;
      this.lastDrawn.units = now;
    } else if (this.pending.curves && due("curves", CURVES_EVERY)) {
      this.drawCurves();
      this.pending.curves = false;
      this.lastDrawn.curves = now;
    }
    if (!this.playing && !this.inflight && frame !== null) {
      this.setStatus("Paused at step " + this.step + ". " + this.describe(this.step));
      if (this.openStep) this.openStep.value = this.step;
    }
    this.fetchMore();
    if (this.queue.length || this.pending.units || this.pending.curves) this.scheduleDraw();
  };

  /* A frame's metrics join the curves; its field is drawn now, its mosaic when due. */
  Trainer.prototype.take = function (frame) {
    for (var key in frame.metrics) {
      if (frame.metrics[key] !== null && this.metrics[key]) Array.prototype.push.apply(this.metrics[key], frame.metrics[key]);
    }
    this.step = frame.step;
    if (frame.field && this.plots.field && (this.playing || this.queue.length === 0)) this.update("field", frame.field);
    if (frame.units && this.plots.units) this.pending.units = frame.units;
    this.pending.curves = true;
  };

  Trainer.prototype.show = function () {
    this.stepText.textContent = "step " + this.step;
    this.readout.textContent = this.describe(this.step);
    this.frames += 1;
    this.root.setAttribute("data-frames", String(this.frames));
    this.root.setAttribute("data-step", String(this.step));
  };

  /* Put a change ({traces: [[index, key, value]]}) into a figure and redraw it. */
  Trainer.prototype.update = function (name, change) {
    var figure = this.figures[name];
    change.traces.forEach(function (item) { figure.data[item[0]][item[1]] = item[2]; });
    figure.layout.datarevision = (figure.layout.datarevision || 0) + 1;
    Plotly.react(this.plots[name], figure.data, figure.layout, config(name));
  };

  Trainer.prototype.drawCurves = function () {
    var figure = this.figures.curves;
    if (!figure) return;
    var metrics = this.metrics;
    var steps = metrics.steps;
    var stride = Math.max(1, Math.ceil(steps.length / MAX_CURVE_POINTS));
    figure.data.forEach(function (trace) {
      var values = metrics[trace.meta];
      if (!values) return;
      var x = [], y = [];
      for (var i = 0; i < steps.length; i += stride) { x.push(steps[i]); y.push(values[i]); }
      if ((steps.length - 1) % stride !== 0) { x.push(steps[steps.length - 1]); y.push(values[values.length - 1]); }
      trace.x = x;
      trace.y = y;
    });
    var picked = this.picked;
    figure.layout.shapes = picked === null ? [] : ["x", "x2"].filter(function (axis) {
      return axis === "x" || figure.layout.xaxis2;
    }).map(function (axis) {
      return { type: "line", xref: axis, yref: "paper", x0: picked, x1: picked, y0: 0, y1: 1,
               line: { color: "#1f2933", width: 1, dash: "dot" } };
    });
    figure.layout.datarevision = (figure.layout.datarevision || 0) + 1;
    Plotly.react(this.plots.curves, figure.data, figure.layout, config("curves"));
  };

  Trainer.prototype.describe = function (step) {
    var m = this.metrics;
    var i = step - m.steps[0];
    if (i < 0 || i >= m.steps.length) return "";
    var parts = ["train loss " + format(m.train_loss[i])];
    if (m.test_loss) parts.push("test loss " + format(m.test_loss[i]));
    if (m.train_accuracy) parts.push("train accuracy " + percent(m.train_accuracy[i]));
    if (m.test_accuracy) parts.push("test accuracy " + percent(m.test_accuracy[i]));
    return parts.join(" · ");
  };

  /* Pick a step: ask for its lab request and link, replayed from the checkpoint before it. */
  Trainer.prototype.pick = function (step) {
    if (!(step >= 0)) return;
    step = Math.min(step, this.step);
    this.picked = step;
    if (this.openStep) this.openStep.value = step;
    this.pending.curves = true;
    this.highlight(null);
    this.scheduleDraw();
    var base = step - (step % this.data.chunk);
    while (base > 0 && !this.checkpoints[base]) base -= this.data.chunk;
    var self = this;
    var generation = this.generation;
    this.showPick({ step: step, loading: true });
    post(this.data.urls.open, { setup: this.data.setup, checkpoint: this.checkpoints[base], step: step })
      .then(function (answer) {
        if (generation !== self.generation || self.picked !== step) return;
        self.showPick({ step: step, answer: answer });
        self.highlight(answer.batch);
      })
      .catch(function (problem) {
        if (generation !== self.generation) return;
        self.showPick({ step: step, error: problemText(problem) });
      });
  };

  Trainer.prototype.showPick = function (pick) {
    var box = this.openResult;
    if (!box) return;
    box.textContent = "";
    if (pick === null) {
      box.textContent = "Pause anywhere, or click a point of the curves, to pick a step.";
      return;
    }
    var title = document.createElement("strong");
    title.textContent = "Step " + pick.step + ". ";
    box.appendChild(title);
    if (pick.loading) { box.appendChild(document.createTextNode("Replaying from the checkpoint…")); return; }
    if (pick.error) { box.appendChild(document.createTextNode(pick.error)); return; }
    var answer = pick.answer;
    var batch = answer.batch;
    var text = batch === null
      ? "Every training example is in this step's batch. "
      : "A batch of " + batch.length + " examples (ringed on the plane): #" + batch.slice(0, 8).join(", #") +
        (batch.length > 8 ? ", …" : "") + ". ";
    var optimizer = answer.request.optimizer;
    if (optimizer.state) {
      text += (optimizer.name === "adam" ? "Adam's moments" : "The velocity") + " after " + optimizer.state.step + " updates come along. ";
    }
    var line = document.createElement("span");
    line.textContent = text + this.describe(pick.step) + " ";
    box.appendChild(line);
    if (answer.lab_note) {
      var note = document.createElement("span");
      note.className = "open-note";
      note.textContent = answer.lab_note + " ";
      box.appendChild(note);
      var request = document.createElement("a");
      request.href = "data:application/json;charset=utf-8," + encodeURIComponent(JSON.stringify(answer.request, null, 1));
      request.download = "step-" + pick.step + ".json";
      request.textContent = "Download the trace request";
      box.appendChild(request);
    }
    if (answer.lab_url) {
      var link = document.createElement("a");
      link.className = "button button-primary button-small open-link";
      link.href = answer.lab_url;
      link.target = "_blank"; // a new tab: this run stays where it is
      link.rel = "noopener";
      link.textContent = "Open step " + pick.step + " in the lab ↗";
      box.appendChild(link);
    }
  };

  /* Ring the examples of the picked step's batch on the plane (none for a full batch). */
  Trainer.prototype.highlight = function (batch) {
    var figure = this.figures.boundary;
    if (!figure || !this.data.points) return;
    var points = this.data.points;
    figure.data.forEach(function (trace) {
      if (trace.meta !== "batch") return;
      trace.x = batch ? batch.map(function (i) { return points[i][0]; }) : [];
      trace.y = batch ? batch.map(function (i) { return points[i][1]; }) : [];
    });
    figure.layout.datarevision = (figure.layout.datarevision || 0) + 1;
    Plotly.react(this.plots.boundary, figure.data, figure.layout, config("boundary"));
  };

  Trainer.prototype.setStatus = function (text) {
    if (this.status) this.status.textContent = text;
  };

  Trainer.prototype.destroy = function () {
    this.playing = false;
    this.destroyed = true;
    this.generation += 1;
    this.listeners.forEach(function (item) { item[0].removeEventListener(item[1], item[2]); });
    for (var name in this.plots) Plotly.purge(this.plots[name]);
  };

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) throw answer;
        return answer;
      });
    });
  }

  function problemText(problem) {
    if (problem && problem.detail) return problem.detail.charAt(0).toUpperCase() + problem.detail.slice(1) + ".";
    return "The server could not be reached.";
  }

  function format(value) {
    if (value === null || value === undefined) return "–";
    return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(3) : value.toFixed(4);
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : (100 * value).toFixed(1) + "%";
  }

  /* A figure wider than its column scrolls inside its card: the card then takes the focus, so the keyboard can
   * reach it and scroll it with the arrows; a card that fits is no tab stop. */
  function reachRegions(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-scroll]"), function (region) {
      if (region.scrollWidth > region.clientWidth || region.scrollHeight > region.clientHeight) {
        if (region.tabIndex !== 0) region.tabIndex = 0;
      } else if (region.hasAttribute("tabindex")) {
        region.removeAttribute("tabindex");
      }
    });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () { if (current) reachRegions(current.root); }, 200);
  });

  /* Enter in a setting fires change (htmx posts the form: a new run) and then submit, which would post the same
   * form again and abort the first request (hx-sync="this:replace"); so would a click on New run right after
   * typing. A submit that would post what is already on its way is dropped: one change, one request. htmx marks
   * the form with its request class while a request is on its way. */
  function formText(form) {
    return new URLSearchParams(new FormData(form)).toString();
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.id === "train-setup") form.trainSent = formText(form);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.id !== "train-setup" || !form.classList.contains("htmx-request")) return;
    if (formText(form) !== form.trainSent) return;
    event.preventDefault();
    event.stopPropagation(); // captured on the document: htmx, on the form, never sees it
  }, true);

  function start() {
    var root = document.getElementById("train");
    if (current) { current.destroy(); current = null; }
    if (!root || !root.querySelector("#train-data") || typeof Plotly === "undefined") return;
    current = new Trainer(root);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "train" && current) {
      current.destroy();
      current = null;
    }
  });

  document.addEventListener("htmx:load", function (event) {
    if (event.target && event.target.id === "train") start();
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
