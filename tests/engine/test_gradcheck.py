"""Gradient check: small errors on every preset, analytic = the trace's gradients, numeric = independent differences."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine import gradcheck, network, presets
from engine import spec as specmod
from engine import trace as tracemod
from tests.engine.strategies import Problem, relative_error


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.id)
def test_max_error_is_small_on_every_preset(preset):
    spec = specmod.from_request(preset.body())
    check = gradcheck.check(spec)
    assert check.max_relative_error < 1e-6
    assert check.max_relative_error == max(p.max_relative_error for p in check.parameters)


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.id)
def test_analytic_is_the_trace_gradient_and_numeric_is_a_central_difference(preset):
    body = preset.body()
    spec = specmod.from_request(body)
    check = gradcheck.check(spec)
    step = tracemod.run(spec).steps[0]
    expected_names = [f"{kind}{b.layer}" for b in reversed(step.backward)
                      for kind, value in (("W", b.grad_weights), ("b", b.grad_bias)) if value is not None]
    assert [p.name for p in check.parameters] == expected_names

    problem = Problem.from_request(body)
    numeric = problem.numeric_gradients(h=1e-6)
    flip = spec.layout == "columns"
    for parameter in check.parameters:
        grad = next(b for b in step.backward if b.layer == parameter.layer)
        analytic = grad.grad_weights if parameter.name.startswith("W") else grad.grad_bias
        np.testing.assert_array_equal(parameter.analytic, analytic)
        independent = numeric[parameter.layer - 1][0 if parameter.name.startswith("W") else 1]
        if flip and parameter.name.startswith("W"):
            independent = independent.T
        assert parameter.numeric.shape == parameter.analytic.shape
        np.testing.assert_allclose(parameter.numeric, independent, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(
            parameter.max_relative_error, relative_error(parameter.analytic, parameter.numeric).max(), rtol=1e-12
        )


def test_relative_error_is_cs231n_form():
    a, b = np.array([1.0, 0.0, 1e-9, -2.0]), np.array([1.1, 0.0, 0.0, 2.0])
    np.testing.assert_allclose(gradcheck.relative_error(a, b), [0.1 / 2.1, 0.0, 1e-9 / 1e-8, 1.0], rtol=1e-14)


def test_to_dict_shape():
    spec = specmod.from_request(presets.get("seed002-ex2").body())
    result = gradcheck.check(spec).to_dict()
    json.dumps(result, allow_nan=False)
    assert result["step_size"] > 0
    assert [p["name"] for p in result["parameters"]] == ["W1", "W2"]  # the seed's network has no biases
    w1 = result["parameters"][0]
    assert w1["layer"] == 1
    assert np.shape(w1["analytic"]) == np.shape(w1["numeric"]) == (3, 2)  # W1 as the columns layout writes it
    assert result["max_relative_error"] == max(p["max_relative_error"] for p in result["parameters"])

    spec = specmod.from_request(presets.get("quiz4-softmax-ce").body())
    result = gradcheck.check(spec).to_dict()
    assert [p["name"] for p in result["parameters"]] == ["W1", "b1", "W2", "b2"]
    assert np.shape(result["parameters"][1]["analytic"]) == (3,)


def test_check_at_a_later_step_is_the_check_of_those_parameters():
    body = presets.get("hw7-relu-softmax").body()
    spec = specmod.from_request(body)
    later = tracemod.run(spec).steps[2]
    at_step = gradcheck.check(spec, later.parameters)
    for layer, params in zip(body["layers"], later.parameters):
        layer["weights"], layer["bias"] = params.weights.tolist(), params.bias.tolist()
    fresh = gradcheck.check(specmod.from_request(body))
    for a, b in zip(at_step.parameters, fresh.parameters):
        np.testing.assert_array_equal(a.analytic, b.analytic)
        np.testing.assert_array_equal(a.numeric, b.numeric)
    np.testing.assert_array_equal(at_step.parameters[0].analytic, later.backward[-1].grad_weights)


def test_check_leaves_the_spec_untouched():
    spec = specmod.from_request(presets.get("mazur-2-2-2").body())
    before = [(layer.weights.copy(), layer.bias.copy()) for layer in spec.layers]
    gradcheck.check(spec)
    for layer, (weights, bias) in zip(spec.layers, before):
        np.testing.assert_array_equal(layer.weights, weights)
        np.testing.assert_array_equal(layer.bias, bias)


def test_a_wrong_backward_pass_is_caught(monkeypatch):
    right = network.backward

    def off_by_one_percent(*args, **kwargs):
        grads = right(*args, **kwargs)
        return [network.LayerBackward(g.grad_activation, g.delta, g.grad_weights * 1.01, g.grad_bias) for g in grads]

    monkeypatch.setattr(network, "backward", off_by_one_percent)
    check = gradcheck.check(specmod.from_request(presets.get("mazur-2-2-2").body()))
    assert check.max_relative_error == pytest.approx(0.01 / 2.01, rel=1e-4)
