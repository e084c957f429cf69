"""What a training run's network computes over its input plane, as the page's figures draw it.

`plane_of` says which square (2-D data) or line (1-D data) a run is drawn over;
`plane_update` gives, for some parameters, what changes in the figures: the
network's output over the plane (the field) and each hidden unit's activation
as a tile of one mosaic, layer 1 on top. Heatmaps go as bytes 1..255 over a
fixed range (0 marks a gap between tiles), lines as float32, both as Plotly
typed arrays. Each tile is scaled to its activation's range (tanh -1..1,
sigmoid 0..1; an unbounded relu or identity layer to its largest value in
that state).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

from engine import datasets, experiment, network

BOUNDARY_RESOLUTION = 80
UNIT_RESOLUTION = 24
MAX_UNITS_SHOWN = 12  # per hidden layer
GAP_X, GAP_Y = 3, 8  # mosaic cells between tiles, and between layers (room for the labels)
BOUNDED = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "softmax": (0.0, 1.0)}


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


def multiclass(built: experiment.Experiment) -> bool:
    return built.head == "softmax" and built.train.num_classes > 2


def output_range(built: experiment.Experiment) -> tuple[float, float]:
    """The fixed colour (or y) range of the output: the head's range, the classes, or the targets' range."""
    if multiclass(built):
        return -0.5, built.train.num_classes - 0.5
    if built.train.task == "classification":
        return BOUNDED[built.head]
    targets = np.concatenate([built.train.targets, built.test.targets])
    low, high = float(targets.min()), float(targets.max())
    return (low - 0.5, high + 0.5) if high == low else (low, high)


def field_values(built, params, plane: Plane) -> np.ndarray:
    """The line's y (float), or the heatmap's bytes: the class of 3+ classes, else the output over its range."""
    values = _output_values(_passes(built, params, plane, BOUNDARY_RESOLUTION)[-1].activation)
    if plane.x2 is None:
        return values
    grid = values.reshape(BOUNDARY_RESOLUTION, BOUNDARY_RESOLUTION)
    if multiclass(built):
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


def mosaic_of(built: experiment.Experiment) -> Mosaic | None:
    units = hidden_units(built)
    if not units:
        return None
    return Mosaic(tuple(units), max(unit for _, unit in units), max(layer for layer, _ in units))


def mosaic_values(built, params, plane: Plane, mosaic: Mosaic) -> np.ndarray:
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
    update = {"field": {"traces": [[0, key, typed(field_values(built, params, plane))]]}}
    mosaic = mosaic_of(built)
    if mosaic is not None:
        update["units"] = {"traces": [[0, key, typed(mosaic_values(built, params, plane, mosaic))]]}
    return update
