"""The JSON API's answers to bad bodies, limits, overflow, and its other endpoints."""
from __future__ import annotations

import copy
import gzip
import io
import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from webapp import create_app

PROBLEM = "application/problem+json"

from tests.paths import REFCASES_FILE

REFCASES = {case["name"]: case for case in json.loads(REFCASES_FILE.read_text())["cases"]}
# Seed 002, Exercise 2: columns layout, X 2x4, W1 3x2, W2 1x3, no biases, targets.
SEED002 = REFCASES["seed_assignment1_ex2"]["request"]
# Seed 000, Quiz 4: rows layout, X 5x4, W1 4x3 + b1, W2 3x3 + b2, softmax, labels.
QUIZ4 = REFCASES["quiz4_softmax_ce"]["request"]
MARKER = 123456.789  # replaced in the JSON text by tokens json.dumps cannot write


def json_text(body: dict, token: str | None = None) -> str:
    text = json.dumps(body)
    return text if token is None else text.replace(repr(MARKER), token, 1)


def nested(depth: int) -> str:
    return '{"layers": ' + "[" * depth + "]" * depth + "}"


def set_in(body: dict, path: str, value) -> dict:
    """A copy of body with the value at a JSON-pointer-like path ("layers/0/weights/0/1") replaced."""
    body = copy.deepcopy(body)
    *parents, last = [int(part) if part.isdigit() else part for part in path.split("/")]
    target = body
    for part in parents:
        target = target[part]
    target[last] = value
    return body


