"""Figures of the network for one sub-step, and the loss curve.

The network diagram runs left to right (inputs, then layer 1..L). Units are
coloured by the value of the first example (activations Z while going forward,
deltas while going back, bias changes at the update); edges by the weight, its
gradient or its change. Every quantity has one colour range for the whole
trace, symmetric about 0, so a colour means the same number in every sub-step.
The current sub-step's layer is drawn opaque, everything else faded; values not
yet computed at this sub-step are left uncoloured.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from engine.spec import Spec
from engine.timeline import Substep
from engine.trace import Trace

COLORSCALE = "RdBu_r"
MAX_UNITS = 12  # a wider layer shows its first SHOWN_UNITS units and an ellipsis node
SHOWN_UNITS = 10
FADED, NEARBY, OPAQUE = 0.25, 0.6, 1.0  # other layers, the layer feeding the current one, the current one
COLOUR_BINS = 20  # edges are drawn in this many colour steps (one trace each), exact values are in the hover
NEUTRAL = "#ffffff"
INK = "#444444"


@dataclass(frozen=True)
class Ranges:
    """The largest |value| of each quantity over the whole trace: the colour range is [-m, m]."""

    activation: float
    delta: float
    bias_change: float
    weights: float
    grad_weights: float
    weight_change: float


def _first_example(array: np.ndarray, layout: str) -> np.ndarray:
    """The first example's values, one per unit."""
    return array[0, :] if layout == "rows" else array[:, 0]


def _first_input(trace: Trace, step) -> np.ndarray:
    """The inputs of the step's first example (the first of its mini-batch when it has one)."""
    index = 0 if step.batch is None else step.batch[0]
    return trace.inputs[index, :] if trace.layout == "rows" else trace.inputs[:, index]


def _which_example(spec: Spec, step) -> str:
    """'example 1 of 4', or 'example 3 (first of this step's batch of 2)'."""
    if step.batch is None:
        return f"example 1 of {spec.num_examples}"
    return f"example {step.batch[0] + 1} (first of this step's batch of {len(step.batch)})"


def _largest(arrays) -> float:
    largest = max((float(np.max(np.abs(a))) for a in arrays if a is not None and np.size(a)), default=0.0)
    return largest if largest > 0 else 1.0


def ranges(trace: Trace) -> Ranges:
    """Colour ranges over every step of the trace (first example for unit values)."""
    layout, steps = trace.layout, trace.steps
    return Ranges(
        activation=_largest([_first_input(trace, s) for s in steps]
                            + [_first_example(f.activation, layout) for s in steps for f in s.forward]),
        delta=_largest([_first_example(b.delta, layout) for s in steps for b in s.backward]),
        bias_change=_largest([u.bias - p.bias for s in steps for p, u in zip(s.parameters, s.update)
                              if p.bias is not None]),
        weights=_largest([p.weights for s in steps for p in s.parameters] + [p.weights for p in steps[-1].update]),
        grad_weights=_largest([b.grad_weights for s in steps for b in s.backward]),
        weight_change=_largest([u.weights - p.weights for s in steps for p, u in zip(s.parameters, s.update)]),
    )


def _shown(width: int) -> tuple[list[int], bool]:
    """Indices of the units drawn (0-based) and whether an ellipsis node follows them."""
    if width > MAX_UNITS:
        return list(range(SHOWN_UNITS)), True
    return list(range(width)), False


def _y(position: int, count: int) -> float:
    """Units of a layer centred on 0, one apart, unit 1 at the top."""
    return (count - 1) / 2 - position


def _edge_weight(matrix: np.ndarray, layout: str, source: int, target: int) -> tuple[float, str]:
    """The entry for the edge source (layer l-1) -> target (layer l), and its 1-based index in the layout."""
    if layout == "rows":
        return float(matrix[source, target]), f"[{source + 1},{target + 1}]"
    return float(matrix[target, source]), f"[{target + 1},{source + 1}]"


@cache
def _bin_colours() -> tuple[str, ...]:
    """The colour of each of the COLOUR_BINS + 1 bins, sampled once from the colour scale."""
    return tuple(sample_colorscale(COLORSCALE, [k / COLOUR_BINS for k in range(COLOUR_BINS + 1)]))


def _colour(value: float, largest: float) -> tuple[int, str]:
    """The colour bin of a value in [-largest, largest], and its colour."""
    position = min(max((value / largest + 1) / 2, 0.0), 1.0)
    index = round(position * COLOUR_BINS)
    return index, _bin_colours()[index]


