"""What an edit asks for: new shapes, a layer added or removed, the layout, targets or labels, new weights.

`read_form(form)` reads the posted form into a draft (webapp.lab.form) and
applies every change it asks for; `Edit` is the outcome: the draft, messages
by form field, notes for the student, and whether to reset to the preset.
`check(edit)` then says whether the lab can show the edited network.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.spec import REDUCTIONS
from webapp.api import schemas
from webapp.api.problems import InvalidRequest

from .draft import INTEGER, Draft, DraftLayer, body_from_draft, number_text, parse_count, parse_number
from .form import draft_from_form
from .run import LAB_MAX_EXAMPLES, LAB_MAX_LAYERS, LAB_MAX_UNITS, Rejected, field_of_path, run


@dataclass
class Edit:
    """The outcome of reading a form: the draft, messages by field name, and what happened."""

    draft: Draft
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reset: bool = False


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


def check(edit: Edit) -> tuple[dict, dict[str, str], list[str]]:
    """The edit's request body, and why the lab cannot show it: messages by form field, and about the whole.

    Every problem is reported at once: where a number did not parse (sent as 0) the
    API's validation still places its other messages; a body that parses is traced.
    """
    body, errors = body_from_draft(edit.draft)
    errors.update(edit.errors)
    general: list[str] = []
    if errors:
        try:
            schemas.parse_trace_request(body)
        except InvalidRequest as problem:
            for item in problem.errors or []:
                name = field_of_path(item["path"])
                if name is not None:
                    errors.setdefault(name, item["message"])
    else:
        try:
            run(body)
        except Rejected as rejected:
            errors.update(rejected.errors)
            general += rejected.general
    return body, errors, general
