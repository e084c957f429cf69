"""The lab page of one network at one sub-step: that sub-step written out in HTML, and the data the script steps with.

The page holds the sub-step shown, not every sub-step. `viewer_for(...)` gives the template the shown
sub-step as HTML that reads without any script (its title, equation with the numbers, and each matrix
as a coloured table of its values, the size its Plotly heatmap will have, so nothing moves when
Plotly draws), the chips of its SGD step, the loss of the steps around it, and the script's JSON: how
every matrix is drawn (webapp.lab.frames.card_data) and the frames of a few SGD steps around the one
shown. The script asks `POST /lab/frames` for the others as the student moves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from markupsafe import Markup
from plotly.io.json import to_json_plotly

from engine import timeline
from webapp.figures import heatmaps as figures
from webapp.figures import loss_curve
from webapp.notation import errata

from . import frames as framesmod
from .check import CheckView, gradient_check
from .run import run

LOSS_ROWS = 5  # the loss table reads this many SGD steps either side of the current one


@dataclass(frozen=True)
class Table:
    """A matrix as a plain table for screen readers (values in full precision)."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (row header, values)


@dataclass(frozen=True)
class Cell:
    text: str  # the value as the heatmap writes it, or "" where it writes none
    colour: str  # the cell's colour on the heatmap's scale
    ink: str  # a text colour that reads on it


@dataclass(frozen=True)
class Card:
    """One matrix of the shown sub-step, drawn as an HTML table until Plotly draws its heatmap in the same box."""

    slug: str
    name: str
    caption: str
    frame: int
    row_start: bool
    title: str
    box: dict  # width, height and the plot area's margins, in pixels
    cells: tuple[tuple[Cell, ...], ...]
    table: Table
    errata: tuple[dict, ...]


@dataclass(frozen=True)
class Chip:
    index: int
    kind: str
    layer: int | None
    title: str


@dataclass(frozen=True)
class Viewer:
    spec: object
    summary: framesmod.Summary
    position: int
    substep: dict  # the shown sub-step's frame: title, equation, loss, note, panels, network
    equation: Markup  # its MathML
    cards: tuple[Card, ...]
    chips: tuple[Chip, ...]
    loss_rows: tuple[tuple[int, float], ...]
    data: Markup  # JSON for the script
    check: CheckView | None
    check_message: str
    text_notes: tuple[str, ...]

    @property
    def substeps(self):
        return self.summary.substeps

    @property
    def total(self) -> int:
        return len(self.summary.substeps)

    @property
    def network_height(self) -> int:
        """The diagram's height: the page keeps the room for it until Plotly draws it (no layout shift)."""
        return self.substep["network"]["layout"]["height"]

    @property
    def loss_height(self) -> int:
        return loss_curve.HEIGHT


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


def matrix_table(name: str, values: np.ndarray, frame: int, steps: int, vector: bool) -> Table:
    rows, columns = values.shape
    when = f", SGD step {frame + 1}" if steps > 1 else ""
    caption = f"{name} ({rows}×{columns}{when})"
    if vector:
        flat = values.reshape(-1)
        return Table(caption, ("index", "value"),
                     tuple((f"{name}[{i + 1}]", (repr(float(v)),)) for i, v in enumerate(flat)))
    return Table(
        caption,
        tuple(f"column {j + 1}" for j in range(columns)),
        tuple((f"row {i + 1}", tuple(repr(float(v)) for v in row)) for i, row in enumerate(values)),
    )


def _ink(colour: str) -> str:
    red, green, blue = (int(colour[k:k + 2], 16) for k in (1, 3, 5))
    return "#ffffff" if 0.299 * red + 0.587 * green + 0.114 * blue < 150 else "#1f2933"


