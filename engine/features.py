"""Input features computed from the raw points, as in the TensorFlow Playground.

A 2-D point (x1, x2) can feed the network any of x1, x2, x1², x2², x1·x2,
sin x1, sin x2; 1-D data has the ones of x1 only. The network sees the
chosen columns, in the order given.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

# id -> (label, raw coordinates it needs, function of the points (N, d) -> (N,))
_FEATURES: dict[str, tuple[str, int, Callable[[np.ndarray], np.ndarray]]] = {
    "x1": ("x₁", 1, lambda p: p[:, 0]),
    "x2": ("x₂", 2, lambda p: p[:, 1]),
    "x1_squared": ("x₁²", 1, lambda p: p[:, 0] * p[:, 0]),
    "x2_squared": ("x₂²", 2, lambda p: p[:, 1] * p[:, 1]),
    "x1_x2": ("x₁·x₂", 2, lambda p: p[:, 0] * p[:, 1]),
    "sin_x1": ("sin x₁", 1, lambda p: np.sin(p[:, 0])),
    "sin_x2": ("sin x₂", 2, lambda p: np.sin(p[:, 1])),
}

NAMES: tuple[str, ...] = tuple(_FEATURES)


def label(name: str) -> str:
    """How the page writes a feature, e.g. "x₁·x₂"."""
    return _FEATURES[name][0]


def available(dimension: int) -> tuple[str, ...]:
    """The features of points with `dimension` coordinates (1 or 2)."""
    return tuple(name for name, (_, needs, _) in _FEATURES.items() if needs <= dimension)


def check(names: tuple[str, ...] | list[str], dimension: int) -> None:
    """Raise ValueError unless `names` is a non-empty list of distinct features of `dimension`-D points."""
    if not names:
        raise ValueError("choose at least one input feature")
    if len(set(names)) != len(names):
        raise ValueError("each input feature may be chosen once")
    for name in names:
        if name not in _FEATURES:
            raise ValueError(f"unknown feature {name!r}: choose from {', '.join(NAMES)}")
        if _FEATURES[name][1] > dimension:
            raise ValueError(f"feature {name} needs x2, but the data has only x1")


def compute(points: np.ndarray, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """points: (N, d) with d = 1 or 2. Returns (N, len(names)), one column per feature."""
    if points.ndim != 2:
        raise ValueError(f"points must be (N, d), got shape {points.shape}")
    check(names, points.shape[1])
    return np.column_stack([_FEATURES[name][2](points) for name in names]).astype(np.float64)
