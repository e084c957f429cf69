"""The network diagram and the loss curve, checked against the engine's trace JSON and plotly's own colours."""
from __future__ import annotations

import gc
import json
import weakref

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from plotly.colors import sample_colorscale

from engine import presets, timeline
from engine import spec as specmod
from engine import trace as tracemod
from engine.timeline import Substep
from webapp.figures import colours, diagram, loss_curve, ranges


def run(body: dict):
    spec = specmod.from_request(body)
    return spec, tracemod.run(spec)


def traces(figure: dict, name: str) -> list[dict]:
    return [t for t in figure["data"] if t["name"] == name]


def points(figure: dict, *names: str) -> int:
    return sum(len(t["x"]) for name in names for t in traces(figure, name))


def segments(figure: dict, name: str) -> int:
    return sum(t["x"].count(None) for t in traces(figure, name))


def one(figure: go.Figure, name: str):
    (found,) = traces(figure, name)
    return found


@pytest.fixture(scope="module")
def seed002():
    """A 2-3-1 network in the columns layout."""
    body = presets.get("seed002-ex2").body()
    spec, trace = run(body)
    return spec, trace, trace.to_dict()


@pytest.mark.parametrize("key", ["s0-forward-1", "s0-forward-2", "s0-loss", "s0-backward-2", "s0-backward-1",
                                 "s0-update"])
def test_a_2_3_1_network_has_6_units_and_9_edges(seed002, key):
    spec, trace, _ = seed002
    figure = diagram.network_figure(spec, trace, timeline.parse_key(key))
    assert points(figure, "units", "units without a value") == 6
    assert points(figure, "edge values", "pending edge values") == 9
    assert segments(figure, "edge paths") == 9
    assert segments(figure, "edges") == 9
    assert not traces(figure, "more units")


def test_units_sit_in_columns_left_to_right(seed002):
    spec, trace, _ = seed002
    figure = diagram.network_figure(spec, trace, Substep(0, "loss", None))
    units = one(figure, "units")
    assert sorted(units["x"]) == [0, 0, 1, 1, 1, 2]
    assert figure["layout"]["xaxis"]["range"][0] < 0 < 2 < figure["layout"]["xaxis"]["range"][1]


def test_hover_texts_carry_exact_values(seed002):
    spec, trace, data = seed002
    step = data["steps"][0]
    forward = diagram.network_figure(spec, trace, Substep(0, "forward", 1))
    hover = " | ".join(one(forward, "units")["hovertext"])
    for unit, row in enumerate(step["forward"][0]["activation"]):  # columns layout: row = unit, column = example
        assert f"Z1 = {row[0]!r}" in hover
    edges = " | ".join(one(forward, "edge values")["hovertext"])
    assert f"W1[2,1] = {0.7!r}" in edges  # columns layout: from input 1 to hidden unit 2
    assert f"W2[1,3] = {0.09!r}" in edges
    backward = diagram.network_figure(spec, trace, Substep(0, "backward", 2))
    grad_w2 = step["backward"][0]["grad_weights"][0]
    edges = " | ".join(one(backward, "edge values")["hovertext"])
    for source, value in enumerate(grad_w2, start=1):
        assert f"dL/dW2[1,{source}] = {value!r}" in edges
    delta = step["backward"][0]["delta"][0][0]
    assert f"δ2 = {delta!r}" in " | ".join(one(backward, "units")["hovertext"])
    update = diagram.network_figure(spec, trace, Substep(0, "update", None))
    change = step["update"][1]["weights"][0][1] - 0.03  # W2[1,2] starts at 0.03
    assert f"ΔW2[1,2] = {change!r}" in " | ".join(one(update, "edge values")["hovertext"])


def test_colours_follow_the_values(seed002):
    spec, trace, data = seed002
    figure = diagram.network_figure(spec, trace, Substep(0, "backward", 2))
    marks = one(figure, "edge values")
    expected = data["steps"][0]["backward"][0]["grad_weights"][0]
    assert marks["marker"]["color"] == expected
    assert marks["marker"]["colorscale"] and one(figure, "units")["marker"]["colorscale"]