def drop(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


# (id, raw JSON text, expected status, expected error path or None)
INVALID = [
    ("string weight", json.dumps(set_in(SEED002, "layers/0/weights/0/1", "0.01")), 422, "layers/0/weights/0/1"),
    ("bool weight", json.dumps(set_in(SEED002, "layers/1/weights/0/2", True)), 422, "layers/1/weights/0/2"),
    ("NaN token", json_text(set_in(SEED002, "inputs/0/0", MARKER), "NaN"), 422, "inputs/0/0"),
    ("Infinity token", json_text(set_in(SEED002, "targets/0/2", MARKER), "Infinity"), 422, "targets/0/2"),
    ("-Infinity token", json_text(set_in(SEED002, "layers/0/weights/2/1", MARKER), "-Infinity"), 422,
     "layers/0/weights/2/1"),
    ("1e400", json_text(set_in(SEED002, "inputs/1/3", MARKER), "1e400"), 422, "inputs/1/3"),
    ("huge integer", json_text(set_in(SEED002, "inputs/1/3", MARKER), "1" + "0" * 400), 422, "inputs/1/3"),
    ("NaN learning rate", json_text(set_in(SEED002, "optimizer/learning_rate", MARKER), "NaN"), 422,
     "optimizer/learning_rate"),
    ("ragged inputs", json.dumps(set_in(SEED002, "inputs/1", [0.8, 0.05, 0.8])), 422, "inputs/1"),
    ("ragged weights", json.dumps(set_in(SEED002, "layers/0/weights/2", [0.0])), 422, "layers/0/weights/2"),
    ("empty row", json.dumps(set_in(SEED002, "inputs/0", [])), 422, "inputs/0"),
    ("empty inputs", json.dumps(set_in(SEED002, "inputs", [])), 422, "inputs"),
    ("no layers", json.dumps(set_in(SEED002, "layers", [])), 422, "layers"),
    ("wrong bias length", json.dumps(set_in(SEED002, "layers/0/bias", [0.1, 0.2])), 422, "layers/0/bias"),
    ("wrong targets shape", json.dumps(set_in(SEED002, "targets", [[1, 1, -1]])), 422, "targets"),
    ("targets transposed", json.dumps(set_in(SEED002, "targets", [[1], [1], [-1], [-1]])), 422, "targets"),
    ("unknown activation", json.dumps(set_in(SEED002, "layers/0/activation", "swish")), 422, "layers/0/activation"),
    ("unknown loss", json.dumps(set_in(SEED002, "loss/name", "hinge")), 422, "loss/name"),
    ("unknown optimizer", json.dumps(set_in(SEED002, "optimizer/name", "rmsprop")), 422, "optimizer/name"),
    ("unknown layout", json.dumps(set_in(SEED002, "layout", "diagonal")), 422, "layout"),
    ("targets and labels", json.dumps(set_in(SEED002, "labels", [0, 0, 0, 0])), 422, "labels"),
    ("neither targets nor labels", json.dumps(drop(SEED002, "targets")), 422, "targets"),
    ("label out of range", json.dumps(set_in(QUIZ4, "labels/3", 3)), 422, "labels/3"),
    ("negative label", json.dumps(set_in(QUIZ4, "labels/0", -1)), 422, "labels/0"),
    ("label not an integer", json.dumps(set_in(QUIZ4, "labels/1", 1.0)), 422, "labels/1"),
    ("too few labels", json.dumps(set_in(QUIZ4, "labels", [0, 1])), 422, "labels"),
    ("mean_all with cross_entropy", json.dumps(set_in(QUIZ4, "loss/reduction", "mean_all")), 422, "loss/reduction"),
    ("half with cross_entropy", json.dumps(set_in(QUIZ4, "loss/half", True)), 422, "loss/half"),
    ("margin with squared_error", json.dumps(set_in(SEED002, "loss/margin", 2)), 422, "loss/margin"),
    ("learning rate 0", json.dumps(set_in(SEED002, "optimizer/learning_rate", 0)), 422, "optimizer/learning_rate"),
    ("learning rate -1", json.dumps(set_in(SEED002, "optimizer/learning_rate", -1)), 422, "optimizer/learning_rate"),
    ("steps 0", json.dumps(set_in(SEED002, "steps", 0)), 422, "steps"),
    ("steps 1.5", json.dumps(set_in(SEED002, "steps", 1.5)), 422, "steps"),
    ("steps true", json.dumps(set_in(SEED002, "steps", True)), 422, "steps"),
    ("train_bias a string", json.dumps(set_in(SEED002, "layers/1/train_bias", "no")), 422, "layers/1/train_bias"),
    ("negative_slope on relu", json.dumps(set_in(SEED002, "layers/0/negative_slope", 0.1)), 422,
     "layers/0/negative_slope"),
    ("unknown field", json.dumps(set_in(SEED002, "learning_rate", 0.5)), 422, "learning_rate"),
    ("unknown layer field", json.dumps(set_in(SEED002, "layers/1/dropout", 0.5)), 422, "layers/1/dropout"),
    ("missing loss", json.dumps(drop(SEED002, "loss")), 422, "loss"),
    ("layers not a list", json.dumps(set_in(SEED002, "layers", {"0": {}})), 422, "layers"),
    ("adam with momentum", json.dumps(set_in(SEED002, "optimizer", {"name": "adam", "momentum": 0.9})), 422,
     "optimizer/momentum"),
    ("betas with sgd", json.dumps(set_in(SEED002, "optimizer/betas", [0.9, 0.99])), 422, "optimizer/betas"),
    ("beta of 1", json.dumps(set_in(SEED002, "optimizer", {"name": "adam", "betas": [0.9, 1]})), 422,
     "optimizer/betas/1"),
    ("eps 0", json.dumps(set_in(SEED002, "optimizer", {"name": "adam", "eps": 0})), 422, "optimizer/eps"),
    ("momentum 1", json.dumps(set_in(SEED002, "optimizer/momentum", 1)), 422, "optimizer/momentum"),
    ("nesterov without momentum", json.dumps(set_in(SEED002, "optimizer/nesterov", True)), 422, "optimizer/nesterov"),
    ("state of the wrong shape",
     json.dumps(set_in(SEED002, "optimizer", {"momentum": 0.5, "state": {"velocity": {"W1": [[0]], "W2": [[0]]}}})),
     422, "optimizer/state"),
    ("batch_size 0", json.dumps(set_in(SEED002, "batch_size", 0)), 422, "batch_size"),
    ("negative shuffle_seed", json.dumps(set_in(SEED002, "shuffle_seed", -1)), 422, "shuffle_seed"),
    ("malformed JSON", '{"layers": [', 400, None),
    ("trailing garbage", json.dumps(SEED002) + " x", 400, None),
    ("empty body", "", 400, None),
    ("array body", "[1, 2]", 400, None),
    ("string body", '"layers"', 400, None),
    ("null body", "null", 400, None),
    ("bare NaN body", "NaN", 400, None),
    ("duplicate keys", '{"steps": 1, "layers": [], "steps": 2}', 400, None),
    ("duplicate nested keys", json.dumps(SEED002).replace('"bias": null', '"bias": null, "bias": null', 1), 400, None),
    ("10000-deep nesting", nested(10_000), 400, None),
    ("100-deep nesting", nested(100), 400, None),
    ("integer over 4300 digits", '{"steps": ' + "9" * 5000 + "}", 400, None),
]


@pytest.mark.parametrize("endpoint", ["/api/v1/trace", "/api/v1/gradcheck"])
@pytest.mark.parametrize(("text", "status", "path"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_bodies(client, endpoint, text, status, path):
    response = client.post(endpoint, data=text, content_type="application/json")
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["status"] == status
    assert problem["type"] and problem["title"] and problem["detail"]
    if path is None:
        assert "errors" not in problem
    else:
        assert path in [error["path"] for error in problem["errors"]], problem
        assert path in problem["detail"]


def test_invalid_utf8_is_400(client):
    response = client.post("/api/v1/trace", data=b'{"layout": "\xff"}', content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == PROBLEM


def test_wrong_weights_shape_names_both_shapes_columns(client):
    body = set_in(SEED002, "layers/1/weights", [[0.02, 0.03, 0.09, 0.1]])
    error = client.post("/api/v1/trace", json=body).get_json()["errors"]
    assert error[0]["path"] == "layers/1/weights"
    message = error[0]["message"]
    # W2 is 1x4, layer 1 gives 3 units, so in the columns layout W2 must be K x 3.
    assert "W2 has shape 1x4" in message and "3 units" in message and "Kx3" in message


def test_wrong_weights_shape_names_both_shapes_rows(client):
    body = set_in(QUIZ4, "layers/1/weights", [[0.1, 0.2, 0.3]] * 4)
    error = client.post("/api/v1/trace", json=body).get_json()["errors"]
    assert [e["path"] for e in error] == ["layers/1/weights"]
    assert "W2 has shape 4x3" in error[0]["message"] and "3xK" in error[0]["message"]


def test_first_layer_shape_names_the_inputs(client):
    body = set_in(QUIZ4, "layers/0/weights", [[0.1, 0.2, 0.3]] * 3)
    message = client.post("/api/v1/trace", json=body).get_json()["errors"][0]["message"]
    assert "W1 has shape 3x3" in message and "5x4" in message and "4xK" in message


def test_every_bad_field_is_listed(client):
    body = set_in(set_in(SEED002, "layers/0/weights/0/0", "x"), "steps", 0)
    paths = {error["path"] for error in client.post("/api/v1/trace", json=body).get_json()["errors"]}
    assert paths == {"layers/0/weights/0/0", "steps"}


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", json.dumps(SEED002)),
        ("application/x-www-form-urlencoded", "steps=1"),
        ("multipart/form-data; boundary=x", "--x--"),
        (None, json.dumps(SEED002)),
    ],
)
def test_non_json_content_type_is_415(client, content_type, data):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post("/api/v1/trace", data=data, headers=headers)
    assert response.status_code == 415
    assert response.mimetype == PROBLEM
    assert response.headers["Accept"] == "application/json"


def test_json_with_charset_is_accepted(client):
    response = client.post(
        "/api/v1/trace", data=json.dumps(SEED002), headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_compressed_body_is_415(client, encoding):
    response = client.post(
        "/api/v1/trace",
        data=gzip.compress(json.dumps(SEED002).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )
    assert response.status_code == 415
    assert response.mimetype == PROBLEM
    assert response.headers["Accept-Encoding"] == "identity"


# Limits ---------------------------------------------------------------------------------------------------------

# Seed 002 has widths 2, 3, 1 and N = 4: one step is 3 * 4 * (2*3 + 3*1) = 108 multiply-adds, it has
# 6 + 3 = 9 parameters, and a gradient check costs 9 * 2 forward passes of 108 / 3 = 648.
LIMIT_CASES = [
    ("max_layers", 1, "/api/v1/trace", SEED002),
    ("max_units", 2, "/api/v1/trace", SEED002),
    ("max_examples", 3, "/api/v1/trace", SEED002),
    ("max_steps", 2, "/api/v1/trace", set_in(SEED002, "steps", 3)),
    ("max_work", 107, "/api/v1/trace", SEED002),
    ("max_work", 215, "/api/v1/trace", set_in(SEED002, "steps", 2)),
    ("max_trace_values", 50, "/api/v1/trace", SEED002),
    ("max_gradcheck_work", 647, "/api/v1/gradcheck", SEED002),
    ("max_layers", 1, "/api/v1/gradcheck", SEED002),
]


@pytest.mark.parametrize(("limit", "maximum", "endpoint", "body"), LIMIT_CASES)
def test_each_limit_is_413(client_with_limits, limit, maximum, endpoint, body):
    response = client_with_limits(**{limit: maximum}).post(endpoint, json=body)
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["limit"] == limit and problem["maximum"] == maximum
    assert limit in problem["detail"] and str(problem["value"]) in problem["detail"]


@pytest.mark.parametrize(
    ("limit", "maximum", "endpoint", "body"),
    [
        ("max_layers", 2, "/api/v1/trace", SEED002),
        ("max_units", 3, "/api/v1/trace", SEED002),
        ("max_examples", 4, "/api/v1/trace", SEED002),
        ("max_work", 108, "/api/v1/trace", SEED002),
        ("max_work", 216, "/api/v1/trace", set_in(SEED002, "steps", 2)),
        ("max_gradcheck_work", 648, "/api/v1/gradcheck", SEED002),
    ],
)
def test_each_limit_admits_what_is_at_it(client_with_limits, limit, maximum, endpoint, body):
    assert client_with_limits(**{limit: maximum}).post(endpoint, json=body).status_code == 200


def test_body_over_max_bytes_is_413(client_with_limits):
    client = client_with_limits(max_body_bytes=100)
    response = client.post("/api/v1/trace", json=SEED002)
    assert response.status_code == 413
    assert response.mimetype == PROBLEM
    assert response.get_json()["limit"] == "max_body_bytes"


def test_chunked_body_over_max_bytes_is_413(client_with_limits):
    """A body without Content-Length is cut off at the limit, not read whole."""
    client = client_with_limits(max_body_bytes=100)
    response = client.post(
        "/api/v1/trace",
        input_stream=io.BytesIO(json.dumps(SEED002).encode()),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.mimetype == PROBLEM


def test_default_body_limit_is_4_mib(client):
    padding = " " * (4 * 1024 * 1024)
    response = client.post("/api/v1/trace", data=json.dumps(SEED002) + padding, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["maximum"] == 4 * 1024 * 1024


def test_limits_endpoint(client, client_with_limits):
    response = client.get("/api/v1/limits")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == {
        "max_layers": 8,
        "max_units": 1024,
        "max_examples": 1024,
        "max_steps": 500,
        "max_body_bytes": 4 * 1024 * 1024,
        "max_work": 300_000_000,
        "max_trace_values": 2_000_000,
        "max_gradcheck_work": 50_000_000,
    }
    assert client_with_limits(max_steps=7).get("/api/v1/limits").get_json()["max_steps"] == 7


def test_app_body_cap_follows_the_limit():
    assert create_app({"TESTING": True})
    assert create_app({"TESTING": True, "LIMITS": {"max_body_bytes": 1000}}).config["MAX_CONTENT_LENGTH"] == 1000


# Overflow while training ------------------------------------------------------------------------------------------


def test_overflow_names_step_and_layer(client):
    # |W| = 1e200 in both layers: S1 ~ 1e200 is finite, S2 = W2 relu(S1) ~ 1e400 is not.
    body = set_in(set_in(SEED002, "layers/0/weights", [[1e200, 1e200]] * 3), "layers/1/weights", [[1e200] * 3])
    response = client.post("/api/v1/trace", json=body)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert (problem["step"], problem["layer"]) == (0, 2)
    assert "step 0" in problem["detail"] and "layer 2" in problem["detail"]


def test_overflow_in_a_later_step(client):
    # A learning rate of 1e150 makes step 0 finite but throws W1 to ~1e149, and step 1's loss overflows.
    body = set_in(set_in(SEED002, "optimizer/learning_rate", 1e150), "steps", 5)
    response = client.post("/api/v1/trace", json=body)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["step"] >= 1
    assert f"step {problem['step']}" in problem["detail"]


def test_gradcheck_overflow_is_422_not_nan(client):
    body = set_in(set_in(SEED002, "layers/0/weights", [[1e200, 1e200]] * 3), "layers/1/weights", [[1e200] * 3])
    response = client.post("/api/v1/gradcheck", json=body)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM


# Fields added to version 1: optimizers with state, mini-batches -------------------------------------------------

LINEAR = {
    "layers": [{"weights": [[0.5], [-0.5]], "bias": None, "activation": "identity"}],
    "inputs": [[1.0, 2.0]],
    "targets": [[1.0]],
    "loss": {"name": "squared_error", "reduction": "sum", "half": True},
    "optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9},
    "steps": 3,
}


def test_momentum_follows_pytorchs_rule(client):
    """v <- mu v + g, W <- W - r v, worked independently for y = x W and L = 1/2 (y - t)^2."""
    weights, velocity, x, t = [0.5, -0.5], [0.0, 0.0], [1.0, 2.0], 1.0
    expected = []
    for _ in range(3):
        grad = [xi * (x[0] * weights[0] + x[1] * weights[1] - t) for xi in x]
        velocity = [0.9 * v + g for v, g in zip(velocity, grad)]
        weights = [w - 0.1 * v for w, v in zip(weights, velocity)]
        expected.append(([[w] for w in weights], [[v] for v in velocity]))
    steps = client.post("/api/v1/trace", json=LINEAR).get_json()["steps"]
    for step, (weights_after, velocity_after) in zip(steps, expected, strict=True):
        got = step["update"][0]["weights"]
        assert all(math.isclose(g[0], w[0], rel_tol=1e-12) for g, w in zip(got, weights_after))
        got = step["optimizer_state"]["velocity"]["W1"]
        assert all(math.isclose(g[0], v[0], rel_tol=1e-12) for g, v in zip(got, velocity_after))


@pytest.mark.parametrize("optimizer", [{"momentum": 0.9, "nesterov": True}, {"name": "adam", "learning_rate": 0.01}])
def test_a_trace_resumes_from_its_optimizer_state(client, optimizer):
    """Two steps at once equal one step, then one more from the returned parameters and state."""
    body = set_in(set_in(QUIZ4, "optimizer", optimizer), "steps", 2)
    both = client.post("/api/v1/trace", json=body).get_json()
    first = client.post("/api/v1/trace", json=set_in(body, "steps", 1)).get_json()["steps"][0]
    resumed = set_in(body, "steps", 1)
    for layer, params in zip(resumed["layers"], first["update"]):
        layer["weights"], layer["bias"] = params["weights"], params["bias"]
    resumed["optimizer"]["state"] = first["optimizer_state"]
    second = client.post("/api/v1/trace", json=resumed)
    assert second.status_code == 200, second.get_json()
    assert second.get_json()["steps"][0]["update"] == both["steps"][1]["update"]


def test_mini_batches_name_their_examples(client):
    steps = client.post("/api/v1/trace", json=set_in(set_in(QUIZ4, "batch_size", 2), "steps", 3)).get_json()["steps"]
    batches = [step["batch"] for step in steps]
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert sorted(sum(batches, [])) == [0, 1, 2, 3, 4]


# Other endpoints ------------------------------------------------------------------------------------------------


def test_unknown_preset_is_404_problem(client):
    response = client.get("/api/v1/presets/no-such-preset")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert "no-such-preset" in response.get_json()["detail"]


def test_unknown_url_and_method_under_api_are_problems(client):
    response = client.get("/api/v1/nothing-here")
    assert (response.status_code, response.mimetype) == (404, PROBLEM)
    response = client.get("/api/v1/trace")
    assert (response.status_code, response.mimetype) == (405, PROBLEM)
    assert "POST" in response.headers["Allow"]


def test_gradcheck_seed002_matches_reference_gradients(client, refcases):
    response = client.post("/api/v1/gradcheck", json=SEED002)
    assert response.status_code == 200
    result = response.get_json()
    assert result["max_relative_error"] < 1e-6
    assert [p["name"] for p in result["parameters"]] == ["W1", "W2"]
    backward = {b["layer"]: b for b in refcases["seed_assignment1_ex2"]["expected"]["steps"][0]["backward"]}
    for parameter in result["parameters"]:
        expected = backward[parameter["layer"]]["grad_weights"]
        for name in ("analytic", "numeric"):
            got = [x for row in parameter[name] for x in row]
            want = [x for row in expected for x in row]
            assert all(math.isclose(g, w, rel_tol=1e-6, abs_tol=1e-9) for g, w in zip(got, want, strict=True))


def test_gradcheck_reports_biases_where_they_exist(client, refcases):
    response = client.post("/api/v1/gradcheck", json=refcases["mazur_classic"]["request"])
    result = response.get_json()
    assert [p["name"] for p in result["parameters"]] == ["W1", "b1", "W2", "b2"]
    assert result["max_relative_error"] < 1e-6
    backward = {b["layer"]: b for b in refcases["mazur_classic"]["expected"]["steps"][0]["backward"]}
    for parameter in result["parameters"]:
        if parameter["name"].startswith("b"):
            want = backward[parameter["layer"]]["grad_bias"]
            assert all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(parameter["analytic"], want, strict=True))


def _reject_constant(token):
    raise ValueError(f"{token} in a 200 response")


@pytest.mark.parametrize("case_name", ["stability_softmax_ce", "stability_sigmoid_bce"])
def test_no_nan_or_infinity_in_200(client, refcases, case_name):
    for endpoint in ("/api/v1/trace", "/api/v1/gradcheck"):
        response = client.post(endpoint, json=refcases[case_name]["request"])
        if response.status_code == 200:
            json.loads(response.get_data(as_text=True), parse_constant=_reject_constant)
        else:
            assert response.status_code == 422 and response.mimetype == PROBLEM


# OpenAPI ---------------------------------------------------------------------------------------------------------


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict, ref: str):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_openapi_document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] and document["info"]["version"]
    # The contract's endpoints; later additions (e.g. training) may add more.
    assert set(document["paths"]) >= {
        "/api/v1/trace",
        "/api/v1/gradcheck",
        "/api/v1/presets",
        "/api/v1/presets/{preset_id}",
        "/api/v1/limits",
        "/api/v1/openapi.json",
    }
    refs = list(_refs(document))
    assert refs
    for ref in refs:
        assert isinstance(_resolve(document, ref), dict), ref
    for path in ("/api/v1/trace", "/api/v1/gradcheck"):
        operation = document["paths"][path]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/TraceRequest"
        }
        for status in ("400", "413", "415", "422"):
            assert "application/problem+json" in operation["responses"][status]["content"]
    request_schema = document["components"]["schemas"]["TraceRequest"]
    assert request_schema["additionalProperties"] is False
    assert {"layers", "inputs", "loss"} <= set(request_schema["required"])
    for name in ("TraceResponse", "GradcheckResponse", "Preset", "Limits", "Problem", "LayerSpec"):
        assert name in document["components"]["schemas"]


# Never a 500 ---------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats() | st.text(max_size=5),  # floats include NaN, inf
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
PATHS = [
    "layout", "layers", "layers/0", "layers/0/weights", "layers/0/weights/0", "layers/0/weights/0/0", "layers/0/bias",
    "layers/0/activation", "layers/1/negative_slope", "layers/1/train_weights", "inputs", "inputs/0", "targets",
    "targets/0/0", "labels", "loss", "loss/name", "loss/reduction", "loss/half", "loss/margin", "optimizer",
    "optimizer/learning_rate", "steps",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=json_values, base=st.sampled_from([SEED002, QUIZ4]))
def test_any_edit_of_a_valid_body_gets_a_contract_status(client, path, value, base):
    try:
        body = set_in(base, path, value)
    except (KeyError, IndexError):
        assume(False)  # the base has no such place (QUIZ4 has labels, not targets)
    text = json.dumps(body)  # may hold the tokens NaN and Infinity
    response = client.post("/api/v1/trace", data=text, content_type="application/json")
    assert response.status_code in (200, 400, 413, 422), response.get_data(as_text=True)[:300]
    if response.status_code == 200:
        json.loads(response.get_data(as_text=True), parse_constant=_reject_constant)
    else:
        assert response.mimetype == PROBLEM


def test_trace_numbers_are_the_engines_float64_values_exactly(client):
    """The JSON carries every number at full precision: parsed back, it equals the engine's value bit for bit."""
    from engine import presets as presetsmod
    from engine import spec as specmod
    from engine import trace as tracemod

    for preset in presetsmod.PRESETS:
        response = client.post("/api/v1/trace", json=preset.body())
        assert response.status_code == 200
        expected = tracemod.run(specmod.from_request(preset.body())).to_dict()
        assert json.loads(response.get_data(as_text=True), parse_constant=_reject_constant) == expected
