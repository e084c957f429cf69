"""The LaTeX lines of the forward, loss and backward sub-steps, in a notation profile.

Each line is 'symbolic = substituted numbers = result' (`symbols.line`). The symbols come from the
profile; each product is one form of `webapp.notation.terms`, written once with symbols and once
with the trace's matrices. A profile that stores W transposed to the layout (HW3's in × out in
columns, PyTorch's out × in in rows) writes the transpose where its text does, (W^1)^T x and
x W^T, and substitutes W and dL/dW as it stores them; every other result is the engine's.
"""
from __future__ import annotations

import numpy as np

from engine import activations
from engine.spec import Spec
from engine.trace import Trace

from . import terms
from .profile import Profile
from .rules import delta_from_output, fused, loss_denominator, reduction
from .symbols import bias_in_layout, fraction, line, matrix

_TEX_DERIVATIVE_FORM = {"relu": r"𝟙[{s} > 0]", "leaky_relu": r"𝟙[{s} > 0] + {a}\,𝟙[{s} \le 0]",
                        "sigmoid": r"{z} \odot (1 - {z})", "tanh": r"1 - {z} \odot {z}"}


class Tex:
    """The profile's LaTeX symbols for one network: tex('delta', 2) -> r'\\delta_{2}'."""

    def __init__(self, profile: Profile, spec: Spec):
        self.profile, self.depth = profile, len(spec.layers)
        self.ones = "𝟏_" + profile.batch.latex

    def __call__(self, quantity: str, layer: int | None = None) -> str:
        return self.profile.symbol(quantity, layer, depth=self.depth).latex


def batch(spec: Spec, trace: Trace, step) -> tuple[np.ndarray, np.ndarray]:
    """(X, T) of the step: every example, or the step's mini-batch."""
    if step.batch is None:
        return trace.inputs, trace.targets
    if spec.layout == "rows":
        return trace.inputs[list(step.batch), :], trace.targets[list(step.batch), :]
    return trace.inputs[:, list(step.batch)], trace.targets[:, list(step.batch)]


def examples(spec: Spec, step) -> int:
    """N: the examples the step computes with."""
    return step.forward[0].activation.shape[0 if spec.layout == "rows" else 1]


def activation_below(spec: Spec, trace: Trace, step, layer: int) -> np.ndarray:
    return batch(spec, trace, step)[0] if layer == 0 else step.forward[layer - 1].activation


def backward_of(step, layer: int):
    return next(b for b in step.backward if b.layer == layer)


def forward_lines(spec: Spec, profile: Profile, trace: Trace, step, layer: int) -> list[str]:
    config, rows, tex = spec.layers[layer - 1], spec.layout == "rows", Tex(profile, spec)
    weights = profile.stored(step.parameters[layer - 1].weights, spec.layout)
    bias = bias_in_layout(spec, step.parameters[layer - 1].bias)
    below, out = activation_below(spec, trace, step, layer - 1), step.forward[layer - 1]
    form = terms.pre_activation_form(spec.layout, profile.stores_transposed(spec.layout),
                                     None if bias is None else profile.bias_added)
    symbols = {"Z": tex("activation", layer - 1), "W": tex("weights", layer), "1": tex.ones}
    numbers = {"Z": matrix(below), "W": matrix(weights), "1": tex.ones}
    if bias is not None:
        symbols["b"], numbers["b"] = tex("bias", layer), matrix(bias)
    symbolic = f"{tex('pre_activation', layer)} = " + terms.fill(form, symbols, terms.transpose_latex)
    lines = [line(symbolic, terms.fill(form, numbers, terms.transpose_matrix), [weights, below, bias],
                  out.pre_activation)]
    s = tex("pre_activation", layer)
    if config.activation == "leaky_relu":
        rule = rf"\max({s}, {config.negative_slope:g}\, {s})"
    elif config.activation == "identity":
        rule = s
    else:
        rule = f"{profile.function(config.activation).latex}({s})"
    if config.activation == "softmax":
        rule += r"\ \text{(each row)}" if rows else r"\ \text{(each column)}"
    lines.append(line(f"{tex('activation', layer)} = {rule}", None, [], out.activation))
    return lines


