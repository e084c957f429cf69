"""Request validation (parse_trace_request) and the response models against real answers."""
from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import presets
from engine import spec as specmod
from webapp.api import responses, schemas
from webapp.api.limits import Limits
from webapp.api.problems import InvalidRequest

MINIMAL = {
    "layers": [{"weights": [[1, 2]], "activation": "sigmoid"}],
    "inputs": [[0.5], [-1]],
    "targets": [[0, 1], [1, 0]],
    "loss": {"name": "squared_error"},
}


def errors_of(body) -> list[dict]:
    with pytest.raises(InvalidRequest) as raised:
        schemas.parse_trace_request(body)
    assert raised.value.status == 422
    return raised.value.errors


def test_defaults_are_filled_in():
    body = schemas.parse_trace_request(MINIMAL).to_body()
    assert body == {
        "layout": "rows",
        "layers": [
            {
                "weights": [[1.0, 2.0]],
                "bias": None,
                "activation": "sigmoid",
                "train_weights": True,
                "train_bias": True,
            }
        ],
        "inputs": [[0.5], [-1.0]],
        "targets": [[0.0, 1.0], [1.0, 0.0]],
        "labels": None,
        "loss": {"name": "squared_error", "reduction": "mean", "half": False},
        "optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.0, "nesterov": False},
        "steps": 1,
        "batch_size": None,
        "shuffle_seed": 0,
    }
    assert all(type(x) is float for row in body["inputs"] for x in row)


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda p: p.id)
def test_presets_validate_and_round_trip(preset):
    first = schemas.parse_trace_request(preset.body())
    assert schemas.parse_trace_request(first.to_body()) == first
    spec = specmod.from_request(first.to_body())
    assert spec.steps == preset.request.get("steps", 1)


def test_adam_body_keeps_its_own_options():
    body = {**MINIMAL, "optimizer": {"name": "adam", "learning_rate": 0.01, "betas": [0.8, 0.9]}}
    assert schemas.parse_trace_request(body).to_body()["optimizer"] == {
        "name": "adam",
        "learning_rate": 0.01,
        "betas": [0.8, 0.9],
        "eps": 1e-8,
    }


def test_not_an_object_is_invalid_at_the_root():
    assert [e["path"] for e in errors_of([1, 2])] == [""]


def test_errors_are_path_and_message():
    errors = errors_of({**MINIMAL, "steps": "1", "extra": 1})
    assert sorted(e["path"] for e in errors) == ["extra", "steps"]
    for error in errors:
        assert set(error) == {"path", "message"} and error["message"]


def test_leaky_relu_takes_negative_slope():
    body = copy.deepcopy(MINIMAL)
    body["layers"][0].update(activation="leaky_relu", negative_slope=0.2)
    assert schemas.parse_trace_request(body).to_body()["layers"][0]["negative_slope"] == 0.2
    del body["layers"][0]["negative_slope"]
    assert schemas.parse_trace_request(body).to_body()["layers"][0]["negative_slope"] == 0.01


def test_hinge_takes_margin_and_sum():
    body = {**MINIMAL, "loss": {"name": "multiclass_hinge", "reduction": "sum", "margin": 0.5}}
    assert schemas.parse_trace_request(body).to_body()["loss"] == {
        "name": "multiclass_hinge",
        "reduction": "sum",
        "half": False,
        "margin": 0.5,
    }


# Random well-formed networks are accepted; one wrong dimension is reported where it is.

shapes = st.fixed_dictionaries(
    {
        "layout": st.sampled_from(["rows", "columns"]),
        "widths": st.lists(st.integers(1, 4), min_size=2, max_size=5),
        "examples": st.integers(1, 4),
        "biases": st.booleans(),
    }
)


def matrix(rows: int, cols: int) -> list[list[float]]:
    return [[0.25 * (r - c) for c in range(cols)] for r in range(rows)]


def oriented(layout: str, rows: int, cols: int) -> list[list[float]]:
    """A matrix that is rows x cols in the rows layout, written in `layout`."""
    return matrix(rows, cols) if layout == "rows" else matrix(cols, rows)


def network(layout, widths, examples, biases) -> dict:
    return {
        "layout": layout,
        "layers": [
            {"weights": oriented(layout, a, b), "bias": [0.1] * b if biases else None, "activation": "tanh"}
            for a, b in zip(widths, widths[1:])
        ],
        "inputs": oriented(layout, examples, widths[0]),
        "targets": oriented(layout, examples, widths[-1]),
        "loss": {"name": "squared_error"},
    }


@settings(max_examples=60, deadline=None)
@given(shape=shapes)
def test_well_formed_networks_are_accepted(shape):
    request = schemas.parse_trace_request(network(**shape))
    spec = specmod.from_request(request.to_body())
    assert spec.widths == tuple(shape["widths"])
    assert spec.num_examples == shape["examples"]


@settings(max_examples=60, deadline=None)
@given(shape=shapes, data=st.data())
def test_one_wrong_fan_in_is_reported_at_its_layer(shape, data):
    widths = shape["widths"]
    layer = data.draw(st.integers(0, len(widths) - 2))
    body = network(**shape)
    body["layers"][layer]["weights"] = oriented(shape["layout"], widths[layer] + 1, widths[layer + 1])
    errors = errors_of(body)
    assert [e["path"] for e in errors] == [f"layers/{layer}/weights"]
    given_shape = _shape(body["layers"][layer]["weights"])
    assert f"W{layer + 1} has shape {given_shape[0]}x{given_shape[1]}" in errors[0]["message"]


@settings(max_examples=40, deadline=None)
@given(shape=shapes)
def test_wrong_targets_are_reported(shape):
    body = network(**shape)
    body["targets"] = oriented(shape["layout"], shape["examples"], shape["widths"][-1] + 1)
    assert [e["path"] for e in errors_of(body)] == ["targets"]


def _shape(matrix):
    return len(matrix), len(matrix[0])


# The response models describe what the API answers.


def test_trace_responses_fit_the_model(client, refcases):
    for case in refcases.values():
        response = client.post("/api/v1/trace", json=case["request"]).get_json()
        responses.TraceResponse.model_validate(response, strict=True)


def test_other_responses_fit_their_models(client, refcases):
    gradcheck = client.post("/api/v1/gradcheck", json=refcases["mazur_classic"]["request"]).get_json()
    responses.GradcheckResponse.model_validate(gradcheck)
    for item in client.get("/api/v1/presets").get_json():
        responses.Preset.model_validate(item)
    Limits(**client.get("/api/v1/limits").get_json())
    problem = client.post("/api/v1/trace", json={"layers": []}).get_json()
    assert responses.Problem.model_validate(problem).errors


def test_a_wrong_response_does_not_fit():
    with pytest.raises(ValueError):
        responses.TraceResponse.model_validate({"version": 2, "layout": "rows", "steps": [], "final_loss": 0.0})
