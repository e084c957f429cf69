"""Figures of a training run: the decision boundary, each hidden unit over the input plane, the curves.

The boundary is two figures of the same size stacked in the page: `field_figure`
(the network's output over the plane: a heatmap, or a line for 1-D data, with
hidden axes) and `boundary_figure` over it (axes, the points, the colour bar).
Only the field changes while training, and a Plotly figure without axes redraws
in a fraction of the time, which keeps the boundary moving at 30 frames a second.
The hidden units are one mosaic in the same way: `units_figure` (a heatmap, or
one line through every tile for 1-D data) under `unit_frames_figure` (the
tiles' frames and labels). Each tile is scaled to its activation's range (tanh
-1..1, sigmoid 0..1; an unbounded relu or identity layer to its largest value
in that state).

Builders take the run (an engine Experiment) and parameters and return a
`go.Figure`; `plane_update` gives only what changes (the field's and the
mosaic's values) as typed arrays for `Plotly.react`: heatmaps as bytes 1..255
over a fixed range (0 marks a gap between tiles), lines as float32. Colour
ranges are fixed, so a colour means the same number in every frame.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine import datasets, experiment, network
from engine import features as featuremod

BOUNDARY_RESOLUTION = 80
UNIT_RESOLUTION = 24
MAX_UNITS_SHOWN = 12  # per hidden layer
SIDE = 360  # pixels of the plane's square (the line's width for 1-D data)
MARGIN = dict(l=52, r=78, t=58, b=46, autoexpand=False)  # the same in both stacked figures, so they align
GAP_X, GAP_Y = 3, 8  # mosaic cells between tiles, and between layers (room for the labels)
NEGATIVE, MIDDLE, POSITIVE = "#f59322", "#eef0f2", "#0877bd"  # the Playground's orange and blue
DIVERGING = [[0.0, NEGATIVE], [0.5, MIDDLE], [1.0, POSITIVE]]
CLASS_COLOURS = (NEGATIVE, POSITIVE, "#2e7d4f", "#b03a2e", "#7b4fb2", "#8a5a00", "#1f9bb4", "#c2185b", "#5f6b7a", "#333333")
INK, MUTED = "#1f2933", "#5f6b7a"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
BOUNDED = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "softmax": (0.0, 1.0)}
CURVES = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")


@dataclass(frozen=True)
class Plane:
    """The input line (1-D data) or square (2-D data) the run is drawn over."""

    x1: tuple[float, float]
    x2: tuple[float, float] | None

    def points(self, resolution: int) -> np.ndarray:
        """Grid points (R, 1) along the line, or (R*R, 2) row by row (x2 varies slowest)."""
        x1 = np.linspace(*self.x1, resolution)
        if self.x2 is None:
            return x1[:, None]
        grid1, grid2 = np.meshgrid(x1, np.linspace(*self.x2, resolution))
        return np.column_stack([grid1.ravel(), grid2.ravel()])


def plane_of(built: experiment.Experiment, generated: bool) -> Plane | None:
    """[-6, 6] for generated data, the data's range with a margin for CSV; None past 2 coordinates."""
    data = built.train
    if data.dimension > 2:
        return None
    if generated:
        bounds = (-datasets.EXTENT, datasets.EXTENT)
        return Plane(bounds, bounds if data.dimension == 2 else None)
    points = np.vstack([built.train.points, built.test.points])
    low, high = points.min(axis=0), points.max(axis=0)
    margin = np.maximum(0.1 * (high - low), 1e-3)
    ranges = [(float(a), float(b)) for a, b in zip(low - margin, high + margin)]
    return Plane(ranges[0], ranges[1] if data.dimension == 2 else None)


def typed(array: np.ndarray) -> dict:
    """A Plotly typed-array spec (base64): bytes stay bytes ("u1"), anything else goes as float32."""
    if array.dtype == np.uint8:
        values, dtype = np.ascontiguousarray(array), "u1"
    else:
        values, dtype = np.ascontiguousarray(array, dtype="<f4"), "f4"
    spec = {"dtype": dtype, "bdata": base64.b64encode(values.tobytes()).decode("ascii")}
    if values.ndim > 1:
        spec["shape"] = ",".join(str(n) for n in values.shape)
    return spec


