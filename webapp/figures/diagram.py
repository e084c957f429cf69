"""Figures of the network for one sub-step, and the loss curve, as plain Plotly figure dicts.

The network diagram runs left to right (inputs, then layer 1..L). Units are
coloured by the value of the first example (activations Z while going forward,
deltas while going back, bias changes at the update); edges by the weight, its
gradient or its change. Every quantity has one colour range for the whole
trace, symmetric about 0, so a colour means the same number in every sub-step.
The current sub-step's layer is drawn opaque, everything else faded; values not
yet computed at this sub-step are left uncoloured.

The lab draws every sub-step of a trace on the server, so the figures are
plain dicts ({"data": [...], "layout": {...}}, ready for `plotly.io.to_json`
or `go.Figure(...)`): building `go.Figure` objects validates every property
and cost most of the lab's time. The colour ranges are computed once per trace.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.spec import Spec
from engine.timeline import Substep
from engine.trace import Trace

from .colours import COLOUR_BINS, bin_colours, colorscale, colour_bins
from .ranges import Ranges, first_example, first_input, trace_ranges

MAX_UNITS = 12  # a wider layer shows its first SHOWN_UNITS units and an ellipsis node
SHOWN_UNITS = 10
FADED, NEARBY, OPAQUE = 0.25, 0.6, 1.0  # other layers, the layer feeding the current one, the current one
NEUTRAL = "#ffffff"
INK = "#444444"
PENDING_EDGE = "#cccccc"


# --- the network ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shown:
    """What a sub-step shows: unit values per layer 0..L and edge values per layer 1..L (None: not yet)."""

    unit_name: str
    unit_range: float
    units: list
    edge_name: str
    edge_range: float
    edges: list
    active_layers: frozenset
    active_edges: frozenset
    nearby_layer: int | None


def _shown_at(spec: Spec, trace: Trace, substep: Substep, limits: Ranges) -> _Shown:
    layout, last, kind, current = spec.layout, len(spec.layers), substep.kind, substep.layer
    step = trace.step(substep.step)
    if kind in ("forward", "loss"):
        known = last if kind == "loss" else current
        return _Shown(
            "Z", limits.activation,
            [first_input(trace, step)] + [first_example(f.activation, layout) if f.layer <= known else None
                                           for f in step.forward],
            "W", limits.weights, [p.weights for p in step.parameters],
            frozenset({last} if kind == "loss" else {current}),
            frozenset() if kind == "loss" else frozenset({current}),
            None if kind == "loss" else current - 1,
        )
    if kind == "backward":
        by_layer = {b.layer: b for b in step.backward}
        return _Shown(
            "δ", limits.delta,
            [None] + [first_example(by_layer[l].delta, layout) if l >= current else None for l in range(1, last + 1)],
            "dL/dW", limits.grad_weights,
            [by_layer[l].grad_weights if l >= current else None for l in range(1, last + 1)],
            frozenset({current}), frozenset({current}),
            current + 1 if current < last else None,
        )
    everything = frozenset(range(1, last + 1))
    return _Shown(
        "Δb", limits.bias_change,
        [None] + [None if p.bias is None else u.bias - p.bias for p, u in zip(step.parameters, step.update)],
        "ΔW", limits.weight_change, [u.weights - p.weights for p, u in zip(step.parameters, step.update)],
        everything, everything, None,
    )


def _shown_units(width: int) -> tuple[list[int], bool]:
    """Indices of the units drawn (0-based) and whether an ellipsis node follows them."""
    if width > MAX_UNITS:
        return list(range(SHOWN_UNITS)), True
    return list(range(width)), False


def _y(position: int, count: int) -> float:
    """Units of a layer centred on 0, one apart, unit 1 at the top."""
    return (count - 1) / 2 - position


def _which_example(spec: Spec, step) -> str:
    """'example 1 of 4', or 'example 3 (first of this step's batch of 2)'."""
    if step.batch is None:
        return f"example 1 of {spec.num_examples}"
    return f"example {step.batch[0] + 1} (first of this step's batch of {len(step.batch)})"


def _scatter(name: str, x: list, y: list, **properties) -> dict:
    return {"type": "scatter", "name": name, "x": x, "y": y, "showlegend": False, **properties}


