"""Heatmaps of the matrices a sub-step reads and writes.

`tensors(spec, trace)` names every matrix of a trace ("X", "W1", "δ2",
"W1 (new)", ...) with its value at each SGD step; `panels(spec, trace,
substep)` says which of them a sub-step shows, in reading order, and at which
step; `heatmap_figure(tensor, limit)` draws one as a `go.Figure` whose frames
are its values at each step. Colours are fixed per tensor across all frames:
a diverging scale centred at 0, from -limit to +limit, with one limit per
family (a parameter and its updated value share theirs, so do the output and
the targets).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from engine.spec import Spec
from engine.timeline import Substep
from engine.trace import Trace

MAX_WRITTEN = 8  # values are written in the cells of matrices up to 8 x 8
TEXT_SIZE = 10.5  # px, the values written in the cells
CELL_PADDING = 5  # px each side of the longest value
MIN_CELL_WIDTH = 34
# Advance widths of DejaVu Sans (em) for what a written number holds; other fonts are narrower.
_ADVANCE = {**dict.fromkeys("0123456789", 0.636), ".": 0.318, "-": 0.361, "+": 0.838, "e": 0.615}
# A colour bar needs this much height for its three tick labels; a shorter plot gets a longer bar.
MIN_COLOURBAR = 56
# Blue for negative, white at 0, red for positive (ColorBrewer RdBu, reversed).
COLORSCALE = [
    [0.0, "#2166ac"],
    [0.2, "#67a9cf"],
    [0.4, "#d1e5f0"],
    [0.5, "#f7f7f7"],
    [0.6, "#fddbc7"],
    [0.8, "#ef8a62"],
    [1.0, "#b2182b"],
]
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"


@dataclass(frozen=True)
class Tensor:
    """A named matrix of the trace. `frames[k]` is its value at SGD step k (one frame if constant).

    Vectors (biases and their gradients) are stored as matrices in the layout's
    orientation: a row 1 x d in the rows layout, a column d x 1 in the columns one.
    """

    name: str
    frames: tuple[np.ndarray | None, ...]
    family: str
    axes: tuple[str, str]  # what the rows and the columns count
    vector: bool = False
    caption: str = ""

    def frame(self, step: int) -> np.ndarray | None:
        return self.frames[min(step, len(self.frames) - 1)]

    def frame_index(self, step: int) -> int:
        return min(step, len(self.frames) - 1)

    @property
    def shape(self) -> tuple[int, int]:
        return next(f.shape for f in self.frames if f is not None)


@dataclass(frozen=True)
class Panel:
    tensor: str
    frame: int
    row_start: bool = False  # begins a new row: one row per equation of the sub-step


def _vector(values: np.ndarray | None, layout: str) -> np.ndarray | None:
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    return values.reshape(1, -1) if layout == "rows" else values.reshape(-1, 1)


def tensors(spec: Spec, trace: Trace) -> dict[str, Tensor]:
    """Every matrix of the trace by name, in the spec's layout (those with at least one finite frame)."""
    rows = spec.layout == "rows"
    data_axes = ("example", "unit") if rows else ("unit", "example")
    weight_axes = ("in", "out") if rows else ("out", "in")
    bias_axes = ("", "unit") if rows else ("unit", "")
    last = len(spec.layers)
    steps = trace.steps
    found: dict[str, Tensor] = {}

    def add(name, frames, family=None, axes=data_axes, vector=False, caption="", constant=False):
        if not constant:
            # One slot per SGD step; a trace that recorded a window fills only the window's slots.
            slots = [None] * spec.steps
            for step, value in zip(steps, frames):
                slots[step.index] = value
            frames = slots
        found[name] = Tensor(name, tuple(frames), family or name, axes, vector, caption)

    add("X", [trace.inputs], axes=data_axes, constant=True)
    targets_caption = "one-hot of the labels" if trace.labels is not None else ""
    add("T", [trace.targets], family="Y", caption=targets_caption, constant=True)
    for layer in range(1, last + 1):
        i = layer - 1
        backward = [next(b for b in step.backward if b.layer == layer) for step in steps]
        add(f"W{layer}", [s.parameters[i].weights for s in steps], axes=weight_axes)
        add(f"S{layer}", [s.forward[i].pre_activation for s in steps])
        add(f"Z{layer}", [s.forward[i].activation for s in steps], family="Y" if layer == last else None,
            caption="the output Y" if layer == last else "")
        add(f"δ{layer}", [b.delta for b in backward], caption=f"dL/dS{layer}")
        add(f"dL/dW{layer}", [b.grad_weights for b in backward], axes=weight_axes)
        add(f"ΔW{layer}", [s.update[i].weights - s.parameters[i].weights for s in steps], axes=weight_axes,
            caption="frozen: not updated" if not spec.layers[i].train_weights else "−r · dL/dW" + str(layer))
        add(f"W{layer} (new)", [s.update[i].weights for s in steps], family=f"W{layer}", axes=weight_axes)
        if layer < last:
            add(f"dL/dZ{layer}", [b.grad_activation for b in backward])
        if spec.layers[i].bias is not None:
            add(f"b{layer}", [_vector(s.parameters[i].bias, spec.layout) for s in steps], axes=bias_axes,
                vector=True)
            add(f"dL/db{layer}", [_vector(b.grad_bias, spec.layout) for b in backward], axes=bias_axes, vector=True)
            add(f"Δb{layer}", [_vector(s.update[i].bias - s.parameters[i].bias, spec.layout) for s in steps],
                axes=bias_axes, vector=True,
                caption="frozen: not updated" if not spec.layers[i].train_bias else "−r · dL/db" + str(layer))
            add(f"b{layer} (new)", [_vector(s.update[i].bias, spec.layout) for s in steps], family=f"b{layer}",
                axes=bias_axes, vector=True)
    add("Y", [s.forward[-1].activation for s in steps], family="Y", caption=f"Z{last}, the output")
    add("dL/dY", [s.output_gradient for s in steps], caption=f"dL/dZ{last}")
    # A gradient that is not finite at any step (a saturated output) has nothing to draw.
    return {name: tensor for name, tensor in found.items() if any(f is not None for f in tensor.frames)}