def quantized(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Values in [low, high] as bytes 1..255 (clipped; NaN, a gap, as 0): what a heatmap's colours can show."""
    scaled = np.clip((values - low) / (high - low), 0.0, 1.0) * 254.0 + 1.0
    return np.where(np.isnan(values), 0, np.rint(np.nan_to_num(scaled, nan=0.0))).astype(np.uint8)


def _byte_scale(scale: list) -> list:
    """A colour scale over bytes 0..255: 0 is the paper (a gap), 1..255 the scale."""
    return [[0.0, "#ffffff"]] + [[(1.0 + 254.0 * stop) / 255.0, colour] for stop, colour in scale]


# What the network computes over the plane ------------------------------------------------------------------------


def _passes(built: experiment.Experiment, params, plane: Plane, resolution: int) -> list[network.LayerForward]:
    return experiment.passes_at(built, params, plane.points(resolution))


def _output_values(output: np.ndarray) -> np.ndarray:
    """One number per grid point: the output, P(class 1) of two softmax units, or the class of 3+."""
    if output.shape[1] == 1:
        return output[:, 0]
    if output.shape[1] == 2:
        return output[:, 1]
    return np.argmax(output, axis=1).astype(np.float64)


def _multiclass(built: experiment.Experiment) -> bool:
    return built.head == "softmax" and built.train.num_classes > 2


def output_range(built: experiment.Experiment) -> tuple[float, float]:
    """The fixed colour (or y) range of the output: the head's range, the classes, or the targets' range."""
    if _multiclass(built):
        return -0.5, built.train.num_classes - 0.5
    if built.train.task == "classification":
        return BOUNDED[built.head]
    targets = np.concatenate([built.train.targets, built.test.targets])
    low, high = float(targets.min()), float(targets.max())
    return (low - 0.5, high + 0.5) if high == low else (low, high)


def _field_values(built, params, plane: Plane) -> np.ndarray:
    """The line's y (float), or the heatmap's bytes: the class of 3+ classes, else the output over its range."""
    values = _output_values(_passes(built, params, plane, BOUNDARY_RESOLUTION)[-1].activation)
    if plane.x2 is None:
        return values
    grid = values.reshape(BOUNDARY_RESOLUTION, BOUNDARY_RESOLUTION)
    if _multiclass(built):
        return grid.astype(np.uint8)
    return quantized(grid, *output_range(built))


def hidden_units(built: experiment.Experiment) -> list[tuple[int, int]]:
    """(layer, unit) of every hidden unit shown, 1-based as the lab numbers them."""
    widths = built.run.spec.widths[1:-1]
    return [(layer, unit) for layer, width in enumerate(widths, start=1) for unit in range(1, min(width, MAX_UNITS_SHOWN) + 1)]


def _scaled(activation: str, values: np.ndarray) -> np.ndarray:
    """A layer's activations (points, units) mapped to -1..1: by its fixed range, or by its largest |value|."""
    if activation in BOUNDED:
        low, high = BOUNDED[activation]
        return 2.0 * (values - low) / (high - low) - 1.0
    limit = float(np.max(np.abs(values))) if values.size else 0.0
    return values / limit if np.isfinite(limit) and limit > 0 else np.zeros_like(values)


@dataclass(frozen=True)
class Mosaic:
    """Where each unit's tile lies in one grid of cells: layer 1 on top, a row of tiles per layer."""

    units: tuple[tuple[int, int], ...]
    columns: int
    rows: int

    @property
    def width(self) -> int:
        return self.columns * UNIT_RESOLUTION + (self.columns - 1) * GAP_X

    @property
    def height(self) -> int:
        return self.rows * UNIT_RESOLUTION + (self.rows - 1) * GAP_Y

    def corner(self, layer: int, unit: int) -> tuple[int, int]:
        """(x0, y0): the tile's lowest cell; y grows upwards as in the plane."""
        return (unit - 1) * (UNIT_RESOLUTION + GAP_X), (self.rows - layer) * (UNIT_RESOLUTION + GAP_Y)


def _mosaic(built: experiment.Experiment) -> Mosaic | None:
    units = hidden_units(built)
    if not units:
        return None
    return Mosaic(tuple(units), max(unit for _, unit in units), max(layer for layer, _ in units))


def _mosaic_values(built, params, plane: Plane, mosaic: Mosaic) -> np.ndarray:
    """The heatmap of every tile (NaN between tiles), or for 1-D data the y of one line through every tile."""
    passes = _passes(built, params, plane, UNIT_RESOLUTION)
    layers = built.run.spec.layers
    scaled = {layer: _scaled(layers[layer - 1].activation, passes[layer - 1].activation) for layer in range(1, mosaic.rows + 1)}
    if plane.x2 is None:
        pieces = []
        for layer, unit in mosaic.units:
            _, y0 = mosaic.corner(layer, unit)
            pieces += [y0 + (scaled[layer][:, unit - 1] + 1.0) / 2.0 * (UNIT_RESOLUTION - 1), [np.nan]]
        return np.concatenate(pieces)
    cells = np.full((mosaic.height, mosaic.width), np.nan)
    for layer, unit in mosaic.units:
        x0, y0 = mosaic.corner(layer, unit)
        tile = scaled[layer][:, unit - 1].reshape(UNIT_RESOLUTION, UNIT_RESOLUTION)
        cells[y0 : y0 + UNIT_RESOLUTION, x0 : x0 + UNIT_RESOLUTION] = tile
    return quantized(cells, -1.0, 1.0)


def plane_update(built: experiment.Experiment, params, plane: Plane | None) -> dict | None:
    """{"field": {"traces": [[0, key, values]]}, "units": {...}}: what the figures show for `params`."""
    if plane is None:
        return None
    key = "y" if plane.x2 is None else "z"
    update = {"field": {"traces": [[0, key, typed(_field_values(built, params, plane))]]}}
    mosaic = _mosaic(built)
    if mosaic is not None:
        update["units"] = {"traces": [[0, key, typed(_mosaic_values(built, params, plane, mosaic))]]}
    return update


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
                 title=dict(text=built.train.columns[0]), ticks="outside", linecolor=MUTED, mirror=True)
    if plane.x2 is not None:
        y_range = list(plane.x2)
        y_title = built.train.columns[1]
    else:
        low, high = output_range(built)
        y_range = [low - 0.25 * (high - low), high + 0.25 * (high - low)]
        y_title = built.train.target_name
    yaxis = dict(range=y_range, fixedrange=True, visible=visible, zeroline=False, showgrid=False,
                 title=dict(text=y_title), ticks="outside", linecolor=MUTED, mirror=True)
    return _layout(width=MARGIN["l"] + MARGIN["r"] + SIDE, height=height, margin=MARGIN, xaxis=xaxis, yaxis=yaxis)


