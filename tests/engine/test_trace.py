"""The step trace: every reference case, the record's structure, overflow and stability."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine import spec as specmod
from engine import trace as tracemod
from tests.paths import REFCASES_FILE as REFCASES

CASES = json.loads(REFCASES.read_text())["cases"]


def assert_matches(actual, expected, path: str = "") -> None:
    """Every field of `expected` (extra fields in `actual` are allowed) to rtol 1e-9, atol 1e-12; null stays null."""
    if expected is None:
        assert actual is None, f"{path}: expected null, got {actual!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object"
        for key, value in expected.items():
            assert key in actual, f"{path}/{key} is missing"
            assert_matches(actual[key], value, f"{path}/{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: expected {len(expected)} items"
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_matches(a, e, f"{path}/{index}")
    elif isinstance(expected, (bool, str)):
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
    else:
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), f"{path}: not a number: {actual!r}"
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {actual!r} != {expected!r}"


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_reference_case(case):
    result = tracemod.run(specmod.from_request(case["request"])).to_dict()
    assert_matches(result, case["expected"])
    # plain JSON: no numpy scalars, no NaN or infinity
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def non_finite_paths(value, path: str = "") -> list[str]:
    """Where a to_dict() tree holds a number that is not finite."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in non_finite_paths(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in non_finite_paths(item, f"{path}/{index}")]
    return [path] if isinstance(value, float) and not math.isfinite(value) else []


def test_reference_cases_cover_the_worked_examples():
    names = {case["name"] for case in CASES}
    assert {"mazur_classic", "seed_assignment1_ex2", "seed_hw3_problem2_case1_both_layers",
            "seed_hw3_problem2_case2_layer2_only", "quiz4_softmax_ce", "stability_softmax_ce",
            "stability_sigmoid_bce"} <= names


def columns_request(steps: int = 3) -> dict:
    """A 2-3-2 network on 4 examples, examples as columns."""
    return {
        "layout": "columns",
        "layers": [
            {"weights": [[0.5, -0.2], [0.1, 0.4], [-0.3, 0.8]], "bias": [0.1, 0.0, -0.1], "activation": "tanh"},
            {"weights": [[0.3, -0.6, 0.2], [0.7, 0.1, -0.4]], "bias": None, "activation": "sigmoid"},
        ],
        "inputs": [[1.0, 0.5, -0.5, 0.0], [0.2, -1.0, 0.3, 0.9]],
        "targets": [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]],
        "loss": {"name": "binary_cross_entropy", "reduction": "mean"},
        "optimizer": {"name": "sgd", "learning_rate": 0.5},
        "steps": steps,
    }


def test_trace_is_written_in_the_columns_layout():
    trace = tracemod.run(specmod.from_request(columns_request()))
    assert trace.layout == "columns"
    assert trace.inputs.shape == (2, 4) and trace.targets.shape == (2, 4)
    step = trace.steps[0]
    assert [f.layer for f in step.forward] == [1, 2]
    assert [b.layer for b in step.backward] == [2, 1]
    assert [p.layer for p in step.update] == [p.layer for p in step.parameters] == [1, 2]
    assert step.forward[0].pre_activation.shape == (3, 4) and step.forward[1].activation.shape == (2, 4)
    assert step.output_gradient.shape == (2, 4)
    assert step.backward[0].grad_weights.shape == (2, 3) and step.backward[1].grad_weights.shape == (3, 2)
    assert step.backward[1].grad_bias.shape == (3,) and step.backward[0].grad_bias is None
    assert step.update[0].weights.shape == (3, 2) and step.update[1].bias is None
    np.testing.assert_array_equal(step.parameters[0].weights, columns_request()["layers"][0]["weights"])