def _ranges(figure: dict) -> tuple[tuple[float, float], tuple[float, float]]:
    units, edges = one(figure, "units")["marker"], one(figure, "edge values")["marker"]
    return (units["cmin"], units["cmax"]), (edges["cmin"], edges["cmax"])


def test_colour_ranges_are_symmetric_and_fixed_across_sub_steps():
    body = presets.get("xor").body()  # rows layout, 10 steps
    spec, trace = run(body)
    data = trace.to_dict()
    first = lambda matrix: np.asarray(matrix, dtype=float)[0]  # noqa: E731  (rows layout: the first example)
    activation = max(np.abs(first(body["inputs"])).max(),
                     *(np.abs(first(f["activation"])).max() for s in data["steps"] for f in s["forward"]))
    weights = max(np.abs(np.asarray(p["weights"])).max() for s in data["steps"] for p in s["update"])
    weights = max(weights, *(np.abs(np.asarray(layer["weights"])).max() for layer in body["layers"]))
    delta = max(np.abs(first(b["delta"])).max() for s in data["steps"] for b in s["backward"])
    gradient = max(np.abs(np.asarray(b["grad_weights"])).max() for s in data["steps"] for b in s["backward"])
    seen: dict[str, set] = {}
    for sub in timeline.substeps(len(spec.layers), spec.steps):
        figure = diagram.network_figure(spec, trace, sub)
        units, edges = _ranges(figure)
        assert edges[0] == -edges[1] and edges[1] > 0
        if one(figure, "units")["x"]:
            assert units[0] == -units[1] and units[1] > 0
        seen.setdefault(sub.kind, set()).add((units, edges))
    assert len(seen["forward"]) == len(seen["backward"]) == len(seen["update"]) == 1
    assert seen["loss"] == seen["forward"]
    (units, edges), = seen["forward"]
    assert units[1] == pytest.approx(activation) and edges[1] == pytest.approx(weights)
    (units, edges), = seen["backward"]
    assert units[1] == pytest.approx(delta) and edges[1] == pytest.approx(gradient)


def test_the_current_layer_is_opaque_and_the_rest_faded(seed002):
    spec, trace, _ = seed002
    figure = diagram.network_figure(spec, trace, Substep(0, "loss", None))
    units = one(figure, "units")
    opacity = dict(zip(zip(units["x"], units["y"]), units["marker"]["opacity"]))
    assert {o for (x, _), o in opacity.items() if x == 2} == {1.0}
    assert all(o < 1.0 for (x, _), o in opacity.items() if x < 2)
    backward = diagram.network_figure(spec, trace, Substep(0, "backward", 2))
    edge_marks = one(backward, "edge values")
    assert set(edge_marks["marker"]["opacity"]) == {1.0}  # only layer 2's gradients exist yet, and they are current
    assert one(backward, "pending edge values")["marker"]["opacity"] == diagram.FADED
    forward = diagram.network_figure(spec, trace, Substep(0, "forward", 2))
    marks = one(forward, "edge values")
    by_layer = {x > 1: set() for x in marks["x"]}
    for x, o in zip(marks["x"], marks["marker"]["opacity"]):
        by_layer[x > 1].add(o)
    assert by_layer == {True: {1.0}, False: {diagram.FADED}}


def test_values_not_computed_yet_are_left_blank(seed002):
    spec, trace, _ = seed002
    forward = diagram.network_figure(spec, trace, Substep(0, "forward", 1))
    assert points(forward, "units") == 5 and points(forward, "units without a value") == 1
    backward = diagram.network_figure(spec, trace, Substep(0, "backward", 2))
    assert points(backward, "units") == 1  # only δ2; δ1 comes next and the inputs get none
    assert points(backward, "pending edge values") == 6


