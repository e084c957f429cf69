"""The lab's state: a network as the student typed it, its form fields, and its edits.

A `Draft` holds every number as the raw string typed, so an invalid entry is
shown back exactly as typed with a message beside it. Inside a draft every
matrix is kept in the rows orientation (X is N x d0, W_l is d(l-1) x d(l), T is
N x dL) whatever the layout; the form writes them in the draft's layout, so the
layout toggle is a change of one field and the same numbers show transposed.

Form fields are named in the math's notation, 1-based as written in the layout:
`W1[2,1]`, `b2[1]`, `X[1,2]`, `T[1,1]`, `label[3]`; the other fields are
`layout`, `examples`, `units-<l>` (l = 0 is the input), `activation-<l>`,
`slope-<l>`, `bias-<l>`, `train-weights-<l>`, `train-bias-<l>`,
`targets-mode`, `loss`, `reduction`, `half`, `margin`, `learning-rate`,
`steps`, `seed`, plus the hidden `rendered-shape`/`rendered-layout` (the shape
the cells were written in), `at` (the sub-step) and `last-valid`.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import plotly.io as pio
from markupsafe import Markup
from plotly.io.json import to_json_plotly

from engine import gradcheck, timeline
from engine import spec as specmod
from engine import trace as tracemod
from engine.spec import ACTIVATIONS, LOSSES, REDUCTIONS

from . import diagram, equations, errata, figures, schemas
from .limits import check_spec, current_limits
from .problems import InvalidRequest, TooLarge

# What the lab draws: every sub-step is built on the server and sent at once, so it stays small.
LAB_MAX_LAYERS = 6
LAB_MAX_UNITS = 12
LAB_MAX_EXAMPLES = 16
LAB_MAX_STEPS = 20
LAB_MAX_NUMBERS = 20_000  # numbers in the whole trace (numbers per step x steps)

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


@dataclass
class Edit:
    """The outcome of reading a form: the draft, messages by field name, and what happened."""

    draft: Draft
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reset: bool = False


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


def _transpose(grid: list[list[str]]) -> list[list[str]]:
    return [list(column) for column in zip(*grid)]


# --- bodies <-> drafts --------------------------------------------------------------------------


def draft_from_body(body: dict, seed: int = 0) -> Draft:
    """A draft of a contract request body (already valid)."""
    rows = body.get("layout", "rows") == "rows"

    def grid(matrix) -> list[list[str]]:
        text = [[number_text(v) for v in row] for row in matrix]
        return text if rows else _transpose(text)

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
        written = grid if rows else _transpose(grid)
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


def field_of_path(path: str) -> str | None:
    """The form field an API error path points at ("layers/0/weights/1/0" -> "W1[2,1]"), or None."""
    parts = path.split("/")
    numbers = [int(p) for p in parts if p.isdigit()]
    shape = [p for p in parts if not p.isdigit()]
    if shape == ["layers", "weights"] and len(numbers) == 3:
        return f"W{numbers[0] + 1}[{numbers[1] + 1},{numbers[2] + 1}]"
    if shape == ["layers", "bias"] and len(numbers) == 2:
        return f"b{numbers[0] + 1}[{numbers[1] + 1}]"
    if shape in (["inputs"], ["targets"]) and len(numbers) == 2:
        return f"{'X' if shape == ['inputs'] else 'T'}[{numbers[0] + 1},{numbers[1] + 1}]"
    if shape == ["labels"] and len(numbers) == 1:
        return f"label[{numbers[0] + 1}]"
    if shape in (["labels"], ["targets"]) and not numbers:
        return "targets-mode"
    if len(shape) == 2 and shape[0] == "layers" and len(numbers) == 1:
        simple = {"activation": "activation", "negative_slope": "slope", "train_weights": "train-weights",
                  "train_bias": "train-bias", "bias": "units", "weights": "units"}
        if shape[1] in simple:
            return f"{simple[shape[1]]}-{numbers[0] + 1}"
    return {"loss/name": "loss", "loss/reduction": "reduction", "loss/half": "half", "loss/margin": "margin",
            "optimizer/learning_rate": "learning-rate", "steps": "steps", "layout": "layout"}.get(path)


# --- comparing networks ---------------------------------------------------------------------


def same_network(body: dict, other: dict) -> bool:
    """Whether two bodies describe the same network and problem, whatever their layouts."""
    a, _ = body_from_draft(replace(draft_from_body(body), layout="rows"))
    b, _ = body_from_draft(replace(draft_from_body(other), layout="rows"))
    return a == b


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


def _choice(value: str | None, allowed, default: str) -> str:
    return value if value in allowed else default


def read_form(form) -> Edit:
    """Read the posted form and apply what it asks for: shape changes, the layout, an action."""
    edit = Edit(draft_from_form(form))
    draft = edit.draft
    seed = _seed(edit)
    for index, layer in enumerate(draft.layers, start=1):
        wanted = f"bias-{index}" in form
        if wanted and layer.bias is None:
            layer.bias = ["0"] * len(layer.weights[0])
        elif not wanted and layer.bias is not None:
            layer.bias = None
    _reshape(edit, form, seed)
    if form.get("layout") in ("rows", "columns"):
        draft.layout = form["layout"]
    _switch_targets(draft, form.get("targets-mode"))
    if draft.reduction not in REDUCTIONS[draft.loss]:
        edit.notes.append(f"{draft.loss} takes reduction {' or '.join(REDUCTIONS[draft.loss])}: set to mean")
        draft.reduction = "mean"
    action = form.get("action", "apply")
    if action == "add-layer":
        add_hidden_layer(edit, seed)
    elif action.startswith("remove-layer-") and action.removeprefix("remove-layer-").isdigit():
        remove_hidden_layer(edit, int(action.removeprefix("remove-layer-")), seed)
    elif action == "randomize":
        if seed is None:
            edit.errors.setdefault("seed", "enter a whole number to draw weights with")
        else:
            randomize(draft, seed)
            edit.notes.append(f"Weights drawn with numpy.random.default_rng({seed}); next seed {seed + 1}.")
            draft.seed = str(seed + 1)
    elif action == "reset":
        edit.reset = True
    return edit


def _seed(edit: Edit) -> int | None:
    try:
        return parse_count(edit.draft.seed, "the seed", 0, 2**32 - 1)
    except ValueError as error:
        edit.errors["seed"] = str(error)
        return None


def random_weights(seed: int, fan_in: int, fan_out: int) -> list[list[str]]:
    """Glorot-normal weights (fan_in x fan_out), rounded to 2 decimals so they read easily."""
    rng = np.random.default_rng(seed)
    scale = math.sqrt(2.0 / (fan_in + fan_out))
    values = np.round(rng.normal(0.0, scale, size=(fan_in, fan_out)), 2)
    return [[number_text(v + 0.0) for v in row] for row in values]


def randomize(draft: Draft, seed: int) -> None:
    """New weights for every layer from numpy.random.default_rng(seed); biases and data stay."""
    widths = draft.widths
    for index, layer in enumerate(draft.layers):
        layer.weights = random_weights(seed + index, widths[index], widths[index + 1])


def _resize(grid: list[list[str]], height: int, width: int, fill) -> list[list[str]]:
    """Keep the top-left entries, fill new ones with fill(i, j)."""
    return [
        [grid[i][j] if i < len(grid) and j < len(grid[i]) else fill(i, j) for j in range(width)]
        for i in range(height)
    ]


def _zero(i: int, j: int) -> str:
    return "0"


def _reshape(edit: Edit, form, seed: int | None) -> None:
    """Apply the examples/units fields: matrices grow (new weights seeded, new data 0) or shrink."""
    draft = edit.draft
    examples, widths = draft.examples, draft.widths
    try:
        if "examples" in form:
            examples = parse_count(form["examples"], "examples", 1, LAB_MAX_EXAMPLES)
    except ValueError as error:
        edit.errors["examples"] = f"{error} in the lab"
    new_widths = list(widths)
    for index in range(len(widths)):
        name = f"units-{index}"
        if name in form:
            try:
                new_widths[index] = parse_count(form[name], "units", 1, LAB_MAX_UNITS)
            except ValueError as error:
                edit.errors[name] = f"{error} in the lab"
    if examples == draft.examples and new_widths == widths:
        return
    fill_seed = 0 if seed is None else seed
    draft.inputs = _resize(draft.inputs, examples, new_widths[0], _zero)
    for index, layer in enumerate(draft.layers):
        fan_in, fan_out = new_widths[index], new_widths[index + 1]
        fresh = random_weights(fill_seed + index, fan_in, fan_out)
        layer.weights = _resize(layer.weights, fan_in, fan_out, lambda i, j, fresh=fresh: fresh[i][j])
        if layer.bias is not None:
            layer.bias = _resize([layer.bias], 1, fan_out, _zero)[0]
    if draft.targets is not None:
        draft.targets = _resize(draft.targets, examples, new_widths[-1], _zero)
    if draft.labels is not None:
        draft.labels = _resize([draft.labels], 1, examples, _zero)[0]
    edit.notes.append("New weights are drawn with the seed; new inputs, targets and biases start at 0.")


def _switch_targets(draft: Draft, mode: str | None) -> None:
    """Targets (a matrix) <-> labels (class indices): one-hot one way, the largest target the other."""
    if mode == "labels" and draft.labels is None:
        labels = []
        for row in draft.targets:
            try:
                values = [parse_number(t) for t in row]
                labels.append(str(int(np.argmax(values))))
            except ValueError:
                labels.append("0")
        draft.labels, draft.targets = labels, None
    elif mode == "targets" and draft.targets is None:
        width = draft.widths[-1]
        draft.targets = [
            ["1" if INTEGER.match(label.strip()) and int(label) == k else "0" for k in range(width)]
            for label in draft.labels
        ]
        draft.labels = None


def add_hidden_layer(edit: Edit, seed: int | None) -> None:
    """A new hidden layer just below the output, as wide as the layer under it (so W_L keeps its shape)."""
    draft = edit.draft
    if len(draft.layers) >= LAB_MAX_LAYERS:
        edit.errors["layers"] = f"the lab shows at most {LAB_MAX_LAYERS} layers"
        return
    width = draft.widths[-2]
    below = draft.layers[-2] if len(draft.layers) > 1 else None
    layer = DraftLayer(
        weights=random_weights(0 if seed is None else seed, width, width),
        bias=["0"] * width,
        activation=below.activation if below else "relu",
        slope=below.slope if below else "0.01",
    )
    draft.layers.insert(len(draft.layers) - 1, layer)
    edit.notes.append(f"Added hidden layer {len(draft.layers) - 1} ({width} units, weights from the seed).")


def remove_hidden_layer(edit: Edit, layer: int, seed: int | None) -> None:
    """Remove hidden layer `layer` (1-based); the layer above it takes the layer below's units."""
    draft = edit.draft
    if not 1 <= layer < len(draft.layers):
        edit.errors["layers"] = "only a hidden layer can be removed"
        return
    widths = draft.widths
    del draft.layers[layer - 1]
    above = draft.layers[layer - 1]
    fan_in, fan_out = widths[layer - 1], widths[layer + 1]
    fresh = random_weights(0 if seed is None else seed, fan_in, fan_out)
    above.weights = _resize(above.weights, fan_in, fan_out, lambda i, j: fresh[i][j])
    edit.notes.append(f"Removed hidden layer {layer}; W{layer} now takes {fan_in} inputs.")