def panels(spec: Spec, trace: Trace, substep: Substep, found: dict[str, Tensor]) -> list[Panel]:
    """The tensors a sub-step reads and writes, in the order the equation uses them."""
    rows = spec.layout == "rows"
    last = len(spec.layers)
    layer = substep.layer
    has_bias = {i: spec.layers[i - 1].bias is not None for i in range(1, last + 1)}

    def below(i: int) -> str:
        return "X" if i == 0 else f"Z{i}"

    if substep.kind == "forward":
        product = [below(layer - 1), f"W{layer}"] if rows else [f"W{layer}", below(layer - 1)]
        lines = [product + ([f"b{layer}"] if has_bias[layer] else []) + [f"S{layer}", f"Z{layer}"]]
    elif substep.kind == "loss":
        lines = [["Y", "T", "dL/dY"]]
    elif substep.kind == "backward":
        upstream = ["dL/dY"] if layer == last else [f"δ{layer + 1}", f"W{layer + 1}", f"dL/dZ{layer}"]
        # dL/dZ = δ(l+1) W(l+1)^T, then δ = dL/dZ ⊙ f'(S) (the output layer starts from dL/dY), then dL/dW.
        lines = [upstream, [f"S{layer}", f"δ{layer}"]] if layer < last else [upstream + [f"S{layer}", f"δ{layer}"]]
        lines.append([below(layer - 1), f"dL/dW{layer}"] + ([f"dL/db{layer}"] if has_bias[layer] else []))
    else:
        lines = []
        for i in range(1, last + 1):
            lines.append([f"W{i}", f"dL/dW{i}", f"ΔW{i}", f"W{i} (new)"])
            if has_bias[i]:
                lines.append([f"b{i}", f"dL/db{i}", f"Δb{i}", f"b{i} (new)"])
    step = substep.step
    shown = []
    for line in lines:
        names = [n for n in line if n in found and found[n].frame(step) is not None]
        shown += [Panel(n, found[n].frame_index(step), row_start=k == 0 and bool(shown)) for k, n in enumerate(names)]
    return shown


def limits(found: dict[str, Tensor]) -> dict[str, float]:
    """One colour limit per family: the largest |value| over all its tensors and frames (1 if all are 0)."""
    largest: dict[str, float] = {}
    for tensor in found.values():
        for frame in tensor.frames:
            if frame is not None and frame.size:
                largest[tensor.family] = max(largest.get(tensor.family, 0.0), float(np.max(np.abs(frame))))
    return {family: value if value > 0 else 1.0 for family, value in largest.items()}


