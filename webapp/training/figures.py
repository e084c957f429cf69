"""Figures of a training run: the decision boundary, each hidden unit over the input plane, the curves.

The boundary is two figures of the same size stacked in the page: `field_figure`
(the network's output over the plane: a heatmap, or a line for 1-D data, with
hidden axes) and `boundary_figure` over it (axes, the points, the colour bar).
Only the field changes while training, and a Plotly figure without axes redraws
in a fraction of the time, which keeps the boundary moving at 30 frames a second.
The hidden units are one mosaic in the same way: `units_figure` (a heatmap, or
one line through every tile for 1-D data) under `unit_frames_figure` (the
tiles' frames and labels). Builders take the run (an engine Experiment) and its
parameters and return a `go.Figure`; training_planes computes the values, and
the updates the page draws while training. Colour ranges are fixed, so a colour
means the same number in every frame.
"""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine import experiment
from engine import features as featuremod

from .planes import (
    BOUNDARY_RESOLUTION,
    UNIT_RESOLUTION,
    Mosaic,
    Plane,
    field_values,
    mosaic_of,
    mosaic_values,
    multiclass,
    output_range,
)

SIDE = 360  # pixels of the plane's square (the line's width for 1-D data)
# The same in both stacked figures, so they align. The colour bar lies in the top margin, by the legend: the right
# margin holds the last x tick's label, and 52 + 360 + 16 pixels fit the page's column at 1366 pixels and up.
MARGIN = dict(l=52, r=16, t=64, b=46, autoexpand=False)
COLOURBAR = dict(length=130, thickness=8)  # pixels, as the lab's bars are sized (webapp/figures/heatmaps.py)
NEGATIVE, MIDDLE, POSITIVE = "#f59322", "#eef0f2", "#0877bd"  # the Playground's orange and blue
DIVERGING = [[0.0, NEGATIVE], [0.5, MIDDLE], [1.0, POSITIVE]]
CLASS_COLOURS = (NEGATIVE, POSITIVE, "#2e7d4f", "#b03a2e", "#7b4fb2", "#8a5a00", "#1f9bb4", "#c2185b", "#5f6b7a", "#333333")
INK, MUTED = "#1f2933", "#5f6b7a"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
CURVES = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")

def _text(name: str) -> str:
    """A CSV column's name as Plotly text: its tags shown as written, never drawn (Plotly reads <a>, <b>...)."""
    return html.escape(name, quote=False)


def _byte_scale(scale: list) -> list:
    """A colour scale over bytes 0..255: 0 is the paper (a gap), 1..255 the scale."""
    return [[0.0, "#ffffff"]] + [[(1.0 + 254.0 * stop) / 255.0, colour] for stop, colour in scale]


# Figures -------------------------------------------------------------------------------------------------------


def _layout(**extra) -> dict:
    base = dict(
        font=dict(family=FONT, size=12, color=INK),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin=dict(l=40, r=10, t=10, b=36),
        uirevision="run",
    )
    return {**base, **extra}


def _frame(plane: Plane, visible: bool, built: experiment.Experiment) -> dict:
    """The layout both stacked boundary figures share: size, margins, axis ranges."""
    height = MARGIN["t"] + MARGIN["b"] + (SIDE if plane.x2 is not None else 260)
    xaxis = dict(range=list(plane.x1), fixedrange=True, visible=visible, zeroline=False, showgrid=False,
                 title=dict(text=_text(built.train.columns[0])), ticks="outside", linecolor=MUTED, mirror=True)
    if plane.x2 is not None:
        y_range = list(plane.x2)
        y_title = _text(built.train.columns[1])
    else:
        low, high = output_range(built)
        y_range = [low - 0.25 * (high - low), high + 0.25 * (high - low)]
        y_title = _text(built.train.target_name)
    yaxis = dict(range=y_range, fixedrange=True, visible=visible, zeroline=False, showgrid=False,
                 title=dict(text=y_title), ticks="outside", linecolor=MUTED, mirror=True)
    return _layout(width=MARGIN["l"] + MARGIN["r"] + SIDE, height=height, margin=MARGIN, xaxis=xaxis, yaxis=yaxis)


