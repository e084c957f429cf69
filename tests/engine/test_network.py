"""The network's passes in the rows layout: forward, loss delta, backward and the SGD update."""
from __future__ import annotations

import numpy as np
import pytest

from engine import network, optimizers
from engine.spec import Layer, Loss
from tests.engine.strategies import Problem, relative_error


def two_layer(bias: bool = True, train=(True, True)):
    """A 3-4-2 tanh/softmax network on 5 examples, in the rows layout."""
    rng = np.random.default_rng(7)
    w1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    b1, b2 = (rng.normal(size=4), rng.normal(size=2)) if bias else (None, None)
    layers = (
        Layer(w1, b1, "tanh", train_weights=train[0], train_bias=train[0]),
        Layer(w2, b2, "softmax", train_weights=train[1], train_bias=train[1]),
    )
    inputs = rng.normal(size=(5, 3))
    labels = [0, 1, 1, 0, 1]
    return layers, [(w1, b1), (w2, b2)], inputs, labels


def test_forward_by_hand():
    layers = (Layer(np.array([[1.0, -1.0], [2.0, 0.5]]), np.array([0.5, 0.0]), "relu"),
              Layer(np.array([[2.0], [3.0]]), None, "identity"))
    params = [(layer.weights, layer.bias) for layer in layers]
    passes = network.forward(layers, params, np.array([[1.0, 1.0], [0.0, -2.0]]))
    # S1 = X W1 + b1 = [[3.5, -0.5], [-3.5, -1.0]]; Z1 = relu; S2 = Z1 W2
    np.testing.assert_array_equal(passes[0].pre_activation, [[3.5, -0.5], [-3.5, -1.0]])
    np.testing.assert_array_equal(passes[0].activation, [[3.5, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(passes[1].pre_activation, [[7.0], [0.0]])
    np.testing.assert_array_equal(passes[1].activation, passes[1].pre_activation)


@pytest.mark.parametrize("bias", [True, False])
def test_backward_uses_the_matrix_formulas(bias):
    layers, params, inputs, labels = two_layer(bias)
    targets = np.eye(2)[labels]
    loss = Loss("cross_entropy", "mean")
    passes = network.forward(layers, params, inputs)
    value, grad_output, output_delta = network.loss_and_output_delta(layers, loss, passes, targets, np.array(labels))
    grads = network.backward(layers, params, inputs, passes, grad_output, output_delta)
    assert len(grads) == 2  # from the last layer down

    h, p = passes[0].activation, passes[1].activation
    assert value == pytest.approx(-np.mean(np.log(p[np.arange(5), labels])), rel=1e-14)
    delta2 = (p - targets) / 5  # softmax + mean cross-entropy
    np.testing.assert_allclose(grads[0].delta, delta2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[0].grad_activation, -targets / p / 5, rtol=1e-14)
    np.testing.assert_allclose(grads[0].grad_weights, h.T @ delta2, rtol=1e-12, atol=1e-15)
    grad_h = delta2 @ params[1][0].T
    delta1 = grad_h * (1 - h**2)
    np.testing.assert_allclose(grads[1].grad_activation, grad_h, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[1].delta, delta1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[1].grad_weights, inputs.T @ delta1, rtol=1e-12, atol=1e-15)
    if bias:
        np.testing.assert_allclose(grads[0].grad_bias, delta2.sum(axis=0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grads[1].grad_bias, delta1.sum(axis=0), rtol=1e-12, atol=1e-15)
    else:
        assert grads[0].grad_bias is None and grads[1].grad_bias is None


def test_backward_matches_central_differences():
    layers, params, inputs, labels = two_layer()
    problem = Problem(
        weights=[w for w, _ in params], biases=[b for _, b in params], activations=["tanh", "softmax"],
        negative_slopes=[0.01, 0.01], train_weights=[True, True], train_bias=[True, True], inputs=inputs,
        targets=None, labels=labels, loss={"name": "cross_entropy", "reduction": "mean"}, learning_rate=0.1,
    )
    targets = problem.target_matrix
    passes = network.forward(layers, params, inputs)
    _, grad_output, delta = network.loss_and_output_delta(
        layers, Loss("cross_entropy"), passes, targets, np.array(labels)
    )
    grads = network.backward(layers, params, inputs, passes, grad_output, delta)[::-1]
    for grad, (numeric_weights, numeric_bias) in zip(grads, problem.numeric_gradients()):
        assert relative_error(grad.grad_weights, numeric_weights).max() < 1e-6
        assert relative_error(grad.grad_bias, numeric_bias).max() < 1e-6


def test_saturated_softmax_output_keeps_a_finite_delta_from_the_fused_form():
    layers = (Layer(np.array([[1000.0, -1000.0, 0.0]]), None, "softmax"),)
    params = [(layers[0].weights, None)]
    inputs, targets = np.array([[1.0]]), np.array([[0.0, 1.0, 0.0]])
    with np.errstate(all="ignore"):  # as the trace runs it: log 0 and 1/0 are expected here
        passes = network.forward(layers, params, inputs)
        value, grad_output, delta = network.loss_and_output_delta(
            layers, Loss("cross_entropy", "sum"), passes, targets, np.array([1])
        )
        grads = network.backward(layers, params, inputs, passes, grad_output, delta)
    assert value == 2000.0
    assert not np.all(np.isfinite(grad_output))
    np.testing.assert_array_equal(delta, [[1.0, -1.0, 0.0]])
    assert grads[0].grad_activation is None
    np.testing.assert_array_equal(grads[0].grad_weights, [[1.0, -1.0, 0.0]])


def sgd_update(layers, params, grads, learning_rate):
    """The engine's plain SGD step over (W, b) pairs; grads ordered from layer 1 up."""
    named_grads = {}
    for index, grad in enumerate(grads, start=1):
        named_grads[f"W{index}"] = grad.grad_weights
        if grad.grad_bias is not None:
            named_grads[f"b{index}"] = grad.grad_bias
    new = optimizers.sgd(optimizers.named(params), named_grads, learning_rate, optimizers.trainable_names(layers))
    return optimizers.pairs(new, len(layers))


def test_sgd_update_moves_only_trainable_parameters():
    layers, params, inputs, labels = two_layer(train=(False, True))
    frozen_bias_layer = Layer(layers[1].weights, layers[1].bias, "softmax", train_weights=True, train_bias=False)
    passes = network.forward(layers, params, inputs)
    targets = np.eye(2)[labels]
    _, grad_output, delta = network.loss_and_output_delta(layers, Loss("cross_entropy"), passes, targets, np.array(labels))
    grads = network.backward(layers, params, inputs, passes, grad_output, delta)[::-1]

    new = sgd_update(layers, params, grads, 0.5)
    np.testing.assert_array_equal(new[0][0], params[0][0])
    np.testing.assert_array_equal(new[0][1], params[0][1])
    np.testing.assert_allclose(new[1][0], params[1][0] - 0.5 * grads[1].grad_weights, rtol=1e-15)
    np.testing.assert_allclose(new[1][1], params[1][1] - 0.5 * grads[1].grad_bias, rtol=1e-15)

    new = sgd_update((layers[0], frozen_bias_layer), params, grads, 0.5)
    np.testing.assert_array_equal(new[1][1], params[1][1])
    np.testing.assert_allclose(new[1][0], params[1][0] - 0.5 * grads[1].grad_weights, rtol=1e-15)


def test_sgd_update_leaves_the_old_parameters_untouched():
    layers, params, inputs, labels = two_layer()
    before = [(w.copy(), b.copy()) for w, b in params]
    passes = network.forward(layers, params, inputs)
    targets = np.eye(2)[labels]
    _, grad_output, delta = network.loss_and_output_delta(layers, Loss("cross_entropy"), passes, targets, np.array(labels))
    grads = network.backward(layers, params, inputs, passes, grad_output, delta)[::-1]
    sgd_update(layers, params, grads, 1.0)
    for (w, b), (w0, b0) in zip(params, before):
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)
