"""Data to train on: seeded 2-D classification and 1-D regression sets, a train/test split, and CSV.

Every generator takes a `numpy.random.Generator`, so a seed fixes the data.
2-D points lie in the Playground's plane [-6, 6]²; `noise` in [0, 1] widens
the clusters (and blurs the curves) from clean to heavily overlapping.
Coordinates are rounded to 2 decimals and regression targets to 3, so a step
opened in the lab shows short numbers (and its link stays short).

    circle     class 1 inside radius 2.5, class 0 on the ring 3.5..5
    xor        four clusters at (±3, ±3); class 1 where x1·x2 > 0
    gaussians  two clusters at (2, 2) (class 1) and (-2, -2) (class 0)
    spiral     two interleaved arms (the Playground's), class 1 and class 0
    sine       y = sin x + noise, x in [-6, 6]
    step       y = -1 for x < 0, +1 for x >= 0, + noise
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

EXTENT = 6.0
CLASSIFICATION = ("circle", "xor", "gaussians", "spiral")
REGRESSION = ("sine", "step")
NAMES = CLASSIFICATION + REGRESSION
TASKS = ("classification", "regression")
MAX_CLASSES = 10
POINT_DECIMALS, TARGET_DECIMALS = 2, 3


@dataclass(frozen=True)
class Dataset:
    points: np.ndarray  # (N, d): the raw coordinates x1, x2, ... (d = 2 for the planes, 1 for regression)
    targets: np.ndarray  # (N,): class index 0..C-1, or the value to regress
    task: str  # "classification" or "regression"
    columns: tuple[str, ...]  # names of the coordinates
    target_name: str = "y"
    classes: tuple[float, ...] | None = None  # the target value each class index stands for

    @property
    def num_examples(self) -> int:
        return self.points.shape[0]

    @property
    def dimension(self) -> int:
        return self.points.shape[1]

    @property
    def num_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    def subset(self, indices: np.ndarray) -> Dataset:
        return Dataset(self.points[indices], self.targets[indices], self.task, self.columns, self.target_name, self.classes)


def generate(name: str, size: int, noise: float, rng: np.random.Generator) -> Dataset:
    """`size` examples of the named set (half of each class for classification)."""
    if name not in NAMES:
        raise ValueError(f"unknown dataset {name!r}: choose from {', '.join(NAMES)}")
    if size < 2:
        raise ValueError(f"a dataset needs at least 2 examples, got {size}")
    if not 0 <= noise <= 1:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    if name in REGRESSION:
        x = np.round(rng.uniform(-EXTENT, EXTENT, size), POINT_DECIMALS)
        clean = np.sin(x) if name == "sine" else np.where(x >= 0, 1.0, -1.0)
        y = np.round(clean + 0.5 * noise * rng.standard_normal(size), TARGET_DECIMALS)
        return Dataset(x[:, None], y, "regression", ("x1",))
    positive, negative = size - size // 2, size // 2
    points = np.round(_GENERATORS[name](positive, negative, noise, rng), POINT_DECIMALS)
    labels = np.concatenate([np.ones(positive), np.zeros(negative)])
    return Dataset(points, labels, "classification", ("x1", "x2"), classes=(0.0, 1.0))


def _circle(positive: int, negative: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    def ring(count, low, high):
        radius = rng.uniform(low, high, count)
        angle = rng.uniform(0, 2 * math.pi, count)
        return np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])

    points = np.vstack([ring(positive, 0.0, 2.5), ring(negative, 3.5, 5.0)])
    return points + noise * rng.standard_normal(points.shape)


def _xor(positive: int, negative: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    spread = 0.6 + 1.4 * noise

    def clusters(count, centres):
        which = np.arange(count) % 2
        return np.asarray(centres)[which] + spread * rng.standard_normal((count, 2))

    return np.vstack([clusters(positive, [(3.0, 3.0), (-3.0, -3.0)]), clusters(negative, [(3.0, -3.0), (-3.0, 3.0)])])


def _gaussians(positive: int, negative: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    spread = 0.7 + 2.0 * noise
    return np.vstack(
        [
            (2.0, 2.0) + spread * rng.standard_normal((positive, 2)),
            (-2.0, -2.0) + spread * rng.standard_normal((negative, 2)),
        ]
    )


def _spiral(positive: int, negative: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    def arm(count, turn):
        fraction = np.arange(count) / count
        radius = 5.0 * fraction
        angle = 1.75 * 2 * math.pi * fraction + turn
        points = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
        return points + noise * rng.uniform(-1.0, 1.0, (count, 2))

    return np.vstack([arm(positive, 0.0), arm(negative, math.pi)])


_GENERATORS = {"circle": _circle, "xor": _xor, "gaussians": _gaussians, "spiral": _spiral}


def split(dataset: Dataset, test_fraction: float, rng: np.random.Generator) -> tuple[Dataset, Dataset]:
    """(train, test): a random `test_fraction` of the examples is held out; train keeps at least one."""
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    order = rng.permutation(dataset.num_examples)
    test_count = min(int(round(test_fraction * dataset.num_examples)), dataset.num_examples - 1)
    return dataset.subset(np.sort(order[test_count:])), dataset.subset(np.sort(order[:test_count]))


def parse_csv(text: str, max_rows: int, max_columns: int, task: str = "auto") -> Dataset:
    """Features in every column but the last, the target in the last; an optional header row.

    Rows are numbered as the file's lines (a header is row 1) and columns from
    1, so every ValueError points at the cell. `max_rows` and `max_columns` are
    the API's limits on examples and input width. `task` "auto" reads integer
    targets with at most MAX_CLASSES distinct values as classes.
    """
    if task not in ("auto",) + TASKS:
        raise ValueError(f"task must be auto, classification or regression, got {task!r}")
    rows = _rows(text)
    if not rows:
        raise ValueError("the CSV is empty: give one example per row, features first and the target last")
    header = None
    first_line, first = rows[0]
    if not all(_is_number(cell) for cell in first):
        header, rows = [cell.strip() or f"column {j}" for j, cell in enumerate(first, start=1)], rows[1:]
    width = len(first)
    if width < 2:
        raise ValueError(f"row {first_line} has {width} column: the CSV needs at least one feature and a target")
    if width - 1 > max_columns:
        raise ValueError(f"the CSV has {width - 1} feature columns: over the limit of {max_columns}")
    if not rows:
        raise ValueError("the CSV has a header but no data rows")
    if len(rows) > max_rows:
        raise ValueError(f"the CSV has {len(rows)} data rows: over the limit of {max_rows}")
    names = header or [f"x{j}" for j in range(1, width)] + ["y"]
    values = np.empty((len(rows), width))
    for i, (line, cells) in enumerate(rows):
        if len(cells) != width:
            raise ValueError(f"row {line} has {len(cells)} columns, but row {first_line} has {width}")
        for j, cell in enumerate(cells):
            values[i, j] = _number(cell, line, j + 1, names[j])
    return _dataset(values, names, task)


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank row; lines starting with # are comments."""
    lines = text.lstrip("\ufeff").splitlines()
    sample = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    delimiter = "\t" if "\t" in sample else ";" if ";" in sample else ","
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        rows.append((reader.line_num, cells))
    return rows


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(cell: str, line: int, column: int, name: str) -> float:
    where = f"row {line}, column {column} ({name})"
    if not cell.strip():
        raise ValueError(f"{where} is empty")
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{where}: {cell.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {cell.strip()!r} is not a finite number")
    return value


def _dataset(values: np.ndarray, names: list[str], task: str) -> Dataset:
    target = values[:, -1]
    distinct = np.unique(target)
    integral = bool(np.all(target == np.round(target)))
    if task == "auto":
        task = "classification" if integral and len(distinct) <= MAX_CLASSES else "regression"
    if task == "classification":
        if len(distinct) < 2:
            raise ValueError(f"the target column ({names[-1]}) has one value only: a classification needs two classes")
        if len(distinct) > MAX_CLASSES:
            raise ValueError(
                f"the target column ({names[-1]}) has {len(distinct)} different values: "
                f"a classification takes at most {MAX_CLASSES} classes"
            )
        return Dataset(
            values[:, :-1], np.searchsorted(distinct, target).astype(np.float64), "classification",
            tuple(names[:-1]), names[-1], tuple(float(c) for c in distinct),
        )
    return Dataset(values[:, :-1], target.copy(), "regression", tuple(names[:-1]), names[-1])
