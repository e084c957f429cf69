"""Heatmap figures: the tensors of a trace, the panels of each sub-step, colour ranges, figure builders.

Expected numbers come from the reference traces (refcases), not from the engine.
"""
import base64
import json

import numpy as np
import plotly.io as pio
import pytest

from engine import spec as specmod
from engine import trace as tracemod
from engine.timeline import Substep, substeps
from webapp.figures import heatmaps as figures


def traced(request):
    spec = specmod.from_request(request)
    return spec, tracemod.run(spec)


def array(value):
    return np.asarray(value, dtype=np.float64)


def column(values, layout):
    """A bias-like vector as the layout writes it."""
    values = array(values)
    return values.reshape(1, -1) if layout == "rows" else values.reshape(-1, 1)


def expected_tensors(case):
    """Every named matrix of step 0 straight from the reference trace."""
    request, step = case["request"], case["expected"]["steps"][0]
    layout = request["layout"]
    found = {"X": array(request["inputs"])}
    if request.get("targets") is not None:
        found["T"] = array(request["targets"])
    last = len(request["layers"])
    for forward in step["forward"]:
        layer = forward["layer"]
        found[f"S{layer}"] = array(forward["pre_activation"])
        found[f"Z{layer}"] = array(forward["activation"])
    found["Y"] = found[f"Z{last}"]
    if step["output_gradient"] is not None:
        found["dL/dY"] = array(step["output_gradient"])
    for backward in step["backward"]:
        layer = backward["layer"]
        found[f"δ{layer}"] = array(backward["delta"])
        found[f"dL/dW{layer}"] = array(backward["grad_weights"])
        if layer < last:
            found[f"dL/dZ{layer}"] = array(backward["grad_activation"])
        if backward["grad_bias"] is not None:
            found[f"dL/db{layer}"] = column(backward["grad_bias"], layout)
    for index, (layer, update) in enumerate(zip(request["layers"], step["update"]), start=1):
        found[f"W{index}"] = array(layer["weights"])
        found[f"W{index} (new)"] = array(update["weights"])
        found[f"ΔW{index}"] = array(update["weights"]) - array(layer["weights"])
        if layer.get("bias") is not None:
            found[f"b{index}"] = column(layer["bias"], layout)
            found[f"b{index} (new)"] = column(update["bias"], layout)
            found[f"Δb{index}"] = column(update["bias"], layout) - column(layer["bias"], layout)
    return found


@pytest.mark.parametrize(
    "case_name",
    ["seed_assignment1_ex2", "mazur_classic", "seed_hw3_problem2_case2_layer2_only", "quiz4_softmax_ce"],
)
def test_tensors_hold_the_reference_numbers(refcases, case_name):
    case = refcases[case_name]
    spec, trace = traced(case["request"])
    found = figures.tensors(spec, trace)
    expected = expected_tensors(case)
    for name, value in expected.items():
        np.testing.assert_allclose(found[name].frame(0), value, rtol=1e-9, atol=1e-12, err_msg=name)
    assert set(found) >= set(expected)


def test_labels_give_one_hot_targets(refcases):
    case = refcases["quiz4_softmax_ce"]
    spec, trace = traced(case["request"])
    targets = figures.tensors(spec, trace)["T"].frame(0)
    labels = case["request"]["labels"]
    assert targets.shape == (len(labels), 3)
    for row, label in zip(targets, labels):
        assert row.tolist() == [1.0 if k == label else 0.0 for k in range(3)]
    assert figures.tensors(spec, trace)["T"].caption == "one-hot of the labels"


def test_frozen_parameters_have_zero_change(refcases):
    spec, trace = traced(refcases["seed_hw3_problem2_case2_layer2_only"]["request"])
    found = figures.tensors(spec, trace)
    assert not found["ΔW1"].frame(0).any() and not found["Δb1"].frame(0).any()
    assert found["ΔW1"].caption == "frozen: not updated"
    assert found["ΔW2"].frame(0).any()


def test_parameters_carry_over_between_steps(refcases):
    request = dict(refcases["seed_assignment1_ex2"]["request"], steps=3)
    spec, trace = traced(request)
    weights = figures.tensors(spec, trace)["W1"]
    updated = figures.tensors(spec, trace)["W1 (new)"]
    assert len(weights.frames) == 3
    for k in (1, 2):
        np.testing.assert_array_equal(weights.frame(k), updated.frame(k - 1))
    # constants have a single frame, used at every step
    x = figures.tensors(spec, trace)["X"]
    assert len(x.frames) == 1 and x.frame_index(2) == 0


