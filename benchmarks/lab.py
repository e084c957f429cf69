"""How fast the lab is in headless Chromium on 127.0.0.1: per preset, per network given, or over a sweep of sizes.

    .venv/bin/python benchmarks/lab.py                      # every preset
    .venv/bin/python benchmarks/lab.py xor seed002-ex2      # some
    .venv/bin/python benchmarks/lab.py --sweep              # networks of growing size, up to the lab's bounds
    .venv/bin/python benchmarks/lab.py --network body.json  # a trace request body (a file, or the JSON itself)
    .venv/bin/python benchmarks/lab.py --network TOKEN      # a lab state token (as in /lab?state=TOKEN)
    .venv/bin/python benchmarks/lab.py --pause 0.25         # a student's pace between key presses
    .venv/bin/python benchmarks/lab.py --loads 5            # more first loads per network (medians shown)

A preset opens at /lab/<preset>; any other network at /lab?state=<token>, its token
`webapp.lab.state.encode(LabState(body))` (the werkzeug server here takes URLs up to
64 KB; a longer state opens at /lab#state=, the page then posts it to /lab/render).

For each network, `--loads` times (3 by default): a fresh server (a new process, so
nothing is cached: templates, the run's summary, compressed files), a cold load in a
fresh browser context (empty HTTP cache), then a warm load in a second fresh context
(the server has built the page once). Each load measures, in ms after the start of
navigation (performance.now()):

- readable: the first sub-step readable, i.e. its paint presented: its title
  (#substep-title), the numbers and symbols of its equation (the MathML token elements of
  #equation) and each matrix's coloured table (`.plot.placeholder`). Measured with Element
  Timing: the probe, running before the page's scripts, marks those elements with an
  `elementtiming` attribute as the parser inserts them (a MutationObserver, so before their
  first paint), and a PerformanceObserver('element') gives each one's renderTime, when the
  frame that first painted it was presented. A matrix's table is coloured cells, their
  values written only up to 8 x 8, and Element Timing sees no cell without text; a big table
  can also be painted half-parsed (its rows then shrink as the rest arrives). So once the
  parser has closed a table, the probe puts a one-character mark in its card (out of the
  flow); the frame that presents the mark presents the whole table. readable is the latest
  of these times. Not first-contentful-paint (`fcp`, shown too): that is the first text of
  any kind and can come before the last matrix when the parser yields mid-page. Not a
  requestAnimationFrame after DOMContentLoaded: that waits for the deferred scripts, and
  times a frame's start, not its paint. An element never painted (scrolled out of the
  viewport or of the equation's scroll box) reports nothing: `painted` counts the entries
  against the elements marked.
- before: bytes that crossed the wire (Chromium's encodedDataLength, compressed,
  headers included) in responses that had finished loading by `readable`.
- heatmap: the first Plotly heatmap: the frame after Plotly inserted its first .main-svg
  into a shown matrix card (a requestAnimationFrame callback followed by a
  message-channel task, so the paint is included).
- ready: everything needed to step is here: ms after `heatmap` until no POST /lab/frames
  request is pending (the page asks for the SGD steps around the first one as it starts;
  a request counts as done once its JSON is parsed and the lab has merged it); 0 when the
  frames were in before the heatmap, or none were asked for (a one-step run).
- shift: layout shift during the load (the sum of the PerformanceObserver
  'layout-shift' values until just after `ready`; no input comes before): what moves as
  the page arrives and when Plotly replaces the placeholders. The largest of the loads is
  shown, and the shifted elements of one load are listed under the tables.
- DOM: document.getElementsByTagName('*').length once ready, after the steps, and after
  End and Home.
- errors: console errors and uncaught exceptions of the page, listed under the tables.

Then, in the last warm load's page, the steps: ArrowRight through up to `--presses`
sub-steps (60 by default), ArrowLeft back, `--rounds` times (2), each timed from the
keydown (its event timestamp, so waiting behind other work counts) to the frame after the
lab shows the new sub-step (#lab's data-position changes; a requestAnimationFrame callback
then a message-channel task). A sub-step whose frames are not loaded yet shows "Loading
sub-step N…" and then the sub-step once they arrive: that press waited for a fetch and its
time includes it (`waited` counts them). Each press comes at a random moment within a
display frame (60 Hz), as a person's does; by default a press follows as soon as the last
one is drawn, `--pause` waits longer first. Then End and Home, timed the same way (a jump
to a step whose frames are not here: it includes a fetch). The **reference** is the same
measurement in the same page and run for the key "q", which the lab ignores and on which
the probe changes one number in a corner: what any frame costs on the machine at that
moment. Compare steps with it (`step/ref`), and versions in the same run.

--sweep runs networks generated here (seeded numpy Generator, tanh hidden layers, identity
output, mean squared error, rows layout, learning rate 0.05, weights normal with sd 1/sqrt(fan-in),
biases with sd 0.1, inputs and targets uniform in [-1, 1], all rounded to 3 decimals), from
2-3-1 on 4 examples to the lab's bounds (8 layers of 32 units, 64 examples); "max" steps
are as many as the server's limits (max_work, max_trace_values) and the lab's 200 allow.

Targets (every network up to the lab's bounds): readable <= 400 ms cold with at most 150 KB
compressed before it; first heatmap < 1 s cold; ready <= 500 ms after it; no layout shift;
a step's median <= 2 x the reference and its worst < 50 ms; DOM elements independent of the
number of SGD steps (compare the sweep's 2-3-1 rows).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent
sys.path[:] = [str(_ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
FRAME_S = 1 / 60
MAX_QUERY_URL = 65_000  # the werkzeug server's request line limit is 65,536 bytes (http.server)
TARGET_READABLE_MS, TARGET_BEFORE_BYTES = 400.0, 150 * 1000
TARGET_HEATMAP_MS, TARGET_READY_MS = 1000.0, 500.0
TARGET_RATIO, TARGET_WORST_MS, TARGET_SHIFT = 2.0, 50.0, 0.0

# Runs before any script of the page. Marks the first sub-step's text for Element Timing as the parser inserts
# it, stamps the first heatmap, counts POST /lab/frames requests, sums layout shifts, and times each key press
# to the frame after the lab shows the sub-step it asked for. The key "q", which the lab ignores, changes one
# number in a corner instead: the reference frame.
PROBE = r"""
(function () {
  var bench = window.__bench = {
    tagged: 0, painted: {}, parsed: null, fcp: null, heatmapInserted: null, heatmap: null,
    shift: 0, shifts: [], framesAsked: 0, framesPending: 0, framesDone: null, framesFailed: 0, frames: [],
    steps: [], errors: []
  };
  var serial = 0;
  function tag(el, group) {
    if (el.hasAttribute('elementtiming')) return;
    el.setAttribute('elementtiming', group + '#' + (serial++));
    bench.tagged++;
  }
  // The first sub-step as the server wrote it: its title, its equation's numbers and symbols, each matrix's
  // placeholder (below). Marked as the parser inserts them, before any paint.
  function consider(el) {
    if (el.id === 'substep-title') { tag(el, 'title'); return; }
    if (el.closest('#equation')) { if (/^(mi|mn|mo|mtext)$/i.test(el.localName)) tag(el, 'equation'); return; }
    if (el.classList.contains('placeholder-cells')) tables.push(el);
  }
  // A matrix's cells are coloured, and only up to 8 x 8 written: Element Timing sees no cell without text, and a
  // big table can be painted half-parsed (its rows then shrink as more arrive). So once the parser has closed a
  // matrix's table (something follows it), a one-character mark goes in its card, out of the flow (absolute, at
  // its static place) and outside the box Plotly empties (an entry whose element left the page may never come):
  // the first frame that presents the mark presents the whole table, with its title above it.
  var tables = [];
  function complete(all) {
    tables = tables.filter(function (table) {
      if (!all && !table.nextSibling) return true;
      var mark = document.createElement('span');
      mark.textContent = '.';
      mark.style.cssText = 'position: absolute; font: 8px/1 monospace; color: #999;';
      tag(mark, 'card');
      (table.closest('.panel') || table.parentNode).appendChild(mark);
      return false;
    });
  }
  var parsing = new MutationObserver(function (records) {
    records.forEach(function (record) {
      record.addedNodes.forEach(function (node) { if (node.nodeType === 1) consider(node); });
    });
    complete(false);
  });
  parsing.observe(document, {childList: true, subtree: true});
  document.addEventListener('readystatechange', function () {
    if (document.readyState !== 'interactive') return;
    bench.parsed = performance.now();
    parsing.takeRecords().forEach(function (record) {
      record.addedNodes.forEach(function (node) { if (node.nodeType === 1) consider(node); });
    });
    complete(true);
    parsing.disconnect();
  });
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (entry) {
      var group = entry.identifier.split('#')[0];
      var time = entry.renderTime || entry.loadTime;
      var seen = bench.painted[group] || (bench.painted[group] = {count: 0, last: 0});
      seen.count++;
      seen.last = Math.max(seen.last, time);
    });
  }).observe({type: 'element', buffered: true});
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (entry) {
      if (entry.name === 'first-contentful-paint') bench.fcp = entry.startTime;
    });
  }).observe({type: 'paint', buffered: true});
  function describe(n) {
    if (!n) return '?';
    var el = n.nodeType === 1 ? n : n.parentElement;
    var text = n.nodeType === 1 ? '' : '#text in ';
    var names = [];
    for (var k = 0; el && k < 4; el = el.parentElement) {
      var cls = typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : '';
      names.push(el.localName + (el.id ? '#' + el.id : '') + cls);
      if (el.id) break;
      k++;
    }
    return text + names.join(' < ');
  }
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (entry) {
      if (entry.hadRecentInput) return;
      bench.shift += entry.value;
      bench.shifts.push({at: entry.startTime, value: entry.value, sources: (entry.sources || []).map(function (s) {
        var name = describe(s.node);
        return {node: name, from: [s.previousRect.y, s.previousRect.height], to: [s.currentRect.y, s.currentRect.height]};
      })});
    });
  }).observe({type: 'layout-shift', buffered: true});

  function afterFrame(then) {
    requestAnimationFrame(function () {
      var channel = new MessageChannel();
      channel.port1.onmessage = function () { then(performance.now()); };
      channel.port2.postMessage(0);
    });
  }
  new MutationObserver(function (records, observer) {
    if (document.querySelector('#panels .panel:not([hidden]) .main-svg')) {
      observer.disconnect();
      bench.heatmapInserted = performance.now();
      afterFrame(function (now) { bench.heatmap = now; });
    }
  }).observe(document, {childList: true, subtree: true});

  // POST /lab/frames: pending from the call until its JSON is parsed and the lab's own callback has run.
  var realFetch = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : (input && input.url) || String(input);
    var promise = realFetch.apply(this, arguments);
    if (url.indexOf('/lab/frames') < 0) return promise;
    var record = {start: performance.now(), end: null, ok: null, body: init && init.body ? String(init.body).length : 0};
    try { var asked = JSON.parse(init.body); record.from = asked.from; record.to = asked.to; } catch (e) {}
    bench.frames.push(record);
    bench.framesAsked++;
    bench.framesPending++;
    var settled = false;
    function done(ok) {
      if (settled) return;
      settled = true;
      setTimeout(function () {  // after the lab's callback, which the same promise resolution queued
        record.end = performance.now();
        record.ok = ok;
        bench.framesPending--;
        if (ok) bench.framesDone = record.end; else bench.framesFailed++;
      }, 0);
    }
    return promise.then(function (response) {
      if (!response.ok) { done(false); return response; }
      var json = response.json.bind(response);
      response.json = function () {
        return json().then(function (value) { done(true); return value; }, function (error) { done(false); throw error; });
      };
      return response;
    }, function (error) { done(false); throw error; });
  };

  // The reference: a number in a corner. Its first paint also marks the first frame after parsing ended.
  document.addEventListener('DOMContentLoaded', function () {
    var reference = document.createElement('div');
    reference.id = 'bench-reference';
    reference.style.cssText = 'position: fixed; right: 0; bottom: 0; font: 10px monospace; z-index: 10;';
    reference.textContent = '0';
    document.body.appendChild(reference);
    window.addEventListener('keydown', function (event) {
      if (event.key === 'q') reference.textContent = String(Number(reference.textContent) + 1);
    });
  });

  // A key press: from its event timestamp to the frame after the lab shows the sub-step it asked for.
  window.addEventListener('keydown', function (event) {
    var start = event.timeStamp;  // when the browser took the key, so waiting behind other work counts
    var entry = {key: event.key, waited: false, ms: null};
    function finish() { afterFrame(function (now) { entry.ms = now - start; bench.steps.push(entry); }); }
    var lab = document.getElementById('lab');
    if (event.key === 'q' || !lab) { finish(); return; }
    var before = lab.dataset.position;
    // After the lab's own handler (on document): did it show the sub-step, or is it waiting for its frames?
    window.addEventListener('keydown', function after() {
      window.removeEventListener('keydown', after);
      if (lab.dataset.position !== before) { finish(); return; }
      entry.waited = true;
      var watch = new MutationObserver(function () {
        if (lab.dataset.position !== before) { watch.disconnect(); finish(); }
      });
      watch.observe(lab, {attributes: true, attributeFilter: ['data-position']});
    });
  }, true);
  window.addEventListener('error', function (event) { bench.errors.push(String(event.message)); });
})();
"""


# --- the server: a fresh process per pair of loads ---------------------------------------------------------------

def serve_forever() -> None:
    """`lab.py --serve`: the app on 127.0.0.1 at a free port, written to stdout; serves until killed."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    from webapp import create_app

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", 0, create_app(), threaded=True, request_handler=Quiet)
    print(server.server_port, flush=True)
    server.serve_forever()


