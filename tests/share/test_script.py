"""The exported NumPy script reproduces the API's trace; the JSON export is the API's response.

Each script runs in its own interpreter (`python -I -S`) whose only importable
package is NumPy, and every number it prints is compared with the response of
POST /api/v1/trace to 1e-12.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from engine import presets
from tests.engine.strategies import layouts, problems
from webapp.lab import state
from webapp.share import script as export

NUMPY_HOME = Path(np.__file__).resolve().parent
# Runs a script as __main__ with nothing but the standard library and NumPy on the path.
RUNNER = """
import importlib.util, runpy, sys
script, only_numpy = sys.argv[1], sys.argv[2]
sys.path.insert(0, only_numpy)
for name in ("flask", "engine", "webapp", "plotly", "pydantic"):
    assert importlib.util.find_spec(name) is None, name + " is importable"
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


@pytest.fixture(scope="module")
def only_numpy(tmp_path_factory) -> Path:
    """A directory holding NumPy (and its bundled libraries) and nothing else."""
    home = tmp_path_factory.mktemp("only-numpy")
    (home / "numpy").symlink_to(NUMPY_HOME)
    libs = NUMPY_HOME.parent / "numpy.libs"
    if libs.exists():
        (home / "numpy.libs").symlink_to(libs)
    return home


def run_script(source: str, directory: Path, only_numpy: Path) -> dict:
    """Run an exported script; its printed values by (step, name), step "final" for the last loss."""
    path = directory / "backprop.py"
    path.write_text(source)
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUNNER, str(path), str(only_numpy)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=directory,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    printed, step = {}, None
    for line in done.stdout.splitlines():
        if line.startswith("step "):
            step = int(line.split()[1])
        elif line == "final":
            step = "final"
        elif line.startswith("  "):
            name, _, value = line.strip().partition(" = ")
            assert (step, name) not in printed, f"{name} printed twice in step {step}"
            printed[(step, name)] = ast.literal_eval(value)
    return printed


def expected_values(trace: dict) -> dict:
    """The same (step, name) -> value table, from a trace-v1 response."""
    expected = {}
    for step in trace["steps"]:
        k = step["index"]
        for record in step["forward"]:
            expected[(k, f"S{record['layer']}")] = record["pre_activation"]
            expected[(k, f"Z{record['layer']}")] = record["activation"]
        expected[(k, "L")] = step["loss"]
        expected[(k, "dL/dY")] = step["output_gradient"]
        for record in step["backward"]:
            layer = record["layer"]
            expected[(k, f"dL/dZ{layer}")] = record["grad_activation"]
            expected[(k, f"delta{layer}")] = record["delta"]
            expected[(k, f"dL/dW{layer}")] = record["grad_weights"]
            expected[(k, f"dL/db{layer}")] = record["grad_bias"]
        for record in step["update"]:
            expected[(k, f"W{record['layer']}")] = record["weights"]
            expected[(k, f"b{record['layer']}")] = record["bias"]
        if "batch" in step:
            expected[(k, "batch")] = step["batch"]
        if "optimizer_state" in step:
            optimizer_state = step["optimizer_state"]
            expected[(k, "optimizer step")] = optimizer_state["step"]
            for field, arrays in optimizer_state.items():
                if field != "step":
                    expected.update({(k, f"{field} {name}"): value for name, value in arrays.items()})
    expected[("final", "L")] = trace["final_loss"]
    return expected


def assert_reproduces(body: dict, client, directory: Path, only_numpy: Path) -> dict:
    response = client.post("/api/v1/trace", json=body)
    assert response.status_code == 200, response.get_json()
    expected = expected_values(response.get_json())
    printed = run_script(export.python_script(body, "a test"), directory, only_numpy)
    assert printed.keys() == expected.keys()
    for key, value in expected.items():
        if value is None:
            assert printed[key] is None, key
        else:
            assert printed[key] is not None, key
            np.testing.assert_allclose(printed[key], value, rtol=1e-12, atol=1e-12, err_msg=str(key))
    return printed


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.id)
def test_script_reproduces_every_preset(preset, client, tmp_path, only_numpy):
    assert_reproduces(preset.body(), client, tmp_path, only_numpy)


