"""What the training figures show over the plane: the field against the network written out, the mosaic's tiles."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from engine import datasets, experiment, training
from engine.spec import Optimizer
from tests.training.runs import build
from webapp.training import figures, planes


def decode(spec: dict) -> np.ndarray:
    dtype = {"u1": np.uint8, "f4": "<f4"}[spec["dtype"]]
    values = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=dtype)
    return values.reshape([int(n) for n in spec["shape"].split(",")]) if "shape" in spec else values


def written_out(params, x1, x2):
    """The 2-3-2-1 tanh network with a sigmoid output at one point, without the engine."""
    z = np.array([x1, x2])
    for index, (weights, bias) in enumerate(params):
        s = z @ weights + bias
        z = 1 / (1 + np.exp(-s)) if index == len(params) - 1 else np.tanh(s)
    return z


def test_quantized_maps_the_range_to_bytes_1_to_255_and_gaps_to_0():
    out = planes.quantized(np.array([-1.0, 0.0, 1.0, 5.0, -7.0, np.nan]), -1.0, 1.0)
    assert out.tolist() == [1, 128, 255, 255, 1, 0]


def test_typed_arrays_round_trip():
    grid = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert decode(planes.typed(grid)).tolist() == grid.tolist()
    line = np.array([0.5, -1.25])
    assert planes.typed(line)["dtype"] == "f4" and decode(planes.typed(line)).tolist() == [0.5, -1.25]


def test_the_field_is_the_networks_output_over_the_plane():
    built = build()
    state, _ = training.advance(built.run, training.start(built.run), 5)
    plane = planes.plane_of(built, generated=True)
    assert plane.x1 == plane.x2 == (-6.0, 6.0)
    update = planes.plane_update(built, state.params, plane)
    field = decode(update["field"]["traces"][0][2])
    n = planes.BOUNDARY_RESOLUTION
    assert field.shape == (n, n)
    grid = np.linspace(-6, 6, n)
    for i, j in [(0, 0), (10, 70), (n - 1, 33), (45, n - 1)]:
        # row i runs along x2, column j along x1
        probability = written_out(state.params, grid[j], grid[i])[0]
        assert field[i, j] == round(probability * 254 + 1)


def test_each_unit_has_its_tile_in_the_mosaic():
    built = build()
    params = training.start(built.run).params
    plane = planes.plane_of(built, generated=True)
    cells = decode(planes.plane_update(built, params, plane)["units"]["traces"][0][2])
    r, gx, gy = planes.UNIT_RESOLUTION, planes.GAP_X, planes.GAP_Y
    assert cells.shape == (2 * r + gy, 3 * r + 2 * gx)
    grid = np.linspace(-6, 6, r)
    w1, b1 = params[0]
    w2, b2 = params[1]
    # h1.2 (top row, second tile) and h2.1 (bottom row, first tile); tanh's -1..1 maps to 1..255
    for (layer, unit), (x0, y0) in {(1, 2): (r + gx, r + gy), (2, 1): (0, 0)}.items():
        for i, j in [(0, 0), (5, 17), (r - 1, r - 1)]:
            hidden1 = np.tanh(np.array([grid[j], grid[i]]) @ w1 + b1)
            value = hidden1[unit - 1] if layer == 1 else np.tanh(hidden1 @ w2 + b2)[unit - 1]
            assert cells[y0 + i, x0 + j] == round((value + 1) / 2 * 254 + 1)
    assert cells[r + gy, 3 * r + 2 * gx - 1] != 0 and cells[r, 0] == 0  # h1.3 is drawn; between layers, a gap


def test_one_dimensional_data_draws_lines():
    built = build("sine", features=("x1", "sin_x1"), hidden=(4,))
    plane = planes.plane_of(built, generated=True)
    assert plane.x2 is None
    params = training.start(built.run).params
    update = planes.plane_update(built, params, plane)
    line = decode(update["field"]["traces"][0][2])
    grid = np.linspace(-6, 6, planes.BOUNDARY_RESOLUTION)
    (w1, b1), (w2, b2) = params
    expected = np.tanh(np.column_stack([grid, np.sin(grid)]) @ w1 + b1) @ w2 + b2
    np.testing.assert_allclose(line, expected[:, 0], rtol=1e-6, atol=1e-6)
    assert figures.field_figure(built, params, plane).data[0].type == "scatter"
    units = decode(update["units"]["traces"][0][2])
    assert units.shape == (4 * (planes.UNIT_RESOLUTION + 1),) and np.isnan(units[planes.UNIT_RESOLUTION])


def test_csv_data_is_drawn_over_its_own_range_and_not_past_two_columns():
    data = datasets.parse_csv("a,b,y\n0,10,0\n1,20,1\n2,30,0\n3,40,1\n", 10, 4)
    built = experiment.build(data, data.subset(np.arange(0)), features=None, hidden=(2,), activation="relu",
                             head="sigmoid", optimizer=Optimizer("sgd", 0.1), batch_size=None, seed=0)
    plane = planes.plane_of(built, generated=False)
    assert plane.x1 == pytest.approx((-0.3, 3.3)) and plane.x2 == pytest.approx((7.0, 43.0))
    wide = datasets.parse_csv("a,b,c,y\n0,1,2,0\n1,2,3,1\n", 10, 4)
    built = experiment.build(wide, wide.subset(np.arange(0)), features=None, hidden=(2,), activation="relu",
                             head="sigmoid", optimizer=Optimizer("sgd", 0.1), batch_size=None, seed=0)
    assert planes.plane_of(built, generated=False) is None