def _card(meta: framesmod.CardMeta, frame: int, row_start: bool, values: np.ndarray, notes: list, steps: int) -> Card:
    layout = meta.layout
    colours = figures.cell_colours(values, meta.limit)
    cells = tuple(
        tuple(Cell(figures.cell_text(value) if meta.written else "", colour, _ink(colour))
              for value, colour in zip(row, colour_row))
        for row, colour_row in zip(values.tolist(), colours)
    )
    box = {"width": layout["width"], "height": layout["height"], **layout["margin"]}
    frames_count = 1 if meta.name in ("X", "T") else steps
    return Card(meta.slug, meta.name, meta.caption, frame, row_start, layout["title"]["text"], box, cells,
                matrix_table(meta.name, values, frame, frames_count, meta.vector), tuple(notes))


def slips_of(body: dict, preset_id: str, pristine: bool, errata_layout: str) -> framesmod.Slips:
    """The printed slips the frames show: the worked example's, when the network is still its own."""
    notes = errata.notes(preset_id) if pristine else []
    return framesmod.slips(notes, errata_layout != body.get("layout", "rows"))


def viewer_for(body: dict, preset_id: str, pristine: bool, errata_layout: str, at: str | None,
               everything: bool = False) -> Viewer:
    """The lab of a valid body at the sub-step `at`. `everything`: the frames of every step (a page with no server)."""
    spec, summary = run(body)
    position = position_of(summary.substeps, at)
    shown = summary.substeps[position]
    # The page's own frames: those of the shown SGD step (the script asks for its neighbours at once).
    first, stop = (0, spec.steps) if everything else (shown.step, shown.step + 1)
    notes = slips_of(body, preset_id, pristine, errata_layout)
    trace = framesmod.window_trace(summary, first, stop)
    window = framesmod.frames(summary, first, stop, notes, trace)
    current = window["substeps"][position - first * framesmod.per_step(summary)]
    by_slug = {meta.slug: meta for meta in summary.cards.values()}
    found = figures.tensors(spec, trace)
    cards = []
    for slug, frame, row_start in current["panels"]:
        meta = by_slug[slug]
        cards.append(_card(meta, frame, row_start, found[meta.name].frames[frame],
                           window["errata"].get(slug, {}).get(frame, []), spec.steps))
    count = framesmod.per_step(summary)
    step_start = shown.step * count
    chips = tuple(Chip(item["index"], item["kind"], item["layer"], item["title"])
                  for item in window["substeps"] if step_start <= item["index"] < step_start + count)
    low, high = max(0, shown.step - LOSS_ROWS), min(spec.steps, shown.step + LOSS_ROWS + 1)
    loss_rows = tuple((k, summary.loss_history[k]) for k in range(low, high + (high == spec.steps)))
    data = {
        "perStep": count,
        "total": len(summary.substeps),
        "steps": spec.steps,
        "position": position,
        "cards": {meta.slug: framesmod.card_data(meta) for meta in summary.cards.values()},
        "window": [first, stop],
        "frames": window,
        "lossHistory": list(summary.loss_history),
        "lossCurve": loss_curve.loss_curve_figure_of(summary.loss_history, shown.step),
    }
    check = gradient_check(spec)
    return Viewer(
        spec=spec,
        summary=summary,
        position=position,
        substep=current,
        equation=Markup(current["equation"]),
        cards=tuple(cards),
        chips=chips,
        loss_rows=loss_rows,
        # Plotly's encoder writes <, > and / as \u escapes, so the JSON cannot close its <script> element.
        data=Markup(to_json_plotly(data)),
        check=check[0],
        check_message=check[1],
        text_notes=tuple(errata.text_notes(preset_id)),
    )


def frames_json(body: dict, preset_id: str, pristine: bool, errata_layout: str, first: int, stop: int) -> str:
    """The frames of SGD steps first..stop-1 as the page asks for them (`POST /lab/frames`)."""
    _, summary = run(body)
    notes = slips_of(body, preset_id, pristine, errata_layout)
    return to_json_plotly(framesmod.frames(summary, first, stop, notes))