# --- writing the form -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    name: str  # "W1[2,1]": the field name and its accessible label
    value: str
    error: str | None

    @property
    def id(self) -> str:
        return "cell-" + re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-")


@dataclass(frozen=True)
class Grid:
    symbol: str  # "W1", "b1", "X", "T", "label"
    caption: str
    cells: tuple[tuple[Cell, ...], ...]  # as written in the layout

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.cells), len(self.cells[0]) if self.cells else 0


def grids(draft: Draft, errors: dict[str, str]) -> dict[str, Grid]:
    """Every editable matrix of the draft as written in its layout, keyed by symbol."""
    rows = draft.layout == "rows"

    def matrix(symbol: str, grid: list[list[str]], caption: str) -> Grid:
        written = grid if rows else _transpose(grid)
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



# --- what the lab shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A matrix as a plain table for screen readers (values in full precision)."""

    caption: str
    frame: int
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (row header, values)


@dataclass(frozen=True)
class Erratum:
    frame: int  # the SGD step whose value it is about
    cell: str | None  # "Y[1,2]", or None for a note about the whole matrix
    printed: str
    exact: str
    text: str


@dataclass(frozen=True)
class Card:
    """One heatmap panel: its figure is drawn by the script, its tables and errata are HTML."""

    name: str
    slug: str
    caption: str
    tables: tuple[Table, ...]
    errata: tuple[Erratum, ...]