def network_figure(spec: Spec, trace: Trace, substep: Substep, limits: Ranges | None = None) -> go.Figure:
    """The layered network at one sub-step: unit and edge colours, exact numbers on hover.

    `limits`: the trace's colour ranges, `ranges(trace)`; pass them when drawing many sub-steps of one trace.
    """
    layout, widths, last = spec.layout, spec.widths, len(spec.layers)
    step = trace.steps[substep.step]
    limits = limits or ranges(trace)
    kind, current = substep.kind, substep.layer
    example = _which_example(spec, step)

    # What each sub-step shows: per layer, the unit values (None = not computed yet) and the edge values.
    if kind in ("forward", "loss"):
        unit_name, unit_range = "Z", limits.activation
        known = last if kind == "loss" else current
        units = [_first_input(trace, step)] + [
            _first_example(f.activation, layout) if f.layer <= known else None for f in step.forward
        ]
        edge_name, edge_range = "W", limits.weights
        edges = [p.weights for p in step.parameters]
        active_layers = {last} if kind == "loss" else {current}
        nearby_layer = None if kind == "loss" else current - 1
        active_edges = set() if kind == "loss" else {current}
    elif kind == "backward":
        unit_name, unit_range = "δ", limits.delta
        by_layer = {b.layer: b for b in step.backward}
        units = [None] + [_first_example(by_layer[l].delta, layout) if l >= current else None
                          for l in range(1, last + 1)]
        edge_name, edge_range = "dL/dW", limits.grad_weights
        edges = [by_layer[l].grad_weights if l >= current else None for l in range(1, last + 1)]
        active_layers = active_edges = {current}
        nearby_layer = current + 1 if current < last else None
    else:
        unit_name, unit_range = "Δb", limits.bias_change
        units = [None] + [None if p.bias is None else u.bias - p.bias for p, u in zip(step.parameters, step.update)]
        edge_name, edge_range = "ΔW", limits.weight_change
        edges = [u.weights - p.weights for p, u in zip(step.parameters, step.update)]
        active_layers = active_edges = set(range(1, last + 1))
        nearby_layer = None

    shown = [_shown(width) for width in widths]
    positions = [
        {unit: (float(layer), _y(k, len(indices) + more)) for k, unit in enumerate(indices)}
        for layer, (indices, more) in enumerate(shown)
    ]

    # Edges: one line trace per (colour bin, opacity); one marker per edge carries the exact value on hover.
    segments: dict[tuple[int, float], tuple[str, list, list]] = {}
    paths = {"x": [], "y": []}  # every edge in light grey underneath, so a near-zero (white) edge stays visible
    marks = {"x": [], "y": [], "value": [], "opacity": [], "text": []}
    pending = {"x": [], "y": [], "text": []}
    for layer in range(1, last + 1):
        matrix, opacity = edges[layer - 1], OPAQUE if layer in active_edges else FADED
        for source, (x0, y0) in positions[layer - 1].items():
            for target, (x1, y1) in positions[layer].items():
                mark_x, mark_y = x0 + 0.7 * (x1 - x0), y0 + 0.7 * (y1 - y0)
                if matrix is None:
                    key = (-1, FADED)
                    segments.setdefault(key, ("#cccccc", [], []))
                    pending["x"].append(mark_x)
                    pending["y"].append(mark_y)
                    pending["text"].append(f"{edge_name}{layer}: computed in a later sub-step")
                else:
                    value, index = _edge_weight(matrix, layout, source, target)
                    bin_index, colour = _colour(value, edge_range)
                    key = (bin_index, opacity)
                    segments.setdefault(key, (colour, [], []))
                    marks["x"].append(mark_x)
                    marks["y"].append(mark_y)
                    marks["value"].append(value)
                    marks["opacity"].append(opacity)
                    marks["text"].append(
                        f"{edge_name}{layer}{index} = {value!r}<br>"
                        f"from unit {source + 1} of {_layer_name(layer - 1)} to unit {target + 1} of layer {layer}"
                    )
                _, xs, ys = segments[key]
                xs += [x0, x1, None]
                ys += [y0, y1, None]
                paths["x"] += [x0, x1, None]
                paths["y"] += [y0, y1, None]

    data = [go.Scatter(x=paths["x"], y=paths["y"], mode="lines", name="edge paths", showlegend=False,
                       hoverinfo="skip", line={"color": "#e3e3e3", "width": 1})]
    for (bin_index, opacity), (colour, xs, ys) in sorted(segments.items()):
        strength = 0 if bin_index < 0 else abs(bin_index - COLOUR_BINS / 2) / (COLOUR_BINS / 2)
        data.append(go.Scatter(
            x=xs, y=ys, mode="lines", name="edges", showlegend=False, hoverinfo="skip", opacity=opacity,
            line={"color": colour, "width": 1 + 5 * strength},
        ))
    data.append(go.Scatter(
        x=marks["x"], y=marks["y"], mode="markers", name="edge values", showlegend=False,
        hovertext=marks["text"], hoverinfo="text",
        marker={"size": 7 if max(widths) <= 6 else 4, "color": marks["value"], "colorscale": COLORSCALE, "cmin": -edge_range,
                "cmax": edge_range, "opacity": marks["opacity"], "line": {"width": 0.5, "color": INK},
                "showscale": True,
                "colorbar": {"title": {"text": edge_name, "side": "top"}, "xref": "container", "x": 1,
                             "xanchor": "right", "len": 0.8, "thickness": 12}},
    ))
    if pending["x"]:
        data.append(go.Scatter(
            x=pending["x"], y=pending["y"], mode="markers", name="pending edge values", showlegend=False,
            hovertext=pending["text"], hoverinfo="text",
            marker={"size": 6, "color": NEUTRAL, "opacity": FADED, "line": {"width": 0.5, "color": INK}},
        ))

    # Units: coloured ones in one trace (with the colour bar), the not-yet-computed ones in another.
    unit = {"x": [], "y": [], "value": [], "opacity": [], "text": [], "label": [], "label_colour": []}
    blank = {"x": [], "y": [], "opacity": [], "text": []}
    for layer, values in enumerate(units):
        opacity = OPAQUE if layer in active_layers else NEARBY if layer == nearby_layer else FADED
        for index, (x, y) in positions[layer].items():
            description = f"unit {index + 1} of {_layer_name(layer)}"
            if values is None:
                blank["x"].append(x)
                blank["y"].append(y)
                blank["opacity"].append(opacity)
                blank["text"].append(description + "<br>" + _no_value(kind, layer))
                continue
            value = float(values[index])
            unit["x"].append(x)
            unit["y"].append(y)
            unit["value"].append(value)
            unit["opacity"].append(opacity)
            unit["text"].append(f"{description}<br>{_unit_symbol(unit_name, layer, kind)} = {value!r}"
                                + ("" if kind == "update" else f"  ({example})"))
            unit["label"].append(_short(value))
            dark = abs(value) > 0.6 * unit_range and opacity == OPAQUE
            unit["label_colour"].append("#ffffff" if dark else "#111111")
    # An opaque white disc under every unit, so a faded unit does not show the edges behind it.
    data.append(go.Scatter(
        x=unit["x"] + blank["x"], y=unit["y"] + blank["y"], mode="markers", name="unit backgrounds",
        showlegend=False, hoverinfo="skip", marker={"size": 34, "color": NEUTRAL, "line": {"width": 0}},
    ))
    data.append(go.Scatter(
        x=unit["x"], y=unit["y"], mode="markers+text", name="units", showlegend=False,
        hovertext=unit["text"], hoverinfo="text", text=unit["label"],
        textfont={"size": 10, "color": unit["label_colour"]},
        marker={"size": 34, "color": unit["value"], "colorscale": COLORSCALE, "cmin": -unit_range,
                "cmax": unit_range, "opacity": unit["opacity"], "line": {"width": 1, "color": INK},
                "showscale": True,
                # The figure title says which example; the two bars sit side by side at the right edge.
                "colorbar": {"title": {"text": unit_name, "side": "top"}, "xref": "container", "x": 1,
                             "xanchor": "right", "xpad": 62, "len": 0.8, "thickness": 12}},
    ))
    if blank["x"]:
        data.append(go.Scatter(
            x=blank["x"], y=blank["y"], mode="markers", name="units without a value", showlegend=False,
            hovertext=blank["text"], hoverinfo="text",
            marker={"size": 34, "color": NEUTRAL, "opacity": blank["opacity"], "line": {"width": 1, "color": INK}},
        ))
    ellipses = [(float(layer), _y(len(indices), len(indices) + 1), widths[layer] - len(indices))
                for layer, (indices, more) in enumerate(shown) if more]
    if ellipses:
        data.append(go.Scatter(
            x=[x for x, _, _ in ellipses], y=[y for _, y, _ in ellipses], mode="text", name="more units",
            showlegend=False, text=[f"⋮ {hidden} more" for _, _, hidden in ellipses], hoverinfo="skip",
            textfont={"size": 12, "color": INK},
        ))

    tallest = max(len(indices) + more for indices, more in shown)
    return go.Figure(data=data, layout=dict(
        template="none",
        height=max(320, 58 * tallest + 130),
        margin={"l": 20, "r": 110, "t": 56, "b": 64},
        title={"text": _figure_title(kind, unit_name, edge_name, example), "x": 0.01, "xanchor": "left",
               "font": {"size": 13}},
        xaxis={"visible": False, "range": [-0.6, last + 0.6], "fixedrange": True},
        yaxis={"visible": False, "range": [-(tallest + 1) / 2, (tallest + 1) / 2], "fixedrange": True},
        hovermode="closest",
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        uirevision="network",
        annotations=_layer_labels(spec, tallest) + [_flow_arrow(kind, last, tallest)],
    ))


