"""dL/dX, the trace's optional `grad_inputs` (an addition to version 1, asked with `"input_gradient": true`).

Checked against central differences of the tests' own reference loss (strategies.Problem, not the
engine's forward) and against PyTorch's autograd with X.requires_grad, on random networks in both
layouts; and absent from every record unless asked, so existing answers do not change.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from engine import presets
from engine import spec as specmod
from engine import trace as tracemod
from tests.engine.strategies import KinkCrossed, layouts, numeric_gradient, problems

torch = pytest.importorskip("torch")


def grad_inputs(body: dict) -> np.ndarray:
    """Layer 1's dL/dX of step 0, brought to the rows layout."""
    trace = tracemod.run(specmod.from_request({**body, "input_gradient": True}))
    first = trace.steps[0].backward[-1]
    assert first.layer == 1
    return first.grad_inputs.T if body["layout"] == "columns" else first.grad_inputs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(problem=problems(max_layers=3, max_units=4, max_examples=4), layout=layouts)
def test_grad_inputs_is_the_central_difference_of_the_loss(problem, layout):
    problem.assume_away_from_kinks()
    analytic = grad_inputs(problem.request(layout))
    pattern = problem.kink_pattern()

    def loss():
        if problem.kink_pattern() != pattern:
            raise KinkCrossed("a central difference crossed a kink")
        return problem.loss_value()

    try:
        numeric = numeric_gradient(loss, problem.inputs)
    except KinkCrossed:
        assume(False)
    assert analytic.shape == problem.inputs.shape
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


ACTIVATIONS = {
    "identity": lambda s, slope: s,
    "relu": lambda s, slope: torch.relu(s),
    "leaky_relu": lambda s, slope: torch.nn.functional.leaky_relu(s, slope),
    "sigmoid": lambda s, slope: torch.sigmoid(s),
    "tanh": lambda s, slope: torch.tanh(s),
    "softmax": lambda s, slope: torch.softmax(s, dim=1),
}


def torch_loss(problem, x):
    """The problem's loss written in torch (squared error and cross-entropy, every reduction)."""
    z = x
    for w, b, name, slope in zip(problem.weights, problem.biases, problem.activations, problem.negative_slopes):
        s = z @ torch.tensor(w)
        if b is not None:
            s = s + torch.tensor(b)
        z = ACTIVATIONS[name](s, slope)
    t = torch.tensor(problem.target_matrix)
    n, width = t.shape
    divisor = {"mean": n, "sum": 1, "mean_all": n * width}[problem.loss.get("reduction", "mean")]
    if problem.loss["name"] == "squared_error":
        return (0.5 if problem.loss.get("half") else 1.0) * ((z - t) ** 2).sum() / divisor
    return -(t * torch.log(torch.where(t == 0, 1.0, z))).sum() / divisor


@settings(max_examples=40, deadline=None)
@given(problem=problems(max_layers=3, max_units=4, max_examples=4, losses=("squared_error", "cross_entropy")),
       layout=layouts)
def test_grad_inputs_is_what_torch_autograd_gives(problem, layout):
    if problem.loss["name"] == "cross_entropy":
        # Away from saturation, where log(Y) and its gradient are finite for torch's unfused form.
        outputs = problem.forward()[-1][1]
        assume(np.all(outputs[problem.target_matrix != 0] > 1e-6))
    x = torch.tensor(problem.inputs, requires_grad=True)
    torch_loss(problem, x).backward()
    np.testing.assert_allclose(grad_inputs(problem.request(layout)), x.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_grad_inputs_of_seed002_by_hand():
    """Seed 002, Exercise 2 (columns, no biases): dL/dX = W1^T delta1, written out from the trace's delta1."""
    body = presets.get("seed002-ex2").body()
    trace = tracemod.run(specmod.from_request({**body, "input_gradient": True}))
    first = trace.steps[0].backward[-1]
    w1 = np.array(body["layers"][0]["weights"])
    by_hand = np.array([[sum(w1[k, i] * first.delta[k, n] for k in range(w1.shape[0])) for n in range(4)]
                        for i in range(w1.shape[1])])
    np.testing.assert_allclose(first.grad_inputs, by_hand, rtol=1e-12, atol=1e-15)
    assert first.grad_inputs.shape == np.array(body["inputs"]).shape


def test_grad_inputs_is_only_there_when_asked(client):
    body = presets.get("quiz4-softmax-ce").body()
    plain = client.post("/api/v1/trace", json=body).get_json()
    assert all("grad_inputs" not in record for step in plain["steps"] for record in step["backward"])
    asked = client.post("/api/v1/trace", json={**body, "input_gradient": True, "steps": 2}).get_json()
    for step in asked["steps"]:
        *above, first = step["backward"]
        assert first["layer"] == 1 and np.shape(first["grad_inputs"]) == np.shape(body["inputs"])
        assert all("grad_inputs" not in record for record in above)
    refused = client.post("/api/v1/trace", json={**body, "input_gradient": "yes"})
    assert refused.status_code == 422
    assert "input_gradient" in refused.get_data(as_text=True)
