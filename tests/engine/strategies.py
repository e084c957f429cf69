"""Hypothesis strategies for random training problems, and the independent float64 reference they are checked against.

A `Problem` holds a small dense network in the rows layout (examples are rows)
and writes itself as a trace request in either layout. The reference functions
below compute activations, losses and central differences from the formulas,
without importing the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
REDUCTIONS = {
    "squared_error": ("mean", "sum", "mean_all"),
    "binary_cross_entropy": ("mean", "sum", "mean_all"),
    "cross_entropy": ("mean", "sum"),
    "multiclass_hinge": ("mean", "sum"),
}
# Distance from a ReLU kink or a hinge corner below which a draw is discarded:
# a central difference straddling a kink measures neither side's slope.
KINK = 1e-3
STEP = 1e-5  # central-difference step for whole-network checks


# --- independent reference (rows layout, float64) ---------------------------------------------------------


def reference_activation(name: str, s: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Z = f(S) from the textbook formulas; softmax normalises each row."""
    if name == "identity":
        return s.copy()
    if name == "relu":
        return np.where(s > 0, s, 0.0)
    if name == "leaky_relu":
        return np.where(s > 0, s, negative_slope * s)
    if name == "sigmoid":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-s))
    if name == "tanh":
        return np.tanh(s)
    if name == "softmax":
        out = np.empty_like(s)
        for i, row in enumerate(s):
            e = np.exp(row - row.max())
            out[i] = e / e.sum()
        return out
    raise AssertionError(name)


def reference_loss(
    name: str,
    output: np.ndarray,
    targets: np.ndarray,
    classes: np.ndarray,
    reduction: str = "mean",
    half: bool = False,
    margin: float = 1.0,
) -> float:
    """The contract's loss table, summed example by example."""
    n, width = output.shape
    total = 0.0
    for i in range(n):
        y, t = output[i], targets[i]
        if name == "squared_error":
            total += (0.5 if half else 1.0) * float(np.sum((y - t) ** 2))
        elif name == "cross_entropy":
            total -= sum(t[k] * np.log(y[k]) for k in range(width) if t[k] != 0)
        elif name == "binary_cross_entropy":
            for k in range(width):
                if t[k] != 0:
                    total -= t[k] * np.log(y[k])
                if t[k] != 1:
                    total -= (1 - t[k]) * np.log(1 - y[k])
        elif name == "multiclass_hinge":
            c = classes[i]
            total += sum(max(0.0, y[k] - y[c] + margin) for k in range(width) if k != c)
        elif name == "linear":
            total += sum(t[k] * y[k] for k in range(width))
        else:
            raise AssertionError(name)
    return total / {"mean": n, "sum": 1, "mean_all": n * width}[reduction]


def hinge_margins(output: np.ndarray, classes: np.ndarray, margin: float) -> np.ndarray:
    """y_k - y_class + margin for every k other than the class (the hinge's corners sit at 0)."""
    rows = np.arange(output.shape[0])
    margins = output - output[rows, classes][:, None] + margin
    keep = np.ones(output.shape, dtype=bool)
    keep[rows, classes] = False
    return margins[keep]


def numeric_upstream_gradient(f, x: np.ndarray, upstream: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """CS231n's form: d/dx of sum(f(x) * upstream), entry by entry, by central differences."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = f(x).copy()
        x[index] = original - h
        minus = f(x).copy()
        x[index] = original
        grad[index] = np.sum((plus - minus) * upstream) / (2 * h)
    return grad


def numeric_gradient(loss, x: np.ndarray, h: float = STEP) -> np.ndarray:
    """d loss()/dx by central differences, perturbing x in place (and restoring it)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = loss()
        x[index] = original - h
        minus = loss()
        x[index] = original
        grad[index] = (plus - minus) / (2 * h)
    return grad


def relative_error(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))


class KinkCrossed(Exception):
    """A central-difference step moved a ReLU pre-activation or a hinge term across its kink."""


# --- problems ------------------------------------------------------------------------------------------------