def _short(value: float) -> str:
    """A label that fits inside a unit: 2 significant digits, '1.7e-6' rather than '1.7e-06'."""
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.2g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _layer_name(layer: int) -> str:
    return "the input" if layer == 0 else f"layer {layer}"


def _unit_symbol(name: str, layer: int, kind: str) -> str:
    if layer == 0:
        return "X"
    return f"{name[:-1]}b{layer}" if kind == "update" else f"{name}{layer}"


def _no_value(kind: str, layer: int) -> str:
    if kind == "backward" and layer == 0:
        return "the inputs get no delta"
    if kind == "update":
        return "no bias to update" if layer else "inputs are not parameters"
    return "computed in a later sub-step"


def _figure_title(kind: str, unit_name: str, edge_name: str, example: str) -> str:
    if kind == "update":
        return "Units: bias change Δb · edges: weight change ΔW"
    which = "activation Z" if unit_name == "Z" else "delta δ = dL/dS"
    edges = "weight W" if edge_name == "W" else "gradient dL/dW"
    return f"Units: {which} of {example} · edges: {edges}"


def _layer_labels(spec: Spec, tallest: int) -> list[dict]:
    labels = []
    for layer, width in enumerate(spec.widths):
        if layer == 0:
            text = f"<b>X</b> input<br>{_units(width)}"
        else:
            name = "Y = " if layer == len(spec.layers) else ""
            text = f"<b>{name}Z{layer}</b> {spec.layers[layer - 1].activation}<br>{_units(width)}"
        labels.append({"x": layer, "y": -(tallest + 1) / 2, "yanchor": "top", "text": text, "showarrow": False,
                       "font": {"size": 11, "color": INK}})
    return labels