def test_steps_chain_and_the_loss_history_has_steps_plus_one_entries():
    trace = tracemod.run(specmod.from_request(columns_request(steps=4)))
    assert [step.index for step in trace.steps] == [0, 1, 2, 3]
    assert len(trace.loss_history) == 5
    assert list(trace.loss_history) == [step.loss for step in trace.steps] + [trace.final_loss]
    assert trace.loss_history[-1] < trace.loss_history[0]
    for earlier, later in zip(trace.steps, trace.steps[1:]):
        for updated, start in zip(earlier.update, later.parameters):
            np.testing.assert_array_equal(start.weights, updated.weights)
    # final_loss is the loss of the last update: one more step starts from it
    longer = tracemod.run(specmod.from_request(columns_request(steps=5)))
    assert longer.steps[4].loss == trace.final_loss


def test_to_dict_is_the_contract_shape():
    result = tracemod.run(specmod.from_request(columns_request(steps=2))).to_dict()
    assert result["version"] == 1 and result["layout"] == "columns"
    assert set(result) >= {"version", "layout", "steps", "final_loss", "loss_history"}
    step = result["steps"][1]
    assert set(step) >= {"index", "forward", "loss", "output_gradient", "backward", "update"}
    assert set(step["forward"][0]) >= {"layer", "pre_activation", "activation"}
    assert set(step["backward"][0]) >= {"layer", "grad_activation", "delta", "grad_weights", "grad_bias"}
    assert set(step["update"][0]) >= {"layer", "weights", "bias"}
    assert step["backward"][0]["grad_bias"] is None and step["update"][1]["bias"] is None
    assert isinstance(step["backward"][1]["grad_bias"], list)
    json.dumps(result, allow_nan=False)


