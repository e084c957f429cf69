"""Training speed for a 2-8-8-1 tanh network on 500 spiral points: the engine alone, and the page.

    .venv/bin/python benchmarks/training.py              # engine only
    .venv/bin/python benchmarks/training.py --page       # and the page in headless Chromium

Engine: each step is one update plus the loss and accuracy on the training and
test sets, as the training page records them. Target: at least 1,000 steps/s.
Page: the app on a local server, /train playing at a few speeds; frames/s are
the boundary redraws the page counts, steps/s the steps it shows (end to end:
requests, engine, JSON, drawing). Target: at least 30 frames/s.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

# Run as `python benchmarks/training.py`, this folder leads sys.path, and its engine.py
# would shadow the engine package: import from the checkout instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from engine import datasets, experiment, training  # noqa: E402
from engine.spec import Optimizer  # noqa: E402

TARGET_STEPS_PER_SECOND = 1000
TARGET_FRAMES_PER_SECOND = 30
PAGE = ("/train?dataset=spiral&size=500&noise=0.1&test_percent=0&features=x1&features=x2&hidden=8,8"
        "&activation=tanh&head=tanh&optimizer=adam&learning_rate=0.01&seed=0")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]

CONFIGS = {
    "sgd, full batch": (Optimizer("sgd", 0.03), None),
    "momentum 0.9, batch 32": (Optimizer("sgd", 0.03, momentum=0.9), 32),
    "adam, full batch": (Optimizer("adam", 0.01), None),
    "adam, batch 10": (Optimizer("adam", 0.01), 10),
}


def spiral_run(optimizer: Optimizer, batch_size: int | None, test_fraction: float) -> training.Run:
    rng = np.random.default_rng(0)
    data = datasets.generate("spiral", 500, 0.1, rng)
    train, test = datasets.split(data, test_fraction, rng)
    return experiment.build(
        train, test, features=("x1", "x2"), hidden=(8, 8), activation="tanh", head="tanh",
        optimizer=optimizer, batch_size=batch_size, seed=0,
    ).run


def engine_steps_per_second(run: training.Run, steps: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        training.advance(run, training.start(run), steps)
        best = min(best, time.perf_counter() - began)
    return steps / best


def page_rates(seconds: float, speeds: tuple[int, ...]) -> list[tuple[int, float, float]]:
    """(steps a frame, frames/s, steps/s) of /train playing, each over `seconds`."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import WSGIRequestHandler, make_server

    from webapp import create_app

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", 0, create_app(), threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rates = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            for speed in speeds:
                page.goto(f"http://127.0.0.1:{server.server_port}{PAGE}")
                page.wait_for_selector('#train[data-frames] [data-figure="field"] .main-svg')
                page.select_option('[data-role="speed"]', str(speed))
                page.click('[data-action="play"]')
                time.sleep(1.0)  # the queue fills
                read = lambda: page.evaluate(
                    "() => [Number(document.getElementById('train').dataset.frames),"
                    " Number(document.getElementById('train').dataset.step), performance.now()]")
                frames0, step0, t0 = read()
                time.sleep(seconds)
                frames1, step1, t1 = read()
                page.click('[data-action="play"]')
                elapsed = (t1 - t0) / 1000
                rates.append((speed, (frames1 - frames0) / elapsed, (step1 - step0) / elapsed))
            browser.close()
    finally:
        server.shutdown()
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="engine steps to time")
    parser.add_argument("--page", action="store_true", help="also time the page in headless Chromium")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of playing per page speed")
    args = parser.parse_args()
    worst = float("inf")
    print(f"2-8-8-1 tanh, spiral, {args.steps} steps, best of 3")
    for test_fraction in (0.0, 0.2):
        for name, (optimizer, batch_size) in CONFIGS.items():
            run = spiral_run(optimizer, batch_size, test_fraction)
            rate = engine_steps_per_second(run, args.steps)
            worst = min(worst, rate)
            split = f"{run.spec.num_examples} train / {run.test_inputs.shape[0]} test"
            print(f"  engine  {name:<24} {split:<20} {rate:9.0f} steps/s")
    engine_ok = worst >= TARGET_STEPS_PER_SECOND
    print(f"slowest {worst:.0f} steps/s, target {TARGET_STEPS_PER_SECOND}: {'ok' if engine_ok else 'BELOW TARGET'}")
    if not args.page:
        return 0 if engine_ok else 1
    print(f"page: /train, spiral 500 points, adam, full batch, {args.seconds:g} s at each speed")
    rates = page_rates(args.seconds, (1, 5, 10, 25))
    for speed, fps, steps in rates:
        print(f"  page    {speed:>2} steps a frame   {fps:6.1f} frames/s {steps:8.0f} steps/s")
    slowest = min(fps for _, fps, _ in rates)
    page_ok = slowest >= TARGET_FRAMES_PER_SECOND
    print(f"slowest {slowest:.1f} frames/s, target {TARGET_FRAMES_PER_SECOND}: {'ok' if page_ok else 'BELOW TARGET'}")
    return 0 if engine_ok and page_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
