"""Run SGD on a Spec and record every step as plain data, in the spec's own layout."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import batches, losses, network, optimizers
from .spec import Spec


class Overflow(ValueError):
    """A value stopped being finite while training (step is 0-based, layer 1-based or None)."""

    def __init__(self, step: int, layer: int | None, stage: str, quantity: str):
        self.step, self.layer, self.stage, self.quantity = step, layer, stage, quantity
        where = f"step {step}" + ("" if layer is None else f", layer {layer}")
        super().__init__(f"{quantity} is no longer finite at {where} ({stage}): the numbers overflow")


@dataclass(frozen=True)
class Params:
    layer: int
    weights: np.ndarray
    bias: np.ndarray | None


@dataclass(frozen=True)
class Forward:
    layer: int
    pre_activation: np.ndarray
    activation: np.ndarray


@dataclass(frozen=True)
class Backward:
    layer: int
    grad_activation: np.ndarray | None
    delta: np.ndarray
    grad_weights: np.ndarray
    grad_bias: np.ndarray | None
    grad_inputs: np.ndarray | None = None  # dL/dX, layer 1 only, when the spec asks for it


@dataclass(frozen=True)
class Step:
    index: int
    parameters: tuple[Params, ...]  # at the start of the step, layer 1..L
    forward: tuple[Forward, ...]  # layer 1..L
    loss: float
    output_gradient: np.ndarray | None  # None where any entry is not finite
    backward: tuple[Backward, ...]  # layer L..1
    update: tuple[Params, ...]  # after the step, layer 1..L
    batch: tuple[int, ...] | None = None  # the examples of this step (0-based) when the spec sets batch_size
    optimizer_state: optimizers.State | None = None  # after the step, for SGD with momentum and Adam


@dataclass(frozen=True)
class Trace:
    layout: str
    inputs: np.ndarray
    targets: np.ndarray  # one-hot where the request gave labels
    labels: tuple[int, ...] | None
    steps: tuple[Step, ...]
    final_loss: float
    loss_history: tuple[float, ...]

    def step(self, index: int) -> Step:
        """The record of SGD step `index` (0-based), whichever steps the trace kept."""
        position = index - self.steps[0].index if self.steps else -1
        found = self.steps[position] if 0 <= position < len(self.steps) else None
        if found is None or found.index != index:
            raise KeyError(f"step {index} is not recorded in this trace")
        return found

    def to_dict(self) -> dict:
        """The contract's JSON response (plain lists and floats)."""
        return {
            "version": 1,
            "layout": self.layout,
            "steps": [
                {
                    "index": step.index,
                    "forward": [
                        {"layer": f.layer, "pre_activation": _plain(f.pre_activation), "activation": _plain(f.activation)}
                        for f in step.forward
                    ],
                    "loss": step.loss,
                    "output_gradient": _plain(step.output_gradient),
                    "backward": [
                        {
                            "layer": b.layer,
                            "grad_activation": _plain(b.grad_activation),
                            "delta": _plain(b.delta),
                            "grad_weights": _plain(b.grad_weights),
                            "grad_bias": _plain(b.grad_bias),
                            **({} if b.grad_inputs is None else {"grad_inputs": b.grad_inputs.tolist()}),
                        }
                        for b in step.backward
                    ],
                    "update": [
                        {"layer": p.layer, "weights": _plain(p.weights), "bias": _plain(p.bias)} for p in step.update
                    ],
                    **_additions(step),
                }
                for step in self.steps
            ],
            "final_loss": self.final_loss,
            "loss_history": list(self.loss_history),
        }


def _plain(array: np.ndarray | None):
    return None if array is None else array.tolist()


def _additions(step: Step) -> dict:
    """Fields added to version 1, present only where the request asked for them."""
    out = {}
    if step.batch is not None:
        out["batch"] = list(step.batch)
    if step.optimizer_state is not None:
        out["optimizer_state"] = optimizers.to_dict(step.optimizer_state)
    return out


