"""Losses: value and dL/dY against the formulas and central differences; reductions, half, hinge corners, fused forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine import activations, losses
from engine import spec as specmod
from engine import trace as tracemod
from engine.spec import Loss
from tests.engine.strategies import REDUCTIONS, numeric_upstream_gradient, reference_loss, relative_error

N, WIDTH = 4, 3


def problem(name: str, seed: int = 0):
    """(output, targets, classes) that `name` is defined on, away from hinge corners."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, WIDTH, size=N)
    if name == "squared_error":
        return rng.normal(size=(N, WIDTH)), rng.normal(size=(N, WIDTH)), classes
    if name == "multiclass_hinge":
        output = rng.normal(size=(N, WIDTH))
        targets = rng.uniform(size=(N, WIDTH))
        return output, targets, np.argmax(targets, axis=1)
    output = rng.uniform(0.05, 0.95, size=(N, WIDTH))
    targets = rng.uniform(size=(N, WIDTH))
    if name == "cross_entropy":
        output /= output.sum(axis=1, keepdims=True)
    else:
        targets[0, 0], targets[1, 1] = 0.0, 1.0  # binary targets at the ends as well
    return output, targets, classes


CASES = [(name, reduction) for name, reductions in REDUCTIONS.items() for reduction in reductions]


@pytest.mark.parametrize(("name", "reduction"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_value_matches_formula(name, reduction, seed):
    output, targets, classes = problem(name, seed)
    value, _ = losses.value_and_gradient(Loss(name, reduction), output, targets, classes)
    assert value == pytest.approx(reference_loss(name, output, targets, classes, reduction), rel=1e-12)


@pytest.mark.parametrize(("name", "reduction"), CASES)
@pytest.mark.parametrize("half", [False, True])
def test_gradient_matches_central_differences(name, reduction, half):
    output, targets, classes = problem(name)
    loss = Loss(name, reduction, half)
    _, gradient = losses.value_and_gradient(loss, output, targets, classes)
    numeric = numeric_upstream_gradient(
        lambda y: np.array(reference_loss(name, y, targets, classes, reduction, half)), output, np.array(1.0)
    )
    assert gradient.shape == output.shape
    assert relative_error(gradient, numeric).max() < 1e-6


@pytest.mark.parametrize(("name", "reduction"), CASES)
def test_each_reduction_divides_the_sum_by_its_divisor(name, reduction):
    output, targets, classes = problem(name)
    total, total_gradient = losses.value_and_gradient(Loss(name, "sum"), output, targets, classes)
    value, gradient = losses.value_and_gradient(Loss(name, reduction), output, targets, classes)
    divisor = {"sum": 1, "mean": N, "mean_all": N * WIDTH}[reduction]
    assert losses.divisor(Loss(name, reduction), output.shape) == divisor
    assert value == pytest.approx(total / divisor, rel=1e-14)
    np.testing.assert_allclose(gradient, total_gradient / divisor, rtol=1e-14)


def test_squared_error_by_hand():
    output, targets = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [1.0, 3.0]])
    # squared differences sum to 1 + 4 + 1 + 9 = 15
    for reduction, half, expected in [("sum", False, 15.0), ("mean", False, 7.5), ("mean_all", False, 3.75),
                                      ("sum", True, 7.5), ("mean", True, 3.75)]:
        value, gradient = losses.value_and_gradient(Loss("squared_error", reduction, half), output, targets, None)
        assert value == expected
        scale = (0.5 if half else 1.0) * 2.0 / {"sum": 1, "mean": 2, "mean_all": 4}[reduction]
        np.testing.assert_array_equal(gradient, scale * (output - targets))


@pytest.mark.parametrize("reduction", ["mean", "sum", "mean_all"])
def test_half_halves_value_and_gradient(reduction):
    output, targets, classes = problem("squared_error")
    full = losses.value_and_gradient(Loss("squared_error", reduction, False), output, targets, classes)
    half = losses.value_and_gradient(Loss("squared_error", reduction, True), output, targets, classes)
    assert half[0] == pytest.approx(full[0] / 2, rel=1e-15)
    np.testing.assert_allclose(half[1], full[1] / 2, rtol=1e-15)


def test_cross_entropy_skips_zero_targets_even_where_the_output_is_zero():
    output = np.array([[0.0, 0.25, 0.75]])
    targets = np.array([[0.0, 0.0, 1.0]])
    # The engine runs its passes under np.errstate(all="ignore") (log 0 is computed, then masked).
    with np.errstate(divide="ignore", invalid="ignore"):
        value, gradient = losses.value_and_gradient(Loss("cross_entropy", "sum"), output, targets, None)
    assert value == pytest.approx(-math.log(0.75), rel=1e-15)
    np.testing.assert_allclose(gradient, [[0.0, 0.0, -1 / 0.75]], rtol=1e-15)


def test_hinge_by_hand():
    output = np.array([[1.0, 3.0, 2.5], [0.0, -1.0, 2.0]])
    classes = np.array([1, 0])
    # example 0 (class 1): max(0, 1 - 3 + 1) = 0, max(0, 2.5 - 3 + 1) = 0.5
    # example 1 (class 0): max(0, -1 - 0 + 1) = 0 (exactly at the corner), max(0, 2 - 0 + 1) = 3
    value, gradient = losses.value_and_gradient(Loss("multiclass_hinge", "sum"), output, None, classes)
    assert value == 3.5
    np.testing.assert_array_equal(gradient, [[0.0, -1.0, 1.0], [-1.0, 0.0, 1.0]])
    value, gradient = losses.value_and_gradient(Loss("multiclass_hinge", "mean", margin=2.0), output, None, classes)
    # margin 2: example 0 gives max(0, 1 - 3 + 2) = 0 (corner) + 1.5; example 1 gives 1 + 4
    assert value == pytest.approx((1.5 + 5.0) / 2)
    np.testing.assert_array_equal(gradient, np.array([[0.0, -1.0, 1.0], [-2.0, 1.0, 1.0]]) / 2)