@pytest.mark.parametrize("widths", [(2, 1), (3, 16, 5, 4, 3, 2, 2, 2, 1)])
def test_one_to_eight_layers_and_an_ellipsis_for_wide_layers(widths):
    rng = np.random.default_rng(3)
    body = {"layout": "rows",
            "layers": [{"weights": rng.normal(size=(a, b)).round(2).tolist(), "bias": [0.1] * b, "activation": "tanh"}
                       for a, b in zip(widths, widths[1:])],
            "inputs": rng.normal(size=(4, widths[0])).round(2).tolist(),
            "targets": rng.normal(size=(4, widths[-1])).round(2).tolist(),
            "loss": {"name": "squared_error"}, "steps": 1}
    spec, trace = run(body)
    shown = [min(w, diagram.SHOWN_UNITS) if w > diagram.MAX_UNITS else w for w in widths]
    for sub in timeline.substeps(len(widths) - 1, 1):
        figure = diagram.network_figure(spec, trace, sub)
        assert points(figure, "units", "units without a value") == sum(shown)
        assert points(figure, "edge values", "pending edge values") == sum(a * b for a, b in zip(shown, shown[1:]))
        pio.to_json(figure, validate=True)
    if max(widths) > diagram.MAX_UNITS:
        assert one(figure, "more units")["text"] == ["⋮ 6 more"]


def test_the_title_names_the_example(seed002):
    spec, trace, _ = seed002
    title = diagram.network_figure(spec, trace, Substep(0, "forward", 1))["layout"]["title"]["text"]
    assert "example 1 of 4" in title


def test_loss_curve_marks_the_current_step():
    spec, trace = run(presets.get("hw7-relu-softmax").body())  # 3 steps
    history = trace.to_dict()["loss_history"]
    figure = loss_curve.loss_curve_figure(trace, 2)
    curve, current = one(figure, "loss"), one(figure, "current step")
    assert curve["x"] == [0, 1, 2, 3] and curve["y"] == history
    assert current["x"] == [2] and current["y"] == [history[2]]
    assert repr(history[2]) in current["hovertext"][0]
    pio.to_json(figure, validate=True)


def test_a_mini_batch_step_shows_its_first_example():
    body = presets.get("seed002-ex2").body()
    body.update(batch_size=2, steps=2)
    spec, trace = run(body)
    for index, step in enumerate(trace.to_dict()["steps"]):
        first = step["batch"][0]
        figure = diagram.network_figure(spec, trace, Substep(index, "forward", 1))
        assert f"example {first + 1} (first of this step's batch of 2)" in figure["layout"]["title"]["text"]
        hover = " | ".join(one(figure, "units")["hovertext"])
        for row in body["inputs"]:  # columns layout: row = input unit, column = example
            assert f"X = {row[first]!r}" in hover
        for row in step["forward"][0]["activation"]:
            assert f"Z1 = {row[0]!r}" in hover


def test_precomputed_ranges_give_the_same_figure():
    spec, trace = run(presets.get("hw7-relu-softmax").body())
    limits = ranges.ranges(trace)
    for sub in timeline.substeps(len(spec.layers), spec.steps)[::5]:
        assert diagram.network_figure(spec, trace, sub, limits) == diagram.network_figure(spec, trace, sub)


# Colours: the server bins the edges, plotly.js colours the markers; both must be plotly's RdBu_r.
SAMPLE_POINTS = [0.0, 0.05, 0.1, 0.15, 0.35, 0.5, 0.65, 0.7, 0.72, 0.95, 1.0]


def test_colours_equal_plotlys_sample_colorscale():
    assert colours.colours_at(SAMPLE_POINTS) == sample_colorscale("RdBu_r", SAMPLE_POINTS)
    every_bin = [k / 20 for k in range(21)]
    assert colours.colours_at(every_bin) == sample_colorscale("RdBu_r", every_bin)


