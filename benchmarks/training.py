"""Training speed: engine steps per second for a 2-8-8-1 tanh network on 500 points.

    .venv/bin/python benchmarks/training.py            # engine only
    .venv/bin/python benchmarks/training.py --steps 5000

Each step is one update plus the loss and accuracy on the training and test
sets, as the training page records them. Target: at least 1,000 steps/s.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from engine import datasets, experiment, training
from engine.spec import Optimizer

TARGET_STEPS_PER_SECOND = 1000

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
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
    verdict = "ok" if worst >= TARGET_STEPS_PER_SECOND else "BELOW TARGET"
    print(f"slowest {worst:.0f} steps/s, target {TARGET_STEPS_PER_SECOND}: {verdict}")
    return 0 if worst >= TARGET_STEPS_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
