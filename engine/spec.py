"""The network and training problem as plain, immutable data.

A `Spec` is what a trace request describes (see the step-trace contract):
layers with their parameters, inputs, targets, loss and optimizer. Matrices are
stored as the request writes them, in its `layout`:

    layout   inputs X   weights W_l          pre-activation
    rows     (N, d0)    (d(l-1), d(l))       S_l = Z_(l-1) W_l + 1_N b_l
    columns  (d0, N)    (d(l), d(l-1))       S_l = W_l Z_(l-1) + b_l 1_N^T

The engine computes in the rows layout and writes every result back in the
spec's own layout, so a student sees the numbers in the convention of the text.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import optimizers

LAYOUTS = ("rows", "columns")
ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
# "linear" (an addition to the contract): L = sum T * Y, so dL/dY = T: the targets are a given upstream gradient.
LOSSES = ("squared_error", "cross_entropy", "binary_cross_entropy", "multiclass_hinge", "linear")
REDUCTIONS = {
    "squared_error": ("mean", "sum", "mean_all"),
    "binary_cross_entropy": ("mean", "sum", "mean_all"),
    "cross_entropy": ("mean", "sum"),
    "multiclass_hinge": ("mean", "sum"),
    "linear": ("sum", "mean"),
}
DEFAULT_NEGATIVE_SLOPE = 0.01
DEFAULT_LEARNING_RATE = 0.1


@dataclass(frozen=True)
class Layer:
    """One dense layer. `weights` is in the spec's layout; `bias` has d(l) entries or is None."""

    weights: np.ndarray
    bias: np.ndarray | None
    activation: str
    negative_slope: float = DEFAULT_NEGATIVE_SLOPE
    train_weights: bool = True
    train_bias: bool = True


@dataclass(frozen=True)
class Loss:
    name: str
    reduction: str = "mean"
    half: bool = False
    margin: float = 1.0


@dataclass(frozen=True)
class Optimizer:
    name: str = "sgd"
    learning_rate: float = DEFAULT_LEARNING_RATE
    # SGD with momentum > 0 keeps a velocity; adam keeps moments (engine/optimizers.py).
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = optimizers.DEFAULT_BETAS
    eps: float = optimizers.DEFAULT_EPS
    state: optimizers.State | None = None  # the state to start from, arrays in the spec's layout


@dataclass(frozen=True)
class Spec:
    """A whole trace request. Exactly one of `targets` (matrix in the layout) and `labels` is set."""

    layout: str
    layers: tuple[Layer, ...]
    inputs: np.ndarray
    loss: Loss
    targets: np.ndarray | None = None
    labels: tuple[int, ...] | None = None
    optimizer: Optimizer = field(default_factory=Optimizer)
    steps: int = 1
    batch_size: int | None = None  # None: full batch; else mini-batches in the order engine/batches.py gives
    shuffle_seed: int = 0
    # The steps whose records a trace keeps, [first, stop); None: every step. The loss history is always whole.
    record: tuple[int, int] | None = None
    input_gradient: bool = False  # the first layer's backward record also gives dL/dX (grad_inputs)

    @property
    def recorded_steps(self) -> range:
        return range(self.steps) if self.record is None else range(*self.record)

    @property
    def num_examples(self) -> int:
        return self.inputs.shape[0] if self.layout == "rows" else self.inputs.shape[1]

    @property
    def batch_examples(self) -> int:
        """Examples in one step's batch (the largest batch when they differ)."""
        return self.num_examples if self.batch_size is None else min(self.batch_size, self.num_examples)

    @property
    def widths(self) -> tuple[int, ...]:
        """(d0, d1, ..., dL): the input width then each layer's width."""
        return (int(self.inputs.shape[1 if self.layout == "rows" else 0]),) + tuple(
            int(layer.weights.shape[1 if self.layout == "rows" else 0]) for layer in self.layers
        )

    def work_per_step(self) -> int:
        """Multiply-adds of one forward+backward+update step (about 3 N sum d(l-1) d(l))."""
        widths = self.widths
        return 3 * self.batch_examples * sum(a * b for a, b in zip(widths, widths[1:]))

    def trace_values(self) -> int:
        """How many numbers one traced step holds (activations, deltas, gradients, parameters)."""
        widths = self.widths
        per_layer = sum(4 * self.batch_examples * d + 3 * (a * d + d) for a, d in zip(widths, widths[1:]))
        return per_layer + self.batch_examples * widths[-1] + (self.batch_examples * widths[0] if self.input_gradient else 0)