def _drawn_edges(figure: dict) -> dict[tuple[float, float], tuple[str, float]]:
    """(colour, width) of each drawn edge, keyed by where its value marker sits (70% along it)."""
    found = {}
    for edges in traces(figure, "edges"):
        xs, ys = edges["x"], edges["y"]
        for k in range(0, len(xs), 3):
            at = (round(xs[k] + 0.7 * (xs[k + 1] - xs[k]), 9), round(ys[k] + 0.7 * (ys[k + 1] - ys[k]), 9))
            found[at] = (edges["line"]["color"], edges["line"]["width"])
    return found


@pytest.mark.parametrize("preset", ["hw7-relu-softmax", "seed002-ex2"])
def test_edge_colours_are_plotlys_colour_of_their_value_in_20_steps(preset):
    spec, trace = run(presets.get(preset).body())
    checked = 0
    for sub in timeline.substeps(len(spec.layers), spec.steps)[:12]:
        figure = diagram.network_figure(spec, trace, sub)
        drawn = _drawn_edges(figure)
        marks = one(figure, "edge values")
        largest = marks["marker"]["cmax"]
        for x, y, value in zip(marks["x"], marks["y"], marks["marker"]["color"]):
            level = round(min(max((value / largest + 1) / 2, 0.0), 1.0) * 20) / 20
            colour, width = drawn[(round(x, 9), round(y, 9))]
            assert colour == sample_colorscale("RdBu_r", [level])[0]
            assert width == pytest.approx(1 + 5 * abs(2 * level - 1))
            checked += 1
        for pending in traces(figure, "pending edge values"):
            for x, y in zip(pending["x"], pending["y"]):
                assert drawn[(round(x, 9), round(y, 9))] == ("#cccccc", 1)
    assert checked > 50 if preset == "hw7-relu-softmax" else checked > 20


def test_markers_use_plotlys_rdbu_r_stops():
    expected = [list(stop) for stop in go.scatter.Marker(colorscale="RdBu_r").colorscale]
    spec, trace = run(presets.get("xor").body())
    figure = diagram.network_figure(spec, trace, Substep(0, "loss", None))
    assert one(figure, "units")["marker"]["colorscale"] == expected
    assert one(figure, "edge values")["marker"]["colorscale"] == expected


def test_figures_are_plain_json_that_plotly_validates():
    spec, trace = run(presets.get("hw7-autoencoder").body())
    for sub in timeline.substeps(len(spec.layers), spec.steps):
        figure = diagram.network_figure(spec, trace, sub)
        plain = json.loads(json.dumps(figure, allow_nan=False))
        assert plain == figure  # lists, floats and strings only, so nothing is sent as base64
        go.Figure(plain)  # every property is one plotly knows
    curve = loss_curve.loss_curve_figure(trace, 1)
    assert json.loads(json.dumps(curve, allow_nan=False)) == curve
    go.Figure(curve)


def test_each_trace_has_its_own_colour_ranges_and_is_not_kept_alive_by_them():
    body = presets.get("xor").body()
    spec, trace = run(body)
    for layer in body["layers"]:
        layer["weights"] = (3 * np.asarray(layer["weights"])).tolist()
    bigger_spec, bigger = run(body)
    for spec_, trace_, initial in ((spec, trace, 1), (bigger_spec, bigger, 3), (spec, trace, 1)):
        data = trace_.to_dict()
        weights = max(np.abs(np.asarray(p["weights"])).max() for s in data["steps"] for p in s["update"])
        weights = max(weights, *(initial * np.abs(np.asarray(layer["weights"])).max()
                                 for layer in presets.get("xor").request["layers"]))
        figure = diagram.network_figure(spec_, trace_, Substep(0, "forward", 1))
        assert one(figure, "edge values")["marker"]["cmax"] == pytest.approx(weights, rel=1e-15)
    gone = weakref.ref(bigger)
    del bigger, trace_
    gc.collect()
    assert gone() is None
