"""How fast the lab is in headless Chromium on 127.0.0.1, per preset.

    .venv/bin/python benchmarks/lab.py                 # every preset
    .venv/bin/python benchmarks/lab.py xor seed002-ex2 # some
    .venv/bin/python benchmarks/lab.py --pause 0.25    # a student's pace between key presses
    .venv/bin/python benchmarks/lab.py --loads 5       # more first loads per preset (median shown)

For each preset, with a fresh server (nothing cached) and a fresh browser
context (empty HTTP cache):

- first load: from the start of navigation to /lab/<preset> until the first
  heatmap is in the DOM (performance.now() when Plotly inserts its first
  .main-svg into a heatmap panel), cold (a fresh server builds the page) and warm
  (a second fresh browser context; the server has the page built), the median
  of three of each by default (--loads), each pair with a fresh server;
- bytes: what crossed the wire for the cold first load, compressed
  (Chromium's encodedDataLength, headers included), and the page alone;
- all drawn: from the first heatmap until the lab has drawn every frame
  ahead of time (it does so while the browser is idle);
- step: then, from a keydown (its event timestamp, so time spent waiting
  behind other work counts; ArrowRight through every sub-step, then ArrowLeft
  back, three rounds by default) until the frame after the lab has redrawn (a requestAnimationFrame
  callback followed by a message-channel task, so the paint is included),
  median and worst. Each press comes at a random moment within a display
  frame (60 Hz), as a person's does: pressed as soon as the last frame was
  drawn, every press would wait almost a whole frame for the next one. By
  default a press follows as soon as the last one is drawn; --pause waits
  longer first (the lab prepares the neighbouring sub-steps while idle).

Targets: first load < 1 s, a step < 16 ms, at most 600 KB compressed.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from engine import presets  # noqa: E402
from webapp import create_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
TARGET_LOAD_S, TARGET_STEP_MS, TARGET_BYTES = 1.0, 16.0, 600 * 1000
FRAME_S = 1 / 60

# Runs before any script of the page: stamps the first heatmap and every key press's redraw. The key
# "q", which the lab ignores, changes one number in a corner instead: the reference frame.
PROBE = """
window.__bench = {firstHeatmap: null, steps: []};
document.addEventListener('DOMContentLoaded', function () {
  var reference = document.createElement('div');
  reference.id = 'bench-reference';
  reference.style.cssText = 'position: fixed; right: 0; bottom: 0; font: 10px monospace;';
  reference.textContent = '0';
  document.body.appendChild(reference);
  window.addEventListener('keydown', function (event) {
    if (event.key === 'q') reference.textContent = String(Number(reference.textContent) + 1);
  });
});
new MutationObserver(function (records, observer) {
  if (document.querySelector('#panels .panel:not([hidden]) .main-svg')) {
    window.__bench.firstHeatmap = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
window.addEventListener('keydown', function (event) {
  var start = event.timeStamp;  // when the browser took the key, so waiting behind other work counts
  requestAnimationFrame(function () {
    var channel = new MessageChannel();
    channel.port1.onmessage = function () { window.__bench.steps.push(performance.now() - start); };
    channel.port2.postMessage(0);
  });
}, true);
"""


class Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def serve():
    server = make_server("127.0.0.1", 0, create_app(), threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def load(browser, url: str) -> tuple[float, int, int, object, object]:
    """(ms to the first heatmap, bytes on the wire, bytes of the page, context, page) of one cold-cache load."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.add_init_script(PROBE)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes: dict[str, int] = {}
    urls: dict[str, str] = {}
    cdp.on("Network.requestWillBeSent", lambda event: urls.__setitem__(event["requestId"], event["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]))
    page.goto(url, wait_until="load")
    page.wait_for_function("() => window.__bench.firstHeatmap !== null")
    page.wait_for_load_state("networkidle")
    first = page.evaluate("() => window.__bench.firstHeatmap")
    total = sum(sizes.values())
    own = sum(size for request, size in sizes.items() if urls.get(request, "").split("?")[0] == url.split("?")[0])
    return first, total, own, context, page


def steps(page, pause_s: float, rounds: int) -> tuple[float, list[float], list[float]]:
    """(ms from the first heatmap until every frame is drawn ahead, ms per key press, ms per reference press)."""
    page.wait_for_function("() => document.getElementById('lab').dataset.drawn === 'all'", timeout=120_000)
    ready = page.evaluate("() => performance.now() - window.__bench.firstHeatmap")
    count = page.evaluate("() => document.querySelectorAll('.substep').length")
    page.locator("body").click(position={"x": 2, "y": 2})  # the keys go to the page, not a field
    page.wait_for_timeout(100)
    phases = random.Random(0)
    keys = (["ArrowRight"] * (count - 1) + ["ArrowLeft"] * (count - 1)) * rounds
    timings = press(page, keys, pause_s, phases)
    # The reference, in the same page and run: the same presses where the frame changes one number.
    references = press(page, ["q"] * len(keys), pause_s, phases)
    return ready, timings, references


def press(page, keys: list[str], pause_s: float, phases: random.Random) -> list[float]:
    """ms from each key press to the redrawn frame."""
    page.evaluate("() => { window.__bench.steps = []; }")
    for n, key in enumerate(keys, start=1):
        # A student's key press falls anywhere within a display frame; without this pause every press
        # would leave right after the last frame was drawn and wait almost a whole frame for the next.
        time.sleep(pause_s + phases.uniform(0, FRAME_S))
        page.keyboard.press(key)
        page.wait_for_function("(n) => window.__bench.steps.length >= n", arg=n)
    return page.evaluate("() => window.__bench.steps")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("presets", nargs="*", default=[p.id for p in presets.PRESETS])
    parser.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long between key presses (0: press again as soon as the frame is drawn)")
    parser.add_argument("--rounds", type=int, default=3, metavar="N",
                        help="step to the end and back N times (more samples where a preset has few sub-steps)")
    parser.add_argument("--loads", type=int, default=3, metavar="N",
                        help="first loads per preset, cold and warm, each with a fresh server (the median is shown)")
    options = parser.parse_args(argv)
    rows, ok = [], True
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for preset_id in options.presets:
            colds, warms = [], []
            for n in range(options.loads):
                server = serve()
                url = f"http://127.0.0.1:{server.server_port}/lab/{preset_id}"
                cold_ms, total, own, context, page = load(browser, url)
                colds.append(cold_ms)
                context.close()
                warm_ms, _, _, context, page = load(browser, url)
                warms.append(warm_ms)
                if n < options.loads - 1:
                    context.close()
                    server.shutdown()
            ready, timings, references = steps(page, options.pause, options.rounds)
            context.close()
            server.shutdown()
            cold, warm = statistics.median(colds), statistics.median(warms)
            median, worst = statistics.median(timings), max(timings)
            good = cold < TARGET_LOAD_S * 1000 and median < TARGET_STEP_MS and total <= TARGET_BYTES
            ok &= good
            reference = statistics.median(references)
            rows.append((preset_id, cold, warm, total, own, ready, len(timings), median, worst, reference, good))
        browser.close()
    print(f"{'preset':<18} {'load cold':>10} {'load warm':>10} {'bytes':>9} {'page':>8} {'all drawn':>10} "
          f"{'steps':>6} {'step med':>9} {'step max':>9} {'reference':>10} {'step/ref':>9}")
    for preset_id, cold, warm, total, own, ready, count, median, worst, reference, good in rows:
        print(f"{preset_id:<18} {cold:8.0f}ms {warm:8.0f}ms {total / 1000:7.0f}KB {own / 1000:6.0f}KB "
              f"{ready / 1000:9.1f}s {count:>6} {median:7.1f}ms {worst:7.1f}ms {reference:8.1f}ms "
              f"{median / reference:9.2f}{'' if good else '  over a target'}")
    print(f"targets: first load < {TARGET_LOAD_S:g} s, step < {TARGET_STEP_MS:g} ms (median), "
          f"<= {TARGET_BYTES / 1000:.0f} KB compressed")
    print("reference: the median time from a key press to the redrawn frame where the frame changes one number "
          "(same page, same run); step/ref is the lab's step against it")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
