"""Forward pass, loss and backward pass of a dense network (updates: optimizers.py).

Everything here is in the rows layout (examples are rows):
    S_l = Z_(l-1) W_l + 1_N b_l,   Z_l = f_l(S_l),   Z_0 = X
    delta_l = dL/dS_l,  dL/dW_l = Z_(l-1)^T delta_l,  dL/db_l = 1_N^T delta_l,
    dL/dZ_(l-1) = delta_l W_l^T.
Parameters are a list of (W, b) pairs, b None for a layer without bias.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations, losses
from .spec import Layer, Loss

Params = list[tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class LayerForward:
    pre_activation: np.ndarray  # S_l: (N, d_l)
    activation: np.ndarray  # Z_l: (N, d_l)


@dataclass(frozen=True)
class LayerBackward:
    grad_activation: np.ndarray | None  # dL/dZ_l, None where not finite (saturated output)
    delta: np.ndarray  # dL/dS_l
    grad_weights: np.ndarray  # dL/dW_l: (d_(l-1), d_l)
    grad_bias: np.ndarray | None  # dL/db_l: (d_l,)
    grad_inputs: np.ndarray | None = None  # dL/dX = delta_1 W_1^T: (N, d0), layer 1 only, when asked


def forward(layers: tuple[Layer, ...], params: Params, inputs: np.ndarray) -> list[LayerForward]:
    """inputs: (N, d0). One LayerForward per layer, from layer 1 up."""
    out, z = [], inputs
    for layer, (weights, bias) in zip(layers, params):
        s = z @ weights
        if bias is not None:
            s += bias
        z = activations.forward(layer.activation, s, layer.negative_slope)
        out.append(LayerForward(s, z))
    return out


def loss_and_output_delta(
    layers: tuple[Layer, ...], loss: Loss, passes: list[LayerForward], targets: np.ndarray, classes: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """(L, dL/dY, dL/dS_L). dL/dY may hold non-finite entries; dL/dS_L then comes from the fused form."""
    last = layers[-1]
    output = passes[-1]
    value, grad_output = losses.value_and_gradient(loss, output.activation, targets, classes)
    fused = losses.fused(loss, last.activation, output.pre_activation, targets)
    if fused is not None:
        value, delta = fused
    else:
        delta = activations.backward(
            last.activation, output.pre_activation, output.activation, grad_output, last.negative_slope
        )
    return value, grad_output, delta


def loss_value(
    layers: tuple[Layer, ...], loss: Loss, passes: list[LayerForward], targets: np.ndarray, classes: np.ndarray
) -> float:
    """L alone, as loss_and_output_delta gives it, without the gradients."""
    fused = losses.fused(loss, layers[-1].activation, passes[-1].pre_activation, targets)
    if fused is not None:
        return fused[0]
    return losses.value_and_gradient(loss, passes[-1].activation, targets, classes)[0]


def backward(
    layers: tuple[Layer, ...],
    params: Params,
    inputs: np.ndarray,
    passes: list[LayerForward],
    grad_output: np.ndarray,
    output_delta: np.ndarray,
    input_gradient: bool = False,
) -> list[LayerBackward]:
    """One LayerBackward per layer, from the last layer down; layer 1's has dL/dX if `input_gradient`."""
    out = []
    grad_z = grad_output if np.all(np.isfinite(grad_output)) else None
    delta = output_delta
    for index in range(len(layers) - 1, -1, -1):
        layer, (weights, bias) = layers[index], params[index]
        if index < len(layers) - 1:
            delta = activations.backward(
                layer.activation, passes[index].pre_activation, passes[index].activation, grad_z,
                layer.negative_slope,
            )
        previous = inputs if index == 0 else passes[index - 1].activation
        out.append(
            LayerBackward(
                grad_activation=grad_z,
                delta=delta,
                grad_weights=previous.T @ delta,
                grad_bias=None if bias is None else delta.sum(axis=0),
                grad_inputs=delta @ weights.T if index == 0 and input_gradient else None,
            )
        )
        if index > 0:
            grad_z = delta @ weights.T
    return out