def names(panels):
    return [panel.tensor for panel in panels]


def test_panels_follow_the_equations_in_the_columns_layout(refcases):
    spec, trace = traced(refcases["seed_assignment1_ex2"]["request"])
    found = figures.tensors(spec, trace)
    panels = lambda kind, layer=None: figures.panels(spec, trace, Substep(0, kind, layer), found)  # noqa: E731
    assert names(panels("forward", 1)) == ["W1", "X", "S1", "Z1"]
    assert names(panels("forward", 2)) == ["W2", "Z1", "S2", "Z2"]
    assert names(panels("loss")) == ["Y", "T", "dL/dY"]
    assert names(panels("backward", 2)) == ["dL/dY", "S2", "δ2", "Z1", "dL/dW2"]
    assert names(panels("backward", 1)) == ["δ2", "W2", "dL/dZ1", "S1", "δ1", "X", "dL/dW1"]
    assert names(panels("update")) == ["W1", "dL/dW1", "ΔW1", "W1 (new)", "W2", "dL/dW2", "ΔW2", "W2 (new)"]


def test_panels_in_the_rows_layout_with_biases(refcases):
    spec, trace = traced(refcases["quiz4_softmax_ce"]["request"])
    found = figures.tensors(spec, trace)
    forward = figures.panels(spec, trace, Substep(0, "forward", 1), found)
    assert names(forward) == ["X", "W1", "b1", "S1", "Z1"]
    update = figures.panels(spec, trace, Substep(0, "update", None), found)
    assert names(update)[:8] == ["W1", "dL/dW1", "ΔW1", "W1 (new)", "b1", "dL/db1", "Δb1", "b1 (new)"]
    # one row per equation: W's update, then b's, per layer
    assert [p.tensor for p in update if p.row_start] == ["b1", "W2", "b2"]


def test_backward_rows_start_at_each_equation(refcases):
    spec, trace = traced(refcases["seed_assignment1_ex2"]["request"])
    found = figures.tensors(spec, trace)
    backward = figures.panels(spec, trace, Substep(0, "backward", 1), found)
    assert [p.tensor for p in backward if p.row_start] == ["S1", "X"]


def test_every_sub_step_has_panels_that_exist(refcases):
    spec, trace = traced(dict(refcases["quiz4_softmax_ce"]["request"], steps=2))
    found = figures.tensors(spec, trace)
    for substep in substeps(len(spec.layers), 2):
        shown = figures.panels(spec, trace, substep, found)
        assert shown
        for panel in shown:
            assert found[panel.tensor].frame_index(substep.step) == panel.frame


def test_a_non_finite_output_gradient_is_not_drawn(refcases):
    case = refcases["stability_softmax_ce"]
    assert case["expected"]["steps"][0]["output_gradient"] is None
    spec, trace = traced(case["request"])
    found = figures.tensors(spec, trace)
    loss = figures.panels(spec, trace, Substep(0, "loss", None), found)
    assert names(loss) == ["Y", "T"]
    assert "dL/dY" not in found  # never finite: no figure at all
    backward = figures.panels(spec, trace, Substep(0, "backward", 2), found)
    assert names(backward)[:2] == ["S2", "δ2"]


def test_colour_limits_are_per_family_over_every_frame(refcases):
    case = refcases["seed_assignment1_ex2"]
    spec, trace = traced(case["request"])
    limits = figures.limits(figures.tensors(spec, trace))
    step = case["expected"]["steps"][0]
    weights = [case["request"]["layers"][0]["weights"], step["update"][0]["weights"]]
    assert limits["W1"] == pytest.approx(max(np.abs(array(w)).max() for w in weights))
    outputs = [step["forward"][-1]["activation"], case["request"]["targets"]]
    assert limits["Y"] == pytest.approx(max(np.abs(array(v)).max() for v in outputs))
    delta = array(step["backward"][0]["delta"])
    assert limits["δ2"] == pytest.approx(np.abs(delta).max())


def test_an_all_zero_tensor_gets_a_unit_range():
    tensor = figures.Tensor("ΔW1", (np.zeros((2, 2)),), "ΔW1", ("in", "out"))
    assert figures.limits({"ΔW1": tensor}) == {"ΔW1": 1.0}


