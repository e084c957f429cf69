"""Optimizers as pure functions over parameter dicts keyed "W1", "b1", ...

The update rules are PyTorch's (`torch.optim.SGD` with dampening 0 and
`torch.optim.Adam`, neither with weight decay), for a gradient g of p:

    sgd        p <- p - r g
    momentum   v <- mu v + g;   p <- p - r v          (nesterov: p <- p - r (g + mu v))
    adam       t <- t + 1;   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
               p <- p - (r / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)

Velocity and moments start at zero, so the first momentum step is v = g, as
PyTorch's buffer starts as a copy of the first gradient. A frozen parameter
(not in `trainable`) keeps its value and its state, as PyTorch skips a
parameter without a gradient. `step` counts the updates done so far.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import numpy as np

Arrays = dict[str, np.ndarray]

NAMES = ("sgd", "adam")
DEFAULT_BETAS = (0.9, 0.999)
DEFAULT_EPS = 1e-8


@dataclass(frozen=True)
class SGDState:
    step: int = 0


@dataclass(frozen=True)
class MomentumState:
    step: int
    velocity: Arrays


@dataclass(frozen=True)
class AdamState:
    step: int
    first_moment: Arrays
    second_moment: Arrays


State = SGDState | MomentumState | AdamState


def sgd(params: Arrays, grads: Arrays, learning_rate: float, trainable: Iterable[str]) -> Arrays:
    """p <- p - r g for every trainable parameter."""
    trainable = set(trainable)
    return {name: _descend(value, grads[name], learning_rate) if name in trainable else value
            for name, value in params.items()}


def _descend(value: np.ndarray, grad: np.ndarray, learning_rate: float) -> np.ndarray:
    """value - r grad in one new array ((-r g) + v is the same float as v - r g)."""
    new = grad * -learning_rate
    new += value
    return new


def momentum(
    params: Arrays,
    grads: Arrays,
    state: MomentumState,
    learning_rate: float,
    momentum: float,
    nesterov: bool,
    trainable: Iterable[str],
) -> tuple[Arrays, MomentumState]:
    """v <- mu v + g; p <- p - r v (or p - r (g + mu v) with Nesterov)."""
    trainable = set(trainable)
    new_params, velocity = dict(params), dict(state.velocity)
    for name in params:
        if name not in trainable:
            continue
        grad = grads[name]
        velocity[name] = momentum * state.velocity[name] + grad
        direction = grad + momentum * velocity[name] if nesterov else velocity[name]
        new_params[name] = params[name] - learning_rate * direction
    return new_params, MomentumState(state.step + 1, velocity)


def adam(
    params: Arrays,
    grads: Arrays,
    state: AdamState,
    learning_rate: float,
    betas: tuple[float, float],
    eps: float,
    trainable: Iterable[str],
) -> tuple[Arrays, AdamState]:
    """One Adam step with bias correction at t = state.step + 1 (PyTorch's order of operations)."""
    trainable = set(trainable)
    beta1, beta2 = betas
    t = state.step + 1
    step_size = learning_rate / (1.0 - beta1**t)
    correction2_sqrt = math.sqrt(1.0 - beta2**t)
    new_params, first, second = dict(params), dict(state.first_moment), dict(state.second_moment)
    for name in params:
        if name not in trainable:
            continue
        grad = grads[name]
        first[name] = beta1 * state.first_moment[name] + (1.0 - beta1) * grad
        second[name] = beta2 * state.second_moment[name] + (1.0 - beta2) * grad * grad
        denominator = np.sqrt(second[name]) / correction2_sqrt + eps
        new_params[name] = params[name] - step_size * (first[name] / denominator)
    return new_params, AdamState(t, first, second)


def kind(config) -> str:
    """"sgd", "momentum" or "adam" for a spec.Optimizer (SGD with momentum > 0 keeps a velocity)."""
    if config.name == "adam":
        return "adam"
    return "momentum" if config.momentum > 0 else "sgd"


def initial_state(config, params: Arrays, step: int = 0) -> State:
    """Zero velocity or moments shaped like `params`, after `step` updates."""
    which = kind(config)
    if which == "sgd":
        return SGDState(step)
    zeros = {name: np.zeros_like(value) for name, value in params.items()}
    if which == "adam":
        return AdamState(step, zeros, {name: value.copy() for name, value in zeros.items()})
    if which == "momentum":
        return MomentumState(step, zeros)
    return SGDState(step)


def update(config, params: Arrays, grads: Arrays, state: State, trainable: Iterable[str]) -> tuple[Arrays, State]:
    """One step of the optimizer a spec.Optimizer describes (name, learning_rate, momentum, nesterov, betas, eps)."""
    which = kind(config)
    if which == "adam":
        return adam(params, grads, state, config.learning_rate, config.betas, config.eps, trainable)
    if which == "momentum":
        return momentum(params, grads, state, config.learning_rate, config.momentum, config.nesterov, trainable)
    return sgd(params, grads, config.learning_rate, trainable), SGDState(state.step + 1)


def arrays(state: State) -> dict[str, Arrays]:
    """The state's named arrays: {"velocity": {...}} or {"first_moment": {...}, "second_moment": {...}} or {}."""
    if isinstance(state, AdamState):
        return {"first_moment": state.first_moment, "second_moment": state.second_moment}
    if isinstance(state, MomentumState):
        return {"velocity": state.velocity}
    return {}


def map_arrays(state: State, function: Callable[[str, np.ndarray], np.ndarray]) -> State:
    """The same state with function(name, array) applied to every array (e.g. to change layout)."""
    mapped = {
        field: {name: function(name, value) for name, value in values.items()}
        for field, values in arrays(state).items()
    }
    return replace(state, **mapped)


def to_dict(state: State) -> dict:
    """Plain JSON: {"step": t, "velocity": {"W1": [[...]], "b1": [...]}} and the like."""
    out: dict = {"step": state.step}
    for field, values in arrays(state).items():
        out[field] = {name: value.tolist() for name, value in values.items()}
    return out


def from_dict(config, raw: dict, shapes: dict[str, tuple[int, ...]]) -> State:
    """Parse a state written by `to_dict` for parameters of the given shapes; ValueError if it does not fit."""
    step = raw.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"optimizer state step must be an integer >= 0, got {step!r}")
    which = kind(config)
    expected = {"adam": ("first_moment", "second_moment"), "momentum": ("velocity",), "sgd": ()}[which]
    unexpected = sorted(set(raw) - {"step", *expected})
    if unexpected:
        raise ValueError(f"optimizer state of {which} has no field {unexpected[0]!r} (it takes step, {', '.join(expected)})")
    state = initial_state(config, {name: np.zeros(shape) for name, shape in shapes.items()}, step)
    parsed = {}
    for field in expected:
        values = raw.get(field)
        if values is None:
            continue
        if not isinstance(values, dict) or set(values) != set(shapes):
            raise ValueError(f"optimizer state {field} must name every parameter: {', '.join(shapes)}")
        parsed[field] = {}
        for name, shape in shapes.items():
            array = np.asarray(values[name], dtype=np.float64)
            if array.shape != shape:
                raise ValueError(f"optimizer state {field} {name} has shape {array.shape}, expected {shape}")
            if not np.all(np.isfinite(array)):
                raise ValueError(f"optimizer state {field} {name} must be finite")
            if field == "second_moment" and np.any(array < 0):
                raise ValueError(f"optimizer state second_moment {name} must not be negative")
            parsed[field][name] = array
    return replace(state, **parsed)


def named(params: list[tuple[np.ndarray, np.ndarray | None]]) -> Arrays:
    """The network's [(W1, b1), (W2, None), ...] as {"W1": W1, "b1": b1, "W2": W2}."""
    out = {}
    for index, (weights, bias) in enumerate(params, start=1):
        out[f"W{index}"] = weights
        if bias is not None:
            out[f"b{index}"] = bias
    return out


def pairs(params: Arrays, num_layers: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Inverse of `named`."""
    return [(params[f"W{index}"], params.get(f"b{index}")) for index in range(1, num_layers + 1)]


def trainable_names(layers) -> set[str]:
    """Names of the parameters the layers' train_weights / train_bias flags leave trainable."""
    names = set()
    for index, layer in enumerate(layers, start=1):
        if layer.train_weights:
            names.add(f"W{index}")
        if layer.bias is not None and layer.train_bias:
            names.add(f"b{index}")
    return names
