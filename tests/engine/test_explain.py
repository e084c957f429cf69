"""Explaining one number: its terms combine to the trace's value, and every cell they name holds the number they say.

The combination of each rule is written here (a sum, f of the factor, a softmax, an optimizer's step),
and each Ref is looked up in the trace's JSON and the request, not in the engine's arrays.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import explain, presets
from engine import spec as specmod
from engine import trace as tracemod
from tests.engine.strategies import layouts, problems

FUNCTIONS = {
    "identity": lambda s, notes: s,
    "relu": lambda s, notes: max(s, 0.0),
    "leaky_relu": lambda s, notes: s if s > 0 else notes["negative_slope"] * s,
    "sigmoid": lambda s, notes: 1.0 / (1.0 + math.exp(-s)),
    "tanh": lambda s, notes: math.tanh(s),
}


def combined(e: explain.Explanation) -> float:
    """The cell's value from its terms, by the rule's own formula."""
    values = [term.value for term in e.terms]
    if e.rule in ("dot", "sum", "jacobian", "elementwise", "sgd", "chain"):
        return math.fsum(values)
    if e.rule == "function":
        return FUNCTIONS[e.notes["function"]](e.terms[0].factors[0].value, e.notes)
    if e.rule == "softmax":
        shift = max(term.factors[0].value for term in e.terms[1:])
        return math.exp(e.terms[0].factors[0].value - shift) / math.fsum(
            math.exp(term.factors[0].value - shift) for term in e.terms[1:])
    if e.rule == "frozen":
        return e.terms[0].factors[0].value
    old, grad = e.terms[0].factors[0].value, e.terms[1].factors[0].value
    notes = e.notes
    if e.rule == "momentum":
        velocity = notes["momentum"] * notes["previous_velocity"] + grad
        direction = grad + notes["momentum"] * velocity if notes["nesterov"] else velocity
        return old - notes["rate"] * direction
    if e.rule == "adam":
        t = notes["t"]
        denominator = math.sqrt(notes["second_moment"]) / math.sqrt(1 - notes["beta2"] ** t) + notes["eps"]
        return old - notes["rate"] / (1 - notes["beta1"] ** t) * notes["first_moment"] / denominator
    raise AssertionError(f"no combination written for rule {e.rule}")


def lookup(body: dict, trace: dict, key: str, cell: list[int]) -> float:
    """The number at (key, cell), from the request and the trace-v1 response."""
    def at(value):
        for index in cell:
            value = value[index]
        return value

    if key == "inputs":
        return at(body["inputs"])
    if key == "targets":
        if body.get("targets") is not None:
            return at(body["targets"])
        i, j = cell
        example, unit = (j, i) if body["layout"] == "columns" else (i, j)
        return 1.0 if body["labels"][example] == unit else 0.0
    step, stage, *rest = key.split(".")
    k = int(step[1:])
    if stage == "parameters":
        layer, name = int(rest[0]), rest[1]
        source = body["layers"][layer - 1] if k == 0 else trace["steps"][k - 1]["update"][layer - 1]
        return at(source[name])
    record = trace["steps"][k]
    if stage in ("output_gradient", "loss"):
        return at(record[stage])
    layer, name = int(rest[0]), rest[1]
    return at(next(r for r in record[stage] if r["layer"] == layer)[name])


def check_cell(body, spec, trace, answer, key, cell):
    e = explain.explain(spec, trace, key, cell)
    assert e.value == lookup(body, answer, key, list(cell))
    assert combined(e) == pytest.approx(e.value, rel=1e-12, abs=1e-12), (key, cell, e.rule)
    for term in e.terms:
        for ref in [f for f in term.factors if isinstance(f, explain.Ref)] + list(term.uses):
            assert ref.value == lookup(body, answer, ref.key, list(ref.cell)), (key, ref)
    return e


def keys_and_shapes(answer: dict):
    """Every quantity key of step 0 with a cell drawn by index later: (key, shape)."""
    step = answer["steps"][0]
    out = []
    for record in step["forward"]:
        for name in ("pre_activation", "activation"):
            out.append((f"s0.forward.{record['layer']}.{name}", np.shape(record[name])))
    out.append(("s0.loss", ()))
    if step["output_gradient"] is not None:
        out.append(("s0.output_gradient", np.shape(step["output_gradient"])))
    for record in step["backward"]:
        for name in ("grad_activation", "delta", "grad_weights", "grad_bias", "grad_inputs"):
            if record.get(name) is not None:
                out.append((f"s0.backward.{record['layer']}.{name}", np.shape(record[name])))
    for record in step["update"]:
        for name in ("weights", "bias"):
            if record[name] is not None:
                out.append((f"s0.update.{record['layer']}.{name}", np.shape(record[name])))
    return out


OPTIMIZERS = st.sampled_from([{}, {"momentum": 0.9}, {"momentum": 0.5, "nesterov": True},
                              {"name": "adam", "betas": [0.9, 0.999], "eps": 1e-8}])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(max_layers=3, max_units=4, max_examples=4), layout=layouts, optimizer=OPTIMIZERS,
       data=st.data())
def test_every_quantity_of_random_networks_combines_to_the_trace(problem, layout, optimizer, data):
    body = problem.request(layout)
    body["optimizer"] = {**body["optimizer"], **optimizer}
    body["input_gradient"] = True
    spec = specmod.from_request(body)
    trace = tracemod.run(spec)
    answer = trace.to_dict()
    for key, shape in keys_and_shapes(answer):
        cell = tuple(data.draw(st.integers(0, size - 1)) for size in shape)
        check_cell(body, spec, trace, answer, key, cell)


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.id)
def test_every_cell_of_every_preset_combines_to_the_trace(preset):
    body = preset.body()
    spec = specmod.from_request(body)
    trace = tracemod.run(spec)
    answer = trace.to_dict()
    for key, shape in keys_and_shapes(answer):
        for cell in np.ndindex(*shape):
            check_cell(body, spec, trace, answer, key, cell)


def seed002():
    body = presets.get("seed002-ex2").body()
    spec = specmod.from_request(body)
    trace = tracemod.run(spec)
    return body, spec, trace, trace.to_dict()


def test_s1_cell_of_seed002_by_hand():
    """S1[2,3] = W1[2,1] X[1,3] + W1[2,2] X[2,3] = 0.7 (-0.75) + 0.43 (0.8) = -0.181 (1-based, as the seed writes)."""
    body, spec, trace, answer = seed002()
    e = check_cell(body, spec, trace, answer, "s0.forward.1.pre_activation", (1, 2))
    assert e.rule == "dot"
    assert [[(f.key, f.cell, f.value) for f in term.factors] for term in e.terms] == [
        [("s0.parameters.1.weights", (1, 0), 0.7), ("inputs", (0, 2), -0.75)],
        [("s0.parameters.1.weights", (1, 1), 0.43), ("inputs", (1, 2), 0.8)],
    ]
    assert e.value == pytest.approx(-0.181, abs=1e-12)


def test_delta1_cell_of_seed002_is_upstream_times_the_derivative():
    body, spec, trace, answer = seed002()
    e = check_cell(body, spec, trace, answer, "s0.backward.1.delta", (0, 1))
    layer = body["layers"][0]["activation"]
    upstream, derivative = e.terms[0].factors
    assert upstream.key == "s0.backward.1.grad_activation" and upstream.cell == (0, 1)
    s = answer["steps"][0]["forward"][0]["pre_activation"][0][1]
    z = answer["steps"][0]["forward"][0]["activation"][0][1]
    expected = {"relu": 1.0 if s > 0 else 0.0, "sigmoid": z * (1 - z), "tanh": 1 - z * z}[layer]
    assert derivative == pytest.approx(expected, rel=1e-15)
    assert e.notes["at"]["key"] == "s0.forward.1.pre_activation"


def test_weight_gradient_of_seed002_sums_over_the_four_examples():
    body, spec, trace, answer = seed002()
    e = check_cell(body, spec, trace, answer, "s0.backward.1.grad_weights", (2, 1))
    assert len(e.terms) == 4
    # columns: dL/dW1[2,1] (0-based) = sum_n delta1[2, n] X[1, n]
    assert [(t.factors[0].key, t.factors[0].cell, t.factors[1].key, t.factors[1].cell) for t in e.terms] == [
        ("s0.backward.1.delta", (2, n), "inputs", (1, n)) for n in range(4)]


@pytest.mark.parametrize("key, cell, message", [
    ("s0.forward.9.activation", (0, 0), "layers 1..2"),
    ("s3.loss", (), "step 3"),
    ("s0.loss", (0,), "one number"),
    ("s0.forward.1.activation", (5, 0), "outside"),
    ("s0.backward.1.grad_bias", (0,), "no bias"),
    ("s0.backward.1.grad_inputs", (0, 0), "input_gradient"),
    ("s0.update.1.velocity", (0, 0), "not 'velocity'"),
    ("forward.1", (0, 0), "not a quantity key"),
])
def test_what_cannot_be_explained_says_why(key, cell, message):
    _, spec, trace, _ = seed002()
    with pytest.raises(explain.NotExplained, match=message):
        explain.explain(spec, trace, key, cell)
