"""A training run in chunks: advance many steps fast, reproduce any step exactly.

A run is a Spec in the rows layout (training examples, initial parameters,
loss, optimizer, batch size, shuffle seed) and an optional test set. The
State after k steps (parameters and optimizer state) depends on the spec
alone: batches come from engine/batches.py by step number, so advancing 50
steps twice gives, bit for bit, what advancing 100 steps gives, and a
checkpoint every 50 steps reproduces any step by replaying at most 49.

The fast path takes the very step trace.run traces (the same network
functions in the same order, the same optimizer update), so the trace of
`spec_at(run, state)` holds exactly the numbers training used at that step.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import batches, network, optimizers, trace
from .spec import Spec

CHECKPOINT_EVERY = 50


@dataclass(frozen=True)
class Run:
    spec: Spec  # rows layout: the training set and the parameters to start from
    inputs: np.ndarray  # (N, d0) training inputs
    targets: np.ndarray  # (N, dL) training targets (one-hot for labels)
    classes: np.ndarray  # (N,) class of each training example (argmax of its targets)
    test_inputs: np.ndarray  # (M, d0), M may be 0
    test_targets: np.ndarray  # (M, dL)
    test_classes: np.ndarray  # (M,)
    task: str  # "classification" or "regression" (no accuracy)
    threshold: float  # one output unit: class 1 where the output exceeds it (0.5 for sigmoid, 0 for tanh)


@dataclass(frozen=True)
class State:
    params: network.Params  # rows layout, at the start of step `step`
    optimizer: optimizers.State  # its `step` counts the updates done

    @property
    def step(self) -> int:
        return self.optimizer.step

    def to_dict(self) -> dict:
        """Plain JSON, exact: floats round-trip through JSON unchanged."""
        named = optimizers.named(self.params)
        return {"parameters": {name: value.tolist() for name, value in named.items()}, "optimizer": optimizers.to_dict(self.optimizer)}


@dataclass(frozen=True)
class Metrics:
    """Loss and accuracy with the parameters after each of `steps` updates (accuracy None for regression)."""

    steps: list[int]
    train_loss: list[float]
    train_accuracy: list[float] | None
    test_loss: list[float] | None
    test_accuracy: list[float] | None

    def to_dict(self) -> dict:
        return dict(vars(self))


def make_run(spec: Spec, test_inputs: np.ndarray, test_targets: np.ndarray, task: str, threshold: float = 0.5) -> Run:
    """A run of `spec` (rows layout) with a test set in the rows layout (M, d0), (M, dL); M may be 0."""
    if spec.layout != "rows":
        raise ValueError("a training run is written in the rows layout")
    _, inputs, targets, classes = trace.rows_problem(spec)
    test_inputs = np.asarray(test_inputs, dtype=np.float64).reshape(-1, inputs.shape[1])
    test_targets = np.asarray(test_targets, dtype=np.float64).reshape(-1, targets.shape[1])
    if test_inputs.shape[0] != test_targets.shape[0]:
        raise ValueError(f"{test_inputs.shape[0]} test inputs but {test_targets.shape[0]} test targets")
    return Run(spec, inputs, targets, classes, test_inputs, test_targets, np.argmax(test_targets, axis=1), task, threshold)


def start(run: Run) -> State:
    params = [(layer.weights, layer.bias) for layer in run.spec.layers]
    return State(params, trace.optimizer_start(run.spec, params))


def state_from_dict(run: Run, raw: dict) -> State:
    """Inverse of State.to_dict for this run's shapes; ValueError if it does not fit."""
    from .spec import parameter_shapes

    shapes = parameter_shapes(run.spec)
    values = raw.get("parameters") if isinstance(raw, dict) else None
    if not isinstance(values, dict) or set(values) != set(shapes):
        raise ValueError(f"the state must give the parameters {', '.join(shapes)}")
    named = {}
    for name, shape in shapes.items():
        array = np.asarray(values[name], dtype=np.float64)
        if array.shape != shape or not np.all(np.isfinite(array)):
            raise ValueError(f"state parameter {name} must be finite with shape {shape}, got {array.shape}")
        named[name] = array
    optimizer = optimizers.from_dict(run.spec.optimizer, raw.get("optimizer") or {}, shapes)
    return State(optimizers.pairs(named, len(run.spec.layers)), optimizer)


def batch_at(run: Run, step: int) -> np.ndarray | None:
    """The example indices of `step`, or None for full batch."""
    if run.spec.batch_size is None:
        return None
    return batches.indices(run.spec.num_examples, run.spec.batch_size, run.spec.shuffle_seed, step)


