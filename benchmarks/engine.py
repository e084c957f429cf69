"""Seconds per traced step: engine.trace.run against the same step in PyTorch (float64 autograd, CPU).

    .venv/bin/python benchmarks/engine.py                # the table
    .venv/bin/python benchmarks/engine.py --breakdown    # also where the engine's time goes

One engine step is `engine.trace.run(spec)` with steps=1: forward pass, loss,
backward pass, SGD update, the loss after the update, the finiteness checks and
the trace records. The reference ("torch+final") is the same step in torch: the
forward pass, the loss, `backward()`, the SGD update under `no_grad` and the
loss after the update, which a traced step reports (`final_loss`,
`loss_history`). The target is judged on that ratio, equal work on both sides;
the bare torch step without the last forward pass ("torch") is printed too. Each time is the median of several samples
after a warm-up. torch is optional (`pip install -e '.[bench]'`); without it
only the engine's numbers are printed.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Run as `python benchmarks/engine.py`, this folder leads sys.path and this file's
# name would shadow the engine package: import from the checkout instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from engine import losses, network  # noqa: E402
from engine import spec as specmod  # noqa: E402
from engine import trace as tracemod  # noqa: E402

try:
    import torch
except ImportError:  # the optional [bench] extra
    torch = None

TARGET_RATIO = 1.0


@dataclass(frozen=True)
class Case:
    name: str
    widths: tuple[int, ...]
    examples: int
    hidden: str  # activation of the hidden layers
    output: str
    loss: str


CASES = (
    Case("2-2-2", (2, 2, 2), 1, "sigmoid", "sigmoid", "squared_error"),
    Case("4-3-3", (4, 3, 3), 5, "sigmoid", "sigmoid", "squared_error"),
    Case("784-128-10", (784, 128, 10), 64, "relu", "softmax", "cross_entropy"),
    Case("784-256-128-10", (784, 256, 128, 10), 256, "relu", "softmax", "cross_entropy"),
)
LEARNING_RATE = 0.1


@dataclass(frozen=True)
class Problem:
    weights: list[np.ndarray]  # rows layout: (d(l-1), d(l))
    biases: list[np.ndarray]
    inputs: np.ndarray  # (N, d0)
    targets: np.ndarray | None  # (N, dL) for squared error
    labels: np.ndarray | None  # (N,) for cross-entropy


def make_problem(case: Case, rng: np.random.Generator) -> Problem:
    weights = [rng.normal(0.0, np.sqrt(2.0 / a), size=(a, b)) for a, b in zip(case.widths, case.widths[1:])]
    biases = [rng.normal(0.0, 0.1, size=b) for b in case.widths[1:]]
    inputs = rng.normal(size=(case.examples, case.widths[0]))
    if case.loss == "cross_entropy":
        return Problem(weights, biases, inputs, None, rng.integers(0, case.widths[-1], size=case.examples))
    return Problem(weights, biases, inputs, rng.uniform(size=(case.examples, case.widths[-1])), None)


def make_spec(case: Case, problem: Problem) -> specmod.Spec:
    activations = [case.hidden] * (len(problem.weights) - 1) + [case.output]
    spec = specmod.Spec(
        layout="rows",
        layers=tuple(specmod.Layer(w, b, a) for w, b, a in zip(problem.weights, problem.biases, activations)),
        inputs=problem.inputs,
        loss=specmod.Loss(case.loss, "mean"),
        targets=problem.targets,
        labels=None if problem.labels is None else tuple(int(c) for c in problem.labels),
        optimizer=specmod.Optimizer("sgd", LEARNING_RATE),
        steps=1,
    )
    specmod.check(spec)
    return spec


def torch_step_function(case: Case, problem: Problem, with_final_loss: bool = False):
    """A function doing one float64 autograd step on copies of the problem's parameters.

    with_final_loss: also the loss after the update (a forward pass under no_grad), as trace.run reports it.
    """
    params = []
    for w, b in zip(problem.weights, problem.biases):
        params += [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)]
    inputs = torch.tensor(problem.inputs)
    labels = None if problem.labels is None else torch.tensor(problem.labels)
    targets = None if problem.targets is None else torch.tensor(problem.targets)
    hidden = {"relu": torch.relu, "sigmoid": torch.sigmoid}[case.hidden]

    def loss_of_forward():
        z = inputs
        for index in range(0, len(params) - 2, 2):
            z = hidden(z @ params[index] + params[index + 1])
        s = z @ params[-2] + params[-1]
        if case.loss == "cross_entropy":
            return torch.nn.functional.cross_entropy(s, labels)
        return ((torch.sigmoid(s) - targets) ** 2).sum(dim=1).mean()

    def step() -> float:
        loss = loss_of_forward()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LEARNING_RATE * p.grad
                p.grad = None
            if with_final_loss:
                loss_of_forward().item()
        return loss.item()

    return step


def seconds_per_call(functions: dict, min_sample: float = 0.05, samples: int = 9) -> dict[str, float]:
    """Median seconds per call of each function, after a warm-up.

    Samples of the functions alternate, so a change in the machine's load
    (other processes) falls on all of them alike.
    """
    calls = {}
    for name, function in functions.items():
        for _ in range(3):
            function()
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < min_sample:
            function()
            count += 1
        calls[name] = count
    times = {name: [] for name in functions}
    for _ in range(samples):
        for name, function in functions.items():
            began = time.perf_counter()
            for _ in range(calls[name]):
                function()
            times[name].append((time.perf_counter() - began) / calls[name])
    return {name: statistics.median(values) for name, values in times.items()}


def blas_threads() -> int:
    """NumPy's OpenBLAS uses one thread per core unless the environment says otherwise."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(variable, "").isdigit():
            return int(os.environ[variable])
    return os.cpu_count() or 1