def loss_lines(spec: Spec, profile: Profile, trace: Trace, step) -> list[str]:
    loss, last, tex = spec.loss, len(spec.layers), Tex(profile, spec)
    output, targets = step.forward[-1].activation, batch(spec, trace, step)[1]
    n, letter = examples(spec, step), profile.batch.latex
    y, t, big_l, ym, tm = tex("output"), tex("target"), tex("loss"), matrix(output), matrix(targets)
    factor, factor_numbers = fraction(1, loss_denominator(spec, n, letter))
    lines = [f"{y} = {tex('activation', last)}"] if y != tex("activation", last) else []
    if step.batch is not None:
        chosen = ", ".join(str(i + 1) for i in step.batch)
        lines.insert(0, rf"\text{{mini-batch: examples {chosen}}} \quad ({letter} = {n})")
    if loss.name == "squared_error":
        symbolic = rf"{big_l} = {factor} \left\| {y} - {t} \right\|_F^2"
        substituted = rf"{factor_numbers} \left\| {ym} - {tm} \right\|_F^2"
        gradient, _ = fraction(1 if loss.half else 2, reduction(spec, n, letter))
        gradient = f"{gradient} ({y} - {t})"
    elif loss.name == "cross_entropy":
        symbolic = rf"{big_l} = -{factor} \sum {t} \odot \log {y}"
        substituted = rf"-{factor_numbers} \sum {tm} \odot \log {ym}"
        gradient = rf"-{factor} \, {t} \oslash {y}"
    elif loss.name == "binary_cross_entropy":
        symbolic = rf"{big_l} = -{factor} \sum \left[ {t} \odot \log {y} + (1 - {t}) \odot \log (1 - {y}) \right]"
        substituted = None
        gradient = rf"{factor} \, ({y} - {t}) \oslash \left( {y} \odot (1 - {y}) \right)"
    elif loss.name == "linear":
        symbolic = rf"{big_l} = {factor} \sum {t} \odot {y}"
        substituted = rf"{factor_numbers} \sum {tm} \odot {ym}"
        gradient = rf"{factor} \, {t} \quad \text{{(the given upstream gradient)}}"
    else:
        pair = "nk" if spec.layout == "rows" else "kn"
        own = "n c_n" if spec.layout == "rows" else "c_n n"
        margin = rf"y_{{{pair}}} - y_{{{own}}} + {loss.margin:g}"
        symbolic = rf"{big_l} = {factor} \sum_n \sum_{{k \ne c_n}} \max(0,\ {margin})"
        substituted = None
        entry = profile.gradient.latex.replace("$x", f"y_{{{pair}}}")
        gradient = (rf"{entry} = {factor} \left( 𝟙[k \ne c_n,\ "
                    rf"{margin} > 0] - 𝟙[k = c_n] \sum_{{j \ne c_n}} 𝟙[y_{{{pair.replace('k', 'j')}}}"
                    rf" - y_{{{own}}} + {loss.margin:g} > 0] \right)")
    lines.append(line(symbolic, substituted, [output, targets], step.loss))
    if fused(spec):
        stable = "log-softmax" if loss.name == "cross_entropy" else "softplus"
        lines.append(rf"\text{{(computed stably from }} {tex('pre_activation', last)} "
                     rf"\text{{ by {stable}, so no }} \log 0)")
    if loss.name == "multiclass_hinge":
        lines.append(gradient)
        gradient_name = tex("grad_output")
    else:
        gradient_name = f"{tex('grad_output')} = {gradient}"
    if step.output_gradient is None:
        lines.append(gradient_name + r" \quad \text{(not finite: the output saturated; the fused form is used)}")
    else:
        lines.append(line(gradient_name, None, [], step.output_gradient))
    return lines