@dataclass
class Problem:
    """A network and its data in the rows layout: weights[l] is (d(l-1), d(l)), inputs (N, d0)."""

    weights: list[np.ndarray]
    biases: list[np.ndarray | None]
    activations: list[str]
    negative_slopes: list[float]
    train_weights: list[bool]
    train_bias: list[bool]
    inputs: np.ndarray
    targets: np.ndarray | None
    labels: list[int] | None
    loss: dict
    learning_rate: float
    steps: int = 1

    @property
    def classes(self) -> np.ndarray:
        if self.labels is not None:
            return np.asarray(self.labels)
        return np.argmax(self.targets, axis=1)

    @property
    def target_matrix(self) -> np.ndarray:
        """T in the rows layout (one-hot where the problem has labels)."""
        if self.targets is not None:
            return self.targets
        onehot = np.zeros((self.inputs.shape[0], self.weights[-1].shape[1]))
        onehot[np.arange(len(self.labels)), self.labels] = 1.0
        return onehot

    def request(self, layout: str = "rows") -> dict:
        """The trace request for this problem, its matrices written in `layout`."""
        flip = layout == "columns"

        def write(matrix):
            return (matrix.T if flip else matrix).tolist()

        layers = []
        for index, weights in enumerate(self.weights):
            layer = {
                "weights": write(weights),
                "bias": None if self.biases[index] is None else self.biases[index].tolist(),
                "activation": self.activations[index],
                "train_weights": self.train_weights[index],
                "train_bias": self.train_bias[index],
            }
            if self.activations[index] == "leaky_relu":
                layer["negative_slope"] = self.negative_slopes[index]
            layers.append(layer)
        body = {
            "layout": layout,
            "layers": layers,
            "inputs": write(self.inputs),
            "loss": dict(self.loss),
            "optimizer": {"name": "sgd", "learning_rate": self.learning_rate},
            "steps": self.steps,
        }
        if self.labels is not None:
            body["labels"] = list(self.labels)
        else:
            body["targets"] = write(self.targets)
        return body

    def forward(self, weights=None, biases=None) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(S_l, Z_l)] for l = 1..L, with these parameters or the problem's own."""
        weights = self.weights if weights is None else weights
        biases = self.biases if biases is None else biases
        z, out = self.inputs, []
        for w, b, name, slope in zip(weights, biases, self.activations, self.negative_slopes):
            s = z @ w if b is None else z @ w + b
            z = reference_activation(name, s, slope)
            out.append((s, z))
        return out

    def loss_value(self, weights=None, biases=None) -> float:
        output = self.forward(weights, biases)[-1][1]
        return reference_loss(
            self.loss["name"],
            output,
            self.target_matrix,
            self.classes,
            self.loss.get("reduction", "mean"),
            self.loss.get("half", False),
            self.loss.get("margin", 1.0),
        )

    def numeric_gradients(self, h: float = STEP) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """[(dL/dW_l, dL/db_l)] in the rows layout by central differences of the reference loss.

        Raises KinkCrossed if a perturbation moves any ReLU or hinge term across
        its kink: the difference would then measure neither side.
        """
        weights = [w.copy() for w in self.weights]
        biases = [None if b is None else b.copy() for b in self.biases]
        pattern = self.kink_pattern()

        def loss():
            if self.kink_pattern(weights, biases) != pattern:
                raise KinkCrossed("a central difference crossed a ReLU or hinge kink")
            return self.loss_value(weights, biases)

        return [
            (numeric_gradient(loss, weights[i], h), None if biases[i] is None else numeric_gradient(loss, biases[i], h))
            for i in range(len(weights))
        ]

    def kink_pattern(self, weights=None, biases=None) -> tuple[bytes, ...]:
        """Which side of its kink every ReLU pre-activation and hinge term is on."""
        passes = self.forward(weights, biases)
        sides = [(s > 0).tobytes() for (s, _), name in zip(passes, self.activations) if name in ("relu", "leaky_relu")]
        if self.loss["name"] == "multiclass_hinge":
            sides.append((hinge_margins(passes[-1][1], self.classes, self.loss.get("margin", 1.0)) > 0).tobytes())
        return tuple(sides)

    def assume_away_from_kinks(self) -> None:
        """Discard the draw if a ReLU pre-activation or a hinge term sits within KINK of its corner."""
        passes = self.forward()
        for (s, _), name in zip(passes, self.activations):
            if name in ("relu", "leaky_relu"):
                assume(np.all(np.abs(s) >= KINK))
        if self.loss["name"] == "multiclass_hinge":
            margins = hinge_margins(passes[-1][1], self.classes, self.loss.get("margin", 1.0))
            assume(np.all(np.abs(margins) >= KINK))

    @classmethod
    def from_request(cls, body: dict) -> "Problem":
        """The problem a trace request describes, brought to the rows layout."""
        flip = body.get("layout", "rows") == "columns"

        def read(matrix):
            array = np.array(matrix, dtype=np.float64)
            return array.T.copy() if flip else array

        layers = body["layers"]
        return cls(
            weights=[read(layer["weights"]) for layer in layers],
            biases=[None if layer.get("bias") is None else np.array(layer["bias"], dtype=np.float64) for layer in layers],
            activations=[layer["activation"] for layer in layers],
            negative_slopes=[layer.get("negative_slope", 0.01) for layer in layers],
            train_weights=[layer.get("train_weights", True) for layer in layers],
            train_bias=[layer.get("train_bias", True) for layer in layers],
            inputs=read(body["inputs"]),
            targets=None if body.get("targets") is None else read(body["targets"]),
            labels=None if body.get("labels") is None else list(body["labels"]),
            loss=dict(body["loss"]),
            learning_rate=(body.get("optimizer") or {}).get("learning_rate", 0.1),
            steps=body.get("steps", 1),
        )

    def sgd_step(self, grads) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """Parameters after W <- W - r dL/dW on the trainable ones; grads: [(dW, db)] rows layout, layer 1 up."""
        weights, biases = [], []
        for i, (dw, db) in enumerate(grads):
            weights.append(self.weights[i] - self.learning_rate * dw if self.train_weights[i] else self.weights[i])
            bias = self.biases[i]
            biases.append(bias - self.learning_rate * db if bias is not None and self.train_bias[i] else bias)
        return weights, biases