def optimizer_start(spec: Spec, params: network.Params) -> optimizers.State:
    """The optimizer state before the first traced step, in the rows layout."""
    if spec.optimizer.state is None:
        return optimizers.initial_state(spec.optimizer, optimizers.named(params))
    flip = _flip_weights(spec.layout)
    return optimizers.map_arrays(spec.optimizer.state, lambda name, array: np.ascontiguousarray(flip(name, array)))


def _to_rows(layout: str):
    """A function taking a matrix in `layout` to a C-contiguous matrix in the rows layout."""
    if layout == "columns":
        return lambda array: np.ascontiguousarray(array.T)
    return np.ascontiguousarray


def _flip_weights(layout: str):
    """A function (name, array) -> array that moves a W between the rows and the columns layout."""
    return lambda name, array: array.T if layout == "columns" and name.startswith("W") else array


def update(spec: Spec, params: network.Params, grads: list[network.LayerBackward], state: optimizers.State):
    """(params, state) after one step of the spec's optimizer. grads: ordered from layer 1 up."""
    named_grads = {}
    for index, grad in enumerate(grads, start=1):
        named_grads[f"W{index}"] = grad.grad_weights
        if grad.grad_bias is not None:
            named_grads[f"b{index}"] = grad.grad_bias
    new, state = optimizers.update(
        spec.optimizer, optimizers.named(params), named_grads, state, optimizers.trainable_names(spec.layers)
    )
    return optimizers.pairs(new, len(params)), state


def rows_problem(spec: Spec) -> tuple[network.Params, np.ndarray, np.ndarray, np.ndarray]:
    """(params, X, T, classes) in the rows layout, whatever the spec's layout.

    The arrays are C-contiguous either way, so both layouts run the very same
    floating-point operations and give bit-identical numbers (a transposed view
    would send BLAS down another summation order).
    """
    rows = _to_rows(spec.layout)
    params = [(rows(layer.weights), layer.bias) for layer in spec.layers]
    inputs = rows(spec.inputs)
    width = params[-1][0].shape[1]
    if spec.labels is not None:
        classes = np.asarray(spec.labels, dtype=np.intp)
        targets = np.zeros((inputs.shape[0], width))
        targets[np.arange(inputs.shape[0]), classes] = 1.0
    else:
        targets = rows(spec.targets)
        # multiclass_hinge with targets: the class of an example is its largest target.
        classes = np.argmax(targets, axis=1)
    return params, inputs, targets, classes


def loss_at(spec: Spec, params: network.Params, inputs, targets, classes) -> float:
    """The loss of the network with the given rows-layout parameters (no checks)."""
    passes = network.forward(spec.layers, params, inputs)
    return network.loss_value(spec.layers, spec.loss, passes, targets, classes)