def backward_lines(spec: Spec, profile: Profile, trace: Trace, step, layer: int) -> list[str]:
    config, rows, last, tex = spec.layers[layer - 1], spec.layout == "rows", len(spec.layers), Tex(profile, spec)
    grads, out = backward_of(step, layer), step.forward[layer - 1]
    d, dz = tex("delta", layer), tex("grad_activation", layer)
    s, z = tex("pre_activation", layer), tex("activation", layer)
    y, t, letter = tex("output"), tex("target"), profile.batch.latex
    slope, chain = None, ""
    if config.activation in _TEX_DERIVATIVE_FORM:  # elementwise: f'(S) as a matrix, and its form
        slope = activations.backward(config.activation, out.pre_activation, out.activation,
                                     np.ones_like(out.pre_activation), config.negative_slope)
        derivative = f"{profile.derivative.at(layer, last, profile.layer_offset).latex}({s})"
        form = _TEX_DERIVATIVE_FORM[config.activation].format(s=s, z=z, a=f"{config.negative_slope:g}")
        chain = rf" \odot {derivative}, \quad {derivative} = {form}"
    if layer == last and fused(spec):
        divisor, divisor_numbers = fraction(1, reduction(spec, examples(spec, step), letter))
        ym, tm = out.activation, batch(spec, trace, step)[1]
        lines = [line(f"{d} = {divisor} ({y} - {t})", f"{divisor_numbers} \\left( {matrix(ym)} - {matrix(tm)} \\right)",
                      [ym, tm], grads.delta)]
    elif layer == last and delta_from_output(spec, profile.mean_in):
        factor, factor_numbers = fraction(1 if spec.loss.half else 2, reduction(spec, examples(spec, step), letter))
        ym, tm = out.activation, batch(spec, trace, step)[1]
        symbolic = f"{d} = {factor} ({y} - {t})"
        substituted = f"{factor_numbers} \\left( {matrix(ym)} - {matrix(tm)} \\right)"
        operands = [ym, tm]
        if config.activation != "identity":  # ⊙ f'(S_L)
            symbolic, substituted = symbolic + chain, substituted + rf" \odot {matrix(slope)}"
            operands.append(slope)
        lines = [line(symbolic, substituted, operands, grads.delta)]
    elif config.activation == "softmax":
        g = grads.grad_activation
        ones = r"𝟏 𝟏^\top"
        jacobian = (rf"{z} \odot \left( G - (G \odot {z}) {ones} \right)" if rows else
                    rf"{z} \odot \left( G - {ones} (G \odot {z}) \right)")
        substituted = None
        if g is not None:
            gm, zm = matrix(g), matrix(out.activation)
            substituted = (rf"{zm} \odot \left( {gm} - ({gm} \odot {zm}) {ones} \right)" if rows else
                           rf"{zm} \odot \left( {gm} - {ones} ({gm} \odot {zm}) \right)")
        lines = [line(rf"{d} = {jacobian}, \quad G = {dz}", substituted, [g, out.activation], grads.delta)]
    elif config.activation == "identity":
        lines = [line(rf"{d} = {dz}", None, [], grads.delta)]
    else:
        g = grads.grad_activation
        substituted = None if g is None else rf"{matrix(g)} \odot {matrix(slope)}"
        lines = [line(rf"{d} = {dz}{chain}", substituted, [g, slope], grads.delta)]
    return lines + _parameter_lines(spec, profile, trace, step, layer, tex)


def _parameter_lines(spec: Spec, profile: Profile, trace: Trace, step, layer: int, tex: Tex) -> list[str]:
    """dL/dW, dL/db and dL/dZ of the layer below, from the layer's delta."""
    grads, transposed = backward_of(step, layer), profile.stores_transposed(spec.layout)
    below = activation_below(spec, trace, step, layer - 1)
    weights = profile.stored(step.parameters[layer - 1].weights, spec.layout)
    symbols = {"Z": tex("activation", layer - 1), "D": tex("delta", layer), "W": tex("weights", layer), "1": tex.ones}
    numbers = {"Z": matrix(below), "D": matrix(grads.delta), "W": matrix(weights), "1": tex.ones}

    def written(name: str, form: str, operands, result) -> str:
        return line(f"{name} = " + terms.fill(form, symbols, terms.transpose_latex),
                    terms.fill(form, numbers, terms.transpose_matrix), operands, result)

    lines = [written(tex("grad_weights", layer), terms.grad_weights_form(spec.layout, transposed),
                     [below, grads.delta], profile.stored(grads.grad_weights, spec.layout))]
    if spec.layers[layer - 1].bias is not None:
        lines.append(written(tex("grad_bias", layer), terms.grad_bias_form(spec.layout), [grads.delta],
                             bias_in_layout(spec, grads.grad_bias)))
    if layer > 1:
        lines.append(written(tex("grad_activation", layer - 1), terms.grad_below_form(spec.layout, transposed),
                             [grads.delta, weights], backward_of(step, layer - 1).grad_activation))
    return lines
