"""Seeded datasets, the train/test split, and CSV with messages that point at the cell."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine import datasets


def make(name, size=200, noise=0.0, seed=0):
    return datasets.generate(name, size, noise, np.random.default_rng(seed))


@pytest.mark.parametrize("name", datasets.NAMES)
def test_a_seed_fixes_the_data(name):
    a, b, c = make(name, noise=0.3, seed=7), make(name, noise=0.3, seed=7), make(name, noise=0.3, seed=8)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.targets, b.targets)
    assert not np.array_equal(a.points, c.points)


@pytest.mark.parametrize("name", datasets.CLASSIFICATION)
def test_classification_sets_are_two_balanced_classes_in_the_plane(name):
    data = make(name, size=301, noise=0.2)
    assert data.points.shape == (301, 2) and data.task == "classification" and data.num_classes == 2
    assert sorted(np.unique(data.targets).tolist()) == [0.0, 1.0]
    assert abs(int(data.targets.sum()) - 150) <= 1
    assert np.abs(data.points).max() < 2 * datasets.EXTENT


def test_circle_without_noise_has_class_1_inside_and_class_0_on_the_ring():
    data = make("circle", noise=0.0)
    radius = np.hypot(data.points[:, 0], data.points[:, 1])
    slack = 0.01  # coordinates are rounded to 2 decimals
    assert radius[data.targets == 1].max() <= 2.5 + slack
    assert radius[data.targets == 0].min() >= 3.5 - slack and radius[data.targets == 0].max() <= 5.0 + slack


def test_xor_without_noise_labels_by_the_sign_of_x1_x2():
    data = make("xor", size=400, noise=0.0)
    assert np.array_equal(data.targets == 1, data.points[:, 0] * data.points[:, 1] > 0)


def test_gaussians_without_noise_are_split_by_the_diagonal():
    data = make("gaussians", size=400, noise=0.0)
    assert np.array_equal(data.targets == 1, data.points.sum(axis=1) > 0)


def test_spiral_without_noise_follows_the_playground_arms():
    data = make("spiral", size=10, noise=0.0)
    # 5 points per arm: r = 5 i / 5, angle = 1.75 * 2 pi * i / 5 (+ pi for the second arm).
    for i in range(5):
        r, t = float(i), 1.75 * 2 * math.pi * i / 5
        # coordinates are rounded to 2 decimals
        assert data.points[i].tolist() == pytest.approx([r * math.sin(t), r * math.cos(t)], abs=0.005)
        assert data.points[5 + i].tolist() == pytest.approx([r * math.sin(t + math.pi), r * math.cos(t + math.pi)], abs=0.005)
    assert np.array_equal(data.points, np.round(data.points, 2))
    assert data.targets.tolist() == [1.0] * 5 + [0.0] * 5


def test_noise_blurs_the_classes():
    clean = make("spiral", size=400, noise=0.0)
    noisy = make("spiral", size=400, noise=1.0)
    shift = np.abs(noisy.points - clean.points)
    assert 0.2 < shift.mean() < 1.0 and shift.max() <= 1.01


@pytest.mark.parametrize("name, curve", [("sine", np.sin), ("step", lambda x: np.where(x >= 0, 1.0, -1.0))])
def test_regression_sets_are_their_curve_without_noise(name, curve):
    data = make(name, size=100, noise=0.0)
    assert data.points.shape == (100, 1) and data.task == "regression" and data.classes is None
    assert np.array_equal(data.targets, np.round(curve(data.points[:, 0]), 3))
    assert np.array_equal(data.points, np.round(data.points, 2))
    assert np.abs(data.points).max() <= datasets.EXTENT
    noisy = make(name, size=2000, noise=1.0)
    assert np.std(noisy.targets - np.round(curve(noisy.points[:, 0]), 3)) == pytest.approx(0.5, rel=0.1)


@pytest.mark.parametrize(
    "name, size, noise, message",
    [("moons", 10, 0.0, "unknown dataset"), ("circle", 1, 0.0, "at least 2"), ("circle", 10, 1.5, "noise")],
)
def test_bad_settings_are_value_errors(name, size, noise, message):
    with pytest.raises(ValueError, match=message):
        make(name, size=size, noise=noise)


def test_split_holds_out_a_fraction_and_keeps_every_example_once():
    data = make("xor", size=200, noise=0.5)
    train, test = datasets.split(data, 0.25, np.random.default_rng(3))
    assert (train.num_examples, test.num_examples) == (150, 50)
    together = np.vstack([train.points, test.points])
    assert sorted(map(tuple, together.tolist())) == sorted(map(tuple, data.points.tolist()))
    again, _ = datasets.split(data, 0.25, np.random.default_rng(3))
    assert np.array_equal(again.points, train.points)
    everything, nothing = datasets.split(data, 0.0, np.random.default_rng(3))
    assert everything.num_examples == 200 and nothing.num_examples == 0


# --- CSV -------------------------------------------------------------------------------------------------


def parse(text, max_rows=100, max_columns=8, task="auto"):
    return datasets.parse_csv(text, max_rows, max_columns, task)


def test_csv_with_a_header_names_its_columns():
    data = parse("height,weight,label\n1.5,60,0\n1.8,80,1\n1.7,75,1\n")
    assert data.columns == ("height", "weight") and data.target_name == "label"
    assert data.points.tolist() == [[1.5, 60.0], [1.8, 80.0], [1.7, 75.0]]
    assert data.task == "classification" and data.targets.tolist() == [0.0, 1.0, 1.0]


def test_csv_without_a_header_reads_every_row():
    data = parse("0.5, -1, 2.25\n1e-3, 4, -7.5\n")
    assert data.columns == ("x1", "x2") and data.target_name == "y"
    assert data.points.tolist() == [[0.5, -1.0], [0.001, 4.0]]
    assert data.task == "regression" and data.targets.tolist() == [2.25, -7.5]


def test_class_values_become_indices_in_sorted_order():
    data = parse("x,c\n0,5\n1,-1\n2,5\n3,2\n")
    assert data.classes == (-1.0, 2.0, 5.0) and data.targets.tolist() == [2.0, 0.0, 2.0, 1.0]


def test_a_chosen_task_overrides_the_guess():
    assert parse("x,y\n0,1\n1,2\n", task="regression").task == "regression"
    assert parse("x,y\n0,0.5\n1,2.5\n", task="classification").classes == (0.5, 2.5)


@pytest.mark.parametrize("text", ["a;b;y\n1;2;0\n3;4;1\n", "a\tb\ty\n1\t2\t0\n3\t4\t1\n", "\ufeff# comment\na,b,y\n\n1,2,0\n3,4,1\n"])
def test_semicolons_tabs_comments_and_blank_lines(text):
    data = parse(text)
    assert data.points.tolist() == [[1.0, 2.0], [3.0, 4.0]] and data.targets.tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the CSV is empty"),
        ("a,b,y\n", "a header but no data rows"),
        ("a,b,y\n1,2,0\n3,4\n", "row 3 has 2 columns, but row 1 has 3"),
        ("1,2,0\n3,4,1,5\n", "row 2 has 4 columns, but row 1 has 3"),
        ("a,b,y\n1,2,0\n3,abc,1\n", r"row 3, column 2 \(b\): 'abc' is not a number"),
        ("a,b,y\n1,,0\n", r"row 2, column 2 \(b\) is empty"),
        ("a,b,y\n1,inf,0\n", r"row 2, column 2 \(b\): 'inf' is not a finite number"),
        ("a,b,y\n# note\n1,2,0\n1,2,nan\n", r"row 4, column 3 \(y\): 'nan' is not a finite number"),
        ("y\n1\n2\n", "at least one feature and a target"),
        ("x,y\n1,3\n2,3\n", "one value only"),
    ],
)
def test_bad_csv_says_where(text, message):
    with pytest.raises(ValueError, match=message):
        parse(text, task="classification" if "one value" in message else "auto")


def test_csv_limits_are_the_callers():
    rows = "\n".join(f"{i},{i % 2}" for i in range(11))
    assert parse(rows, max_rows=11).num_examples == 11
    with pytest.raises(ValueError, match="the CSV has 11 data rows: over the limit of 10"):
        parse(rows, max_rows=10)
    with pytest.raises(ValueError, match="the CSV has 3 feature columns: over the limit of 2"):
        parse("a,b,c,y\n1,2,3,0\n", max_columns=2)


def test_too_many_classes_is_an_error_when_classes_are_asked_for():
    rows = "\n".join(f"{i},{i}" for i in range(12))
    assert parse(rows).task == "regression"
    with pytest.raises(ValueError, match="12 different values"):
        parse(rows, task="classification")
