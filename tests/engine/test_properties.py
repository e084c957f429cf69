"""Property tests: random networks against central differences, layouts against each other, frozen parameters, overflow."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from engine import spec as specmod
from engine import trace as tracemod
from tests.engine.strategies import ACTIVATIONS, REDUCTIONS, KinkCrossed, Problem, layouts, problems, relative_error

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)

# A central difference in float64 resolves a derivative only to about
# eps * |L| / h ~ 1e-11 |L|; an entry below ~1e-4 |L| cannot show a relative
# error under 1e-6 whatever the engine does. Such entries are held to this
# absolute bound instead (about 20 times the worst rounding seen).
NOISE = 1e-9


def assert_gradient_matches(analytic: np.ndarray, numeric: np.ndarray, loss: float, name: str) -> None:
    error = relative_error(analytic, numeric)
    resolved = (error < 1e-6) | (np.abs(analytic - numeric) <= NOISE * max(1.0, abs(loss)))
    assert resolved.all(), (
        f"{name}: relative error {error.max():.3g}\nanalytic\n{analytic}\nnumeric\n{numeric}"
    )


def rows(array: np.ndarray | None, layout: str) -> np.ndarray | None:
    """A trace matrix brought back to the rows layout."""
    return None if array is None else (array.T if layout == "columns" else array)


def run_or_reject(problem: Problem, layout: str) -> tracemod.Trace:
    """Trace the problem; an Overflow is accepted only where the reference overflows too."""
    try:
        return tracemod.run(specmod.from_request(problem.request(layout)))
    except tracemod.Overflow as overflow:
        # Step 0 is moderate by construction: only the loss after an update may leave float64 (a
        # softmax output saturating to exactly 1 under binary cross-entropy, say).
        assert overflow.step >= 1, str(overflow)
        reject()


def check_gradients(problem: Problem, layout: str) -> None:
    """The trace's forward values, loss and gradients against the independent reference."""
    problem.assume_away_from_kinks()
    with np.errstate(all="ignore"):
        loss = problem.loss_value()
    assume(math.isfinite(loss))
    trace = run_or_reject(problem, layout)
    step = trace.steps[0]

    assert step.loss == pytest.approx(loss, rel=1e-9, abs=1e-12)
    for forward, (pre_activation, activation) in zip(step.forward, problem.forward()):
        np.testing.assert_allclose(rows(forward.pre_activation, layout), pre_activation, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(rows(forward.activation, layout), activation, rtol=1e-9, atol=1e-12)

    try:
        numeric = problem.numeric_gradients()
    except KinkCrossed:
        reject()
    assert [b.layer for b in step.backward] == list(range(len(numeric), 0, -1))
    for backward in step.backward:
        numeric_weights, numeric_bias = numeric[backward.layer - 1]
        assert_gradient_matches(rows(backward.grad_weights, layout), numeric_weights, loss, f"dL/dW{backward.layer}")
        if numeric_bias is None:
            assert backward.grad_bias is None
        else:
            assert_gradient_matches(backward.grad_bias, numeric_bias, loss, f"dL/db{backward.layer}")


@PROPERTY_SETTINGS
@given(problems(), layouts)
def test_gradients_match_central_differences(problem, layout):
    check_gradients(problem, layout)


# Every activation at the output and every (loss, reduction) pair, each at least once.
@pytest.mark.parametrize("activation", ACTIVATIONS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_every_output_activation_under_squared_error_and_hinge(activation, data):
    problem = data.draw(problems(losses=("squared_error", "multiclass_hinge"), output_activation=activation))
    check_gradients(problem, data.draw(layouts))


def loss_cases():
    """Every (loss, reduction), after softmax and after any other output it is defined on, with labels and targets."""
    for loss, reductions in REDUCTIONS.items():
        outputs = ("softmax", "sigmoid") if loss in ("cross_entropy", "binary_cross_entropy") else ("softmax", None)
        labels = (True, False) if loss in ("cross_entropy", "multiclass_hinge") else (False,)
        for reduction in reductions:
            for activation in outputs:
                for use_labels in labels:
                    yield pytest.param(loss, reduction, activation, use_labels,
                                       id=f"{loss}-{reduction}-{activation or 'any'}-{'labels' if use_labels else 'targets'}")


@pytest.mark.parametrize(("loss", "reduction", "activation", "use_labels"), list(loss_cases()))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_every_loss_and_reduction(loss, reduction, activation, use_labels, data):
    problem = data.draw(problems(losses=(loss,), output_activation=activation, use_labels=use_labels))
    problem.loss["reduction"] = reduction
    if loss == "squared_error":
        problem.loss["half"] = data.draw(st.booleans())
    check_gradients(problem, data.draw(layouts))


def assert_transposed_equal(column_value, row_value) -> None:
    if row_value is None:
        assert column_value is None
        return
    row_value = np.asarray(row_value)
    expected = row_value.T if row_value.ndim == 2 else row_value
    # Both layouts run the same floating-point operations: the numbers are equal bit for bit.
    np.testing.assert_array_equal(column_value, expected)


@PROPERTY_SETTINGS
@given(problems(steps=2))
def test_rows_and_columns_give_transposed_equal_numbers(problem):
    outcomes = []
    for layout in ("rows", "columns"):
        try:
            outcomes.append(tracemod.run(specmod.from_request(problem.request(layout))))
        except tracemod.Overflow as overflow:
            outcomes.append((overflow.step, overflow.layer, overflow.stage))
    by_rows, by_columns = outcomes
    if isinstance(by_rows, tuple):
        assert by_columns == by_rows
        return
    assert by_columns.layout == "columns" and by_rows.layout == "rows"
    assert_transposed_equal(by_columns.inputs, by_rows.inputs)
    assert_transposed_equal(by_columns.targets, by_rows.targets)
    assert by_columns.loss_history == pytest.approx(by_rows.loss_history, rel=1e-12)
    for column_step, row_step in zip(by_columns.steps, by_rows.steps, strict=True):
        assert column_step.loss == pytest.approx(row_step.loss, rel=1e-12)
        assert_transposed_equal(column_step.output_gradient, row_step.output_gradient)
        for column_part, row_part in zip(column_step.forward, row_step.forward, strict=True):
            assert column_part.layer == row_part.layer
            assert_transposed_equal(column_part.pre_activation, row_part.pre_activation)
            assert_transposed_equal(column_part.activation, row_part.activation)
        for column_part, row_part in zip(column_step.backward, row_step.backward, strict=True):
            assert column_part.layer == row_part.layer
            for field in ("grad_activation", "delta", "grad_weights", "grad_bias"):
                assert_transposed_equal(getattr(column_part, field), getattr(row_part, field))
        for column_params, row_params in zip(
            column_step.parameters + column_step.update, row_step.parameters + row_step.update, strict=True
        ):
            assert_transposed_equal(column_params.weights, row_params.weights)
            assert_transposed_equal(column_params.bias, row_params.bias)


@PROPERTY_SETTINGS
@given(problems(steps=3), layouts)
def test_frozen_parameters_never_move(problem, layout):
    try:
        trace = tracemod.run(specmod.from_request(problem.request(layout)))
    except tracemod.Overflow:
        reject()
    original = [(rows(w, layout), b) for w, b in zip(problem.weights, problem.biases)]
    for step in trace.steps:
        assert [p.layer for p in step.parameters] == [p.layer for p in step.update] == list(range(1, len(original) + 1))
        grads = {b.layer: b for b in step.backward}
        for before, after in zip(step.parameters, step.update):
            index = before.layer - 1
            grad = grads[before.layer]
            if problem.train_weights[index]:
                np.testing.assert_allclose(
                    after.weights, before.weights - problem.learning_rate * grad.grad_weights, rtol=1e-12, atol=1e-300
                )
            else:
                np.testing.assert_array_equal(after.weights, original[index][0])
            if problem.biases[index] is None:
                assert before.bias is None and after.bias is None
            elif problem.train_bias[index]:
                np.testing.assert_allclose(
                    after.bias, before.bias - problem.learning_rate * grad.grad_bias, rtol=1e-12, atol=1e-300
                )
            else:
                np.testing.assert_array_equal(after.bias, original[index][1])
    for earlier, later in zip(trace.steps, trace.steps[1:]):
        for updated, start in zip(earlier.update, later.parameters, strict=True):
            np.testing.assert_array_equal(start.weights, updated.weights)
            if start.bias is not None:
                np.testing.assert_array_equal(start.bias, updated.bias)


def all_finite(value) -> bool:
    """True if every number in a to_dict() tree is finite."""
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(all_finite(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(
    problems(steps=2),
    layouts,
    st.sampled_from([1e150, 1e-150, 1e-300, 1e300]),
    st.sampled_from(["weights", "inputs", "biases", "all"]),
)
def test_huge_and_tiny_values_give_finite_numbers_or_overflow(problem, layout, factor, where):
    if where in ("weights", "all"):
        problem.weights = [w * factor for w in problem.weights]
    if where in ("biases", "all"):
        problem.biases = [None if b is None else b * factor for b in problem.biases]
    if where in ("inputs", "all"):
        problem.inputs = problem.inputs * factor
        if problem.loss["name"] == "squared_error":
            problem.targets = problem.targets * factor
    body = problem.request(layout)
    try:
        trace = tracemod.run(specmod.from_request(body))
    except tracemod.Overflow as overflow:
        assert 0 <= overflow.step <= problem.steps
        assert f"step {overflow.step}" in str(overflow)
        assert overflow.stage in ("forward", "loss", "backward", "update")
        if overflow.stage != "loss":
            assert overflow.layer in range(1, len(problem.weights) + 1)
            assert f"layer {overflow.layer}" in str(overflow)
        return
    assert all_finite(trace.to_dict())