def decode(value):
    """A Plotly array: a plain list, or the base64 typed array plotly.io.to_json may write."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape)
    return np.asarray(value, dtype=np.float64)


def test_heatmap_figure_has_a_frame_per_step_and_a_fixed_centred_range(refcases):
    spec, trace = traced(dict(refcases["seed_assignment1_ex2"]["request"], steps=2))
    tensor = figures.tensors(spec, trace)["W1"]
    figure = figures.heatmap_figure(tensor, 0.9)
    heatmap = figure.data[0]
    assert (heatmap.zmin, heatmap.zmax) == (-0.9, 0.9)
    scale = dict((round(stop, 3), colour) for stop, colour in heatmap.colorscale)
    assert scale[0.5].lower() in ("#f7f7f7", "#ffffff")  # white at 0
    assert [frame.name for frame in figure.frames] == ["0", "1"]
    data = json.loads(pio.to_json(figure))
    for k, frame in enumerate(data["frames"]):
        np.testing.assert_array_equal(decode(frame["data"][0]["z"]), tensor.frame(k))
    assert data["layout"]["yaxis"]["autorange"] == "reversed"  # row 1 on top, as a matrix is written
    assert data["layout"]["title"]["text"] == "W1  (3×2)"


def test_small_matrices_have_their_values_written_and_large_ones_not():
    small = figures.Tensor("S1", (np.arange(64.0).reshape(8, 8),), "S1", ("example", "unit"))
    large = figures.Tensor("S1", (np.arange(81.0).reshape(9, 9),), "S1", ("example", "unit"))
    assert figures.heatmap_figure(small, 63.0).data[0].texttemplate == "%{z:.4~g}"
    assert figures.heatmap_figure(large, 80.0).data[0].texttemplate is None


def test_hover_names_the_cell_in_math_notation():
    matrix = figures.Tensor("dL/dW2", (np.ones((2, 3)),), "dL/dW2", ("in", "out"))
    row = figures.Tensor("b1", (np.ones((1, 3)),), "b1", ("", "unit"), vector=True)
    column_vector = figures.Tensor("b1", (np.ones((3, 1)),), "b1", ("unit", ""), vector=True)
    assert figures.heatmap_figure(matrix, 1.0).data[0].hovertemplate.startswith("dL/dW2[%{y},%{x}] = ")
    assert figures.heatmap_figure(row, 1.0).data[0].hovertemplate.startswith("b1[%{x}] = ")
    assert figures.heatmap_figure(column_vector, 1.0).data[0].hovertemplate.startswith("b1[%{y}] = ")


# JavaScript's Number.prototype.toPrecision(4), trailing zeros trimmed: what d3-format's "~.4g" writes.
@pytest.mark.parametrize(
    "value, text",
    [(-0.004507123, "-0.004507"), (0.00503, "0.00503"), (0.1, "0.1"), (1.0, "1"), (100.0, "100"), (0.0, "0"),
     (12345.6, "1.235e+4"), (9999.5, "1e+4"), (-1.2e-7, "-1.2e-7"), (0.0000012345, "0.000001234"), (-0.0, "0")],
)
def test_cell_text_is_what_plotly_writes(value, text):
    assert figures.cell_text(value) == text


def test_cells_are_as_wide_as_the_longest_value_of_any_frame():
    short = figures.Tensor("W1", (np.full((2, 2), 0.5),), "W1", ("in", "out"))
    later_long = figures.Tensor("W1", (np.full((2, 2), 0.5), np.full((2, 2), -0.004507)), "W1", ("in", "out"))
    narrow, wide = (figures.heatmap_figure(t, 1.0).layout.width for t in (short, later_long))
    # "-0.004507" has six more characters than "0.5": each of the two columns grows by at least
    # five digits' width (half an em each, in any font) at 10.5 px
    assert wide - narrow >= 2 * 5 * 0.5 * 10.5


def test_a_one_row_heatmap_gets_a_colour_bar_tall_enough_for_its_ticks():
    row = figures.Tensor("δ2", (np.ones((1, 4)),), "δ2", ("unit", "example"))
    tall = figures.Tensor("δ1", (np.ones((4, 4)),), "δ1", ("unit", "example"))
    for tensor in (row, tall):
        figure = figures.heatmap_figure(tensor, 1.0)
        bar = figure.data[0].colorbar
        plot_height = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
        assert bar.lenmode == "pixels" and bar.len >= max(3 * 9 * 1.5, plot_height)  # three 9 px tick labels, spaced
        # it stays inside the figure
        assert (bar.len - plot_height) / 2 <= min(figure.layout.margin.t, figure.layout.margin.b)