def field_figure(built: experiment.Experiment, params, plane: Plane | None) -> go.Figure | None:
    """The network's output over the plane, without axes: the part that changes at every frame."""
    if plane is None:
        return None
    values = _field_values(built, params, plane)
    grid = np.linspace(*plane.x1, BOUNDARY_RESOLUTION)
    low, high = output_range(built)
    if plane.x2 is None:
        trace = go.Scatter(x=grid, y=values, mode="lines", line=dict(color=INK, width=2.5), hoverinfo="skip")
    else:
        if _multiclass(built):
            colours = dict(zmin=-0.5, zmax=built.train.num_classes - 0.5, colorscale=_class_scale(built.train.num_classes))
        else:
            colours = dict(zmin=0, zmax=255, colorscale=_byte_scale(DIVERGING))
        trace = go.Heatmap(x=grid, y=np.linspace(*plane.x2, BOUNDARY_RESOLUTION), z=values, showscale=False,
                           hoverinfo="skip", zsmooth="fast", **colours)
    layout = _frame(plane, False, built)
    layout["plot_bgcolor"] = "#ffffff"
    return go.Figure([trace], layout)


def boundary_figure(built: experiment.Experiment, plane: Plane | None) -> go.Figure | None:
    """What lies over the field: the axes, the training and test points, the colour bar, the picked batch."""
    if plane is None:
        return None
    traces = _points_1d(built) if plane.x2 is None else _points_2d(built)
    if plane.x2 is not None and not _multiclass(built):
        low, high = output_range(built)
        # An invisible marker carries the colour bar of the field below.
        traces.append(go.Scatter(
            x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
            marker=dict(color=[low], cmin=low, cmax=high, colorscale=DIVERGING, showscale=True,
                        colorbar=dict(thickness=10, len=0.85, x=1.04, xanchor="left",
                                      title=dict(text=_output_label(built), side="right"))),
        ))
    traces.append(go.Scatter(
        x=[], y=[], mode="markers", meta="batch", name="batch of the picked step", showlegend=False, hoverinfo="skip",
        marker=dict(size=12, color="rgba(0,0,0,0)", line=dict(color=INK, width=2)),
    ))
    layout = _frame(plane, True, built)
    layout["legend"] = dict(orientation="h", x=0, y=1.02, yanchor="bottom", font=dict(size=11))
    layout["hovermode"] = "closest"
    return go.Figure(traces, layout)


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
            traces.append(go.Scatter(
                x=data.points[chosen, 0], y=data.points[chosen, 1], mode="markers",
                name=f"{role}, {_class_name(built, index)}",
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
    mosaic = _mosaic(built)
    if plane is None or mosaic is None:
        return None
    values = _mosaic_values(built, params, plane, mosaic)
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
    mosaic = _mosaic(built)
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
    figure.update_yaxes(type="log", gridcolor="#eef0f2", row=1, col=1)
    if classify:
        figure.update_yaxes(range=[0, 1.02], gridcolor="#eef0f2", row=1, col=2)
    figure.update_layout(**_layout(height=280, hovermode="x", margin=dict(l=48, r=10, t=28, b=40),
                                   plot_bgcolor="#ffffff", legend=dict(orientation="h", y=-0.28, x=0)))
    return figure


def feature_labels(built: experiment.Experiment) -> list[str]:
    names = built.encoder.features
    return list(built.train.columns) if names is None else [featuremod.label(name) for name in names]
