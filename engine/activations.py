"""Activation functions: forward and the vector-Jacobian product of each, side by side.

Examples are rows here (the engine computes in the rows layout), so softmax
normalises each row. `backward(name, s, z, grad_z)` returns dL/dS given
dL/dZ, where Z = f(S); for elementwise f that is dL/dZ * f'(S).
"""
from __future__ import annotations

import numpy as np


def sigmoid(s: np.ndarray) -> np.ndarray:
    """Logistic function without overflow: exp is only taken of -|s|."""
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(s: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so exp never overflows."""
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(s: np.ndarray) -> np.ndarray:
    shifted = s - s.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def forward(name: str, s: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Z = f(S). s: (N, d)."""
    if name == "identity":
        return s.copy()
    if name == "relu":
        return np.maximum(s, 0.0)
    if name == "leaky_relu":
        return np.where(s > 0, s, negative_slope * s)
    if name == "sigmoid":
        return sigmoid(s)
    if name == "tanh":
        return np.tanh(s)
    if name == "softmax":
        return softmax(s)
    raise ValueError(f"unknown activation {name!r}")


def backward(
    name: str, s: np.ndarray, z: np.ndarray, grad_z: np.ndarray, negative_slope: float = 0.01
) -> np.ndarray:
    """dL/dS from dL/dZ. s, z, grad_z: (N, d)."""
    if name == "identity":
        return grad_z.copy()
    if name == "relu":
        # relu'(0) is taken as 0, as PyTorch does.
        return np.where(s > 0, grad_z, 0.0)
    if name == "leaky_relu":
        # leaky_relu'(0) is the slope, as PyTorch takes it.
        return np.where(s > 0, grad_z, negative_slope * grad_z)
    if name == "sigmoid":
        return grad_z * z * (1.0 - z)
    if name == "tanh":
        return grad_z * (1.0 - z * z)
    if name == "softmax":
        # Full Jacobian per row: dS = Z * (G - sum_k G_k Z_k).
        return z * (grad_z - (grad_z * z).sum(axis=1, keepdims=True))
    raise ValueError(f"unknown activation {name!r}")