class Server:
    def __init__(self):
        env = dict(os.environ, PYTHONPATH=str(_ROOT))
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve"], cwd=_ROOT,
                                        stdout=subprocess.PIPE, env=env, text=True)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.process.kill()
            raise RuntimeError("the benchmark's server did not start")
        self.base = f"http://127.0.0.1:{int(line)}"

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the networks --------------------------------------------------------------------------------------------------

@dataclass
class Network:
    label: str
    path: str  # /lab/<preset> or /lab?state=<token>
    steps: int
    substeps: int
    token_chars: int = 0


def preset_network(preset_id: str) -> Network:
    from engine import presets

    body = presets.get(preset_id).body()
    steps = body.get("steps", 1)
    return Network(preset_id, f"/lab/{preset_id}", steps, steps * (2 * len(body["layers"]) + 2))


def state_network(label: str, token: str, app) -> Network:
    from webapp.api.limits import current_limits
    from webapp.lab import run as labrun
    from webapp.lab import state

    with app.app_context():
        decoded = state.decode(token, current_limits())
        labrun.run(decoded.state.request)  # raises Rejected for a network the lab cannot show
    spec = decoded.spec
    path = f"/lab?state={token}"
    if len(path) > MAX_QUERY_URL:
        path, label = f"/lab#state={token}", label + " (#state)"
    return Network(label, path, spec.steps, spec.steps * (2 * len(spec.layers) + 2), len(token))


