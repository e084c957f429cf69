"""Gradient check: the backward pass against central differences of the loss.

For every parameter entry p: (L(p + h) - L(p - h)) / 2h, with h scaled to the
entry's size, compared with the analytic dL/dp by the relative error
|a - n| / max(1e-8, |a| + |n|) (CS231n's form).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import network, trace
from .spec import Spec

STEP_SIZE = 1e-6


@dataclass(frozen=True)
class ParameterCheck:
    name: str  # "W1", "b1", ...
    layer: int
    analytic: np.ndarray  # in the spec's layout, shaped like the parameter
    numeric: np.ndarray
    max_relative_error: float


@dataclass(frozen=True)
class GradCheck:
    step_size: float
    parameters: tuple[ParameterCheck, ...]

    @property
    def max_relative_error(self) -> float:
        return max(p.max_relative_error for p in self.parameters)

    def to_dict(self) -> dict:
        return {
            "step_size": self.step_size,
            "max_relative_error": self.max_relative_error,
            "parameters": [
                {
                    "name": p.name,
                    "layer": p.layer,
                    "analytic": p.analytic.tolist(),
                    "numeric": p.numeric.tolist(),
                    "max_relative_error": p.max_relative_error,
                }
                for p in self.parameters
            ],
        }


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    return np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))


def check(spec: Spec, parameters: tuple[trace.Params, ...] | None = None) -> GradCheck:
    """Check every parameter at `parameters` (a trace step's, in the spec's layout), or at the spec's own."""
    _, inputs, targets, classes = trace.rows_problem(spec)
    flip = spec.layout == "columns"
    if parameters is None:
        params = [(layer.weights, layer.bias) for layer in spec.layers]
    else:
        params = [(p.weights, p.bias) for p in parameters]
    params = [((w.T if flip else w).copy(), None if b is None else b.copy()) for w, b in params]

    with np.errstate(all="ignore"):
        passes = network.forward(spec.layers, params, inputs)
        _, grad_output, delta = network.loss_and_output_delta(spec.layers, spec.loss, passes, targets, classes)
        grads = network.backward(spec.layers, params, inputs, passes, grad_output, delta)[::-1]

        def loss() -> float:
            return trace.loss_at(spec, params, inputs, targets, classes)

        checks = []
        for layer, ((weights, bias), grad) in enumerate(zip(params, grads), start=1):
            for name, value, analytic in (("W", weights, grad.grad_weights), ("b", bias, grad.grad_bias)):
                if value is None:
                    continue
                numeric = _central_differences(value, loss)
                if flip and name == "W":
                    analytic, numeric = analytic.T, numeric.T
                error = relative_error(analytic, numeric)
                checks.append(
                    ParameterCheck(f"{name}{layer}", layer, analytic, numeric, float(error.max(initial=0.0)))
                )
    return GradCheck(STEP_SIZE, tuple(checks))


def _central_differences(value: np.ndarray, loss) -> np.ndarray:
    """Perturb `value` in place entry by entry (restoring it) and difference the loss."""
    numeric = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        original = value[index]
        h = STEP_SIZE * max(1.0, abs(original))
        value[index] = original + h
        plus = loss()
        value[index] = original - h
        minus = loss()
        value[index] = original
        numeric[index] = (plus - minus) / (2 * h)
    return numeric