def test_labels_become_one_hot_targets():
    body = {
        "layers": [{"weights": [[1.0, -1.0, 0.5]], "bias": None, "activation": "softmax"}],
        "inputs": [[1.0], [2.0]],
        "labels": [2, 0],
        "loss": {"name": "cross_entropy"},
    }
    trace = tracemod.run(specmod.from_request(body))
    assert trace.labels == (2, 0)
    np.testing.assert_array_equal(trace.targets, [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def test_overflow_names_the_step_layer_and_stage():
    body = {
        "layers": [
            {"weights": [[1e200]], "bias": None, "activation": "identity"},
            {"weights": [[1e200]], "bias": None, "activation": "identity"},
        ],
        "inputs": [[1.0]],
        "targets": [[0.0]],
        "loss": {"name": "squared_error"},
    }
    with pytest.raises(tracemod.Overflow) as raised:
        tracemod.run(specmod.from_request(body))
    overflow = raised.value
    assert isinstance(overflow, ValueError)
    assert (overflow.step, overflow.layer, overflow.stage) == (0, 2, "forward")
    assert "step 0" in str(overflow) and "layer 2" in str(overflow)


def test_overflow_in_a_later_step_names_that_step():
    # Gradient descent with a far too large learning rate diverges: y = w x, L = (y - 1)^2, w <- w - 2 r x (wx - 1) x
    body = {
        "layers": [{"weights": [[1.0]], "bias": None, "activation": "identity"}],
        "inputs": [[10.0]],
        "targets": [[1.0]],
        "loss": {"name": "squared_error"},
        "optimizer": {"name": "sgd", "learning_rate": 1e6},
        "steps": 200,
    }
    with pytest.raises(tracemod.Overflow) as raised:
        tracemod.run(specmod.from_request(body))
    # |w| grows by a factor 2 r x^2 = 2e8 a step, so w leaves float64 within about 39 steps
    assert 1 <= raised.value.step < 60
    assert f"step {raised.value.step}" in str(raised.value)


def stability_body(logits, labels):
    """One softmax layer fed a one-hot input, so the logits are exactly the rows of W."""
    return {
        "layers": [{"weights": logits, "bias": None, "activation": "softmax"}],
        "inputs": np.eye(len(logits)).tolist(),
        "labels": labels,
        "loss": {"name": "cross_entropy", "reduction": "sum"},
        "optimizer": {"name": "sgd", "learning_rate": 1e-3},
    }


def test_softmax_cross_entropy_of_logits_1000_gives_finite_loss_and_deltas():
    logits = [[1000.0, -1000.0, 999.0], [-1000.0, 1000.0, 0.0], [999.5, 1000.0, -1000.0]]
    trace = tracemod.run(specmod.from_request(stability_body(logits, [2, 0, 0])))
    step = trace.steps[0]
    expected = (1 + math.log1p(math.exp(-1.0))) + 2000.0 + (0.5 + math.log1p(math.exp(-0.5)))
    assert step.loss == pytest.approx(expected, rel=1e-15)
    assert np.all(np.isfinite(step.backward[0].delta)) and np.all(np.isfinite(step.backward[0].grad_weights))
    assert step.output_gradient is None and step.backward[0].grad_activation is None  # 1/softmax is infinite there
    assert math.isfinite(trace.final_loss)
    json.dumps(trace.to_dict(), allow_nan=False)


def test_sigmoid_binary_cross_entropy_of_logits_1000_gives_finite_loss_and_deltas():
    body = {
        "layers": [{"weights": [[1000.0, -1000.0]], "bias": [0.0, 0.0], "activation": "sigmoid"}],
        "inputs": [[1.0], [-1.0]],
        "targets": [[0.0, 1.0], [1.0, 1.0]],
        "loss": {"name": "binary_cross_entropy", "reduction": "sum"},
        "optimizer": {"name": "sgd", "learning_rate": 1e-4},
    }
    trace = tracemod.run(specmod.from_request(body))
    step = trace.steps[0]
    # logits [[1000, -1000], [-1000, 1000]]: softplus(s) - t s = 1000 + 1000 + 1000 + 0
    assert step.loss == pytest.approx(3000.0, rel=1e-15)
    np.testing.assert_array_equal(step.backward[0].delta, [[1.0, -1.0], [-1.0, 0.0]])
    assert math.isfinite(trace.final_loss)
    json.dumps(trace.to_dict(), allow_nan=False)


def test_an_infinite_hidden_gradient_is_never_returned():
    # Layer 1's ReLU is off (S1 = -1), so delta1 and dL/dW1 are exactly 0, but
    # dL/dZ1 = delta2 W2^T = 2e150 * 1e160 leaves float64. The trace must not
    # return it as a number: either that entry is finite or the run is an Overflow.
    body = {
        "layers": [
            {"weights": [[-1.0]], "bias": None, "activation": "relu"},
            {"weights": [[1e160]], "bias": [1e150], "activation": "identity"},
        ],
        "inputs": [[1.0]],
        "targets": [[0.0]],
        "loss": {"name": "squared_error"},
    }
    try:
        result = tracemod.run(specmod.from_request(body)).to_dict()
    except tracemod.Overflow as overflow:
        assert (overflow.step, overflow.layer) == (0, 1)
    else:
        assert non_finite_paths(result) == []


@pytest.mark.parametrize("value", [1e150, 1e-300])
@pytest.mark.parametrize("activation", ["identity", "relu", "sigmoid", "tanh", "softmax"])
def test_huge_and_tiny_weights_give_finite_numbers_or_overflow(value, activation):
    body = {
        "layers": [
            {"weights": [[value, -value], [value, value]], "bias": [value, 0.0], "activation": activation},
            {"weights": [[value], [-value]], "bias": None, "activation": "identity"},
        ],
        "inputs": [[1.0, 2.0], [-3.0, 0.5]],
        "targets": [[1.0], [-1.0]],
        "loss": {"name": "squared_error", "reduction": "mean"},
        "steps": 2,
    }
    try:
        result = tracemod.run(specmod.from_request(body)).to_dict()
    except tracemod.Overflow as overflow:
        assert overflow.step in (0, 1, 2) and f"step {overflow.step}" in str(overflow)
    else:
        assert non_finite_paths(result) == []
