"""The LaTeX lines of the update sub-step (SGD, momentum, Nesterov, Adam), in a notation profile.

Weights, their gradients and the optimizer's velocity and moments are written as the profile
stores W (transposed to the layout for HW3 and PyTorch); biases as the layout writes a vector.
A profile that names no learning rate (Assignment 1) writes its number in the rule.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine.spec import Spec
from engine.trace import Trace

from .equation_lines import Tex, backward_of
from .profile import Profile
from .rules import adam_t, optimizer_kind, parameters
from .symbols import bias_in_layout, line, matrix, number


class _Rule(NamedTuple):
    """How the rules write the learning rate (its symbol, or its number where the text names none),
    its number in the substituted lines, and Adam's small constant."""

    rate: str
    number: str
    eps: str


def _state_before(spec: Spec, trace: Trace, index: int, field: str, name: str, like: np.ndarray) -> np.ndarray:
    """The optimizer's velocity or moment of a parameter before step `index` (zeros when it starts fresh)."""
    state = trace.step(index - 1).optimizer_state if index > 0 else spec.optimizer.state
    return like * 0.0 if state is None else getattr(state, field)[name]


def update_lines(spec: Spec, profile: Profile, trace: Trace, step) -> list[str]:
    optimizer, kind, tex = spec.optimizer, optimizer_kind(spec), Tex(profile, spec)
    rate = f"{optimizer.learning_rate:g}"
    symbols = _Rule(rate if profile.rate is None else tex("rate"), rate, profile.adam_eps.latex)
    lines = []
    if kind == "adam":
        beta1, beta2 = optimizer.betas
        given = "" if profile.rate is None else rf"{symbols.rate} = {rate},\ "
        lines.append(rf"t = {adam_t(spec, step.index)},\ {given}\beta_1 = {beta1:g},"
                     rf"\ \beta_2 = {beta2:g},\ {symbols.eps} = {number(optimizer.eps)}")
    for name, part, trained in parameters(spec):
        layer = int(name[1:])
        symbol = tex(part, layer)
        grads = backward_of(step, layer)
        before = getattr(step.parameters[layer - 1], part)
        after = getattr(step.update[layer - 1], part)
        gradient = grads.grad_weights if part == "weights" else grads.grad_bias
        if part == "bias":
            def shape(a):
                return bias_in_layout(spec, a)
        else:
            def shape(a):
                return profile.stored(a, spec.layout)
        if not trained:
            lines.append(rf"{symbol} \text{{ is frozen: not updated (its gradient is still computed)}}")
            continue
        g = tex("grad_weights" if part == "weights" else "grad_bias", layer)
        if kind == "sgd":
            lines.append(line(rf"{symbol} \leftarrow {symbol} - {symbols.rate} {g}",
                              rf"{matrix(shape(before))} - {rate} {matrix(shape(gradient))}",
                              [shape(before), shape(gradient)], shape(after)))
        elif kind == "momentum":
            lines += _momentum_lines(spec, trace, step, name, symbol, g, shape, before, gradient, after, symbols)
        else:
            lines += _adam_lines(spec, trace, step, name, symbol, g, shape, before, gradient, after, symbols)
    return lines


def _momentum_lines(spec, trace, step, name, symbol, g, shape, before, gradient, after, symbols) -> list[str]:
    """v <- mu v + g; p <- p - r v (Nesterov: p <- p - r (g + mu v)), PyTorch's SGD with momentum."""
    optimizer = spec.optimizer
    mu, rate, r = f"{optimizer.momentum:g}", symbols.number, symbols.rate
    old = shape(_state_before(spec, trace, step.index, "velocity", name, before))
    new = shape(step.optimizer_state.velocity[name])
    v = rf"v_{{{symbol}}}"
    lines = [line(rf"{v} \leftarrow \mu {v} + {g}", rf"{mu} {matrix(old)} + {matrix(shape(gradient))}",
                  [old, shape(gradient)], new)]
    if optimizer.nesterov:
        lines.append(line(rf"{symbol} \leftarrow {symbol} - {r} \left( {g} + \mu {v} \right)",
                          rf"{matrix(shape(before))} - {rate} \left( {matrix(shape(gradient))} + {mu} {matrix(new)} \right)",
                          [shape(before), shape(gradient), new], shape(after)))
    else:
        lines.append(line(rf"{symbol} \leftarrow {symbol} - {r} {v}", rf"{matrix(shape(before))} - {rate} {matrix(new)}",
                          [shape(before), new], shape(after)))
    return lines


def _adam_lines(spec, trace, step, name, symbol, g, shape, before, gradient, after, symbols) -> list[str]:
    """PyTorch's Adam: moments, then p <- p - r/(1 - b1^t) m / (sqrt(v)/sqrt(1 - b2^t) + eps)."""
    beta1, beta2 = spec.optimizer.betas
    state = step.optimizer_state
    m_old = shape(_state_before(spec, trace, step.index, "first_moment", name, before))
    v_old = shape(_state_before(spec, trace, step.index, "second_moment", name, before))
    m_new, v_new, grad = shape(state.first_moment[name]), shape(state.second_moment[name]), shape(gradient)
    m, v = rf"m_{{{symbol}}}", rf"v_{{{symbol}}}"
    return [
        line(rf"{m} \leftarrow \beta_1 {m} + (1 - \beta_1) {g}",
             rf"{beta1:g} {matrix(m_old)} + {1 - beta1:g} {matrix(grad)}", [m_old, grad], m_new),
        line(rf"{v} \leftarrow \beta_2 {v} + (1 - \beta_2) {g} \odot {g}",
             rf"{beta2:g} {matrix(v_old)} + {1 - beta2:g} {matrix(grad)} \odot {matrix(grad)}", [v_old, grad], v_new),
        line(rf"{symbol} \leftarrow {symbol} - \frac{{{symbols.rate}}}{{1 - \beta_1^t}} {m} \oslash "
             rf"\left( \sqrt{{{v}}} / \sqrt{{1 - \beta_2^t}} + {symbols.eps} \right)", None, [], shape(after)),
    ]
