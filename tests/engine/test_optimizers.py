"""SGD, momentum and Adam against their update formulas (written here, entry by entry) and against PyTorch."""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from engine import optimizers, presets
from engine import spec as specmod
from engine import trace as tracemod
from engine.spec import Optimizer


def random_problem(seed: int):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2), "W2": rng.normal(size=(2, 1))}
    grads_per_step = [{name: rng.normal(size=value.shape) for name, value in params.items()} for _ in range(5)]
    return params, grads_per_step


# --- the formulas, one float at a time -------------------------------------------------------------------


def momentum_reference(p, grads, lr, mu, nesterov):
    """torch.optim.SGD docs: b_t = mu b_(t-1) + g_t (b_1 = g_1); g <- g + mu b_t if nesterov else b_t; p -= lr g."""
    velocity, values = 0.0, []
    for t, g in enumerate(grads, start=1):
        velocity = g if t == 1 else mu * velocity + g
        direction = g + mu * velocity if nesterov else velocity
        p = p - lr * direction
        values.append((p, velocity))
    return values


def adam_reference(p, grads, lr, beta1, beta2, eps):
    """torch.optim.Adam docs: m, v; m_hat = m / (1 - b1^t); v_hat = v / (1 - b2^t); p -= lr m_hat / (sqrt(v_hat) + eps)."""
    m = v = 0.0
    values = []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        values.append((p, m, v))
    return values


def entries(params, grads_per_step):
    """(name, index, initial value, [g_1, g_2, ...]) for every scalar parameter."""
    for name, value in params.items():
        for index in np.ndindex(value.shape):
            yield name, index, float(value[index]), [float(g[name][index]) for g in grads_per_step]


def test_sgd_is_p_minus_lr_g():
    params, grads = random_problem(0)
    new = optimizers.sgd(params, grads[0], 0.3, trainable=params.keys())
    for name, index, p, g in entries(params, grads):
        assert new[name][index] == pytest.approx(p - 0.3 * g[0], rel=1e-15, abs=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_momentum_matches_the_formula_over_five_steps(mu, nesterov):
    params, grads = random_problem(1)
    config = Optimizer("sgd", 0.1, momentum=mu, nesterov=nesterov)
    state = optimizers.initial_state(config, params)
    current = params
    history = []
    for g in grads:
        current, state = optimizers.update(config, current, g, state, trainable=params.keys())
        history.append((current, state))
    for name, index, p, g in entries(params, grads):
        for (new, state), (p_ref, v_ref) in zip(history, momentum_reference(p, g, 0.1, mu, nesterov)):
            assert new[name][index] == pytest.approx(p_ref, rel=1e-13, abs=1e-14)
            assert state.velocity[name][index] == pytest.approx(v_ref, rel=1e-13, abs=1e-14)
    assert history[-1][1].step == 5


@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.5, 0.9), 1e-3)])
def test_adam_matches_the_formula_over_five_steps(betas, eps):
    params, grads = random_problem(2)
    config = Optimizer("adam", 0.01, betas=betas, eps=eps)
    state = optimizers.initial_state(config, params)
    current, history = params, []
    for g in grads:
        current, state = optimizers.update(config, current, g, state, trainable=params.keys())
        history.append((current, state))
    for name, index, p, g in entries(params, grads):
        for (new, state), (p_ref, m_ref, v_ref) in zip(history, adam_reference(p, g, 0.01, *betas, eps)):
            assert new[name][index] == pytest.approx(p_ref, rel=1e-12, abs=1e-14)
            assert state.first_moment[name][index] == pytest.approx(m_ref, rel=1e-13, abs=1e-15)
            assert state.second_moment[name][index] == pytest.approx(v_ref, rel=1e-13, abs=1e-15)


def test_adam_first_step_moves_every_entry_by_about_the_learning_rate():
    # m_hat = g and v_hat = g^2 at t = 1, so the step is lr g / (|g| + eps).
    params, grads = random_problem(3)
    config = Optimizer("adam", 0.05)
    new, _ = optimizers.update(config, params, grads[0], optimizers.initial_state(config, params), params.keys())
    for name in params:
        g = grads[0][name]
        np.testing.assert_allclose(params[name] - new[name], 0.05 * g / (np.abs(g) + 1e-8), rtol=1e-12)


