"""Activations: forward against the formulas, backward against central differences and the explicit Jacobian."""
from __future__ import annotations

import numpy as np
import pytest

from engine import activations
from tests.engine.strategies import ACTIVATIONS, numeric_upstream_gradient, reference_activation, relative_error


def away_from_zero(rng: np.random.Generator, shape, low: float = 0.1, high: float = 3.0) -> np.ndarray:
    """Entries in +-[low, high]: no ReLU kink within reach of a central difference."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_forward_matches_formula(name):
    s = np.random.default_rng(1).normal(0.0, 2.0, size=(5, 4))
    np.testing.assert_allclose(activations.forward(name, s, 0.2), reference_activation(name, s, 0.2), rtol=1e-14)


def test_forward_by_hand():
    s = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(activations.forward("relu", s), [[0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(activations.forward("leaky_relu", s, 0.1), [[-0.2, 0.0, 3.0]])
    np.testing.assert_allclose(activations.forward("sigmoid", np.array([[0.0, np.log(3.0)]])), [[0.5, 0.75]], rtol=1e-15)
    np.testing.assert_allclose(activations.forward("tanh", np.array([[np.log(2.0)]])), [[0.6]], rtol=1e-15)
    # softmax of (0, log 2, log 5) is (1, 2, 5) / 8
    np.testing.assert_allclose(
        activations.forward("softmax", np.array([[0.0, np.log(2.0), np.log(5.0)]])), [[0.125, 0.25, 0.625]], rtol=1e-15
    )


def test_forward_does_not_alias_its_input():
    s = np.array([[1.0, -1.0]])
    z = activations.forward("identity", s)
    z[0, 0] = 7.0
    assert s[0, 0] == 1.0


def test_softmax_rows_sum_to_one_and_normalise_each_row():
    s = np.random.default_rng(2).normal(0.0, 5.0, size=(6, 5))
    z = activations.forward("softmax", s)
    np.testing.assert_allclose(z.sum(axis=1), 1.0, rtol=1e-15)
    # shifting one row leaves every row's probabilities as they were
    shifted = s.copy()
    shifted[2] += 100.0
    np.testing.assert_allclose(activations.forward("softmax", shifted), z, rtol=1e-12)


def test_softmax_and_sigmoid_of_huge_logits_are_exact_and_warn_nothing():
    s = np.array([[1000.0, -1000.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    z = activations.forward("softmax", s)
    e = np.exp(-1.0)
    np.testing.assert_allclose(z, [[1 / (1 + e), 0.0, e / (1 + e)], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-15)
    sig = activations.forward("sigmoid", np.array([[1000.0, -1000.0, -700.0, 40.0]]))
    assert sig[0, 0] == 1.0 and sig[0, 1] == 0.0
    assert sig[0, 2] == pytest.approx(np.exp(-700.0), rel=1e-14)  # not rounded to 0 by 1 / (1 + e^700)
    assert sig[0, 3] == pytest.approx(1.0 - np.exp(-40.0), rel=1e-15)
    np.testing.assert_allclose(
        activations.log_softmax(s), [[-np.log1p(e), -2000.0 - np.log1p(e), -1.0 - np.log1p(e)], [-np.log(3.0)] * 3],
        rtol=1e-14,
    )


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backward_matches_central_differences(name, seed):
    rng = np.random.default_rng(seed)
    s = away_from_zero(rng, (4, 5))
    upstream = away_from_zero(rng, (4, 5), 0.5, 1.5)
    slope = 0.1
    z = activations.forward(name, s, slope)
    analytic = activations.backward(name, s, z, upstream, slope)
    numeric = numeric_upstream_gradient(lambda x: reference_activation(name, x, slope), s, upstream)
    assert relative_error(analytic, numeric).max() < 1e-6


def test_relu_derivative_at_zero_is_zero():
    s = np.array([[0.0, 0.0, 2.0, -2.0]])
    upstream = np.array([[3.0, -3.0, 5.0, 7.0]])
    z = activations.forward("relu", s)
    np.testing.assert_array_equal(activations.backward("relu", s, z, upstream), [[0.0, 0.0, 5.0, 0.0]])


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu_derivative_at_zero_is_the_slope(slope):
    s = np.array([[0.0, 2.0, -2.0]])
    upstream = np.array([[3.0, 5.0, 7.0]])
    z = activations.forward("leaky_relu", s, slope)
    np.testing.assert_allclose(
        activations.backward("leaky_relu", s, z, upstream, slope), [[3.0 * slope, 5.0, 7.0 * slope]], rtol=1e-15
    )


def test_softmax_backward_is_the_explicit_jacobian_product():
    rng = np.random.default_rng(3)
    s = rng.normal(size=(5, 4))
    upstream = rng.normal(size=(5, 4))
    z = activations.forward("softmax", s)
    expected = np.empty_like(s)
    for i in range(s.shape[0]):
        # J[j, k] = dz_j / ds_k = z_j (delta_jk - z_k); dL/ds = J^T dL/dz
        jacobian = np.diag(z[i]) - np.outer(z[i], z[i])
        expected[i] = jacobian.T @ upstream[i]
    np.testing.assert_allclose(activations.backward("softmax", s, z, upstream), expected, rtol=1e-12, atol=1e-15)


def test_sigmoid_and_tanh_derivatives_by_formula():
    s = np.array([[0.0, 1.0, -2.0]])
    upstream = np.ones_like(s)
    sig = 1 / (1 + np.exp(-s))
    z = activations.forward("sigmoid", s)
    np.testing.assert_allclose(activations.backward("sigmoid", s, z, upstream), sig * (1 - sig), rtol=1e-14)
    z = activations.forward("tanh", s)
    np.testing.assert_allclose(activations.backward("tanh", s, z, upstream), 1 / np.cosh(s) ** 2, rtol=1e-14)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_unknown_activation_is_a_value_error(direction):
    s = np.zeros((1, 2))
    with pytest.raises(ValueError, match="swish"):
        if direction == "forward":
            activations.forward("swish", s)
        else:
            activations.backward("swish", s, s, s)
