"""What the lab shows at each sub-step: its section, the heatmap cards, and the figures the script steps through.

`build_viewer(spec, trace, ...)` builds every sub-step of a traced network
at once: a `Section` per sub-step (title in words, equation, loss line), a
`Card` per matrix (its screen-reader tables, one per SGD step, and the
source's slips beside the values they are about), and the JSON the script
draws from: each matrix's heatmap figure, the network diagram and loss curve
figures, and per sub-step which panels it shows at which SGD step.
`viewer_for` builds it once per network and keeps it for the next visit.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import plotly.io as pio
from markupsafe import Markup
from plotly.io.json import to_json_plotly

from engine import timeline
from webapp.api.limits import current_limits
from webapp.figures import diagram, loss_curve
from webapp.figures import heatmaps as figures
from webapp.notation import equations, errata

from .check import CheckView, gradient_check
from .run import run


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
        "lossCurves": [json.loads(pio.to_json(loss_curve.loss_curve_figure(trace, k), validate=False))
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