def evaluate(run: Run, params: network.Params) -> tuple[float, float | None, float | None, float | None]:
    """(train loss, train accuracy, test loss, test accuracy); test values None without a test set."""
    train_loss, train_accuracy, _ = _measure(run, params, run.inputs, run.targets, run.classes)
    if run.test_inputs.shape[0] == 0:
        return train_loss, train_accuracy, None, None
    test_loss, test_accuracy, _ = _measure(run, params, run.test_inputs, run.test_targets, run.test_classes)
    return train_loss, train_accuracy, test_loss, test_accuracy


def _measure(run: Run, params, inputs, targets, classes):
    passes = network.forward(run.spec.layers, params, inputs)
    loss = network.loss_and_output_delta(run.spec.layers, run.spec.loss, passes, targets, classes)[0]
    return loss, accuracy(run, passes[-1].activation, targets, classes), passes


def accuracy(run: Run, output: np.ndarray, targets: np.ndarray, classes: np.ndarray) -> float | None:
    """Fraction of examples classified right: argmax for several outputs, the threshold for one."""
    if run.task != "classification" or output.shape[0] == 0:
        return None
    if output.shape[1] == 1:
        right = (output[:, 0] > run.threshold) == (targets[:, 0] > run.threshold)
    else:
        right = np.argmax(output, axis=1) == classes
    return float(np.mean(right))


def advance(run: Run, state: State, count: int, measure: bool = True) -> tuple[State, Metrics | None]:
    """Take `count` steps from `state`. Raises trace.Overflow (absolute step) when a value stops being finite."""
    spec = run.spec
    full_batch = spec.batch_size is None
    records: dict[str, list] = {key: [] for key in ("loss", "accuracy", "test_loss", "test_accuracy")}
    params, optimizer = state.params, state.optimizer
    order, order_epoch, cached = None, None, None
    with np.errstate(all="ignore"):
        for _ in range(count):
            step = optimizer.step
            if full_batch:
                inputs, targets, classes = run.inputs, run.targets, run.classes
            else:
                epoch = step // batches.per_epoch(spec.num_examples, spec.batch_size)
                if epoch != order_epoch:
                    order, order_epoch = batches.epoch_order(spec.num_examples, spec.shuffle_seed, epoch), epoch
                batch = batches.indices(spec.num_examples, spec.batch_size, spec.shuffle_seed, step, order)
                inputs, targets, classes = run.inputs[batch], run.targets[batch], run.classes[batch]
            passes = cached if full_batch and cached is not None else network.forward(spec.layers, params, inputs)
            loss, grad_output, output_delta = network.loss_and_output_delta(
                spec.layers, spec.loss, passes, targets, classes
            )
            grads = network.backward(spec.layers, params, inputs, passes, grad_output, output_delta)
            new_params, new_optimizer = trace.update(spec, params, grads[::-1], optimizer)
            if not (np.isfinite(loss) and _finite(State(new_params, new_optimizer))):
                raise _overflow(run, State(params, optimizer))
            params, optimizer, cached = new_params, new_optimizer, None
            if measure:
                train_loss, train_accuracy, train_passes = _measure(run, params, run.inputs, run.targets, run.classes)
                if full_batch:
                    cached = train_passes  # the next step's forward pass, computed once
                records["loss"].append(train_loss)
                records["accuracy"].append(train_accuracy)
                if run.test_inputs.shape[0]:
                    test_loss, test_accuracy, _ = _measure(run, params, run.test_inputs, run.test_targets, run.test_classes)
                    records["test_loss"].append(test_loss)
                    records["test_accuracy"].append(test_accuracy)
                latest = [values[-1] for values in records.values() if values and values[-1] is not None]
                if not np.all(np.isfinite(latest)):
                    raise _overflow(run, State(params, optimizer))
    new_state = State(params, optimizer)
    if not measure:
        return new_state, None
    classify = run.task == "classification"
    tested = run.test_inputs.shape[0] > 0
    return new_state, Metrics(
        steps=list(range(state.step + 1, new_state.step + 1)),
        train_loss=records["loss"],
        train_accuracy=records["accuracy"] if classify else None,
        test_loss=records["test_loss"] if tested else None,
        test_accuracy=records["test_accuracy"] if classify and tested else None,
    )


def _finite(state: State) -> bool:
    arrays = [a for pair in state.params for a in pair if a is not None]
    arrays += [a for values in optimizers.arrays(state.optimizer).values() for a in values.values()]
    return all(np.all(np.isfinite(a)) for a in arrays)