def network_figure(spec: Spec, trace: Trace, substep: Substep, limits: Ranges | None = None) -> dict:
    """The layered network at one sub-step, as a figure dict: unit and edge colours, exact numbers on hover.

    `limits`: the colour ranges, `ranges(trace)`; by default those of the trace, computed once per trace.
    """
    shown = _shown_at(spec, trace, substep, limits or trace_ranges(trace))
    example = _which_example(spec, trace.step(substep.step))
    drawn = [_shown_units(width) for width in spec.widths]
    positions = [
        {unit: (float(layer), _y(k, len(indices) + more)) for k, unit in enumerate(indices)}
        for layer, (indices, more) in enumerate(drawn)
    ]
    data = _edge_traces(spec, shown, positions) + _unit_traces(spec, substep.kind, shown, positions, example)
    ellipses = [(float(layer), _y(len(indices), len(indices) + 1), spec.widths[layer] - len(indices))
                for layer, (indices, more) in enumerate(drawn) if more]
    if ellipses:
        data.append(_scatter(
            "more units", [x for x, _, _ in ellipses], [y for _, y, _ in ellipses], mode="text",
            text=[f"⋮ {hidden} more" for _, _, hidden in ellipses], hoverinfo="skip",
            textfont={"size": 12, "color": INK},
        ))
    tallest = max(len(indices) + more for indices, more in drawn)
    last = len(spec.layers)
    return {"data": data, "layout": {
        "template": {},
        "height": max(320, 58 * tallest + 130),
        "margin": {"l": 20, "r": 110, "t": 56, "b": 64},
        "title": {"text": _figure_title(substep.kind, shown.unit_name, shown.edge_name, example), "x": 0.01,
                  "xanchor": "left", "font": {"size": 13}},
        "xaxis": {"visible": False, "range": [-0.6, last + 0.6], "fixedrange": True},
        "yaxis": {"visible": False, "range": [-(tallest + 1) / 2, (tallest + 1) / 2], "fixedrange": True},
        "hovermode": "closest",
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "uirevision": "network",
        "annotations": _layer_labels(spec, tallest) + [_flow_arrow(substep.kind, last, tallest)],
    }}


def _edge_traces(spec: Spec, shown: _Shown, positions: list[dict]) -> list[dict]:
    """Every edge in light grey underneath (so a near-zero, white edge stays visible), the edges in one
    line trace per (colour bin, opacity), and one marker per edge carrying its exact value on hover."""
    rows, name = spec.layout == "rows", shown.edge_name
    segments: dict[tuple[int, float], tuple[list, list]] = {}  # bin -1: not computed yet
    paths_x, paths_y = [], []
    marks = {"x": [], "y": [], "value": [], "opacity": [], "text": []}
    pending = {"x": [], "y": [], "text": []}
    for layer in range(1, len(spec.layers) + 1):
        matrix, sources, targets = shown.edges[layer - 1], positions[layer - 1], positions[layer]
        opacity = OPAQUE if layer in shown.active_edges else FADED
        if matrix is not None:
            by_source = matrix if rows else matrix.T  # [source unit, target unit]
            block = by_source[np.ix_(list(sources), list(targets))]
            values, bins = block.tolist(), colour_bins(block, shown.edge_range).tolist()
        for i, (source, (x0, y0)) in enumerate(sources.items()):
            for j, (target, (x1, y1)) in enumerate(targets.items()):
                mark_x, mark_y = x0 + 0.7 * (x1 - x0), y0 + 0.7 * (y1 - y0)
                if matrix is None:
                    key = (-1, FADED)
                    pending["x"].append(mark_x)
                    pending["y"].append(mark_y)
                    pending["text"].append(f"{name}{layer}: computed in a later sub-step")
                else:
                    value = values[i][j]
                    key = (bins[i][j], opacity)
                    index = f"[{source + 1},{target + 1}]" if rows else f"[{target + 1},{source + 1}]"
                    marks["x"].append(mark_x)
                    marks["y"].append(mark_y)
                    marks["value"].append(value)
                    marks["opacity"].append(opacity)
                    marks["text"].append(
                        f"{name}{layer}{index} = {value!r}<br>"
                        f"from unit {source + 1} of {_layer_name(layer - 1)} to unit {target + 1} of layer {layer}"
                    )
                xs, ys = segments.setdefault(key, ([], []))
                xs += [x0, x1, None]
                ys += [y0, y1, None]
                paths_x += [x0, x1, None]
                paths_y += [y0, y1, None]

    data = [_scatter("edge paths", paths_x, paths_y, mode="lines", hoverinfo="skip",
                     line={"color": "#e3e3e3", "width": 1})]
    colours = bin_colours()
    for (bin_index, opacity), (xs, ys) in sorted(segments.items()):
        strength = 0 if bin_index < 0 else abs(bin_index - COLOUR_BINS / 2) / (COLOUR_BINS / 2)
        data.append(_scatter("edges", xs, ys, mode="lines", hoverinfo="skip", opacity=opacity, line={
            "color": PENDING_EDGE if bin_index < 0 else colours[bin_index], "width": 1 + 5 * strength}))
    data.append(_scatter(
        "edge values", marks["x"], marks["y"], mode="markers", hovertext=marks["text"], hoverinfo="text",
        marker={"size": 7 if max(spec.widths) <= 6 else 4, "color": marks["value"], "colorscale": colorscale(),
                "cmin": -shown.edge_range, "cmax": shown.edge_range, "opacity": marks["opacity"],
                "line": {"width": 0.5, "color": INK}, "showscale": True,
                "colorbar": {"title": {"text": name, "side": "top"}, "xref": "container", "x": 1,
                             "xanchor": "right", "len": 0.8, "thickness": 12}},
    ))
    if pending["x"]:
        data.append(_scatter(
            "pending edge values", pending["x"], pending["y"], mode="markers", hovertext=pending["text"],
            hoverinfo="text", marker={"size": 6, "color": NEUTRAL, "opacity": FADED, "line": {"width": 0.5, "color": INK}},
        ))
    return data