@dataclass(frozen=True)
class Section:
    """One sub-step: named in words, its equation, and the loss line."""

    index: int
    key: str
    step: int
    title: str
    equation: object  # markupsafe.Markup
    loss: str
    note: str


def slug(name: str) -> str:
    """A DOM-safe id for a tensor name: 'dL/dW1' -> 'dLdW1', 'δ2' -> 'delta2', 'W1 (new)' -> 'W1-new'."""
    text = name.replace("δ", "delta").replace("Δ", "Delta").replace(" (new)", "-new")
    return "t-" + re.sub(r"[^A-Za-z0-9-]+", "", text)


def position_of(substeps, key: str | None) -> int:
    """The index of a sub-step key; a key that no longer exists goes to the nearest one that does."""
    if not key:
        return 0
    keys = [s.key for s in substeps]
    if key in keys:
        return keys.index(key)
    try:
        wanted = timeline.parse_key(key)
    except ValueError:
        return 0
    last_step = substeps[-1].step
    step = min(wanted.step, last_step)
    same_step = [i for i, s in enumerate(substeps) if s.step == step]
    for i in same_step:
        s = substeps[i]
        if s.kind == wanted.kind and (s.layer == wanted.layer or wanted.layer is None or s.layer is None):
            return i
    layers = max((s.layer or 0) for s in substeps)
    for i in same_step:
        s = substeps[i]
        if s.kind == wanted.kind and s.layer == min(wanted.layer or 1, layers):
            return i
    return same_step[0]


