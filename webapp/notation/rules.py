"""The rules titles and equations share: which parameters are trained, which optimizer rule applies
(and Adam's update count t), what the loss's reduction divides by, and when the output activation
and the loss are computed as one fused, stable step. None of them depends on the notation profile
beyond the letter of the number of examples (`batch`: N, m or n).
"""
from __future__ import annotations

from engine.spec import Spec


def reduction(spec: Spec, n: int = 0, batch: str = "N") -> list[tuple[str, int]]:
    """The reduction's divisor as (symbol, value) factors: N for mean, N and d_L for mean_all (n: the step's N)."""
    width, last = spec.widths[-1], len(spec.layers)
    return {"mean": [(batch, n)], "sum": [], "mean_all": [(batch, n), (f"d{last}", width)]}[spec.loss.reduction]


def loss_denominator(spec: Spec, n: int = 0, batch: str = "N") -> list[tuple[str, int]]:
    """What the loss divides by: the reduction's factors, after a 2 for a halved squared error."""
    half = spec.loss.name == "squared_error" and spec.loss.half
    return ([("2", 2)] if half else []) + reduction(spec, n, batch)


def fused(spec: Spec) -> bool:
    """Whether the output activation and the loss are computed together, stably (log-softmax, softplus)."""
    last = spec.layers[-1].activation
    return (spec.loss.name, last) in (("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"))


def delta_from_output(spec: Spec, mean_in: str) -> bool:
    """Whether the output layer's delta is written from the output and targets, δL = 1/N (Y − T) ⊙ f'(SL).

    A profile whose text writes the 1/N in the delta (mean_in "delta") does so for a squared error
    through an elementwise output activation; everything else goes through dL/dY.
    """
    return (mean_in == "delta" and spec.loss.name == "squared_error" and not fused(spec)
            and spec.layers[-1].activation != "softmax")


def parameters(spec: Spec) -> list[tuple[str, str, bool]]:
    """(name, kind, trained) of every parameter: ('W1', 'weights', True), ('b1', 'bias', False), ..."""
    found = []
    for index, layer in enumerate(spec.layers, start=1):
        found.append((f"W{index}", "weights", layer.train_weights))
        if layer.bias is not None:
            found.append((f"b{index}", "bias", layer.train_bias))
    return found


def optimizer_kind(spec: Spec) -> str:
    """'sgd', 'momentum' (SGD with momentum > 0) or 'adam'."""
    if spec.optimizer.name == "adam":
        return "adam"
    return "momentum" if spec.optimizer.momentum > 0 else "sgd"


def adam_t(spec: Spec, step: int) -> int:
    """Adam's update count t after this step (the request may start from a saved state)."""
    start = spec.optimizer.state.step if spec.optimizer.state is not None else 0
    return start + step + 1