def field_figure(built: experiment.Experiment, params, plane: Plane | None) -> go.Figure | None:
    """The network's output over the plane, without axes: the part that changes at every frame."""
    if plane is None:
        return None
    values = field_values(built, params, plane)
    grid = np.linspace(*plane.x1, BOUNDARY_RESOLUTION)
    low, high = output_range(built)
    if plane.x2 is None:
        trace = go.Scatter(x=grid, y=values, mode="lines", line=dict(color=INK, width=2.5), hoverinfo="skip")
    else:
        if multiclass(built):
            # classes are not blended: a smoothed edge between classes 0 and 2 would pass through 1's colour
            colours = dict(zmin=-0.5, zmax=built.train.num_classes - 0.5, zsmooth=False,
                           colorscale=_class_scale(built.train.num_classes))
        else:
            colours = dict(zmin=0, zmax=255, zsmooth="fast", colorscale=_byte_scale(DIVERGING))
        trace = go.Heatmap(x=grid, y=np.linspace(*plane.x2, BOUNDARY_RESOLUTION), z=values, showscale=False,
                           hoverinfo="skip", **colours)
    layout = _frame(plane, False, built)
    layout["plot_bgcolor"] = "#ffffff"
    return go.Figure([trace], layout)


def boundary_figure(built: experiment.Experiment, plane: Plane | None) -> go.Figure | None:
    """What lies over the field: the axes, the training and test points, the colour bar, the picked batch."""
    if plane is None:
        return None
    traces = _points_1d(built) if plane.x2 is None else _points_2d(built)
    if plane.x2 is not None and not multiclass(built):
        low, high = output_range(built)
        # An invisible marker carries the colour bar of the field below.
        traces.append(go.Scatter(
            x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
            marker=dict(color=[low], cmin=low, cmax=high, colorscale=DIVERGING, showscale=True,
                        colorbar=_colourbar(built)),
        ))
    traces.append(go.Scatter(
        x=[], y=[], mode="markers", meta="batch", name="batch of the picked step", showlegend=False, hoverinfo="skip",
        marker=dict(size=12, color="rgba(0,0,0,0)", line=dict(color=INK, width=2)),
    ))
    layout = _frame(plane, True, built)
    layout["legend"] = dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=11))
    layout["hovermode"] = "closest"
    return go.Figure(traces, layout)


def _colourbar(built: experiment.Experiment) -> dict:
    """The field's colour bar, over the plot's right end in the top margin: beside the plot it needed a margin the
    page's column cuts off. A head's fixed range is marked at its ends and middle, as the lab's bars; targets get
    Plotly's round numbers."""
    low, high = output_range(built)
    if built.train.task == "classification":
        ticks = [low, (low + high) / 2, high]
        marks = dict(tickmode="array", tickvals=ticks, ticktext=[f"{value:.3g}" for value in ticks])
    else:
        marks = dict(tickmode="auto", nticks=4)
    return dict(
        orientation="h", lenmode="pixels", len=COLOURBAR["length"], thickness=COLOURBAR["thickness"],
        xref="paper", x=1, xanchor="right", xpad=0, yref="paper", y=1, yanchor="bottom", ypad=6,
        outlinewidth=0, ticks="outside", ticklen=3, tickfont=dict(size=10),
        title=dict(text=_output_label(built), side="top", font=dict(size=11)), **marks,
    )


def _output_label(built: experiment.Experiment) -> str:
    if built.train.task == "regression":
        return "output"
    return "P(class 1)" if built.head in ("sigmoid", "softmax") else "output"


