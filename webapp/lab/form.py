"""The lab's form: a draft read from the posted fields, and written back as matrix grids.

Form fields are named in the math's notation, 1-based as written in the layout:
`W1[2,1]`, `b2[1]`, `X[1,2]`, `T[1,1]`, `label[3]`; the other fields are
`layout`, `examples`, `units-<l>` (l = 0 is the input), `activation-<l>`,
`slope-<l>`, `bias-<l>`, `train-weights-<l>`, `train-bias-<l>`,
`targets-mode`, `loss`, `reduction`, `half`, `margin`, `learning-rate`,
`steps`, `seed`, plus the hidden `rendered-shape`/`rendered-layout` (the shape
the cells were written in), `at` (the sub-step), `panels`, `view` and
`last-valid` (the state token of the network shown).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from engine.spec import ACTIVATIONS, LOSSES

from .draft import Draft, DraftLayer, transpose

# --- reading the form -------------------------------------------------------------------------


def _rendered_shape(form) -> tuple[int, list[int]]:
    text = form.get("rendered-shape", "")
    try:
        examples, widths = text.split(":")
        return int(examples), [int(w) for w in widths.split(",")]
    except ValueError:
        raise ValueError("the form is incomplete: reload the page") from None


def draft_from_form(form) -> Draft:
    """The draft exactly as the form holds it (in the shape it was rendered in)."""
    examples, widths = _rendered_shape(form)
    rendered_rows = form.get("rendered-layout", "rows") == "rows"

    def grid(symbol: str, height: int, width: int) -> list[list[str]]:
        # (height, width) is the rows-orientation shape; cells are named as written in the rendered layout.
        if f"{symbol}-rows" in form:  # a large matrix, typed as text: one row per line
            written = rows_of_text(form[f"{symbol}-rows"], *((height, width) if rendered_rows else (width, height)))
            return written if rendered_rows else transpose(written)
        if rendered_rows:
            return [[form.get(f"{symbol}[{i + 1},{j + 1}]", "") for j in range(width)] for i in range(height)]
        return [[form.get(f"{symbol}[{j + 1},{i + 1}]", "") for j in range(width)] for i in range(height)]

    layers = []
    for index in range(1, len(widths)):
        fan_in, fan_out = widths[index - 1], widths[index]
        has_bias = f"b{index}[1]" in form
        layers.append(
            DraftLayer(
                weights=grid(f"W{index}", fan_in, fan_out),
                bias=[form.get(f"b{index}[{i + 1}]", "") for i in range(fan_out)] if has_bias else None,
                activation=_choice(form.get(f"activation-{index}"), ACTIVATIONS, "relu"),
                slope=form.get(f"slope-{index}", "0.01"),
                train_weights=f"train-weights-{index}" in form,
                train_bias=f"train-bias-{index}" in form,
            )
        )
    has_labels = "label[1]" in form
    loss = _choice(form.get("loss"), LOSSES, "squared_error")
    return Draft(
        layout=form.get("rendered-layout", "rows") if form.get("rendered-layout") in ("rows", "columns") else "rows",
        inputs=grid("X", examples, widths[0]),
        layers=layers,
        targets=None if has_labels else grid("T", examples, widths[-1]),
        labels=[form.get(f"label[{n + 1}]", "") for n in range(examples)] if has_labels else None,
        loss=loss,
        reduction=form.get("reduction", "mean"),
        half="half" in form,
        margin=form.get("margin", "1"),
        learning_rate=form.get("learning-rate", ""),
        steps=form.get("steps", ""),
        seed=form.get("seed", "0"),
    )


def rows_of_text(text: str, height: int, width: int) -> list[list[str]]:
    """A matrix typed as text (one row per line, entries between spaces or tabs) as a height x width grid of
    entries: a missing entry is "" (it gets "enter a number"), extra ones are dropped."""
    lines = [line.split() for line in text.replace("\r", "").split("\n")]
    lines = [line for line in lines if line] + [[]] * height
    return [(lines[i] + [""] * width)[:width] for i in range(height)]


def _choice(value: str | None, allowed, default: str) -> str:
    return value if value in allowed else default


# --- writing the form -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    name: str  # "W1[2,1]": the field name and its accessible label
    value: str
    error: str | None

    @property
    def id(self) -> str:
        return "cell-" + re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-")


# A matrix with more entries than this is typed as text (a row per line), not cell by cell: a 32 x 32 grid
# of fields would be most of the page.
MAX_CELLS = 64


@dataclass(frozen=True)
class Grid:
    symbol: str  # "W1", "b1", "X", "T", "label"
    caption: str
    cells: tuple[tuple[Cell, ...], ...]  # as written in the layout

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.cells), len(self.cells[0]) if self.cells else 0

    @property
    def as_text(self) -> bool:
        rows, columns = self.shape
        return rows * columns > MAX_CELLS and self.symbol != "label"

    @property
    def text(self) -> str:
        """The matrix as it is typed as text: one row per line."""
        return "\n".join(" ".join(cell.value for cell in row) for row in self.cells)

    @property
    def errors(self) -> list[str]:
        """'W1[2,3]: enter a number', ... for every entry with a message."""
        return [f"{cell.name}: {cell.error}" for row in self.cells for cell in row if cell.error]


def grids(draft: Draft, errors: dict[str, str]) -> dict[str, Grid]:
    """Every editable matrix of the draft as written in its layout, keyed by symbol."""
    rows = draft.layout == "rows"

    def matrix(symbol: str, grid: list[list[str]], caption: str) -> Grid:
        written = grid if rows else transpose(grid)
        cells = tuple(
            tuple(_cell(f"{symbol}[{i + 1},{j + 1}]", text, errors) for j, text in enumerate(row))
            for i, row in enumerate(written)
        )
        return Grid(symbol, caption, cells)

    def vector(symbol: str, values: list[str], caption: str) -> Grid:
        cells = [_cell(f"{symbol}[{i + 1}]", text, errors) for i, text in enumerate(values)]
        return Grid(symbol, caption, (tuple(cells),) if rows else tuple((c,) for c in cells))

    widths = draft.widths
    n = draft.examples
    shape = (lambda a, b: f"{a}×{b}") if rows else (lambda a, b: f"{b}×{a}")
    found = {"X": matrix("X", draft.inputs, f"inputs X ({shape(n, widths[0])})")}
    for index, layer in enumerate(draft.layers, start=1):
        found[f"W{index}"] = matrix(f"W{index}", layer.weights, f"W{index} ({shape(widths[index - 1], widths[index])})")
        if layer.bias is not None:
            found[f"b{index}"] = vector(f"b{index}", layer.bias, f"b{index} ({widths[index]})")
    if draft.targets is not None:
        found["T"] = matrix("T", draft.targets, f"targets T ({shape(n, widths[-1])})")
    else:
        cells = tuple(_cell(f"label[{i + 1}]", text, errors) for i, text in enumerate(draft.labels))
        found["label"] = Grid("label", f"labels, 0-based classes ({n})", (cells,) if rows else tuple((c,) for c in cells))
    return found


def _cell(name: str, text: str, errors: dict[str, str]) -> Cell:
    return Cell(name, text, errors.get(name))


def rendered_shape(draft: Draft) -> str:
    return f"{draft.examples}:" + ",".join(str(w) for w in draft.widths)
