"""The lab's sub-steps as data the page draws, built a window of SGD steps at a time.

The page holds the figures of the sub-step shown, not of every sub-step: it asks for the frames of a
few SGD steps around the one shown and updates its figures in place. So that a colour, a cell's
width or a colour bar means the same in every frame, `summarise(spec)` first runs the whole network
once and keeps only what every frame must agree on: the loss history, one colour limit per matrix
family and per diagram quantity, each matrix's cell size, shape and figure layout. `frames(summary,
first, stop)` then traces again, recording only SGD steps first..stop-1, and builds each of their
sub-steps: its title, equation and loss line, the matrices it shows (with their values at that SGD
step) and the network diagram. Its size and cost depend on the window, not on the number of steps.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace

import numpy as np

from engine import timeline
from engine import trace as tracemod
from engine.spec import Spec
from webapp.figures import diagram, ranges
from webapp.figures import heatmaps as figures
from webapp.notation import equations

MAX_WINDOW_STEPS = 8  # SGD steps one request for frames may ask for


def slug(name: str) -> str:
    """A DOM-safe id for a tensor name: 'dL/dW1' -> 't-dLdW1', 'δ2' -> 't-delta2', 'W1 (new)' -> 't-W1-new'."""
    text = name.replace("δ", "delta").replace("Δ", "Delta").replace(" (new)", "-new")
    return "t-" + re.sub(r"[^A-Za-z0-9-]+", "", text)


@dataclass(frozen=True)
class CardMeta:
    """A matrix as every frame draws it: its heatmap's trace and layout, all but the values."""

    name: str
    slug: str
    caption: str
    shape: tuple[int, int]
    vector: bool
    written: bool  # its values are written in the cells (up to 8 x 8)
    trace: dict
    layout: dict
    limit: float


@dataclass(frozen=True)
class Summary:
    spec: Spec
    substeps: tuple[timeline.Substep, ...]
    loss_history: tuple[float, ...]
    cards: dict[str, CardMeta]  # by tensor name, in the order the trace names them
    ranges: ranges.Ranges  # the network diagram's colour ranges


@dataclass(frozen=True)
class Slips:
    """The worked example's printed slips (errata.Note), indices in the lab's layout: matrices', and the loss's."""

    matrices: tuple = ()
    loss: tuple = ()


def slips(notes, flip: bool) -> Slips:
    """The notes of a source, their indices transposed when the lab shows the other layout (`flip`)."""
    notes = [replace(n, index=n.index if n.index is None or not flip else n.index[::-1]) for n in notes]
    return Slips(tuple(n for n in notes if n.matrix != "L"), tuple(n for n in notes if n.matrix == "L"))


def _shell(spec: Spec) -> tracemod.Trace:
    """A trace holding only what does not change with the step (inputs, targets, labels, layout)."""
    return replace(tracemod.run(replace(spec, steps=1, record=None)), steps=())


def summarise(spec: Spec) -> Summary:
    """One pass over every step: what all frames share. Raises engine.trace.Overflow as a trace does."""
    shell = _shell(spec)
    largest: dict[str, float] = {}
    written: dict[str, list[np.ndarray]] = {}  # the values of each matrix whose numbers are written in its cells
    seen: dict[str, figures.Tensor] = {}
    parts = []

    def look(tensors: dict[str, figures.Tensor], index: int) -> None:
        for name, tensor in tensors.items():
            value = tensor.frames[0] if len(tensor.frames) == 1 else tensor.frames[index]
            if value is None:
                continue
            seen.setdefault(name, tensor)
            largest[tensor.family] = max(largest.get(tensor.family, 0.0), float(np.max(np.abs(value))))
            if max(value.shape) <= figures.MAX_WRITTEN:
                written.setdefault(name, []).append(value.ravel())  # measured at once, after the run

    one_step = replace(spec, steps=1)  # a step's matrices alone: one slot each, not one per step of the run

    def observe(step: tracemod.Step) -> None:
        one = replace(shell, steps=(replace(step, index=0),))
        look(figures.tensors(one_step, one), 0)
        parts.append(ranges.step_ranges(one, step))

    trace = tracemod.run(replace(spec, record=(0, 1)), observe=observe)
    widest = {name: float(np.max(figures.text_widths(np.concatenate(values)))) for name, values in written.items()}
    order = list(figures.tensors(spec, trace))  # the trace's order of names
    limits = {family: value if value > 0 else 1.0 for family, value in largest.items()}
    cards = {}
    for name in order:
        if name not in seen:
            continue  # never finite (a saturated output's dL/dY): nothing to draw
        tensor = seen[name]
        written = max(tensor.shape) <= figures.MAX_WRITTEN
        limit = limits[tensor.family]
        cell = figures.cell_size(tensor.shape, widest.get(name, 0.0))
        base, layout = figures.heatmap_parts(name, tensor.shape, tensor.axes, tensor.vector, limit, cell)
        cards[name] = CardMeta(name, slug(name), tensor.caption, tensor.shape, tensor.vector, written, base, layout,
                               limit)
    return Summary(
        spec=spec,
        substeps=tuple(timeline.substeps(len(spec.layers), spec.steps)),
        loss_history=trace.loss_history,
        cards=cards,
        ranges=ranges.merged(parts),
    )