def loss_line(trace, substep) -> str:
    before = trace.loss_history[substep.step]
    text = f"L = {before:.6g} before SGD step {substep.step + 1}"
    if substep.kind == "update":
        text += f"; after it: L = {trace.loss_history[substep.step + 1]:.6g}"
    return text


def matrix_table(name: str, values: np.ndarray, frame: int, steps: int, vector: bool) -> Table:
    rows, columns = values.shape
    when = f", SGD step {frame + 1}" if steps > 1 else ""
    caption = f"{name} ({rows}×{columns}{when})"
    if vector:
        flat = values.reshape(-1)
        return Table(caption, frame, ("index", "value"),
                     tuple((f"{name}[{i + 1}]", (repr(float(v)),)) for i, v in enumerate(flat)))
    return Table(
        caption,
        frame,
        tuple(f"column {j + 1}" for j in range(columns)),
        tuple((f"row {i + 1}", tuple(repr(float(v)) for v in row)) for i, row in enumerate(values)),
    )


def cell_label(name: str, index: tuple[int, int] | None, shape: tuple[int, int], vector: bool) -> str | None:
    if index is None:
        return None
    if vector:
        return f"{name}[{index[1] if shape[0] == 1 else index[0]}]"
    return f"{name}[{index[0]},{index[1]}]"


@dataclass(frozen=True)
class CheckRow:
    entry: str
    analytic: float
    numeric: float
    relative_error: float


@dataclass(frozen=True)
class CheckView:
    step_size: float
    max_relative_error: float
    parameters: tuple[tuple[str, float, tuple[CheckRow, ...]], ...]  # (name, max error, rows)


@dataclass(frozen=True)
class Viewer:
    """Everything the lab draws for one valid network: built once, stepped through by the script."""

    spec: object
    trace: object
    substeps: tuple
    position: int
    sections: tuple[Section, ...]
    cards: tuple[Card, ...]
    data: Markup  # JSON for the script: figures, and the panels of each sub-step
    plan: tuple[dict, ...]  # per sub-step: key, step, panels [[slug, frame], ...], network figure index
    check: CheckView | None
    check_message: str
    text_notes: tuple[str, ...]