def body_network(label: str, body: dict, app) -> Network:
    from webapp.lab import state

    return state_network(label, state.encode(state.LabState(body)), app)


_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")


def given_network(value: str, app) -> Network:
    """--network: a path to a JSON body, the JSON itself, or a state token (base64url: no "/", "." or "{")."""
    text = value.strip()
    if text.startswith("{"):
        return body_network("--network JSON", json.loads(text), app)
    if _TOKEN.fullmatch(text) and not (len(text) < 255 and Path(text).is_file()):
        return state_network(f"token {text[:10]}…", text, app)
    return body_network(Path(value).name, json.loads(Path(value).read_text()), app)


def generated_body(widths: list[int], examples: int, steps: int, seed: int = 0) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    layers = []
    for k, (fan_in, units) in enumerate(zip(widths, widths[1:])):
        layers.append({
            "weights": rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, units)).round(3).tolist(),
            "bias": rng.normal(0, 0.1, units).round(3).tolist(),
            "activation": "identity" if k == len(widths) - 2 else "tanh",
        })
    return {
        "layout": "rows",
        "layers": layers,
        "inputs": rng.uniform(-1, 1, (examples, widths[0])).round(3).tolist(),
        "targets": rng.uniform(-1, 1, (examples, widths[-1])).round(3).tolist(),
        "loss": {"name": "squared_error", "reduction": "mean"},
        "optimizer": {"name": "sgd", "learning_rate": 0.05},
        "steps": steps,
    }