def _overflow(run: Run, state: State) -> trace.Overflow:
    """The Overflow of the step that starts at `state`, with the layer and stage the trace finds."""
    try:
        trace.run(spec_at(run, state, steps=2))
    except trace.Overflow as error:
        return trace.Overflow(state.step + error.step, error.layer, error.stage, error.quantity)
    return trace.Overflow(state.step, None, "loss", "the loss")


def replay(run: Run, state: State, to_step: int) -> State:
    """The state at the start of `to_step`, from an earlier `state` (a checkpoint)."""
    if to_step < state.step:
        raise ValueError(f"cannot replay back from step {state.step} to step {to_step}")
    return advance(run, state, to_step - state.step, measure=False)[0]


def spec_at(run: Run, state: State, steps: int = 1) -> Spec:
    """The spec whose trace starts at `state`: its step 0 is training step `state.step`, batch included."""
    layers = tuple(replace(layer, weights=w, bias=b) for layer, (w, b) in zip(run.spec.layers, state.params))
    return replace(run.spec, layers=layers, optimizer=replace(run.spec.optimizer, state=state.optimizer), steps=steps)


def request_at(run: Run, state: State) -> dict:
    """A trace request (the contract's body, rows layout) whose step 0 is training step `state.step`.

    It holds the parameters and optimizer state at the start of the step and,
    as its examples, the step's batch, so its one traced step is exactly the
    step training took (the batch's loss, gradients and update).
    """
    spec = run.spec
    batch = batch_at(run, state.step)
    rows = slice(None) if batch is None else batch
    layers = []
    for layer, (weights, bias) in zip(spec.layers, state.params):
        entry = {"weights": weights.tolist(), "bias": None if bias is None else bias.tolist(), "activation": layer.activation}
        if layer.activation == "leaky_relu":
            entry["negative_slope"] = layer.negative_slope
        if not layer.train_weights:
            entry["train_weights"] = False
        if not layer.train_bias and bias is not None:
            entry["train_bias"] = False
        layers.append(entry)
    loss = {"name": spec.loss.name, "reduction": spec.loss.reduction}
    if spec.loss.name == "squared_error":
        loss["half"] = spec.loss.half
    if spec.loss.name == "multiclass_hinge":
        loss["margin"] = spec.loss.margin
    config = spec.optimizer
    optimizer: dict = {"name": config.name, "learning_rate": config.learning_rate}
    which = optimizers.kind(config)
    if which == "adam":
        optimizer.update(betas=list(config.betas), eps=config.eps)
    elif which == "momentum":
        optimizer.update(momentum=config.momentum, nesterov=config.nesterov)
    if which != "sgd":
        optimizer["state"] = optimizers.to_dict(state.optimizer)
    body = {"layout": "rows", "layers": layers, "inputs": run.inputs[rows].tolist(), "loss": loss, "optimizer": optimizer, "steps": 1}
    if spec.labels is not None:
        body["labels"] = [int(c) for c in run.classes[rows]]
    else:
        body["targets"] = run.targets[rows].tolist()
    return body


class Trainer:
    """A run kept in memory: the current state, every step's metrics, and a checkpoint every few steps."""

    def __init__(self, run: Run, checkpoint_every: int = CHECKPOINT_EVERY):
        self.run, self.checkpoint_every = run, checkpoint_every
        self.state = start(run)
        self.checkpoints = {0: self.state}
        self.history: dict[str, list] = {}

    def advance(self, count: int) -> None:
        while count > 0:
            chunk = min(count, self.checkpoint_every - self.state.step % self.checkpoint_every)
            self.state, metrics = advance(self.run, self.state, chunk)
            for key, values in metrics.to_dict().items():
                if values is not None:
                    self.history.setdefault(key, []).extend(values)
            if self.state.step % self.checkpoint_every == 0:
                self.checkpoints[self.state.step] = self.state
            count -= chunk

    def state_at(self, step: int) -> State:
        """The state at the start of `step` (at most checkpoint_every - 1 steps replayed)."""
        if not 0 <= step <= self.state.step:
            raise ValueError(f"step {step} is not in 0..{self.state.step}")
        checkpoint = self.checkpoints[step - step % self.checkpoint_every]
        return replay(self.run, checkpoint, step)

    def trace_at(self, step: int, steps: int = 1) -> trace.Trace:
        return trace.run(spec_at(self.run, self.state_at(step), steps))