@pytest.mark.parametrize("config", [Optimizer("sgd", 0.1), Optimizer("sgd", 0.1, momentum=0.9), Optimizer("adam", 0.1)])
def test_a_frozen_parameter_keeps_its_value_and_its_state(config):
    params, grads = random_problem(4)
    state = optimizers.initial_state(config, params)
    new, state = optimizers.update(config, params, grads[0], state, trainable={"W2"})
    assert new["W1"] is params["W1"] and new["b1"] is params["b1"]
    assert not np.array_equal(new["W2"], params["W2"])
    for values in optimizers.arrays(state).values():
        assert not values["W1"].any() and values["W2"].any()


def test_state_round_trips_through_json():
    params, grads = random_problem(5)
    config = Optimizer("adam", 0.01)
    _, state = optimizers.update(config, params, grads[0], optimizers.initial_state(config, params), params.keys())
    shapes = {name: value.shape for name, value in params.items()}
    again = optimizers.from_dict(config, json.loads(json.dumps(optimizers.to_dict(state))), shapes)
    assert again.step == 1
    for field, values in optimizers.arrays(state).items():
        for name, value in values.items():
            assert np.array_equal(optimizers.arrays(again)[field][name], value)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"step": -1}, "step must be an integer"),
        ({"step": 0, "velocity": {}}, "has no field 'velocity'"),
        ({"step": 1, "first_moment": {"W1": [[0.0, 0.0]] * 3}}, "must name every parameter"),
    ],
)
def test_state_that_does_not_fit_is_a_value_error(raw, message):
    with pytest.raises(ValueError, match=message):
        optimizers.from_dict(Optimizer("adam", 0.1), raw, {"W1": (3, 2), "b1": (2,)})


# --- the trace with an optimizer -------------------------------------------------------------------------


def seed002(**optimizer) -> dict:
    body = presets.get("seed002-ex2").body()
    body["optimizer"] = {"name": "sgd", "learning_rate": 0.5, **optimizer}
    body["steps"] = 4
    return body


def test_plain_sgd_traces_add_no_fields():
    response = tracemod.run(specmod.from_request(seed002())).to_dict()
    for step in response["steps"]:
        assert "batch" not in step and "optimizer_state" not in step


@pytest.mark.parametrize(
    "optimizer",
    [{"momentum": 0.9}, {"momentum": 0.5, "nesterov": True}, {"name": "adam", "learning_rate": 0.05, "betas": [0.8, 0.99]}],
)
def test_traced_updates_follow_the_formula_from_the_traced_gradients(optimizer):
    body = seed002(**optimizer)
    trace = tracemod.run(specmod.from_request(body)).to_dict()
    config = body["optimizer"]
    lr = config["learning_rate"]
    for layer in (0, 1):
        start = np.asarray(body["layers"][layer]["weights"])
        for index in np.ndindex(start.shape):
            # backward runs from the last layer down: layer 1 (0-based 0) is the last entry.
            grads = [np.asarray(step["backward"][1 - layer]["grad_weights"])[index] for step in trace["steps"]]
            if config.get("name") == "adam":
                expected = adam_reference(start[index], grads, lr, *config["betas"], 1e-8)
                expected_state = [(m, v) for _, m, v in expected]
                states = [
                    (
                        np.asarray(step["optimizer_state"]["first_moment"][f"W{layer + 1}"])[index],
                        np.asarray(step["optimizer_state"]["second_moment"][f"W{layer + 1}"])[index],
                    )
                    for step in trace["steps"]
                ]
            else:
                expected = momentum_reference(start[index], grads, lr, config["momentum"], config.get("nesterov", False))
                expected_state = [(v,) for _, v in expected]
                states = [
                    (np.asarray(step["optimizer_state"]["velocity"][f"W{layer + 1}"])[index],)
                    for step in trace["steps"]
                ]
            for step, (p, *_), state, ref_state in zip(trace["steps"], expected, states, expected_state):
                assert np.asarray(step["update"][layer]["weights"])[index] == pytest.approx(p, rel=1e-12, abs=1e-15)
                assert state == pytest.approx(ref_state, rel=1e-12, abs=1e-15)
    assert [step["optimizer_state"]["step"] for step in trace["steps"]] == [1, 2, 3, 4]


