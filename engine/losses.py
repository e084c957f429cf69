"""Losses: the value, dL/d(output), and the fused dL/dS where a stable form exists.

All arrays are (N, dL), examples as rows. `reduction` divides the sum over
examples by N (`mean`), by N*dL (`mean_all`) or by 1 (`sum`).
"""
from __future__ import annotations

import numpy as np

from . import activations
from .spec import Loss


def divisor(loss: Loss, output_shape: tuple[int, int]) -> float:
    n, width = output_shape
    return {"mean": n, "sum": 1, "mean_all": n * width}[loss.reduction]


def value_and_gradient(
    loss: Loss, output: np.ndarray, targets: np.ndarray, classes: np.ndarray
) -> tuple[float, np.ndarray]:
    """L and dL/dY for Y = output. The gradient may hold inf where Y saturates (the caller checks)."""
    scale = 1.0 / divisor(loss, output.shape)
    if loss.name == "squared_error":
        c = 0.5 if loss.half else 1.0
        diff = output - targets
        return c * scale * float(np.sum(diff * diff)), 2.0 * c * scale * diff
    if loss.name == "cross_entropy":
        # A zero target contributes nothing, even where Y is 0 (0 log 0 = 0).
        terms = np.where(targets == 0, 0.0, targets * np.log(output))
        grad = np.where(targets == 0, 0.0, -targets / output)
        return -scale * float(np.sum(terms)), scale * grad
    if loss.name == "binary_cross_entropy":
        positive = np.where(targets == 0, 0.0, targets * np.log(output))
        negative = np.where(targets == 1, 0.0, (1 - targets) * np.log1p(-output))
        grad = np.where(targets == 0, 0.0, -targets / output) + np.where(
            targets == 1, 0.0, (1 - targets) / (1 - output)
        )
        return -scale * float(np.sum(positive + negative)), scale * grad
    if loss.name == "multiclass_hinge":
        return _hinge(loss, output, classes, scale)
    if loss.name == "linear":
        # L = sum T * Y: the targets are the upstream gradient dL/dY a text gives (Quiz 4, Problem 1).
        return scale * float(np.sum(targets * output)), scale * targets
    raise ValueError(f"unknown loss {loss.name!r}")


def _hinge(loss: Loss, output: np.ndarray, classes: np.ndarray, scale: float):
    rows = np.arange(output.shape[0])
    margins = output - output[rows, classes][:, None] + loss.margin
    margins[rows, classes] = 0.0
    # A term exactly at 0 passes no gradient (the kink is taken as PyTorch's relu takes 0).
    active = (margins > 0).astype(np.float64)
    grad = active.copy()
    grad[rows, classes] = -active.sum(axis=1)
    return scale * float(np.sum(margins * active)), scale * grad


def fused(
    loss: Loss, activation: str, pre_activation: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray] | None:
    """(L, dL/dS) straight from the output layer's pre-activation S, or None.

    Cross-entropy after softmax uses log-sum-exp, binary cross-entropy after
    sigmoid uses softplus, so logits of +-1000 give exact finite numbers.
    """
    scale = 1.0 / divisor(loss, pre_activation.shape)
    if loss.name == "cross_entropy" and activation == "softmax":
        log_p = activations.log_softmax(pre_activation)
        total = np.where(targets == 0, 0.0, targets * log_p)
        mass = targets.sum(axis=1, keepdims=True)
        delta = activations.softmax(pre_activation) * mass - targets
        return -scale * float(np.sum(total)), scale * delta
    if loss.name == "binary_cross_entropy" and activation == "sigmoid":
        s = pre_activation
        softplus = np.maximum(s, 0.0) + np.log1p(np.exp(-np.abs(s)))
        return scale * float(np.sum(softplus - targets * s)), scale * (activations.sigmoid(s) - targets)
    return None