def _class_scale(classes: int) -> list:
    scale = []
    for c in range(classes):
        scale += [[c / classes, CLASS_COLOURS[c]], [(c + 1) / classes, CLASS_COLOURS[c]]]
    return scale


def _class_name(built: experiment.Experiment, index: int) -> str:
    value = built.train.classes[index]
    return f"class {index}" if value == index else f"class {index} ({value:g})"


def _points_2d(built: experiment.Experiment) -> list[go.Scatter]:
    traces = []
    for role, data, outline in (("train", built.train, "#ffffff"), ("test", built.test, INK)):
        if data.num_examples == 0:
            continue
        symbol = "circle" if role == "train" else "diamond"
        if data.task == "regression":
            low, high = output_range(built)
            traces.append(go.Scatter(
                x=data.points[:, 0], y=data.points[:, 1], mode="markers", name=role,
                marker=dict(size=7, color=data.targets, colorscale=DIVERGING, cmin=low, cmax=high, symbol=symbol,
                            line=dict(color=outline, width=1)),
                customdata=data.targets, hovertemplate=f"{role}: (%{{x}}, %{{y}}) → %{{customdata}}<extra></extra>",
            ))
            continue
        for index in range(data.num_classes):
            chosen = data.targets == index
            # one legend entry a class (the caption says circles train, diamonds test)
            traces.append(go.Scatter(
                x=data.points[chosen, 0], y=data.points[chosen, 1], mode="markers",
                name=_class_name(built, index), legendgroup=f"class {index}", showlegend=role == "train",
                marker=dict(size=6 if role == "train" else 7, color=CLASS_COLOURS[index], symbol=symbol,
                            line=dict(color=outline, width=1)),
                customdata=np.flatnonzero(chosen),
                hovertemplate=f"{role} example %{{customdata}}: (%{{x}}, %{{y}})<extra>{_class_name(built, index)}</extra>",
            ))
    return traces


def _points_1d(built: experiment.Experiment) -> list[go.Scatter]:
    traces = []
    for role, data, colour in (("train", built.train, POSITIVE), ("test", built.test, NEGATIVE)):
        if data.num_examples:
            traces.append(go.Scatter(
                x=data.points[:, 0], y=data.targets, mode="markers", name=role,
                marker=dict(size=6, color=colour, symbol="circle" if role == "train" else "diamond",
                            line=dict(color="#ffffff", width=1)),
                customdata=np.arange(data.num_examples),
                hovertemplate=f"{role} example %{{customdata}}: x = %{{x}}, y = %{{y}}<extra></extra>",
            ))
    return traces


def units_figure(built: experiment.Experiment, params, plane: Plane | None) -> go.Figure | None:
    """Every hidden unit hl.j as a tile of one mosaic: its activation over the plane (or along the line)."""
    mosaic = mosaic_of(built)
    if plane is None or mosaic is None:
        return None
    values = mosaic_values(built, params, plane, mosaic)
    if plane.x2 is None:
        x = []
        for layer, unit in mosaic.units:
            x0, _ = mosaic.corner(layer, unit)
            x += list(x0 + np.linspace(0, UNIT_RESOLUTION - 1, UNIT_RESOLUTION)) + [None]
        trace = go.Scatter(x=x, y=values, mode="lines", line=dict(color=POSITIVE, width=1.5), hoverinfo="skip")
    else:
        trace = go.Heatmap(z=values, zmin=0, zmax=255, colorscale=_byte_scale(DIVERGING), showscale=False,
                           hoverinfo="skip", zsmooth="fast")
    return go.Figure([trace], _mosaic_layout(mosaic))


