"""The PyTorch export rebuilds the network in torch.nn and reproduces the API's trace by autograd.

Every script runs in one long-lived interpreter that has imported the pinned torch once (a new
interpreter per script would pay torch's import each time); each runs as __main__ in a fresh
namespace, its output captured. Every number it prints is compared with POST /api/v1/trace to
1e-12: autograd and torch.optim against the engine's hand-written backward pass and optimizers.
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
from hypothesis import strategies as st

from engine import presets
from tests.engine.strategies import layouts, problems
from tests.share.test_script import BRANCHES, expected_values, token_of
from webapp.share import torch_script as export

pytest.importorskip("torch")

# Reads a script's path a line at a time, runs it as __main__ with its output sent to <path>.out,
# and answers "ok" or "error" on a line of its own (the traceback in <path>.err).
RUNNER = r"""
import contextlib, runpy, sys, traceback
import torch  # once, for every script
for line in sys.stdin:
    path = line.strip()
    with open(path + ".out", "w") as out, open(path + ".err", "w") as err:
        try:
            with contextlib.redirect_stdout(out):
                runpy.run_path(path, run_name="__main__")
            answer = "ok"
        except BaseException:
            traceback.print_exc(file=err)
            answer = "error"
    print(answer, flush=True)
"""


class Runner:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, source: str, directory: Path) -> dict:
        """Run a script; its printed values by (step, name), step "final" for the last loss."""
        path = directory / "backprop_torch.py"
        path.write_text(source)
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer == "ok", Path(f"{path}.err").read_text()
        printed, step = {}, None
        for line in Path(f"{path}.out").read_text().splitlines():
            if line.startswith("step "):
                step = int(line.split()[1])
            elif line == "final":
                step = "final"
            elif line.startswith("  "):
                name, _, value = line.strip().partition(" = ")
                assert (step, name) not in printed, f"{name} printed twice in step {step}"
                printed[(step, name)] = ast.literal_eval(value)
        return printed

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.fixture(scope="module")
def runner():
    running = Runner()
    yield running
    running.close()


def assert_reproduces(body: dict, client, directory: Path, runner: Runner) -> dict:
    response = client.post("/api/v1/trace", json=body)
    assert response.status_code == 200, response.get_json()
    expected = expected_values(response.get_json())
    printed = runner.run(export.torch_script(body, "a test"), directory)
    assert printed.keys() == expected.keys()
    for key, value in expected.items():
        if value is None:
            assert printed[key] is None, key
        else:
            assert printed[key] is not None, key
            np.testing.assert_allclose(printed[key], value, rtol=1e-12, atol=1e-12, err_msg=str(key))
    return printed


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.id)
def test_torch_script_reproduces_every_preset(preset, client, tmp_path, runner):
    assert_reproduces(preset.body(), client, tmp_path, runner)


@pytest.mark.parametrize("name", sorted(BRANCHES))
def test_torch_script_reproduces_each_branch(name, client, tmp_path, runner):
    printed = assert_reproduces(BRANCHES[name], client, tmp_path, runner)
    if name.endswith("saturated"):
        assert printed[(0, "dL/dY")] is None  # torch's fused form kept delta finite, as the engine's did


# The optimizers of the contract, with their settings drawn.
optimizers = st.one_of(
    st.builds(lambda: {}),
    st.builds(lambda mu, nesterov: {"momentum": mu, "nesterov": nesterov},
              st.sampled_from([0.5, 0.9]), st.booleans()),
    st.builds(lambda b1, b2, eps: {"name": "adam", "betas": [b1, b2], "eps": eps},
              st.sampled_from([0.8, 0.9]), st.sampled_from([0.99, 0.999]), st.sampled_from([1e-8, 1e-3])),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problem=problems(max_layers=3, max_units=4, max_examples=5, steps=3), layout=layouts,
       optimizer=optimizers, batch_size=st.none() | st.integers(1, 4), seed=st.integers(0, 5))
def test_torch_script_reproduces_random_networks(problem, layout, optimizer, batch_size, seed, client, tmp_path,
                                                runner):
    body = problem.request(layout)
    body["optimizer"] = {**(body.get("optimizer") or {}), **optimizer}
    if batch_size is not None:
        body.update(batch_size=batch_size, shuffle_seed=seed)
    assert_reproduces(body, client, tmp_path, runner)


def test_torch_script_starts_from_the_request_optimizer_state(client, tmp_path, runner):
    """Moments and a step count given in the request are where torch.optim.Adam starts."""
    body = json.loads(json.dumps(BRANCHES["momentum-minibatches"]))
    trace = client.post("/api/v1/trace", json=body).get_json()
    resumed = {**body, "steps": 1, "batch_size": None,
               "layers": [{**layer, "weights": record["weights"], "bias": record["bias"]}
                          for layer, record in zip(body["layers"], trace["steps"][-1]["update"])],
               "optimizer": {**body["optimizer"], "state": trace["steps"][-1]["optimizer_state"]}}
    resumed.pop("batch_size")
    assert_reproduces(resumed, client, tmp_path, runner)
    adam = {**resumed, "optimizer": {"name": "adam", "learning_rate": 0.05,
                                     "state": {"step": 3, "first_moment": trace["steps"][-1]["optimizer_state"]["velocity"]}}}
    assert_reproduces(adam, client, tmp_path, runner)


def test_torch_script_uses_torch_nn_and_names_the_orientation():
    body = presets.get("seed002-ex2").body()
    source = export.torch_script(body, "Exercise 2", "seed002-ex2_torch.py")
    tree = ast.parse(source)
    imports = [alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names]
    assert imports == ["torch"]  # NumPy only where mini-batches need the engine's order
    assert "torch.nn.Linear" in source and "torch.optim.SGD" in source
    assert "out x in" in source and "python seed002-ex2_torch.py" in source
    namespace: dict = {}
    exec(compile(source.split("\ndef ", 1)[0], "script", "exec"), namespace)
    assert namespace["REQUEST"] == body
    assert "import numpy" in export.torch_script(BRANCHES["momentum-minibatches"])


def test_torch_script_title_cannot_break_out_of_the_docstring():
    source = export.torch_script(presets.get("xor").body(), 'Evil """ title \\ with\nnewlines')
    ast.parse(source)
    assert '"""' not in source.split("\n", 2)[1][3:]


def test_export_route_serves_the_torch_script(client, tmp_path, runner):
    body = presets.get("hw7-relu-softmax").body()
    answer = client.get("/export", query_string={"state": token_of(body, preset="hw7-relu-softmax"), "format": "torch"})
    assert answer.status_code == 200
    assert answer.mimetype == "text/x-python"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="hw7-relu-softmax_torch.py"'
    printed = runner.run(answer.get_data(as_text=True), tmp_path)
    trace = client.post("/api/v1/trace", json=body).get_json()
    assert abs(printed[("final", "L")] - trace["final_loss"]) <= 1e-12 * max(1.0, abs(trace["final_loss"]))