def most_steps(widths: list[int], examples: int, app) -> int:
    """The most SGD steps the lab takes for this network (its 200, the server's max_work and max_trace_values)."""
    from webapp.lab import run as labrun

    def fits(steps: int) -> bool:
        try:
            with app.app_context():
                labrun.run(generated_body(widths, examples, steps))
            return True
        except labrun.Rejected:
            return False

    low, high = 1, labrun.LAB_MAX_STEPS
    if not fits(low):
        raise ValueError(f"{widths} on {examples} examples does not fit even one step")
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


SWEEP = [  # widths, examples, steps (None: as many as fit)
    ([2, 3, 1], 4, 1),
    ([2, 3, 1], 4, 20),
    ([2, 3, 1], 4, 200),
    ([4, 8, 8, 3], 8, 5),
    ([6, 12, 12, 12, 4], 16, 2),
    ([12] * 8, 16, 1),
    ([32] * 9, 64, 4),
    ([32] * 9, 64, None),
    ([2] + [32] * 7 + [1], 64, None),
]


def sweep_networks(app) -> list[Network]:
    networks = []
    for widths, examples, steps in SWEEP:
        steps = steps or most_steps(widths, examples, app)
        name = "-".join(map(str, widths)) if len(set(widths)) > 1 else f"{widths[0]}x{len(widths)}"
        networks.append(body_network(f"{name} N={examples} {steps}st", generated_body(widths, examples, steps), app))
    return networks