def breakdown(spec: specmod.Spec) -> dict[str, float]:
    """Median seconds of each part of trace.run, timed separately with the engine's own functions."""
    params, inputs, targets, classes = tracemod.rows_problem(spec)
    state = tracemod.optimizer_start(spec, params)
    with np.errstate(all="ignore"):
        passes = network.forward(spec.layers, params, inputs)
        _, grad_output, delta = network.loss_and_output_delta(spec.layers, spec.loss, passes, targets, classes)
        grads = network.backward(spec.layers, params, inputs, passes, grad_output, delta)
        last = passes[-1]
        parts = {
            "forward": lambda: network.forward(spec.layers, params, inputs),
            "loss (generic value and dL/dY)": lambda: losses.value_and_gradient(
                spec.loss, last.activation, targets, classes
            ),
            "loss (fused delta)": lambda: losses.fused(spec.loss, spec.layers[-1].activation, last.pre_activation, targets),
            "backward": lambda: network.backward(
                spec.layers, params, inputs, passes, grad_output, delta
            ),
            "update": lambda: tracemod.update(spec, params, grads[::-1], state),
            "finiteness checks": lambda: [
                np.all(np.isfinite(a))
                for a in [p.pre_activation for p in passes] + [p.activation for p in passes]
                + [g.delta for g in grads] + [g.grad_weights for g in grads] + [g.grad_bias for g in grads]
                + [w for w, _ in params] + [b for _, b in params]
            ],
            "loss after the update (forward)": lambda: tracemod.loss_at(spec, params, inputs, targets, classes),
            "whole trace.run": lambda: tracemod.run(spec),
        }
        return seconds_per_call(parts, min_sample=0.02, samples=5)


def page_faults_per_call(function, calls: int = 50) -> float:
    """Minor page faults per call: fresh large arrays come from mmap and fault in page by page."""
    function()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        function()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--breakdown", action="store_true", help="also time each part of the engine's step")
    args = parser.parse_args()

    threads = blas_threads()
    if torch is not None:
        torch.set_num_threads(threads)
        print(f"numpy {np.__version__}, torch {torch.__version__}, {threads} threads, float64, CPU, median seconds per step")
        print(f"{'network':<16} {'N':>4} {'engine':>10} {'torch':>10} {'engine/torch':>13}"
              f" {'torch+final':>12} {'engine/(torch+final)':>21}")
    else:
        print(f"numpy {np.__version__}; torch is not installed (pip install -e '.[bench]'): engine numbers only")
        print(f"{'network':<16} {'N':>4} {'engine':>10}")
    worst = 0.0
    for case in CASES:
        problem = make_problem(case, np.random.default_rng(0))
        spec = make_spec(case, problem)
        functions = {"engine": lambda: tracemod.run(spec)}
        if torch is not None:
            # Both sides must compute the same step: compare the first loss before timing.
            engine_loss, torch_loss = tracemod.run(spec).steps[0].loss, torch_step_function(case, problem)()
            if not abs(engine_loss - torch_loss) <= 1e-9 * abs(torch_loss):
                raise SystemExit(f"{case.name}: engine loss {engine_loss!r} != torch loss {torch_loss!r}")
            functions["torch"] = torch_step_function(case, problem)
            functions["torch+final"] = torch_step_function(case, problem, with_final_loss=True)
        seconds = seconds_per_call(functions)
        line = f"{case.name:<16} {case.examples:>4} {seconds['engine']:>10.3e}"
        if torch is not None:
            ratio = seconds["engine"] / seconds["torch"]
            worst = max(worst, seconds["engine"] / seconds["torch+final"])
            line += (f" {seconds['torch']:>10.3e} {ratio:>13.2f} {seconds['torch+final']:>12.3e}"
                     f" {seconds['engine'] / seconds['torch+final']:>21.2f}")
        print(line)
        if args.breakdown:
            for name, part in breakdown(spec).items():
                print(f"    {name:<34} {part:10.3e} s  {part / seconds['engine']:6.1%} of the engine's step")
            for name, function in functions.items():
                print(f"    minor page faults per {name} step: {page_faults_per_call(function):8.0f}")
    if torch is not None:
        verdict = "met" if worst <= TARGET_RATIO else "NOT met"
        print(f"target engine/(torch+final) <= {TARGET_RATIO:.1f} at every size: {verdict} (worst {worst:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