@pytest.mark.parametrize("optimizer", [{"momentum": 0.9, "nesterov": True}, {"name": "adam", "learning_rate": 0.05}])
def test_a_trace_continues_from_a_state_given_in_the_request(optimizer):
    """Four steps in one trace equal two steps, then two more from the parameters and state after step 2."""
    body = seed002(**optimizer)
    whole = tracemod.run(specmod.from_request(body)).to_dict()
    first = copy.deepcopy(body)
    first["steps"] = 2
    half = json.loads(json.dumps(tracemod.run(specmod.from_request(first)).to_dict()))
    second = copy.deepcopy(first)
    for layer, params in zip(second["layers"], half["steps"][-1]["update"]):
        layer["weights"], layer["bias"] = params["weights"], params["bias"]
    second["optimizer"]["state"] = half["steps"][-1]["optimizer_state"]
    rest = tracemod.run(specmod.from_request(second)).to_dict()
    assert rest["steps"] == [dict(step, index=step["index"] - 2) for step in whole["steps"][2:]]


@pytest.mark.parametrize(
    "optimizer, message",
    [
        ({"name": "rmsprop"}, "optimizer must be one of"),
        ({"momentum": 1.0}, "momentum must be in"),
        ({"nesterov": True}, "nesterov needs momentum"),
        ({"name": "adam", "momentum": 0.9}, "adam takes betas"),
        ({"name": "adam", "betas": [0.9, 1.0]}, "betas must be"),
        ({"name": "adam", "eps": 0}, "eps must be positive"),
        ({"momentum": 0.9, "state": {"step": 0, "velocity": {"W1": [[0.0]]}}}, "must name every parameter"),
    ],
)
def test_malformed_optimizers_are_value_errors(optimizer, message):
    with pytest.raises(ValueError, match=message):
        specmod.from_request(seed002(**optimizer))


def test_adam_overflowing_second_moment_names_the_step():
    body = seed002(name="adam", learning_rate=0.1)
    # Y ~ 1e98 keeps the loss and dL/dW2 ~ 1e198 finite, but g^2 in the second moment overflows.
    body["inputs"] = [[1e100, 0.2, -0.75, 0.2], [0.8, 0.05, 0.8, -0.05]]
    with pytest.raises(tracemod.Overflow) as caught:
        tracemod.run(specmod.from_request(body))
    assert (caught.value.step, caught.value.stage) == (0, "update")
    assert "second moment" in caught.value.quantity


# --- PyTorch itself ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, make",
    [
        (Optimizer("sgd", 0.1, momentum=0.9), lambda torch, p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
        (
            Optimizer("sgd", 0.1, momentum=0.8, nesterov=True),
            lambda torch, p: torch.optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True),
        ),
        (
            Optimizer("adam", 0.02, betas=(0.8, 0.95), eps=1e-6),
            lambda torch, p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.95), eps=1e-6),
        ),
    ],
)
def test_matches_torch_optim(config, make):
    torch = pytest.importorskip("torch")
    params, grads = random_problem(6)
    tensors = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in params.items()}
    optimizer = make(torch, list(tensors.values()))
    state, current = optimizers.initial_state(config, params), params
    for g in grads:
        for name, tensor in tensors.items():
            tensor.grad = torch.tensor(g[name], dtype=torch.float64)
        optimizer.step()
        current, state = optimizers.update(config, current, g, state, trainable=params.keys())
        for name, tensor in tensors.items():
            np.testing.assert_allclose(current[name], tensor.detach().numpy(), rtol=1e-13, atol=1e-15)