# --- one load ------------------------------------------------------------------------------------------------------

@dataclass
class Load:
    readable: float
    ttfb: float
    painted: str
    fcp: float
    before: int
    heatmap: float
    ready: float
    total: int
    shift: float
    dom: int
    frames: int
    frames_failed: int
    shifts: list = field(default_factory=list)


def load(browser, url: str, errors: list[str]) -> tuple[Load, object, object]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.add_init_script(PROBE)
    page.on("console", lambda message: message.type == "error" and errors.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    finished: dict[str, tuple[float, int]] = {}  # request -> (monotonic s when it finished, encoded bytes)
    document: dict[str, float] = {}
    lock = threading.Lock()

    def response(event):
        if event.get("type") == "Document" and "clock" not in document:
            timing = event["response"].get("timing") or {}
            if timing:
                # The response's headers arrived at requestTime + receiveHeadersEnd ms (CDP's monotonic clock),
                # which is the navigation entry's responseStart on the page's clock: the two clocks' offset.
                document["headers"] = timing["requestTime"] * 1000 + timing["receiveHeadersEnd"]
                document["clock"] = 1

    def done(event):
        with lock:
            finished[event["requestId"]] = (event["timestamp"], event["encodedDataLength"])

    cdp.on("Network.responseReceived", response)
    cdp.on("Network.loadingFinished", done)
    page.goto(url, wait_until="load")
    page.wait_for_function("() => window.__bench.heatmap !== null && window.__bench.framesPending === 0",
                           timeout=120_000, polling=50)
    page.wait_for_timeout(300)  # late element-timing entries (they are reported after presentation)
    page.wait_for_function("() => window.__bench.framesPending === 0", timeout=120_000, polling=50)
    bench = page.evaluate("""() => {
      var b = window.__bench;
      var nav = performance.getEntriesByType('navigation')[0];
      return {painted: b.painted, tagged: b.tagged, fcp: b.fcp, heatmap: b.heatmap, framesDone: b.framesDone,
              framesAsked: b.framesAsked, framesFailed: b.framesFailed, shift: b.shift, shifts: b.shifts,
              responseStart: nav.responseStart, dom: document.getElementsByTagName('*').length};
    }""")
    groups = bench["painted"]
    readable = max((g["last"] for g in groups.values()), default=float("nan"))
    painted = f"{sum(g['count'] for g in groups.values())}/{bench['tagged']}"
    with lock:
        ends = list(finished.values())
    offset = document.get("headers", float("nan")) - bench["responseStart"]  # page ms = CDP ms - offset
    before = sum(size for at, size in ends if at * 1000 - offset <= readable)
    total = sum(size for _, size in ends)
    done_at = bench["framesDone"] if bench["framesDone"] is not None else bench["heatmap"]
    result = Load(readable, bench["responseStart"], painted, bench["fcp"] or float("nan"), before, bench["heatmap"],
                  max(0.0, done_at - bench["heatmap"]), total, bench["shift"], bench["dom"], bench["framesAsked"],
                  bench["framesFailed"], bench["shifts"])
    return result, context, page


# --- the steps -----------------------------------------------------------------------------------------------------

def press(page, keys: list[str], pause_s: float, phases: random.Random) -> list[dict]:
    """Each key press's {key, waited, ms}: from the keydown to the frame after the lab shows its sub-step."""
    page.evaluate("() => { window.__bench.steps = []; }")
    for n, key in enumerate(keys, start=1):
        # A student's key press falls anywhere within a display frame; without this pause every press
        # would leave right after the last frame was drawn and wait almost a whole frame for the next.
        page.wait_for_timeout(1000 * (pause_s + phases.uniform(0, FRAME_S)))
        page.keyboard.press(key)
        page.wait_for_function("(n) => window.__bench.steps.length >= n", arg=n, timeout=120_000)
    return page.evaluate("() => window.__bench.steps")


@dataclass
class Steps:
    steps: list[dict]
    references: list[float]
    end: float
    home: float
    dom: int
    dom_jumped: int
    fetches: list[float]  # ms of each POST /lab/frames while stepping (call to merged)


def step(page, network: Network, pause_s: float, rounds: int, presses: int) -> Steps:
    page.locator("body").click(position={"x": 2, "y": 2})  # the keys go to the page, not a field
    page.wait_for_timeout(100)
    asked = page.evaluate("() => window.__bench.frames.length")
    phases = random.Random(0)
    count = min(network.substeps - 1, presses)
    keys = (["ArrowRight"] * count + ["ArrowLeft"] * count) * rounds
    timings = press(page, keys, pause_s, phases) if keys else []
    dom = page.evaluate("() => document.getElementsByTagName('*').length")
    # The reference, in the same page and run: the same number of presses where the frame changes one number.
    references = [entry["ms"] for entry in press(page, ["q"] * max(len(keys), 30), pause_s, phases)]
    end = home = float("nan")
    if network.substeps > 1:
        page.wait_for_timeout(300)
        end, home = (entry["ms"] for entry in press(page, ["End", "Home"], 0.3, phases))
    dom_jumped = page.evaluate("() => document.getElementsByTagName('*').length")
    fetches = page.evaluate("(skip) => window.__bench.frames.slice(skip).filter(f => f.end !== null)"
                            ".map(f => f.end - f.start)", asked)
    return Steps(timings, references, end, home, dom, dom_jumped, fetches)


# --- the table -----------------------------------------------------------------------------------------------------

@dataclass
class Row:
    network: Network
    cold: list[Load]
    warm: list[Load]
    steps: Steps
    errors: list[str]


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def measure(browser, network: Network, options) -> Row:
    colds, warms, errors = [], [], []
    context = page = server = None
    for n in range(options.loads):
        server = Server()
        url = server.base + network.path
        try:
            cold, context, page = load(browser, url, errors)
            colds.append(cold)
            context.close()
            warm, context, page = load(browser, url, errors)
            warms.append(warm)
        except Exception:
            server.close()
            raise
        if n < options.loads - 1:
            context.close()
            server.close()
    try:
        steps = step(page, network, options.pause, options.rounds, options.presses)
    finally:
        context.close()
        server.close()
    return Row(network, colds, warms, steps, errors)


def report(rows: list[Row]) -> bool:
    ok = True
    width = max([len(r.network.label) for r in rows] + [7])
    print("\nFirst load, ms after navigation start (median of the loads; cold = a fresh server and browser cache)")
    print(f"{'network':<{width}} {'subst':>5} {'token':>6} | {'ttfb':>4} {'readable':>8} {'warm':>5} {'fcp':>5} {'painted':>9} "
          f"{'before':>7} | {'heatmap':>7} {'warm':>5} | {'ready':>5} {'frames':>6} | {'shift':>6} | {'bytes':>7} "
          f"| {'DOM':>5} {'stepped':>7} {'jumped':>6}")
    for row in rows:
        n, cold, warm, s = row.network, row.cold, row.warm, row.steps
        readable, heatmap = median([x.readable for x in cold]), median([x.heatmap for x in cold])
        ready, before = median([x.ready for x in cold]), median([x.before for x in cold])
        shift = max(x.shift for x in cold + warm)
        misses = []
        if not readable <= TARGET_READABLE_MS:
            misses.append("readable")
        if not before <= TARGET_BEFORE_BYTES:
            misses.append("before")
        if not heatmap < TARGET_HEATMAP_MS:
            misses.append("heatmap")
        if not ready <= TARGET_READY_MS:
            misses.append("ready")
        if shift > TARGET_SHIFT + 1e-9:
            misses.append("shift")
        ok &= not misses
        failed = sum(x.frames_failed for x in cold + warm)
        print(f"{n.label:<{width}} {n.substeps:>5} {n.token_chars / 1000 if n.token_chars else 0:5.1f}K | "
              f"{median([x.ttfb for x in cold]):4.0f} {readable:8.0f} {median([x.readable for x in warm]):5.0f} {median([x.fcp for x in cold]):5.0f} "
              f"{cold[-1].painted:>9} {before / 1000:6.0f}K | {heatmap:7.0f} {median([x.heatmap for x in warm]):5.0f} "
              f"| {ready:5.0f} {cold[-1].frames:>6} | {shift:6.4f} | {median([x.total for x in cold]) / 1000:6.0f}K "
              f"| {warm[-1].dom:>5} {s.dom:>7} {s.dom_jumped:>6}"
              f"{'  over: ' + ', '.join(misses) if misses else ''}{f'  {failed} frames requests failed' if failed else ''}")
    print("\nSteps, ms from the keydown to the frame after the sub-step is shown (last warm load's page)")
    print(f"{'network':<{width}} {'presses':>7} {'waited':>6} {'median':>7} {'p90':>6} {'worst':>6} {'ref':>5} "
          f"{'step/ref':>8} | {'End':>5} {'Home':>5} | {'fetches':>7} {'median':>6}")
    for row in rows:
        s = row.steps
        times = [entry["ms"] for entry in s.steps]
        waited = [entry for entry in s.steps if entry["waited"]]
        reference = median(s.references)
        if times:
            middle, worst = statistics.median(times), max(times)
            p90 = sorted(times)[int(0.9 * (len(times) - 1))]
            misses = [name for name, bad in (("median", middle > TARGET_RATIO * reference),
                                             ("worst", worst >= TARGET_WORST_MS)) if bad]
            ok &= not misses
            print(f"{row.network.label:<{width}} {len(times):>7} {len(waited):>6} {middle:7.1f} {p90:6.1f} "
                  f"{worst:6.1f} {reference:5.1f} {middle / reference:8.2f} | {s.end:5.0f} {s.home:5.0f} | "
                  f"{len(s.fetches):>7} {median(s.fetches):6.0f}"
                  f"{'  over: ' + ', '.join(misses) if misses else ''}")
        else:
            print(f"{row.network.label:<{width}} {0:>7} {'':>6} {'':>7} {'':>6} {'':>6} {reference:5.1f}")
    print(f"\ntargets: readable <= {TARGET_READABLE_MS:g} ms cold with <= {TARGET_BEFORE_BYTES / 1000:.0f} KB before it; "
          f"first heatmap < {TARGET_HEATMAP_MS:g} ms cold; ready <= {TARGET_READY_MS:g} ms after it; no layout shift; "
          f"step median <= {TARGET_RATIO:g} x ref, worst < {TARGET_WORST_MS:g} ms; DOM independent of the SGD steps")
    print("ttfb: the page's response start (cold); readable: the latest first paint (Element Timing) of the title, the equation's tokens and the matrices' "
          "titles and written values (painted: entries / elements marked); fcp: first-contentful-paint; before: "
          "bytes on the wire finished by readable; ready: ms after the heatmap until no /lab/frames request is "
          "pending (frames: requests made); bytes: all on the wire by then; shift: layout shift during the load "
          "(largest of the loads); DOM: elements once ready, after the step rounds, after End and Home; waited: "
          "presses whose frames were not loaded yet (they include a fetch); ref: the one-number frame, same page; "
          "End, Home: a jump to the last sub-step and back; fetches: POST /lab/frames while stepping, median ms "
          "from the call to the lab's merge")
    for row in rows:
        shifted = [x for x in row.cold + row.warm if x.shift > 0]
        if shifted:
            print(f"\nlayout shifts, {row.network.label} (one load):")
            for entry in shifted[-1].shifts:
                sources = "; ".join(f"{s['node']} y {s['from'][0]:.0f}->{s['to'][0]:.0f} h {s['from'][1]:.0f}->"
                                    f"{s['to'][1]:.0f}" for s in entry["sources"])
                print(f"  at {entry['at']:.0f} ms: {entry['value']:.4f}  {sources}")
        if row.errors:
            print(f"\nerrors, {row.network.label}: {len(row.errors)}")
            for text in sorted(set(row.errors)):
                print(f"  {text[:300]}")
    return ok


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        serve_forever()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("presets", nargs="*", help="preset ids (default: every preset, unless --sweep or --network)")
    parser.add_argument("--network", action="append", default=[], metavar="TOKEN|BODY",
                        help="a lab state token, or a trace request body (a JSON file, or the JSON text); repeatable")
    parser.add_argument("--sweep", action="store_true", help="networks of growing size, up to the lab's bounds")
    parser.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long between key presses (0: press again as soon as the frame is drawn)")
    parser.add_argument("--rounds", type=int, default=2, metavar="N",
                        help="step forward and back N times")
    parser.add_argument("--presses", type=int, default=60, metavar="N",
                        help="sub-steps to step through forward (then back) per round, at most")
    parser.add_argument("--loads", type=int, default=3, metavar="N",
                        help="first loads per network, cold and warm, each pair with a fresh server (medians shown)")
    options = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from engine import presets
    from webapp import create_app

    app = create_app()
    networks = [preset_network(p) for p in options.presets]
    networks += [given_network(value, app) for value in options.network]
    if options.sweep:
        networks += sweep_networks(app)
    if not networks:
        networks = [preset_network(p.id) for p in presets.PRESETS]
    rows = []
    loads = os.getloadavg()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for network in networks:
            print(f"{network.label}: {network.substeps} sub-steps ...", file=sys.stderr, flush=True)
            rows.append(measure(browser, network, options))
        browser.close()
    print(f"\nload average (1 min) at the start {loads[0]:.1f}, at the end {os.getloadavg()[0]:.1f}, "
          f"on {os.cpu_count()} cores")
    return 0 if report(rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