def _matrix(value, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty matrix, got shape {array.shape}")
    return array


def from_request(body: dict) -> Spec:
    """Build a Spec from a trace request (a dict in the contract's format).

    The web layer validates requests first; this still checks shapes and
    raises ValueError with the shapes in the message for anything malformed.
    """
    missing = [name for name in ("layers", "inputs", "loss") if name not in body]
    if missing:
        raise ValueError(f"the request lacks {', '.join(missing)}")
    if not body["layers"]:
        raise ValueError("the network needs at least one layer")
    layout = body.get("layout", "rows")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    layers = []
    for index, raw in enumerate(body["layers"], start=1):
        bias = raw.get("bias")
        if "negative_slope" in raw and raw["activation"] != "leaky_relu":
            raise ValueError(f"layer {index}: negative_slope goes only with leaky_relu")
        layers.append(
            Layer(
                weights=_matrix(raw["weights"], f"W{index}"),
                bias=None if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1),
                activation=raw["activation"],
                negative_slope=float(raw.get("negative_slope", DEFAULT_NEGATIVE_SLOPE)),
                train_weights=bool(raw.get("train_weights", True)),
                train_bias=bool(raw.get("train_bias", True)),
            )
        )
    raw_loss = body["loss"]
    optimizer = body.get("optimizer") or {}
    batch_size = body.get("batch_size")
    spec = Spec(
        layout=layout,
        layers=tuple(layers),
        inputs=_matrix(body["inputs"], "X"),
        targets=None if body.get("targets") is None else _matrix(body["targets"], "T"),
        labels=None if body.get("labels") is None else tuple(int(c) for c in body["labels"]),
        loss=Loss(
            name=raw_loss["name"],
            reduction=raw_loss.get("reduction", "mean"),
            half=bool(raw_loss.get("half", False)),
            margin=float(raw_loss.get("margin", 1.0)),
        ),
        optimizer=Optimizer(
            name=optimizer.get("name", "sgd"),
            learning_rate=float(optimizer.get("learning_rate", DEFAULT_LEARNING_RATE)),
            momentum=float(optimizer.get("momentum", 0.0)),
            nesterov=bool(optimizer.get("nesterov", False)),
            betas=tuple(float(b) for b in optimizer.get("betas", optimizers.DEFAULT_BETAS)),
            eps=float(optimizer.get("eps", optimizers.DEFAULT_EPS)),
        ),
        steps=int(body.get("steps", 1)),
        batch_size=None if batch_size is None else int(batch_size),
        shuffle_seed=int(body.get("shuffle_seed", 0)),
        record=_record(body.get("record"), int(body.get("steps", 1))),
        input_gradient=bool(body.get("input_gradient", False)),
    )
    check(spec)
    if optimizer.get("state") is not None:
        spec = _with_optimizer_state(spec, optimizer["state"])
    return spec


def _record(raw: dict | None, steps: int) -> tuple[int, int] | None:
    """The request's window {"from": k, "to": m} as (k, m), m defaulting to the last step (exclusive)."""
    if raw is None:
        return None
    first, stop = int(raw.get("from", 0)), int(raw.get("to", steps))
    if not 0 <= first < stop <= steps:
        raise ValueError(f"record must satisfy 0 <= from < to <= steps ({steps}), got from {first}, to {stop}")
    return first, stop


def parameter_shapes(spec: Spec) -> dict[str, tuple[int, ...]]:
    """{"W1": shape, "b1": shape, ...} in the spec's layout (layers without bias have no b)."""
    shapes = {}
    for index, layer in enumerate(spec.layers, start=1):
        shapes[f"W{index}"] = layer.weights.shape
        if layer.bias is not None:
            shapes[f"b{index}"] = layer.bias.shape
    return shapes


def _with_optimizer_state(spec: Spec, raw) -> Spec:
    if not isinstance(raw, dict):
        raise ValueError("optimizer state must be an object")
    state = optimizers.from_dict(spec.optimizer, raw, parameter_shapes(spec))
    return replace(spec, optimizer=replace(spec.optimizer, state=state))


def check(spec: Spec) -> None:
    """Raise ValueError (shapes in the message) if the spec is not a well-formed network."""
    rows = spec.layout == "rows"
    width = spec.inputs.shape[1 if rows else 0]
    for index, layer in enumerate(spec.layers, start=1):
        if layer.activation not in ACTIVATIONS:
            raise ValueError(f"layer {index}: unknown activation {layer.activation!r}")
        fan_in = layer.weights.shape[0 if rows else 1]
        fan_out = layer.weights.shape[1 if rows else 0]
        if fan_in != width:
            raise ValueError(
                f"W{index} has shape {layer.weights.shape}: it takes {fan_in} inputs "
                f"but the previous layer gives {width}"
            )
        if layer.bias is not None and layer.bias.shape != (fan_out,):
            raise ValueError(f"b{index} has shape {layer.bias.shape}, expected ({fan_out},)")
        width = fan_out
    if spec.loss.name not in LOSSES:
        raise ValueError(f"unknown loss {spec.loss.name!r}")
    if spec.loss.reduction not in REDUCTIONS[spec.loss.name]:
        raise ValueError(f"{spec.loss.name} takes reduction {REDUCTIONS[spec.loss.name]}")
    if (spec.targets is None) == (spec.labels is None):
        raise ValueError("give exactly one of targets and labels")
    n = spec.num_examples
    if spec.targets is not None:
        expected = (n, width) if rows else (width, n)
        if spec.targets.shape != expected:
            raise ValueError(f"T has shape {spec.targets.shape}, expected {expected}")
    else:
        if len(spec.labels) != n:
            raise ValueError(f"{len(spec.labels)} labels for {n} examples")
        if any(not 0 <= c < width for c in spec.labels):
            raise ValueError(f"labels must be class indices in 0..{width - 1}")
    if not spec.optimizer.learning_rate > 0:
        raise ValueError("learning_rate must be positive")
    _check_optimizer(spec.optimizer)
    if spec.batch_size is not None and spec.batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if spec.shuffle_seed < 0:
        raise ValueError("shuffle_seed must be an integer >= 0")
    if spec.steps < 1:
        raise ValueError("steps must be at least 1")


def _check_optimizer(optimizer: Optimizer) -> None:
    if optimizer.name not in optimizers.NAMES:
        raise ValueError(f"optimizer must be one of {optimizers.NAMES}, got {optimizer.name!r}")
    if not 0 <= optimizer.momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {optimizer.momentum}")
    if optimizer.name == "adam" and optimizer.momentum:
        raise ValueError("adam takes betas, not momentum")
    if optimizer.nesterov and not optimizer.momentum > 0:
        raise ValueError("nesterov needs momentum > 0")
    if len(optimizer.betas) != 2 or not all(0 <= beta < 1 for beta in optimizer.betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {optimizer.betas}")
    if not optimizer.eps > 0:
        raise ValueError(f"eps must be positive, got {optimizer.eps}")