def run(spec: Spec, observe: Callable[[Step], None] | None = None) -> Trace:
    """Trace `spec.steps` steps of the spec's optimizer (full batch unless batch_size is set).

    Raises Overflow if a value stops being finite. With mini-batches a step's
    loss and passes are over its batch; final_loss is over every example.
    Only the steps of `spec.recorded_steps` are kept in the trace (every step is
    computed, and the loss history is whole); `observe` sees every step's record
    as it is made, kept or not, so a caller can summarise a long run without
    holding it.
    """
    params, all_inputs, all_targets, all_classes = rows_problem(spec)
    out = (lambda a: None if a is None else a.T) if spec.layout == "columns" else (lambda a: a)
    state = optimizer_start(spec, params)
    stateful = optimizers.kind(spec.optimizer) != "sgd"
    steps, history = [], []
    kept = spec.recorded_steps
    with np.errstate(all="ignore"):
        for index in range(spec.steps):
            batch = None
            inputs, targets, classes = all_inputs, all_targets, all_classes
            if spec.batch_size is not None:
                batch = batches.indices(spec.num_examples, spec.batch_size, spec.shuffle_seed, state.step)
                inputs, targets, classes = all_inputs[batch], all_targets[batch], all_classes[batch]
            passes = network.forward(spec.layers, params, inputs)
            loss, grad_output, output_delta = network.loss_and_output_delta(
                spec.layers, spec.loss, passes, targets, classes
            )
            grads = network.backward(
                spec.layers, params, inputs, passes, grad_output, output_delta, spec.input_gradient
            )
            new_params, state = update(spec, params, grads[::-1], state)
            _check_all(_values_of_step(passes, loss, grads, new_params, state), index)
            layer_count = len(spec.layers)
            if index in kept or observe is not None:
                step = Step(
                    index=index,
                    parameters=tuple(Params(i, out(w), b) for i, (w, b) in enumerate(params, start=1)),
                    forward=tuple(
                        Forward(i, out(p.pre_activation), out(p.activation)) for i, p in enumerate(passes, start=1)
                    ),
                    loss=loss,
                    output_gradient=out(grads[0].grad_activation),
                    backward=tuple(
                        Backward(layer_count - k, out(g.grad_activation), out(g.delta), out(g.grad_weights), g.grad_bias,
                                 None if g.grad_inputs is None else out(g.grad_inputs))
                        for k, g in enumerate(grads)
                    ),
                    update=tuple(Params(i, out(w), b) for i, (w, b) in enumerate(new_params, start=1)),
                    batch=None if batch is None else tuple(int(i) for i in batch),
                    optimizer_state=optimizers.map_arrays(state, _flip_weights(spec.layout)) if stateful else None,
                )
                if observe is not None:
                    observe(step)
                if index in kept:
                    steps.append(step)
            history.append(loss)
            params = new_params
        final = loss_at(spec, params, all_inputs, all_targets, all_classes)
        _check(np.asarray(final), spec.steps, len(spec.layers), "loss", "the loss after the last step")
    return Trace(
        layout=spec.layout,
        inputs=out(all_inputs),
        targets=out(all_targets),
        labels=spec.labels,
        steps=tuple(steps),
        final_loss=final,
        loss_history=tuple(history) + (final,),
    )


def _values_of_step(passes, loss, grads, new_params, state) -> list[tuple]:
    """(value, layer, stage, name) of everything a step computes that must be finite, in the order computed.

    The output layer's dL/dZ is left out: it may hold infinities (a saturated
    output), and the trace then reports it as null.
    """
    layers = len(passes)
    values = []
    for layer, layer_pass in enumerate(passes, start=1):
        values += [(layer_pass.pre_activation, layer, "forward", f"S{layer}"),
                   (layer_pass.activation, layer, "forward", f"Z{layer}")]
    values.append((np.asarray(loss), layers, "loss", "the loss"))
    for layer, grad in zip(range(layers, 0, -1), grads):
        if layer < layers:
            values.append((grad.grad_activation, layer, "backward", f"dL/dZ{layer}"))
        for name, value in (("delta", grad.delta), ("dL/dW", grad.grad_weights), ("dL/db", grad.grad_bias),
                            ("dL/dX", grad.grad_inputs)):
            if value is not None:
                values.append((value, layer, "backward", f"{name}{layer}"))
    for layer, (weights, bias) in enumerate(new_params, start=1):
        values.append((weights, layer, "update", f"W{layer}"))
        if bias is not None:
            values.append((bias, layer, "update", f"b{layer}"))
    for field, arrays in optimizers.arrays(state).items():
        for name, value in arrays.items():
            values.append((value, int(name[1:]), "update", f"{field.replace('_', ' ')} of {name}"))
    return values


_ONE_CHECK_SIZE = 4096  # up to this many numbers a step is checked in one go


def _check_all(values: list[tuple], step: int) -> None:
    """Raise Overflow for the first value that is not finite (a small step costs one check, not one per array)."""
    arrays = [value for value, *_ in values]
    if sum(a.size for a in arrays) <= _ONE_CHECK_SIZE and np.isfinite(np.concatenate([a.ravel() for a in arrays])).all():
        return
    for value, layer, stage, quantity in values:
        _check(value, step, layer, stage, quantity)


def _check(value: np.ndarray, step: int, layer: int | None, stage: str, quantity: str) -> None:
    # A finite sum means every entry is finite (one pass, no mask); a sum can also
    # overflow from huge finite entries, so only then look at min and max.
    if np.isfinite(value.sum()):
        return
    if not (np.isfinite(value.min()) and np.isfinite(value.max())):
        raise Overflow(step, layer, stage, quantity)
