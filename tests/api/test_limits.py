"""The size limits: defaults, overrides from app.config, and check_spec on engine specs."""
from __future__ import annotations

import pydantic
import pytest

from engine import spec as specmod
from webapp import create_app
from webapp.api.limits import Limits, check_spec, current_limits
from webapp.api.problems import TooLarge


def _body(widths: list[int], examples: int, steps: int = 1, bias: bool = True) -> dict:
    """A rows-layout tanh network with these widths (d0..dL) and N examples."""
    return {
        "layers": [
            {"weights": [[0.1] * b] * a, "bias": [0.0] * b if bias else None, "activation": "tanh"}
            for a, b in zip(widths, widths[1:])
        ],
        "inputs": [[0.5] * widths[0]] * examples,
        "targets": [[0.0] * widths[-1]] * examples,
        "loss": {"name": "squared_error"},
        "steps": steps,
    }


def spec_of(widths: list[int], examples: int, steps: int = 1, bias: bool = True) -> specmod.Spec:
    return specmod.from_request(_body(widths, examples, steps, bias))


def test_defaults():
    assert Limits() == Limits(
        max_layers=8,
        max_units=1024,
        max_examples=1024,
        max_steps=500,
        max_body_bytes=4 * 1024 * 1024,
        max_work=300_000_000,
        max_trace_values=2_000_000,
        max_gradcheck_work=50_000_000,
    )


def test_limits_are_frozen():
    with pytest.raises((AttributeError, TypeError, pydantic.ValidationError)):
        Limits().max_steps = 3


def test_config_overrides_some_limits():
    app = create_app({"TESTING": True, "LIMITS": {"max_steps": 3, "max_body_bytes": 2048}})
    with app.app_context():
        limits = current_limits()
    assert (limits.max_steps, limits.max_body_bytes, limits.max_layers) == (3, 2048, 8)
    assert app.config["MAX_CONTENT_LENGTH"] == 2048


def test_default_body_cap():
    assert create_app({"TESTING": True}).config["MAX_CONTENT_LENGTH"] == 4 * 1024 * 1024


@pytest.mark.parametrize("override", [{"max_stepz": 3}, {"max_steps": 0}, {"max_work": -1}])
def test_a_bad_override_fails_at_start(override):
    with pytest.raises(pydantic.ValidationError):
        create_app({"TESTING": True, "LIMITS": override})


def test_a_spec_within_every_limit_passes():
    check_spec(spec_of([4, 8, 3], examples=10, steps=5), Limits())
    check_spec(spec_of([4, 8, 3], examples=10), Limits(), gradcheck=True)


@pytest.mark.parametrize(
    ("spec", "limits", "limit", "value"),
    [
        (spec_of([2] * 10, 3), Limits(), "max_layers", 9),
        (spec_of([1025, 1], 1), Limits(), "max_units", 1025),
        (spec_of([3, 1100, 1], 1), Limits(), "max_units", 1100),
        (spec_of([2, 1], 1025), Limits(), "max_examples", 1025),
        (spec_of([2, 1], 1, steps=501), Limits(), "max_steps", 501),
        # 3 * N * sum d(l-1) d(l) = 3 * 1000 * (1000 * 100 + 100 * 10) = 303 000 000 per step.
        (spec_of([1000, 100, 10], 1000), Limits(), "max_work", 303_000_000),
        # Work of one step: 3 * 5 * (4*8 + 8*3) = 840; times 10 steps.
        (spec_of([4, 8, 3], 5, steps=10), Limits(max_work=8399), "max_work", 8400),
    ],
)
def test_each_limit(spec, limits, limit, value):
    with pytest.raises(TooLarge) as raised:
        check_spec(spec, limits)
    problem = raised.value
    assert problem.status == 413
    assert (problem.extra["limit"], problem.extra["value"]) == (limit, value)
    assert limit in problem.detail and str(value) in problem.detail


def test_work_at_the_limit_passes():
    check_spec(spec_of([4, 8, 3], 5, steps=10), Limits(max_work=8400))


def test_trace_values_grow_with_steps():
    spec = spec_of([4, 8, 3], 5, steps=1)
    many = spec_of([4, 8, 3], 5, steps=100)
    per_step = spec.trace_values()
    check_spec(spec, Limits(max_trace_values=per_step))
    with pytest.raises(TooLarge) as raised:
        check_spec(many, Limits(max_trace_values=per_step * 99))
    assert raised.value.extra == {"limit": "max_trace_values", "value": per_step * 100, "maximum": per_step * 99}


def test_gradcheck_work():
    # 4*8 + 8 + 8*3 + 3 = 67 parameters; a forward pass is 5 * (4*8 + 8*3) = 280 multiply-adds.
    spec = spec_of([4, 8, 3], 5)
    check_spec(spec, Limits(max_gradcheck_work=67 * 2 * 280), gradcheck=True)
    with pytest.raises(TooLarge) as raised:
        check_spec(spec, Limits(max_gradcheck_work=67 * 2 * 280 - 1), gradcheck=True)
    assert raised.value.extra["value"] == 67 * 2 * 280
    # Without biases: 56 parameters.
    with pytest.raises(TooLarge) as raised:
        check_spec(spec_of([4, 8, 3], 5, bias=False), Limits(max_gradcheck_work=100), gradcheck=True)
    assert raised.value.extra["value"] == 56 * 2 * 280


def test_gradcheck_ignores_the_trace_limits():
    """A gradient check runs no steps: many steps do not count against it."""
    spec = spec_of([4, 8, 3], 5, steps=400)
    check_spec(spec, Limits(max_work=1, max_trace_values=1), gradcheck=True)


def test_gradcheck_work_counts_every_example_whatever_the_batch():
    spec = specmod.from_request({**_body([4, 8, 3], 5), "batch_size": 1})
    with pytest.raises(TooLarge) as raised:
        check_spec(spec, Limits(max_gradcheck_work=67 * 2 * 280 - 1), gradcheck=True)
    assert raised.value.extra["value"] == 67 * 2 * 280


def test_trace_work_counts_the_batch():
    # One step with batch_size 2 works on 2 examples: 3 * 2 * (4*8 + 8*3) = 336 multiply-adds.
    spec = specmod.from_request({**_body([4, 8, 3], 5), "batch_size": 2, "steps": 10})
    check_spec(spec, Limits(max_work=3360))
    with pytest.raises(TooLarge):
        check_spec(spec, Limits(max_work=3359))
