"""Input features of the raw points, as the Playground offers them."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine import features

POINTS = np.array([[1.5, -2.0], [0.0, 3.0], [-4.0, 0.5]])


@pytest.mark.parametrize(
    "name, value",
    [
        ("x1", lambda a, b: a),
        ("x2", lambda a, b: b),
        ("x1_squared", lambda a, b: a * a),
        ("x2_squared", lambda a, b: b * b),
        ("x1_x2", lambda a, b: a * b),
        ("sin_x1", lambda a, b: math.sin(a)),
        ("sin_x2", lambda a, b: math.sin(b)),
    ],
)
def test_each_feature_is_its_formula(name, value):
    column = features.compute(POINTS, [name])
    assert column.shape == (3, 1)
    assert column[:, 0].tolist() == [value(a, b) for a, b in POINTS.tolist()]


def test_columns_come_in_the_order_chosen():
    out = features.compute(POINTS, ["x1_x2", "x1", "sin_x2"])
    assert out[1].tolist() == [0.0, 0.0, math.sin(3.0)]
    assert out[2].tolist() == [-2.0, -4.0, math.sin(0.5)]


def test_one_dimensional_points_offer_the_x1_features_only():
    assert features.available(1) == ("x1", "x1_squared", "sin_x1")
    assert len(features.available(2)) == 7
    assert features.compute(np.array([[2.0], [-1.0]]), ["x1_squared"])[:, 0].tolist() == [4.0, 1.0]


@pytest.mark.parametrize(
    "names, dimension, message",
    [
        ([], 2, "at least one"),
        (["x1", "x1"], 2, "once"),
        (["x3"], 2, "unknown feature 'x3'"),
        (["x1_x2"], 1, "needs x2"),
    ],
)
def test_bad_choices_are_value_errors(names, dimension, message):
    with pytest.raises(ValueError, match=message):
        features.compute(POINTS[:, :dimension], names)


def test_labels_read_as_math():
    assert [features.label(name) for name in features.NAMES] == ["x₁", "x₂", "x₁²", "x₂²", "x₁·x₂", "sin x₁", "sin x₂"]
