"""The colour range of each quantity of the network diagram: one per trace, symmetric about 0, so a colour
means the same number in every sub-step."""
from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass

import numpy as np

from engine.trace import Trace


@dataclass(frozen=True)
class Ranges:
    """The largest |value| of each quantity over the whole trace: the colour range is [-m, m]."""

    activation: float
    delta: float
    bias_change: float
    weights: float
    grad_weights: float
    weight_change: float


def first_example(array: np.ndarray, layout: str) -> np.ndarray:
    """The first example's values, one per unit."""
    return array[0, :] if layout == "rows" else array[:, 0]


def first_input(trace: Trace, step) -> np.ndarray:
    """The inputs of the step's first example (the first of its mini-batch when it has one)."""
    index = 0 if step.batch is None else step.batch[0]
    return trace.inputs[index, :] if trace.layout == "rows" else trace.inputs[:, index]


def _largest(arrays) -> float:
    return max((float(np.max(np.abs(a))) for a in arrays if a is not None and np.size(a)), default=0.0)


def step_ranges(trace: Trace, step) -> Ranges:
    """The largest |value| of each quantity in one step (0 where it has none): `merged` folds steps together."""
    layout = trace.layout
    return Ranges(
        activation=_largest([first_input(trace, step)] + [first_example(f.activation, layout) for f in step.forward]),
        delta=_largest([first_example(b.delta, layout) for b in step.backward]),
        bias_change=_largest([u.bias - p.bias for p, u in zip(step.parameters, step.update) if p.bias is not None]),
        weights=_largest([p.weights for p in step.parameters] + [p.weights for p in step.update]),
        grad_weights=_largest([b.grad_weights for b in step.backward]),
        weight_change=_largest([u.weights - p.weights for p, u in zip(step.parameters, step.update)]),
    )


def merged(parts) -> Ranges:
    """The ranges over several steps' `step_ranges`; a quantity that is 0 throughout gets the range 1."""
    names = [field.name for field in dataclasses.fields(Ranges)]
    largest = {name: max((getattr(part, name) for part in parts), default=0.0) for name in names}
    return Ranges(**{name: value if value > 0 else 1.0 for name, value in largest.items()})


def ranges(trace: Trace) -> Ranges:
    """Colour ranges over every step of the trace (first example for unit values)."""
    return merged([step_ranges(trace, step) for step in trace.steps])


# Ranges by id(trace), each dropped when its trace is collected (a Trace holds arrays: it is not hashable).
_RANGES: dict[int, Ranges] = {}


def trace_ranges(trace: Trace) -> Ranges:
    """`ranges(trace)`, computed once per trace object."""
    key = id(trace)
    found = _RANGES.get(key)
    if found is None:
        found = _RANGES[key] = ranges(trace)
        weakref.finalize(trace, _RANGES.pop, key, None)
    return found