def unit_frames_figure(built: experiment.Experiment, plane: Plane | None) -> go.Figure | None:
    """The mosaic's frames and labels (h1.1, h1.2, ...), drawn once over `units_figure`."""
    mosaic = mosaic_of(built)
    if plane is None or mosaic is None:
        return None
    shapes, labels = [], []
    for layer, unit in mosaic.units:
        x0, y0 = mosaic.corner(layer, unit)
        shapes.append(dict(type="rect", x0=x0 - 0.5, x1=x0 + UNIT_RESOLUTION - 0.5, y0=y0 - 0.5,
                           y1=y0 + UNIT_RESOLUTION - 0.5, line=dict(color="#c3cad4", width=1)))
        labels.append(dict(x=x0 + UNIT_RESOLUTION / 2 - 0.5, y=y0 + UNIT_RESOLUTION - 0.5, yanchor="bottom",
                           text=f"h{layer}.{unit}", showarrow=False, font=dict(size=10, color=MUTED)))
    return go.Figure([], {**_mosaic_layout(mosaic), "shapes": shapes, "annotations": labels})


def _mosaic_layout(mosaic: Mosaic) -> dict:
    cell = float(np.clip(440 / mosaic.width, 2.0, 4.0))
    axis = dict(visible=False, fixedrange=True)
    return _layout(
        width=int(mosaic.width * cell) + 8, height=int(mosaic.height * cell) + 22,
        margin=dict(l=4, r=4, t=18, b=4, autoexpand=False), showlegend=False, hovermode=False,
        xaxis=dict(axis, range=[-0.5, mosaic.width - 0.5]),
        yaxis=dict(axis, range=[-0.5, mosaic.height - 0.5]),
    )


def curves_figure(built: experiment.Experiment, metrics: dict) -> go.Figure:
    """Loss (and accuracy, for classes) against the step, train and test; `metrics` as the API answers them."""
    classify = built.train.task == "classification"
    figure = make_subplots(rows=1, cols=2 if classify else 1, horizontal_spacing=0.12,
                           subplot_titles=("loss", "accuracy") if classify else ("loss",))
    styles = {
        "train_loss": ("train", POSITIVE, "solid", 1),
        "test_loss": ("test", NEGATIVE, "dash", 1),
        "train_accuracy": ("train", POSITIVE, "solid", 2),
        "test_accuracy": ("test", NEGATIVE, "dash", 2),
    }
    for key in CURVES:
        values = metrics.get(key)
        name, colour, dash, column = styles[key]
        if values is None or (column == 2 and not classify):
            continue
        figure.add_trace(
            go.Scatter(
                x=metrics["steps"], y=values, mode="lines", name=name, meta=key, legendgroup=name,
                showlegend=column == 1, line=dict(color=colour, dash=dash, width=2),
                hovertemplate=f"step %{{x}}: {name} {key.split('_')[1]} %{{y:.4g}}<extra></extra>",
            ),
            row=1, col=column,
        )
    figure.update_xaxes(title_text="step (updates done)", rangemode="tozero", showspikes=True, spikemode="across",
                        spikethickness=1, spikecolor=MUTED)
    # Losses fall by orders of magnitude (and may spike first): a log axis shows all of it.
    figure.update_yaxes(type="log", tickformat=".2~g", gridcolor="#eef0f2", row=1, col=1)
    if classify:
        # Both axes start at 0 at the same corner, where Plotly would print their two zeros over each other:
        # the step axis' "0" is the only label there, the accuracy axis' tick at 0 goes unlabelled.
        accuracy_ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        figure.update_yaxes(range=[0, 1.02], gridcolor="#eef0f2", tickmode="array", tickvals=accuracy_ticks,
                            ticktext=[""] + [f"{tick:g}" for tick in accuracy_ticks[1:]], row=1, col=2)
    figure.update_layout(**_layout(height=280, hovermode="x", margin=dict(l=48, r=10, t=28, b=40),
                                   plot_bgcolor="#ffffff", legend=dict(orientation="h", y=-0.28, x=0)))
    return figure


def feature_labels(built: experiment.Experiment) -> list[str]:
    names = built.encoder.features
    return list(built.train.columns) if names is None else [featuremod.label(name) for name in names]