def _layer(weights, bias, activation, **options) -> dict:
    return {"weights": weights, "bias": bias, "activation": activation, **options}


# One request for each branch a script can take: every activation and loss, the fused
# forms (also where the output saturates and dL/dY is null), frozen parameters, labels.
BRANCHES = {
    "leaky-tanh-squared-mean_all": {
        "layout": "rows",
        "layers": [
            _layer([[0.5, -1.2, 0.3], [0.8, 0.1, -0.7]], [0.1, -0.2, 0.05], "leaky_relu", negative_slope=0.2),
            _layer([[0.4, -0.3], [1.1, 0.2], [-0.6, 0.9]], None, "tanh", train_weights=False),
        ],
        "inputs": [[1.0, -2.0], [0.5, 0.25], [-1.5, 0.75]],
        "targets": [[0.2, -0.1], [0.0, 0.5], [-0.4, 0.3]],
        "loss": {"name": "squared_error", "reduction": "mean_all"},
        "optimizer": {"learning_rate": 0.3},
        "steps": 3,
    },
    "softmax-squared-columns": {
        "layout": "columns",
        "layers": [
            _layer([[0.3, -0.8], [0.6, 0.2], [-0.5, 0.9]], [0.1, 0.0, -0.1], "sigmoid"),
            _layer([[1.0, -1.0, 0.5], [0.2, 0.4, -0.6]], [0.3, -0.3], "softmax", train_bias=False),
        ],
        "inputs": [[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]],
        "targets": [[1.0, 0.0, 0.3], [0.0, 1.0, 0.7]],
        "loss": {"name": "squared_error", "reduction": "sum", "half": True},
        "steps": 2,
    },
    "softmax-ce-saturated": {
        "layout": "rows",
        "layers": [_layer([[1000.0, -1000.0, 0.0], [0.0, 0.0, 1000.0]], [0.0, 0.0, 0.0], "softmax")],
        "inputs": [[1.0, 0.0], [0.0, 1.0]],
        "labels": [1, 0],
        "loss": {"name": "cross_entropy", "reduction": "sum"},
        "optimizer": {"learning_rate": 0.001},
    },
    "sigmoid-cross-entropy-soft-targets": {
        "layout": "columns",
        "layers": [
            _layer([[0.7, -0.4], [-0.2, 0.9]], [0.05, -0.05], "relu"),
            _layer([[0.6, -0.8], [0.3, 0.5]], [0.1, 0.2], "sigmoid"),
        ],
        "inputs": [[1.0, 0.2, -0.3], [0.4, -0.6, 0.8]],
        "targets": [[0.5, 0.0, 1.0], [0.25, 1.0, 0.0]],
        "loss": {"name": "cross_entropy", "reduction": "mean"},
        "steps": 2,
    },
    "sigmoid-bce-saturated": {
        "layout": "rows",
        "layers": [_layer([[800.0], [-800.0]], [0.0], "sigmoid")],
        "inputs": [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]],
        "targets": [[0.0], [1.0], [0.3]],
        "loss": {"name": "binary_cross_entropy", "reduction": "mean_all"},
        "optimizer": {"learning_rate": 0.0001},
    },
    "softmax-bce": {
        "layout": "rows",
        "layers": [_layer([[0.2, -0.3, 0.4], [0.5, 0.1, -0.6]], [0.0, 0.1, -0.1], "softmax")],
        "inputs": [[1.0, 0.5], [-0.5, 1.5]],
        "targets": [[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]],
        "loss": {"name": "binary_cross_entropy", "reduction": "sum"},
        "steps": 2,
    },
    "hinge-labels-columns": {
        "layout": "columns",
        "layers": [
            _layer([[0.5, -0.5], [0.3, 0.8], [-0.7, 0.2]], [0.0, 0.1, -0.1], "identity"),
        ],
        "inputs": [[1.0, -0.5, 0.2, 0.9], [0.3, 0.6, -1.1, 0.4]],
        "labels": [0, 2, 1, 1],
        "loss": {"name": "multiclass_hinge", "reduction": "sum", "margin": 0.5},
        "steps": 3,
    },
    "hinge-targets-rows": {
        "layout": "rows",
        "layers": [
            _layer([[0.5, -0.5, 0.25], [0.3, 0.8, -0.6]], None, "tanh"),
            _layer([[0.4, -0.2], [0.1, 0.7], [-0.3, 0.5]], [0.05, -0.05], "relu"),
        ],
        "inputs": [[1.0, -0.5], [0.2, 0.9], [-0.7, 0.1]],
        "targets": [[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]],
        "loss": {"name": "multiclass_hinge", "reduction": "mean"},
        "steps": 2,
    },
    "momentum-minibatches": {
        "layout": "columns",
        "layers": [
            _layer([[0.3, -0.8], [0.6, 0.2], [-0.5, 0.9]], [0.1, 0.0, -0.1], "tanh", train_bias=False),
            _layer([[1.0, -1.0, 0.5]], [0.3], "sigmoid"),
        ],
        "inputs": [[0.5, -1.0, 2.0, 0.1, -0.3], [1.5, 0.0, -0.5, 0.7, 0.2]],
        "targets": [[1.0, 0.0, 1.0, 0.0, 1.0]],
        "loss": {"name": "binary_cross_entropy"},
        "optimizer": {"name": "sgd", "learning_rate": 0.5, "momentum": 0.9},
        "batch_size": 2,
        "shuffle_seed": 7,
        "steps": 5,
    },
    "nesterov-from-a-state": {
        "layout": "rows",
        "layers": [_layer([[0.5, -0.5], [0.25, 0.75]], [0.1, -0.1], "relu"), _layer([[0.4], [-0.6]], None, "identity")],
        "inputs": [[1.0, 2.0], [-1.0, 0.5], [0.3, -0.2]],
        "targets": [[0.5], [-0.5], [0.1]],
        "loss": {"name": "squared_error", "reduction": "sum"},
        "optimizer": {
            "name": "sgd",
            "learning_rate": 0.05,
            "momentum": 0.5,
            "nesterov": True,
            "state": {"step": 3, "velocity": {"W1": [[0.1, 0.0], [0.0, -0.1]], "b1": [0.01, 0.02], "W2": [[0.2], [0.3]]}},
        },
        "steps": 3,
    },
    "adam-labels-batches": {
        "layout": "rows",
        "layers": [
            _layer([[0.2, -0.3, 0.4], [0.5, 0.1, -0.6]], [0.0, 0.1, -0.1], "leaky_relu", negative_slope=0.1),
            _layer([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]], [0.05, -0.05], "softmax", train_weights=False),
        ],
        "inputs": [[1.0, 0.5], [-0.5, 1.5], [0.2, -0.8], [0.9, 0.1]],
        "labels": [1, 0, 0, 1],
        "loss": {"name": "cross_entropy"},
        "optimizer": {"name": "adam", "learning_rate": 0.01, "betas": [0.8, 0.99], "eps": 1e-6},
        "batch_size": 3,
        "steps": 4,
    },
    "adam-from-a-state": {
        "layout": "columns",
        "layers": [_layer([[0.5, -0.4], [0.1, 0.3]], [0.2, -0.2], "identity")],
        "inputs": [[1.0, -1.0], [0.5, 2.0]],
        "labels": [0, 1],
        "loss": {"name": "multiclass_hinge"},
        "optimizer": {
            "name": "adam",
            "learning_rate": 0.1,
            "state": {"step": 10, "first_moment": {"W1": [[0.1, -0.2], [0.0, 0.3]], "b1": [0.05, 0.0]}},
        },
        "steps": 2,
    },
}