def gradient_check(spec) -> tuple[CheckView | None, str]:
    """The gradient check at the initial parameters, or why it was skipped (over the server's limits)."""
    try:
        check_spec(spec, current_limits(), gradcheck=True)
    except TooLarge as error:
        return None, f"The gradient check is skipped: {error.detail}."
    result = gradcheck.check(spec)
    parameters = []
    for parameter in result.parameters:
        analytic, numeric = np.atleast_2d(parameter.analytic), np.atleast_2d(parameter.numeric)
        vector = parameter.analytic.ndim == 1
        errors = np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))
        rows = tuple(
            CheckRow(
                f"{parameter.name}[{j + 1}]" if vector else f"{parameter.name}[{i + 1},{j + 1}]",
                float(analytic[i, j]), float(numeric[i, j]), float(errors[i, j]),
            )
            for i, j in np.ndindex(analytic.shape)
        )
        parameters.append((parameter.name, parameter.max_relative_error, rows))
    return CheckView(result.step_size, result.max_relative_error, tuple(parameters)), ""


def build_viewer(spec, trace, at: str | None, errata_notes=(), text_notes=(), errata_layout: str | None = None,
                 check=(None, "")) -> Viewer:
    """Every sub-step of a traced network: sections, heatmap cards and the script's JSON.

    `errata_notes` (errata.Note) are shown beside the values they are about; their
    indices are written in `errata_layout`, transposed here if the lab shows the other one.
    """
    substeps = timeline.substeps(len(spec.layers), spec.steps)
    found = figures.tensors(spec, trace)
    colour_limits = figures.limits(found)
    flip = errata_layout is not None and errata_layout != spec.layout
    last = len(spec.layers)

    by_matrix: dict[str, list] = {}
    loss_notes = []
    for note in errata_notes:
        if note.matrix == "L":
            loss_notes.append(note)
            continue
        names = [note.matrix] + ([f"Z{last}"] if note.matrix == "Y" else [])
        for name in names:
            if name in found:
                by_matrix.setdefault(name, []).append(note)

    cards = []
    for name, tensor in found.items():
        index = lambda note: None if note.index is None else (note.index[::-1] if flip else note.index)  # noqa: E731
        errata = tuple(
            Erratum(note.step, cell_label(name, index(note), tensor.shape, tensor.vector), note.printed,
                    repr(float(note.exact)), note.text)
            for note in by_matrix.get(name, [])
        )
        cards.append(
            Card(
                name=name,
                slug=slug(name),
                caption=tensor.caption,
                tables=tuple(
                    matrix_table(name, frame, k, len(tensor.frames), tensor.vector)
                    for k, frame in enumerate(tensor.frames)
                    if frame is not None
                ),
                errata=errata,
            )
        )

    sections, plan, networks, network_index = [], [], [], {}
    for index, substep in enumerate(substeps):
        shown = figures.panels(spec, trace, substep, found)
        network_json = pio.to_json(diagram.network_figure(spec, trace, substep), validate=False)
        if network_json not in network_index:
            network_index[network_json] = len(networks)
            networks.append(network_json)
        plan.append({"key": substep.key, "step": substep.step, "panels": [[slug(p.tensor), p.frame, int(p.row_start)] for p in shown],
                     "network": network_index[network_json]})
        note = ""
        if substep.kind in ("loss", "backward") and substep.layer in (None, last):
            if trace.steps[substep.step].output_gradient is None:
                note = (f"dL/dY is not finite here (the output saturated to exactly 0 or 1), so δ{last} "
                        "comes from the stable fused form and dL/dY is not drawn.")
        loss = loss_line(trace, substep)
        for erratum in loss_notes:
            if (substep.kind == "update" and substep.step + 1 == erratum.step) or (
                substep.kind == "loss" and substep.step == erratum.step
            ):
                loss += f" — {erratum.text}"
        sections.append(
            Section(index, substep.key, substep.step, equations.title(spec, substep),
                    equations.equation(spec, trace, substep), loss, note)
        )

    figures_json = {
        slug(name): json.loads(pio.to_json(figures.heatmap_figure(tensor, colour_limits[tensor.family]),
                                           validate=False))
        for name, tensor in found.items()
    }
    data = {
        "substeps": plan,
        "figures": figures_json,
        "networks": [json.loads(n) for n in networks],
        "lossCurves": [json.loads(pio.to_json(diagram.loss_curve_figure(trace, k), validate=False))
                       for k in range(spec.steps)],
    }
    return Viewer(
        spec=spec,
        trace=trace,
        substeps=substeps,
        position=position_of(substeps, at),
        sections=tuple(sections),
        cards=tuple(cards),
        # Plotly's encoder writes <, > and / as \u escapes, so the JSON cannot close its <script> element.
        data=Markup(to_json_plotly(data)),
        plan=tuple(plan),
        check=check[0],
        check_message=check[1],
        text_notes=tuple(text_notes),
    )