def cell_text(value: float) -> str:
    """A cell's text as Plotly writes it with "%{z:.4~g}".

    d3-format's ~g: JavaScript's toPrecision(4) (exponential when the exponent is
    below -6 or at least 4), with the trailing zeros of the mantissa trimmed.
    """
    value = float(value)
    if value == 0:
        return "0"
    mantissa, exponent = f"{abs(value):.3e}".split("e")
    power = int(exponent)
    if power < -6 or power >= 4:
        text = mantissa.rstrip("0").rstrip(".") + ("e+" if power >= 0 else "e-") + str(abs(power))
    else:
        text = f"{abs(value):.{3 - power}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return ("-" if value < 0 else "") + text


def text_width(text: str, size: float = TEXT_SIZE) -> float:
    """The width in pixels of a number written in DejaVu Sans, one of the widest fonts it may get."""
    return size * sum(_ADVANCE.get(character, 0.64) for character in text)


def text_widths(values: np.ndarray, size: float = TEXT_SIZE) -> np.ndarray:
    """`text_width(cell_text(v))` of every value at once (the same digits, signs, points and exponents)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    magnitude = np.abs(values)
    zero = magnitude == 0
    safe = np.where(zero, 1.0, magnitude)
    with np.errstate(over="ignore", under="ignore"):
        power = np.floor(np.log10(safe)).astype(int)
        mantissa = np.rint(safe / np.power(10.0, power - 3))  # four significant digits: 1000..10000
    carried = mantissa >= 10_000  # 9.9996 rounds up to 10.00
    power = power + carried
    mantissa = np.where(carried, 1000, mantissa).astype(np.int64)
    trailing = (mantissa % 10 == 0).astype(int) + (mantissa % 100 == 0) + (mantissa % 1000 == 0)
    shown = 4 - trailing  # significant digits left once trailing zeros are trimmed
    exponential = (power < -6) | (power >= 4)
    exponent_digits = np.where(np.abs(power) >= 100, 3, np.where(np.abs(power) >= 10, 2, 1))
    # Fixed notation: digits before the point, after it, and whether there is a point.
    before = np.where(power >= 0, power + 1, 1)
    after = np.where(power >= 0, np.maximum(0, shown - power - 1), -power - 1 + shown)
    digits = np.where(exponential, shown + exponent_digits, before + after)
    points = np.where(exponential, shown > 1, after > 0).astype(int)
    em = (_ADVANCE["0"] * digits + _ADVANCE["."] * points + _ADVANCE["-"] * (values < 0)
          + np.where(exponential, _ADVANCE["e"] + np.where(power >= 0, _ADVANCE["+"], _ADVANCE["-"]), 0.0))
    return np.where(zero, size * _ADVANCE["0"], size * em)


def widest_text(arrays) -> float:
    """The widest written value of some arrays (None entries skipped), in pixels; 0 for none."""
    widths = [float(np.max(text_widths(a))) for a in arrays if a is not None and np.size(a)]
    return max(widths, default=0.0)


def cell_size(shape: tuple[int, int], widest: float) -> tuple[int, int]:
    """(width, height) of a cell in pixels: as wide as the widest value written (`widest_text`)."""
    rows, columns = shape
    if max(rows, columns) > MAX_WRITTEN:
        side = max(4, min(24, 300 // max(rows, columns)))
        return side, side
    return max(MIN_CELL_WIDTH, math.ceil(widest + 2 * CELL_PADDING)), 30


def _cell_size(tensor: Tensor) -> tuple[int, int]:
    """(width, height) of a cell in pixels: as wide as the longest value written, over every frame."""
    written = max(tensor.shape) <= MAX_WRITTEN
    return cell_size(tensor.shape, widest_text(tensor.frames) if written else 0.0)


def heatmap_parts(name: str, shape: tuple[int, int], axes: tuple[str, str], vector: bool, limit: float,
                  cell: tuple[int, int]) -> tuple[dict, dict]:
    """(trace, layout) of a matrix's heatmap, all but its values (`z`): what stays the same in every frame."""
    rows, columns = shape
    written = rows <= MAX_WRITTEN and columns <= MAX_WRITTEN
    cell_width, cell_height = cell
    index = "[%{y},%{x}]"
    if vector:
        index = "[%{x}]" if rows == 1 else "[%{y}]"

    title = f"{name}  ({rows}×{columns})"
    margin = {"l": 30 if axes[0] else 12, "r": 4, "t": 30, "b": 28 if axes[1] else 18}
    # Wide enough for the cells and the colour bar, and for the title (about 0.65 em a character at 13 px).
    width = max(130, columns * cell_width + margin["l"] + margin["r"] + 40,
                math.ceil(margin["l"] + 0.65 * 13 * len(title)))
    height = max(90, rows * cell_height + margin["t"] + margin["b"])
    plot_height = height - margin["t"] - margin["b"]

    base = dict(
        type="heatmap",
        x=list(range(1, columns + 1)),
        y=list(range(1, rows + 1)),
        zmin=-limit,
        zmax=limit,
        colorscale=COLORSCALE,
        xgap=1 if max(rows, columns) <= 16 else 0,
        ygap=1 if max(rows, columns) <= 16 else 0,
        texttemplate="%{z:.4~g}" if written else None,
        textfont={"size": TEXT_SIZE},
        # 16 significant digits read back as the same float almost always, without 17's noise (0.1 not 0.10000000000000001).
        hovertemplate=f"{name}{index} = %{{z:.16~g}}<extra></extra>",
        # A bar as tall as the plot, or (one-row matrices) reaching into the margins so its ticks do not crowd.
        colorbar={"thickness": 6, "lenmode": "pixels", "len": max(MIN_COLOURBAR, plot_height),
                  "y": 0.5, "yanchor": "middle", "outlinewidth": 0, "tickfont": {"size": 9}, "xpad": 3,
                  "tickmode": "array", "tickvals": [-limit, 0, limit],
                  "ticktext": [f"{-limit:.3g}", "0", f"{limit:.3g}"]},
        showscale=True,
    )
    layout = dict(
        template={},
        title={"text": title, "font": {"size": 13}, "x": 0, "xref": "paper", "y": 1, "yref": "container",
               "yanchor": "top", "pad": {"t": 6}},
        font={"family": FONT, "size": 11, "color": "#1f2933"},
        width=width,
        height=height,
        margin=margin,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        xaxis={"title": {"text": axes[1], "standoff": 2, "font": {"size": 10}}, "tickmode": "array",
               "tickvals": list(range(1, columns + 1)) if columns <= 12 else None, "showgrid": False,
               "zeroline": False, "fixedrange": True, "side": "bottom", "ticks": "",
               "showticklabels": columns > 1 or not vector},
        yaxis={"title": {"text": axes[0], "standoff": 2, "font": {"size": 10}}, "autorange": "reversed",
               "tickmode": "array", "tickvals": list(range(1, rows + 1)) if rows <= 12 else None,
               "showgrid": False, "zeroline": False, "fixedrange": True, "ticks": "",
               "showticklabels": rows > 1 or not vector},
    )
    return base, layout