def _units(width: int) -> str:
    return "1 unit" if width == 1 else f"{width} units"


def _flow_arrow(kind: str, last: int, tallest: int) -> dict:
    """One arrow above the network: left to right going forward, right to left going back."""
    backward = kind == "backward"
    tail, head = (last, 0) if backward else (0, last)
    top = (tallest + 1) / 2 - 0.15
    label = {"forward": "forward pass", "loss": "forward pass → loss", "backward": "backward pass",
             "update": "update every parameter"}[kind]
    return {"x": head, "y": top, "ax": tail, "ay": top, "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
            "showarrow": True, "arrowhead": 3, "arrowsize": 1.2, "arrowwidth": 1.5, "arrowcolor": "#999999",
            "text": label, "font": {"size": 11, "color": "#777777"}, "yshift": 0, "standoff": 4,
            "startstandoff": 4}


def loss_curve_figure(trace: Trace, step: int) -> go.Figure:
    """The loss before each SGD step and after the last one, with the current step marked."""
    history = list(trace.loss_history)
    steps = list(range(len(history)))
    figure = go.Figure(data=[
        go.Scatter(x=steps, y=history, mode="lines+markers", name="loss", showlegend=False,
                   line={"color": "#4c72b0", "width": 2}, marker={"size": 6},
                   hovertext=[f"loss before step {i}: {value!r}" if i < len(history) - 1
                              else f"loss after the last step: {value!r}" for i, value in enumerate(history)],
                   hoverinfo="text"),
        go.Scatter(x=[step], y=[history[step]], mode="markers", name="current step", showlegend=False,
                   marker={"size": 13, "color": "#d62728", "line": {"width": 2, "color": "#ffffff"}},
                   hovertext=[f"current step {step}: loss {history[step]!r}"], hoverinfo="text"),
    ])
    figure.update_layout(
        template="none",
        height=240,
        margin={"l": 60, "r": 20, "t": 20, "b": 45},
        xaxis={"title": {"text": "SGD step"}, "dtick": 1 if len(history) <= 20 else None, "range": [-0.3, len(history) - 0.7],
               "zeroline": False, "fixedrange": True},
        yaxis={"title": {"text": "loss"}, "rangemode": "tozero", "fixedrange": True},
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        uirevision="loss",
    )
    return figure