def _unit_traces(spec: Spec, kind: str, shown: _Shown, positions: list[dict], example: str) -> list[dict]:
    """White discs under every unit (so a faded unit hides the edges behind it), the units with a value
    (with the colour bar), and the units without one."""
    unit = {"x": [], "y": [], "value": [], "opacity": [], "text": [], "label": [], "label_colour": []}
    blank = {"x": [], "y": [], "opacity": [], "text": []}
    for layer, values in enumerate(shown.units):
        opacity = OPAQUE if layer in shown.active_layers else NEARBY if layer == shown.nearby_layer else FADED
        values = None if values is None else values.tolist()
        for index, (x, y) in positions[layer].items():
            description = f"unit {index + 1} of {_layer_name(layer)}"
            if values is None:
                blank["x"].append(x)
                blank["y"].append(y)
                blank["opacity"].append(opacity)
                blank["text"].append(description + "<br>" + _no_value(kind, layer))
                continue
            value = values[index]
            unit["x"].append(x)
            unit["y"].append(y)
            unit["value"].append(value)
            unit["opacity"].append(opacity)
            unit["text"].append(f"{description}<br>{_unit_symbol(shown.unit_name, layer, kind)} = {value!r}"
                                + ("" if kind == "update" else f"  ({example})"))
            unit["label"].append(_short(value))
            dark = abs(value) > 0.6 * shown.unit_range and opacity == OPAQUE
            unit["label_colour"].append("#ffffff" if dark else "#111111")
    data = [
        _scatter("unit backgrounds", unit["x"] + blank["x"], unit["y"] + blank["y"], mode="markers",
                 hoverinfo="skip", marker={"size": 34, "color": NEUTRAL, "line": {"width": 0}}),
        _scatter("units", unit["x"], unit["y"], mode="markers+text", hovertext=unit["text"], hoverinfo="text",
                 text=unit["label"], textfont={"size": 10, "color": unit["label_colour"]},
                 marker={"size": 34, "color": unit["value"], "colorscale": colorscale(), "cmin": -shown.unit_range,
                         "cmax": shown.unit_range, "opacity": unit["opacity"], "line": {"width": 1, "color": INK},
                         # The figure title says which example; the two bars sit side by side at the right edge.
                         "showscale": True,
                         "colorbar": {"title": {"text": shown.unit_name, "side": "top"}, "xref": "container", "x": 1,
                                      "xanchor": "right", "xpad": 62, "len": 0.8, "thickness": 12}}),
    ]
    if blank["x"]:
        data.append(_scatter(
            "units without a value", blank["x"], blank["y"], mode="markers", hovertext=blank["text"],
            hoverinfo="text",
            marker={"size": 34, "color": NEUTRAL, "opacity": blank["opacity"], "line": {"width": 1, "color": INK}},
        ))
    return data


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