def test_hinge_term_exactly_at_zero_passes_no_gradient():
    output = np.array([[1.0, 2.0]])  # 1 - 2 + margin 1 = 0 exactly
    value, gradient = losses.value_and_gradient(Loss("multiclass_hinge", "sum"), output, None, np.array([1]))
    assert value == 0.0
    np.testing.assert_array_equal(gradient, [[0.0, 0.0]])


def hinge_request(**target):
    return {
        "layers": [{"weights": [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], "bias": [0.1, 0.2, 0.3], "activation": "identity"}],
        "inputs": [[1.0, 2.0], [-1.0, 0.5], [0.3, -0.7]],
        "loss": {"name": "multiclass_hinge", "reduction": "mean"},
        **target,
    }


def test_hinge_with_targets_uses_the_largest_target_as_the_class():
    with_targets = tracemod.run(specmod.from_request(hinge_request(targets=[[0.1, 0.7, 0.2], [0.9, 0.0, 0.1],
                                                                           [0.2, 0.3, 0.5]])))
    with_labels = tracemod.run(specmod.from_request(hinge_request(labels=[1, 0, 2])))
    wrong_labels = tracemod.run(specmod.from_request(hinge_request(labels=[0, 0, 2])))
    assert with_targets.steps[0].loss == with_labels.steps[0].loss != wrong_labels.steps[0].loss
    for a, b in zip(with_targets.steps[0].backward, with_labels.steps[0].backward):
        np.testing.assert_array_equal(a.delta, b.delta)
        np.testing.assert_array_equal(a.grad_weights, b.grad_weights)


FUSED = [("cross_entropy", "softmax", "mean"), ("cross_entropy", "softmax", "sum"),
         ("binary_cross_entropy", "sigmoid", "mean"), ("binary_cross_entropy", "sigmoid", "sum"),
         ("binary_cross_entropy", "sigmoid", "mean_all")]


@pytest.mark.parametrize(("name", "activation", "reduction"), FUSED)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fused_form_equals_the_generic_one_where_both_are_finite(name, activation, reduction, seed):
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 3.0, size=(N, WIDTH))
    targets = rng.uniform(size=(N, WIDTH))
    if seed == 1:  # one-hot targets
        targets = np.eye(WIDTH)[rng.integers(0, WIDTH, size=N)]
    loss = Loss(name, reduction)
    z = activations.forward(activation, s)
    value, grad_output = losses.value_and_gradient(loss, z, targets, None)
    generic_delta = activations.backward(activation, s, z, grad_output)
    fused_value, fused_delta = losses.fused(loss, activation, s, targets)
    assert fused_value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(fused_delta, generic_delta, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize(
    ("name", "activation"),
    [("squared_error", "softmax"), ("squared_error", "sigmoid"), ("cross_entropy", "sigmoid"),
     ("binary_cross_entropy", "softmax"), ("multiclass_hinge", "softmax"), ("cross_entropy", "identity")],
)
def test_no_fused_form_for_other_pairings(name, activation):
    s = np.zeros((2, 3))
    assert losses.fused(Loss(name, "mean"), activation, s, np.full((2, 3), 1 / 3)) is None


def test_softmax_cross_entropy_of_logits_1000_is_exact():
    s = np.array([[1000.0, -1000.0, 999.0], [-1000.0, 1000.0, 0.0], [999.5, 1000.0, -1000.0]])
    targets = np.eye(3)[[2, 0, 0]]
    value, delta = losses.fused(Loss("cross_entropy", "sum"), "softmax", s, targets)
    # -log softmax_y = logsumexp(s) - s_y, with logsumexp taken by hand
    expected = [
        1000.0 + math.log1p(math.exp(-1.0)) - 999.0,
        1000.0 + 1000.0,
        1000.0 + math.log1p(math.exp(-0.5)) - 999.5,
    ]
    assert value == pytest.approx(sum(expected), rel=1e-15)
    e1, e5 = math.exp(-1.0), math.exp(-0.5)
    probabilities = [[1 / (1 + e1), 0.0, e1 / (1 + e1)], [0.0, 1.0, 0.0], [e5 / (1 + e5), 1 / (1 + e5), 0.0]]
    np.testing.assert_allclose(delta, np.array(probabilities) - targets, rtol=1e-14, atol=1e-300)


def test_sigmoid_binary_cross_entropy_of_logits_1000_is_exact():
    s = np.array([[1000.0, -1000.0, 1000.0, -1000.0, 2.0]])
    targets = np.array([[0.0, 1.0, 1.0, 0.0, 0.25]])
    value, delta = losses.fused(Loss("binary_cross_entropy", "sum"), "sigmoid", s, targets)
    # softplus(s) - t s: 1000, 1000, ~0, ~0, log(1 + e^2) - 0.5
    assert value == pytest.approx(2000.0 + math.log1p(math.exp(2.0)) - 0.5, rel=1e-15)
    sigmoid_2 = 1 / (1 + math.exp(-2.0))
    np.testing.assert_allclose(delta, [[1.0, -1.0, 0.0, 0.0, sigmoid_2 - 0.25]], rtol=1e-15, atol=1e-300)


def test_unknown_loss_is_a_value_error():
    with pytest.raises(ValueError, match="hubber"):
        losses.value_and_gradient(Loss("hubber"), np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1, dtype=int))