@pytest.mark.parametrize("name", BRANCHES)
def test_script_reproduces_each_branch(name, client, tmp_path, only_numpy):
    printed = assert_reproduces(BRANCHES[name], client, tmp_path, only_numpy)
    if name.endswith("saturated"):
        # The fused form is what keeps these finite: the script must take it too.
        assert printed[(0, "dL/dY")] is None


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problem=problems(max_layers=3, max_units=4, max_examples=4, steps=2), layout=layouts)
def test_script_reproduces_random_networks(problem, layout, client, tmp_path, only_numpy):
    assert_reproduces(problem.request(layout), client, tmp_path, only_numpy)


def test_script_is_numpy_only_and_embeds_the_request():
    body = presets.get("seed002-ex2").body()
    source = export.python_script(body, "Exercise 2", "seed002-ex2.py")
    imports = [node for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [alias.name for node in imports for alias in node.names] == ["numpy"]
    namespace: dict = {}
    exec(compile(source.split("\ndef ", 1)[0], "script", "exec"), namespace)
    assert namespace["REQUEST"] == body
    assert "W_l Z_(l-1)" in source  # written in the columns layout of its text
    assert "python seed002-ex2.py" in source


def test_script_title_cannot_break_out_of_the_docstring(client, tmp_path, only_numpy):
    body = presets.get("xor").body()
    source = export.python_script(body, 'Evil """ title \\ with\nnewlines')
    ast.parse(source)
    assert '"""' not in source.split("\n", 2)[1][3:]


def test_json_export_is_the_api_response(app, client):
    body = presets.get("hw7-relu-softmax").body()
    with app.app_context():
        decoded = state.decode(state.encode(state.LabState(body)))
        exported = json.loads(export.trace_json(decoded.spec, decoded.state.request))
    assert exported.pop("request") == body  # the request it answers, so that the export opens again
    assert exported == client.post("/api/v1/trace", json=body).get_json()


def token_of(body: dict, **lab_fields) -> str:
    return state.encode(state.LabState(body, **lab_fields))


def test_export_route_serves_the_json_trace(client):
    body = presets.get("mazur-2-2-2").body()
    answer = client.get("/export", query_string={"state": token_of(body, preset="mazur-2-2-2"), "format": "json"})
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="mazur-2-2-2.json"'
    exported = answer.get_json()
    assert exported.pop("request") == body
    assert exported == client.post("/api/v1/trace", json=body).get_json()


def test_export_route_serves_a_script_that_reproduces_the_trace(client, tmp_path, only_numpy):
    body = BRANCHES["momentum-minibatches"]
    answer = client.get("/export", query_string={"state": token_of(body, substep="s1-loss"), "format": "py"})
    assert answer.status_code == 200
    assert answer.mimetype == "text/x-python"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="network.py"'
    printed = run_script(answer.get_data(as_text=True), tmp_path, only_numpy)
    trace = client.post("/api/v1/trace", json=body).get_json()
    assert abs(printed[("final", "L")] - trace["final_loss"]) <= 1e-12 * max(1.0, abs(trace["final_loss"]))


@pytest.mark.parametrize(
    "query, status, detail",
    [
        ({"format": "py"}, 400, "give the lab's state"),
        ({"state": "not*base64", "format": "py"}, 400, "not base64url"),
        ({"state": token_of(presets.get("xor").body()), "format": "docx"}, 400, "format must be one of"),
        ({"state": token_of({**presets.get("xor").body(), "steps": 0}), "format": "json"}, 422, "steps"),
    ],
)
def test_export_route_refuses_bad_requests_as_problems(client, query, status, detail):
    answer = client.get("/export", query_string=query)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    assert detail in answer.get_json()["detail"]


@pytest.mark.parametrize("fmt", ["json", "py"])
def test_export_route_refuses_a_state_whose_numbers_overflow(client, fmt):
    body = {
        "layers": [{"weights": [[1e200]], "bias": None, "activation": "identity"}],
        "inputs": [[1e200]],
        "targets": [[0.0]],
        "loss": {"name": "squared_error"},
    }
    answer = client.get("/export", query_string={"state": token_of(body), "format": fmt})
    assert answer.status_code == 422
    assert answer.get_json()["title"] == "Training Overflow"
