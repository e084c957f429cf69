"""A network as the student typed it: every number kept as the text typed.

A `Draft` holds every number as the raw string typed, so an invalid entry is
shown back exactly as typed with a message beside it. Inside a draft every
matrix is kept in the rows orientation (X is N x d0, W_l is d(l-1) x d(l), T is
N x dL) whatever the layout; the form writes them in the draft's layout, so the
layout toggle is a change of one field and the same numbers show transposed.

`draft_from_body` and `body_from_draft` go between a draft and the contract's
request body; a number that does not parse gets a message under the name of
its form field (`W1[2,1]`, `learning-rate`, ...: see webapp.lab.form).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from .run import LAB_MAX_STEPS

NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass
class DraftLayer:
    weights: list[list[str]]  # d(l-1) x d(l), rows orientation
    bias: list[str] | None
    activation: str = "relu"
    slope: str = "0.01"
    train_weights: bool = True
    train_bias: bool = True


@dataclass
class Draft:
    layout: str
    inputs: list[list[str]]  # N x d0
    layers: list[DraftLayer]
    targets: list[list[str]] | None  # N x dL
    labels: list[str] | None
    loss: str = "squared_error"
    reduction: str = "mean"
    half: bool = False
    margin: str = "1"
    learning_rate: str = "0.1"
    steps: str = "1"
    seed: str = "0"

    @property
    def examples(self) -> int:
        return len(self.inputs)

    @property
    def widths(self) -> list[int]:
        return [len(self.inputs[0])] + [len(layer.weights[0]) for layer in self.layers]


# --- numbers as text -------------------------------------------------------------------------


def number_text(value: float) -> str:
    """The shortest text that reads back as the same float: 0.6, 1, -0.25, 1e-05."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def parse_number(text: str) -> float:
    """A finite decimal number, or ValueError with a message for a student."""
    cleaned = text.strip().replace("\u2212", "-")
    if not cleaned:
        raise ValueError("enter a number")
    if not NUMBER.match(cleaned):
        raise ValueError(f"“{text.strip()}” is not a number")
    value = float(cleaned)
    if not math.isfinite(value):
        raise ValueError("too large: the number overflows")
    return value


def parse_count(text: str, what: str, low: int, high: int) -> int:
    cleaned = text.strip()
    if not INTEGER.match(cleaned):
        raise ValueError(f"{what} must be a whole number")
    value = int(cleaned)
    if not low <= value <= high:
        raise ValueError(f"{what} must be from {low} to {high}")
    return value


def transpose(grid: list[list[str]]) -> list[list[str]]:
    return [list(column) for column in zip(*grid)]


# --- bodies <-> drafts --------------------------------------------------------------------------


def draft_from_body(body: dict, seed: int = 0) -> Draft:
    """A draft of a contract request body (already valid)."""
    rows = body.get("layout", "rows") == "rows"

    def grid(matrix) -> list[list[str]]:
        text = [[number_text(v) for v in row] for row in matrix]
        return text if rows else transpose(text)

    loss = body["loss"]
    optimizer = body.get("optimizer") or {}
    return Draft(
        layout=body.get("layout", "rows"),
        inputs=grid(body["inputs"]),
        layers=[
            DraftLayer(
                weights=grid(layer["weights"]),
                bias=None if layer.get("bias") is None else [number_text(v) for v in layer["bias"]],
                activation=layer["activation"],
                slope=number_text(layer.get("negative_slope", 0.01)),
                train_weights=bool(layer.get("train_weights", True)),
                train_bias=bool(layer.get("train_bias", True)),
            )
            for layer in body["layers"]
        ],
        targets=None if body.get("targets") is None else grid(body["targets"]),
        labels=None if body.get("labels") is None else [str(int(c)) for c in body["labels"]],
        loss=loss["name"],
        reduction=loss.get("reduction", "mean"),
        half=bool(loss.get("half", False)),
        margin=number_text(loss.get("margin", 1.0)),
        learning_rate=number_text(optimizer.get("learning_rate", 0.1)),
        steps=str(int(body.get("steps", 1))),
        seed=str(seed),
    )


def body_from_draft(draft: Draft) -> tuple[dict, dict[str, str]]:
    """The contract body of a draft, and a message for every field that is not a number.

    A field that does not parse is sent as 0 so the rest can still be checked.
    """
    errors: dict[str, str] = {}
    rows = draft.layout == "rows"

    def value(name: str, text: str) -> float:
        try:
            return parse_number(text)
        except ValueError as error:
            errors[name] = str(error)
            return 0.0

    def matrix(symbol: str, grid: list[list[str]]) -> list[list[float]]:
        written = grid if rows else transpose(grid)
        return [[value(f"{symbol}[{i + 1},{j + 1}]", text) for j, text in enumerate(row)] for i, row in enumerate(written)]

    layers = []
    for index, layer in enumerate(draft.layers, start=1):
        entry = {
            "weights": matrix(f"W{index}", layer.weights),
            "bias": None if layer.bias is None else [value(f"b{index}[{i + 1}]", t) for i, t in enumerate(layer.bias)],
            "activation": layer.activation,
        }
        if layer.activation == "leaky_relu":
            entry["negative_slope"] = value(f"slope-{index}", layer.slope)
        if not layer.train_weights:
            entry["train_weights"] = False
        if not layer.train_bias and layer.bias is not None:
            entry["train_bias"] = False
        layers.append(entry)
    loss: dict = {"name": draft.loss, "reduction": draft.reduction}
    if draft.loss == "squared_error":
        loss["half"] = draft.half
    if draft.loss == "multiclass_hinge":
        loss["margin"] = value("margin", draft.margin)
    body = {
        "layout": draft.layout,
        "layers": layers,
        "inputs": matrix("X", draft.inputs),
        "loss": loss,
        "optimizer": {"name": "sgd", "learning_rate": value("learning-rate", draft.learning_rate)},
    }
    if draft.labels is not None:
        labels = []
        for n, text in enumerate(draft.labels, start=1):
            if INTEGER.match(text.strip()):
                labels.append(int(text.strip()))
            else:
                errors[f"label[{n}]"] = "a label is a class index: 0, 1, 2, ..."
                labels.append(0)
        body["labels"] = labels
    else:
        body["targets"] = matrix("T", draft.targets)
    try:
        body["steps"] = parse_count(draft.steps, "steps", 1, LAB_MAX_STEPS)
    except ValueError as error:
        errors["steps"] = f"{error} (the lab shows at most {LAB_MAX_STEPS} SGD steps)"
        body["steps"] = 1
    return body, errors


def same_network(body: dict, other: dict) -> bool:
    """Whether two bodies describe the same network and problem, whatever their layouts."""
    a, _ = body_from_draft(replace(draft_from_body(body), layout="rows"))
    b, _ = body_from_draft(replace(draft_from_body(other), layout="rows"))
    return a == b