def values(shape, low: float = -2.0, high: float = 2.0):
    """float64 arrays whose entries lie in [low, high]."""
    return st.lists(
        st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False),
        min_size=int(np.prod(shape)),
        max_size=int(np.prod(shape)),
    ).map(lambda entries: np.array(entries, dtype=np.float64).reshape(shape))


def output_activations(loss: str, width: int) -> tuple[str, ...]:
    """Output activations a loss is defined after."""
    if loss == "cross_entropy":
        return ("softmax", "sigmoid")  # needs positive outputs
    if loss == "binary_cross_entropy":
        return ("sigmoid", "softmax") if width >= 2 else ("sigmoid",)  # needs outputs in (0, 1)
    return ACTIVATIONS


@st.composite
def problems(
    draw,
    max_layers: int = 4,
    max_units: int = 5,
    max_examples: int = 6,
    losses: tuple[str, ...] = tuple(REDUCTIONS),
    output_activation: str | None = None,
    steps: int = 1,
    scale: float = 1.0,
    use_labels: bool | None = None,
):
    """A random network and data set that the drawn loss is defined on.

    use_labels: class labels (True) or a target matrix (False) for the losses that take either; None draws it.
    """
    loss_name = draw(st.sampled_from(losses))
    num_layers = draw(st.integers(1, max_layers))
    num_examples = draw(st.integers(1, max_examples))
    min_out = 2 if loss_name == "multiclass_hinge" or output_activation == "softmax" else 1
    widths = [draw(st.integers(1, max_units))] + [draw(st.integers(1, max_units)) for _ in range(num_layers - 1)]
    widths.append(draw(st.integers(min_out, max_units)))
    activations = [draw(st.sampled_from(ACTIVATIONS)) for _ in range(num_layers - 1)]
    activations.append(output_activation or draw(st.sampled_from(output_activations(loss_name, widths[-1]))))
    weights = [draw(values((a, b), -scale, scale)) for a, b in zip(widths, widths[1:])]
    biases = [draw(st.none() | values((b,), -scale, scale)) for b in widths[1:]]
    negative_slopes = [draw(st.sampled_from([0.01, 0.1, 0.2, 0.5])) for _ in range(num_layers)]
    inputs = draw(values((num_examples, widths[0])))

    loss: dict = {"name": loss_name, "reduction": draw(st.sampled_from(REDUCTIONS[loss_name]))}
    if loss_name == "squared_error":
        loss["half"] = draw(st.booleans())
    if loss_name == "multiclass_hinge":
        loss["margin"] = draw(st.sampled_from([0.5, 1.0, 2.0]))

    width = widths[-1]
    targets = labels = None
    if use_labels is None:
        use_labels = draw(st.booleans())
    use_labels = use_labels and loss_name in ("cross_entropy", "multiclass_hinge")
    if use_labels:
        labels = [draw(st.integers(0, width - 1)) for _ in range(num_examples)]
    elif loss_name == "binary_cross_entropy":
        # Targets in [0, 1], exact 0 and 1 included.
        targets = draw(values((num_examples, width), 0.0, 1.0))
    elif loss_name == "cross_entropy":
        targets = draw(values((num_examples, width), 0.0, 1.0))
    else:
        targets = draw(values((num_examples, width)))
        if loss_name == "multiclass_hinge":
            # The class of an example is its largest target: keep that unambiguous.
            ordered = np.sort(targets, axis=1)
            assume(width < 2 or np.all(ordered[:, -1] > ordered[:, -2]))

    return Problem(
        weights=weights,
        biases=biases,
        activations=activations,
        negative_slopes=negative_slopes,
        train_weights=[draw(st.booleans()) for _ in range(num_layers)],
        train_bias=[draw(st.booleans()) for _ in range(num_layers)],
        inputs=inputs,
        targets=targets,
        labels=labels,
        loss=loss,
        learning_rate=draw(st.sampled_from([0.01, 0.1, 0.5, 1.0])),
        steps=steps,
    )


layouts = st.sampled_from(("rows", "columns"))