def heatmap_figure(tensor: Tensor, limit: float) -> go.Figure:
    """The tensor as a heatmap with one frame per SGD step (frame names "0", "1", ...)."""
    base, layout = heatmap_parts(tensor.name, tensor.shape, tensor.axes, tensor.vector, limit, _cell_size(tensor))
    # Plain dicts, validated once by go.Figure (building go.Heatmap/go.Layout first validates twice).
    base["z"] = next(f for f in tensor.frames if f is not None)
    frames = [{"name": str(k), "data": [{"type": "heatmap", "z": values}]} for k, values in enumerate(tensor.frames)]
    return go.Figure(data=[base], layout=layout, frames=frames)


def cell_colours(values: np.ndarray, limit: float) -> list[list[str]]:
    """The colour of each cell on COLORSCALE (as Plotly blends it), for drawing a matrix without Plotly."""
    stops = np.array([stop for stop, _ in COLORSCALE])
    rgb = np.array([[int(colour[k:k + 2], 16) for k in (1, 3, 5)] for _, colour in COLORSCALE], dtype=float)
    position = np.clip((np.asarray(values, dtype=float) / limit + 1) / 2, 0.0, 1.0)
    flat = position.ravel()
    high = np.clip(np.searchsorted(stops, flat, side="left"), 1, len(stops) - 1)
    low = high - 1
    mix = ((flat - stops[low]) / (stops[high] - stops[low]))[:, None]
    colour = np.rint(rgb[low] + mix * (rgb[high] - rgb[low])).astype(int)
    texts = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in colour.tolist()]
    columns = position.shape[1]
    return [texts[k:k + columns] for k in range(0, len(texts), columns)]


def warm_up() -> None:
    """Build one small heatmap, so that Plotly loads its validators now and not while serving a first page."""
    tensor = Tensor(name="W1", frames=(np.zeros((2, 2)), np.ones((2, 2))), family="W1", axes=("unit", "input"))
    heatmap_figure(tensor, 1.0).to_dict()


def title_of(tensor: Tensor) -> str:
    """The panel's title: the name in math notation and the shape, e.g. 'W1  (3×2)'."""
    rows, columns = tensor.shape
    return f"{tensor.name}  ({rows}×{columns})"