class Rejected(Exception):
    """A network the lab cannot show: messages by form field, and messages about the whole."""

    def __init__(self, errors: dict[str, str], general: list[str]):
        super().__init__("; ".join(general + list(errors.values())))
        self.errors, self.general = errors, general


def run(body: dict):
    """Validate a body as the API does, check the lab's and the server's bounds, and trace it.

    Returns (spec, trace); raises Rejected with the messages placed on the form's fields.
    """
    try:
        request = schemas.parse_trace_request(body)
    except InvalidRequest as problem:
        errors, general = {}, []
        for item in problem.errors or []:
            name = field_of_path(item["path"])
            if name is None:
                general.append(f"{item['path']}: {item['message']}")
            else:
                errors.setdefault(name, item["message"])
        raise Rejected(errors, general) from None
    try:
        spec = specmod.from_request(request.to_body())
    except ValueError as error:
        raise Rejected({}, [str(error)]) from None
    bounds = lab_bounds(spec)
    if bounds:
        raise Rejected({}, bounds)
    try:
        check_spec(spec, current_limits())
    except TooLarge as error:
        raise Rejected({}, [error.detail]) from None
    try:
        trace = tracemod.run(spec)
    except tracemod.Overflow as error:
        raise Rejected({}, [f"{error} Try a smaller learning rate or smaller weights."]) from None
    return spec, trace


def lab_bounds(spec) -> list[str]:
    """Why a (valid) network is too big to draw in the lab, if it is."""
    problems = []
    if len(spec.layers) > LAB_MAX_LAYERS:
        problems.append(f"the lab shows at most {LAB_MAX_LAYERS} layers")
    if max(spec.widths) > LAB_MAX_UNITS:
        problems.append(f"the lab shows at most {LAB_MAX_UNITS} units per layer")
    if spec.num_examples > LAB_MAX_EXAMPLES:
        problems.append(f"the lab shows at most {LAB_MAX_EXAMPLES} examples")
    if spec.steps > LAB_MAX_STEPS:
        problems.append(f"the lab shows at most {LAB_MAX_STEPS} SGD steps")
    numbers = spec.trace_values() * spec.steps
    if not problems and numbers > LAB_MAX_NUMBERS:
        problems.append(f"the trace would hold {numbers} numbers; the lab draws at most {LAB_MAX_NUMBERS} "
                        "(fewer steps, units or examples)")
    return problems


def viewer_for(body: dict, preset_id: str, pristine: bool, errata_layout: str, at: str | None) -> Viewer:
    """The viewer of a valid body at the sub-step `at`; built once per network and kept for the next visit."""
    key = json.dumps(body, sort_keys=True, separators=(",", ":"))
    limits_key = tuple(sorted(current_limits().as_dict().items()))
    base = _viewer(key, preset_id, pristine, errata_layout, limits_key)
    return replace(base, position=position_of(base.substeps, at))


@lru_cache(maxsize=16)
def _viewer(key: str, preset_id: str, pristine: bool, errata_layout: str, limits_key: tuple) -> Viewer:
    spec, trace = run(json.loads(key))
    return build_viewer(
        spec,
        trace,
        None,
        errata_notes=errata.notes(preset_id) if pristine else (),
        text_notes=errata.text_notes(preset_id),
        errata_layout=errata_layout,
        check=gradient_check(spec),
    )