def per_step(summary: Summary) -> int:
    """Sub-steps of one SGD step: forward 1..L, the loss, backward L..1, the update."""
    return 2 * len(summary.spec.layers) + 2


def loss_line(summary: Summary, substep: timeline.Substep, notes: Slips = Slips()) -> str:
    history = summary.loss_history
    text = f"L = {history[substep.step]:.6g} before SGD step {substep.step + 1}"
    if substep.kind == "update":
        text += f"; after it: L = {history[substep.step + 1]:.6g}"
    for note in notes.loss:
        if (substep.kind == "update" and substep.step + 1 == note.step) or (
            substep.kind == "loss" and substep.step == note.step
        ):
            text += f" — {note.text}"
    return text


def cell_label(name: str, index: tuple[int, int] | None, shape: tuple[int, int], vector: bool) -> str | None:
    if index is None:
        return None
    if vector:
        return f"{name}[{index[1] if shape[0] == 1 else index[0]}]"
    return f"{name}[{index[0]},{index[1]}]"


def typed_array(values: np.ndarray) -> dict:
    """A matrix as Plotly's typed-array spec (little-endian float64, base64): about half the bytes of JSON text."""
    array = np.ascontiguousarray(values, dtype="<f8")
    return {"dtype": "f8", "bdata": base64.b64encode(array.tobytes()).decode("ascii"),
            "shape": f"{array.shape[0]},{array.shape[1]}"}


def window_trace(summary: Summary, first: int, stop: int) -> tracemod.Trace:
    """The trace recording SGD steps first..stop-1, and the one before (an update equation reads its state)."""
    return tracemod.run(replace(summary.spec, record=(max(0, first - 1), stop)))


def frames(summary: Summary, first: int, stop: int, notes: Slips = Slips(), trace: tracemod.Trace | None = None) -> dict:
    """Every sub-step of SGD steps first..stop-1 as plain data, and the values of the matrices they show.

    {"substeps": [{index, key, step, kind, layer, title, equation (MathML), loss, note, panels
    [[slug, frame, row start]], network (figure)}, ...], "values": {slug: {frame: typed array}},
    "errata": {slug: {frame: [{cell, text}]}}}
    """
    spec = summary.spec
    if not 0 <= first < stop <= spec.steps:
        raise ValueError(f"SGD steps {first}..{stop - 1} are not in 0..{spec.steps - 1}")
    trace = trace or window_trace(summary, first, stop)
    found = figures.tensors(spec, trace)
    found = {name: tensor for name, tensor in found.items() if name in summary.cards}
    count = per_step(summary)
    last = len(spec.layers)
    out_substeps, values, errata = [], {}, {}
    for index in range(first * count, stop * count):
        substep = summary.substeps[index]
        shown = figures.panels(spec, trace, substep, found)
        for panel in shown:
            card = summary.cards[panel.tensor]
            if panel.frame not in values.setdefault(card.slug, {}):
                values[card.slug][panel.frame] = typed_array(found[panel.tensor].frames[panel.frame])
                about = [{"cell": cell_label(card.name, n.index, card.shape, card.vector), "text": n.text}
                         for n in notes.matrices if n.step == panel.frame and _names_note(n, card.name, last)]
                if about:
                    errata.setdefault(card.slug, {})[panel.frame] = about
        note = ""
        if substep.kind in ("loss", "backward") and substep.layer in (None, last):
            if trace.step(substep.step).output_gradient is None:
                note = (f"dL/dY is not finite here (the output saturated to exactly 0 or 1), so δ{last} "
                        "comes from the stable fused form and dL/dY is not drawn.")
        out_substeps.append({
            "index": index,
            "key": substep.key,
            "step": substep.step,
            "kind": substep.kind,
            "layer": substep.layer,
            "title": equations.title(spec, substep),
            "equation": str(equations.equation(spec, trace, substep)),
            "loss": loss_line(summary, substep, notes),
            "note": note,
            "panels": [[summary.cards[p.tensor].slug, p.frame, bool(p.row_start)] for p in shown],
            "network": diagram.network_figure(spec, trace, substep, summary.ranges),
        })
    return {"substeps": out_substeps, "values": values, "errata": errata}


def _names_note(note, name: str, last: int) -> bool:
    """Whether an erratum is about this matrix (a note on the output Y is shown on Z_L too)."""
    return note.matrix == name or (note.matrix == "Y" and name == f"Z{last}")


def window_around(summary: Summary, step: int, size: int = 3) -> tuple[int, int]:
    """The SGD steps a page asks for around `step`: `size` of them, clipped to the run."""
    steps = summary.spec.steps
    first = max(0, min(step - (size - 1) // 2, steps - size))
    return first, min(steps, first + size)


def card_data(card: CardMeta) -> dict:
    """What the page keeps of a card to draw any of its frames."""
    return {"name": card.name, "caption": card.caption, "shape": list(card.shape), "vector": card.vector,
            "written": card.written, "trace": card.trace, "layout": card.layout}
