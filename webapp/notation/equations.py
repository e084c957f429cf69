"""Each sub-step's equations as MathML, with the numbers of the trace.

The equations are written in the spec's layout, as the seeds write them:

    rows     S_l = Z_(l-1) W_l + 1_N b_l    dL/dW_l = Z_(l-1)^T δ_l    dL/dZ_(l-1) = δ_l W_l^T
    columns  S_l = W_l Z_(l-1) + b_l 1_N^T  dL/dW_l = δ_l Z_(l-1)^T    dL/dZ_(l-1) = W_l^T δ_l

Where every matrix of a line is small, the line goes on with the numbers of the
trace (4 significant digits). LaTeX is built here from our own templates and
formatted floats only, and turned into MathML on the server by latex2mathml.
The plain-text title of each sub-step, and how numbers, matrices and lines are
written, live in `webapp.notation.symbols`; `title` is importable from here too.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from latex2mathml.converter import convert
from markupsafe import Markup

from engine import activations
from engine.spec import Spec
from engine.timeline import Substep
from engine.trace import Trace

from . import symbols as notation
from .symbols import line, matrix, number, title

__all__ = ["equation", "title", "number", "matrix"]

_TEX_ACTIVATION = {"identity": "{s}", "relu": r"\operatorname{{relu}}({s})", "sigmoid": r"\sigma({s})",
                   "tanh": r"\tanh({s})", "softmax": r"\operatorname{{softmax}}({s})"}
_TEX_DERIVATIVE_FORM = {"relu": r"𝟙[{s} > 0]", "leaky_relu": r"𝟙[{s} > 0] + {a}\,𝟙[{s} \le 0]",
                        "sigmoid": r"{z} \odot (1 - {z})", "tanh": r"1 - {z} \odot {z}"}


def equation(spec: Spec, trace: Trace, substep: Substep) -> Markup:
    """The sub-step's equations as MathML, one <math display="block"> per line."""
    step = trace.step(substep.step)
    if substep.kind == "forward":
        lines = _forward_lines(spec, trace, step, substep.layer)
    elif substep.kind == "loss":
        lines = _loss_lines(spec, trace, step)
    elif substep.kind == "backward":
        lines = _backward_lines(spec, trace, step, substep.layer)
    else:
        lines = _update_lines(spec, trace, step)
    return Markup("\n".join(_mathml(latex) for latex in lines))


# Brackets drawn with CSS: stretchy [ ] need a math font (OpenType MATH table) that most machines lack.
_BRACKET_TICKS = ",".join(f"linear-gradient(currentColor,currentColor) {x} {y}/.35em 1.5px no-repeat"
                          for x in ("0", "100%") for y in ("0", "100%"))
_BRACKETS = ("border-left:1.5px solid;border-right:1.5px solid;padding:0 .3em;margin:0 .15em;"
             f"background:{_BRACKET_TICKS}")


_MATRIX = re.compile(r"\\begin\{matrix\} (.*?) \\end\{matrix\}")
_PLACEHOLDER = "<mtext>@{}@</mtext>"


def _mathml(latex: str) -> str:
    """One display-mode <math> element; every table in our LaTeX is a matrix and gets brackets.

    latex2mathml reads a matrix of numbers slowly (about 5 ms for a line of three 3 x 4 matrices), so each
    matrix is converted cell by cell (each number once per process) and put back where the line had it:
    the same MathML as converting the whole line.
    """
    tables = []

    def hold(found: re.Match) -> str:
        tables.append(found.group(1))
        return rf"\text{{@{len(tables) - 1}@}}"

    text = _skeleton(_MATRIX.sub(hold, latex))
    for index, body in enumerate(tables):
        rows = "".join("<mtr>" + "".join(f"<mtd>{_cell(cell.strip())}</mtd>" for cell in row.split(" & ")) + "</mtr>"
                       for row in body.split(r" \\ "))
        text = text.replace(_PLACEHOLDER.format(index), f'<mtable class="matrix" style="{_BRACKETS}">{rows}</mtable>', 1)
    return text


@lru_cache(maxsize=4096)
def _skeleton(latex: str) -> str:
    """A line with its matrices held out: the same few lines come back at every SGD step."""
    return convert(latex, display="block")


_NUMBER = re.compile(r"(-?)(\d+(?:\.\d+)?)(?: \\times 10\^\{(-?)(\d+)\})?")


def _cell(latex: str) -> str:
    """The MathML of one matrix entry (a `symbols.number`), exactly as latex2mathml writes it in a table cell."""
    found = _NUMBER.fullmatch(latex)
    if found is None:
        return _converted_cell(latex)
    sign, digits, exponent_sign, exponent = found.groups()
    minus = "<mo>&#x02212;</mo>"
    text = (minus if sign else "") + f"<mn>{digits}</mn>"
    if exponent is not None:
        text += f"<mo>&#x000D7;</mo><msup><mn>10</mn><mrow>{minus if exponent_sign else ''}<mn>{exponent}</mn></mrow></msup>"
    return text


@lru_cache(maxsize=4096)
def _converted_cell(latex: str) -> str:
    inner = convert(latex).split(">", 1)[1].rsplit("</math>", 1)[0]
    return inner[len("<mrow>"):-len("</mrow>")] if inner.startswith("<mrow>") and inner.endswith("</mrow>") else inner


def _batch(spec: Spec, trace: Trace, step) -> tuple[np.ndarray, np.ndarray]:
    """(X, T) of the step: every example, or the step's mini-batch."""
    if step.batch is None:
        return trace.inputs, trace.targets
    if spec.layout == "rows":
        return trace.inputs[list(step.batch), :], trace.targets[list(step.batch), :]
    return trace.inputs[:, list(step.batch)], trace.targets[:, list(step.batch)]


def _examples(spec: Spec, step) -> int:
    """N: the examples the step computes with."""
    return step.forward[0].activation.shape[0 if spec.layout == "rows" else 1]


def _activation_below(spec: Spec, trace: Trace, step, layer: int) -> np.ndarray:
    return _batch(spec, trace, step)[0] if layer == 0 else step.forward[layer - 1].activation


def _backward_of(step, layer: int):
    return next(b for b in step.backward if b.layer == layer)


def _forward_lines(spec: Spec, trace: Trace, step, layer: int) -> list[str]:
    config, rows = spec.layers[layer - 1], spec.layout == "rows"
    weights, bias = step.parameters[layer - 1].weights, notation.bias_in_layout(spec, step.parameters[layer - 1].bias)
    below, out = _activation_below(spec, trace, step, layer - 1), step.forward[layer - 1]
    if rows:
        symbolic = f"S_{{{layer}}} = {notation.z_latex(layer - 1)} W_{{{layer}}}"
        substituted = f"{matrix(below)} {matrix(weights)}"
        tail_symbolic, tail = rf" + 𝟏_N b_{{{layer}}}", r" + 𝟏_N " + (matrix(bias) if bias is not None else "")
    else:
        symbolic = f"S_{{{layer}}} = W_{{{layer}}} {notation.z_latex(layer - 1)}"
        substituted = f"{matrix(weights)} {matrix(below)}"
        tail_symbolic, tail = rf" + b_{{{layer}}} 𝟏_N^\top", (matrix(bias) if bias is not None else "")
        tail = f" + {tail} " + r"𝟏_N^\top"
    if bias is not None:
        symbolic, substituted = symbolic + tail_symbolic, substituted + tail
    lines = [line(symbolic, substituted, [weights, below, bias], out.pre_activation)]
    s = f"S_{{{layer}}}"
    if config.activation == "leaky_relu":
        rule = rf"\max({s}, {config.negative_slope:g}\, {s})"
    else:
        rule = _TEX_ACTIVATION[config.activation].format(s=s)
    if config.activation == "softmax":
        rule += r"\ \text{(each row)}" if rows else r"\ \text{(each column)}"
    lines.append(line(f"Z_{{{layer}}} = {rule}", None, [], out.activation))
    return lines


def _loss_lines(spec: Spec, trace: Trace, step) -> list[str]:
    loss, last = spec.loss, len(spec.layers)
    output, targets = step.forward[-1].activation, _batch(spec, trace, step)[1]
    n = _examples(spec, step)
    y, t = matrix(output), matrix(targets)
    factor, factor_numbers = notation.fraction(1, notation.loss_denominator(spec, n))
    lines = [f"Y = Z_{{{last}}}"]
    if step.batch is not None:
        examples = ", ".join(str(i + 1) for i in step.batch)
        lines.insert(0, rf"\text{{mini-batch: examples {examples}}} \quad (N = {n})")
    if loss.name == "squared_error":
        symbolic = rf"L = {factor} \left\| Y - T \right\|_F^2"
        substituted = rf"{factor_numbers} \left\| {y} - {t} \right\|_F^2"
        gradient, _ = notation.fraction(1 if loss.half else 2, notation.reduction(spec, n))
        gradient = f"{gradient} (Y - T)"
    elif loss.name == "cross_entropy":
        symbolic = rf"L = -{factor} \sum T \odot \log Y"
        substituted = rf"-{factor_numbers} \sum {t} \odot \log {y}"
        gradient = rf"-{factor} \, T \oslash Y"
    elif loss.name == "binary_cross_entropy":
        symbolic = rf"L = -{factor} \sum \left[ T \odot \log Y + (1 - T) \odot \log (1 - Y) \right]"
        substituted = None
        gradient = rf"{factor} \, (Y - T) \oslash \left( Y \odot (1 - Y) \right)"
    else:
        pair = "nk" if spec.layout == "rows" else "kn"
        own = "n c_n" if spec.layout == "rows" else "c_n n"
        margin = rf"y_{{{pair}}} - y_{{{own}}} + {loss.margin:g}"
        symbolic = rf"L = {factor} \sum_n \sum_{{k \ne c_n}} \max(0,\ {margin})"
        substituted = None
        gradient = (rf"\frac{{\partial L}}{{\partial y_{{{pair}}}}} = {factor} \left( 𝟙[k \ne c_n,\ "
                    rf"{margin} > 0] - 𝟙[k = c_n] \sum_{{j \ne c_n}} 𝟙[y_{{{pair.replace('k', 'j')}}}"
                    rf" - y_{{{own}}} + {loss.margin:g} > 0] \right)")
    lines.append(line(symbolic, substituted, [output, targets], step.loss))
    if notation.fused(spec):
        stable = "log-softmax" if loss.name == "cross_entropy" else "softplus"
        lines.append(rf"\text{{(computed stably from }} S_{{{last}}} \text{{ by {stable}, so no }} \log 0)")
    if loss.name == "multiclass_hinge":
        lines.append(gradient)
        gradient_name = r"\frac{\partial L}{\partial Y}"
    else:
        gradient_name = rf"\frac{{\partial L}}{{\partial Y}} = {gradient}"
    if step.output_gradient is None:
        lines.append(gradient_name + r" \quad \text{(not finite: the output saturated; the fused form is used)}")
    else:
        lines.append(line(gradient_name, None, [], step.output_gradient))
    return lines


def _backward_lines(spec: Spec, trace: Trace, step, layer: int) -> list[str]:
    config, rows, last = spec.layers[layer - 1], spec.layout == "rows", len(spec.layers)
    grads, out = _backward_of(step, layer), step.forward[layer - 1]
    d, dz = rf"\delta_{{{layer}}}", rf"\frac{{\partial L}}{{\partial Z_{{{layer}}}}}"
    if layer == last and notation.fused(spec):
        divisor, divisor_numbers = notation.fraction(1, notation.reduction(spec, _examples(spec, step)))
        y, t = out.activation, _batch(spec, trace, step)[1]
        lines = [line(f"{d} = {divisor} (Y - T)", f"{divisor_numbers} \\left( {matrix(y)} - {matrix(t)} \\right)",
                       [y, t], grads.delta)]
    elif config.activation == "softmax":
        g, z = grads.grad_activation, out.activation
        ones = r"𝟏 𝟏^\top"
        form = "Z_{{{l}}} \\odot \\left( G - (G \\odot Z_{{{l}}}) {o} \\right)" if rows else \
            "Z_{{{l}}} \\odot \\left( G - {o} (G \\odot Z_{{{l}}}) \\right)"
        symbolic = f"{d} = " + form.format(l=layer, o=ones) + rf", \quad G = {dz}"
        substituted = None
        if g is not None:
            gm, zm = matrix(g), matrix(z)
            substituted = (rf"{zm} \odot \left( {gm} - ({gm} \odot {zm}) {ones} \right)" if rows else
                           rf"{zm} \odot \left( {gm} - {ones} ({gm} \odot {zm}) \right)")
        lines = [line(symbolic, substituted, [g, z], grads.delta)]
    elif config.activation == "identity":
        lines = [line(rf"{d} = {dz}", None, [], grads.delta)]
    else:
        s, g = f"S_{{{layer}}}", grads.grad_activation
        form = _TEX_DERIVATIVE_FORM[config.activation].format(s=s, z=f"Z_{{{layer}}}", a=f"{config.negative_slope:g}")
        derivative = f"f_{{{layer}}}'({s})"
        symbolic = rf"{d} = {dz} \odot {derivative}, \quad {derivative} = {form}"
        slope = activations.backward(config.activation, out.pre_activation, out.activation,
                                     np.ones_like(out.pre_activation), config.negative_slope)
        substituted = None if g is None else rf"{matrix(g)} \odot {matrix(slope)}"
        lines = [line(symbolic, substituted, [g, slope], grads.delta)]
    below, weights = _activation_below(spec, trace, step, layer - 1), step.parameters[layer - 1].weights
    dm, bm, wm = matrix(grads.delta), matrix(below), matrix(weights)
    name_w = rf"\frac{{\partial L}}{{\partial W_{{{layer}}}}}"
    if rows:
        lines.append(line(rf"{name_w} = {notation.z_latex(layer - 1)}^\top {d}", rf"{bm}^\top {dm}",
                           [below, grads.delta], grads.grad_weights))
    else:
        lines.append(line(rf"{name_w} = {d} {notation.z_latex(layer - 1)}^\top", rf"{dm} {bm}^\top",
                           [below, grads.delta], grads.grad_weights))
    if config.bias is not None:
        name_b = rf"\frac{{\partial L}}{{\partial b_{{{layer}}}}}"
        symbolic = rf"{name_b} = 𝟏_N^\top {d}" if rows else rf"{name_b} = {d} 𝟏_N"
        substituted = rf"𝟏_N^\top {dm}" if rows else rf"{dm} 𝟏_N"
        lines.append(line(symbolic, substituted, [grads.delta], notation.bias_in_layout(spec, grads.grad_bias)))
    if layer > 1:
        name_z = rf"\frac{{\partial L}}{{\partial Z_{{{layer - 1}}}}}"
        result = _backward_of(step, layer - 1).grad_activation
        if rows:
            lines.append(line(rf"{name_z} = {d} W_{{{layer}}}^\top", rf"{dm} {wm}^\top", [grads.delta, weights], result))
        else:
            lines.append(line(rf"{name_z} = W_{{{layer}}}^\top {d}", rf"{wm}^\top {dm}", [grads.delta, weights], result))
    return lines


def _state_before(spec: Spec, trace: Trace, index: int, field: str, name: str, like: np.ndarray) -> np.ndarray:
    """The optimizer's velocity or moment of a parameter before step `index` (zeros when it starts fresh)."""
    state = trace.step(index - 1).optimizer_state if index > 0 else spec.optimizer.state
    return like * 0.0 if state is None else getattr(state, field)[name]


def _update_lines(spec: Spec, trace: Trace, step) -> list[str]:
    optimizer, kind = spec.optimizer, notation.optimizer_kind(spec)
    rate = f"{optimizer.learning_rate:g}"
    lines = []
    if kind == "adam":
        beta1, beta2 = optimizer.betas
        lines.append(rf"t = {notation.adam_t(spec, step.index)},\ r = {rate},\ \beta_1 = {beta1:g},"
                     rf"\ \beta_2 = {beta2:g},\ \epsilon = {number(optimizer.eps)}")
    for name, part, trained in notation.parameters(spec):
        layer = int(name[1:])
        symbol = f"{name[0]}_{{{layer}}}"
        grads = _backward_of(step, layer)
        before = getattr(step.parameters[layer - 1], part)
        after = getattr(step.update[layer - 1], part)
        gradient = grads.grad_weights if part == "weights" else grads.grad_bias
        shape = (lambda a: notation.bias_in_layout(spec, a)) if part == "bias" else (lambda a: a)
        if not trained:
            lines.append(rf"{symbol} \text{{ is frozen: not updated (its gradient is still computed)}}")
            continue
        g = rf"\frac{{\partial L}}{{\partial {symbol}}}"
        if kind == "sgd":
            lines.append(line(rf"{symbol} \leftarrow {symbol} - r {g}",
                               rf"{matrix(shape(before))} - {rate} {matrix(shape(gradient))}",
                               [shape(before), shape(gradient)], shape(after)))
        elif kind == "momentum":
            lines += _momentum_lines(spec, trace, step, name, symbol, g, shape, before, gradient, after)
        else:
            lines += _adam_lines(spec, trace, step, name, symbol, g, shape, before, gradient, after)
    return lines


def _momentum_lines(spec, trace, step, name, symbol, g, shape, before, gradient, after) -> list[str]:
    """v <- mu v + g; p <- p - r v (Nesterov: p <- p - r (g + mu v)), PyTorch's SGD with momentum."""
    optimizer = spec.optimizer
    mu, rate = f"{optimizer.momentum:g}", f"{optimizer.learning_rate:g}"
    old = shape(_state_before(spec, trace, step.index, "velocity", name, before))
    new = shape(step.optimizer_state.velocity[name])
    v = rf"v_{{{symbol}}}"
    lines = [line(rf"{v} \leftarrow \mu {v} + {g}", rf"{mu} {matrix(old)} + {matrix(shape(gradient))}",
                   [old, shape(gradient)], new)]
    if optimizer.nesterov:
        lines.append(line(rf"{symbol} \leftarrow {symbol} - r \left( {g} + \mu {v} \right)",
                           rf"{matrix(shape(before))} - {rate} \left( {matrix(shape(gradient))} + {mu} {matrix(new)} \right)",
                           [shape(before), shape(gradient), new], shape(after)))
    else:
        lines.append(line(rf"{symbol} \leftarrow {symbol} - r {v}", rf"{matrix(shape(before))} - {rate} {matrix(new)}",
                           [shape(before), new], shape(after)))
    return lines


def _adam_lines(spec, trace, step, name, symbol, g, shape, before, gradient, after) -> list[str]:
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
        line(rf"{symbol} \leftarrow {symbol} - \frac{{r}}{{1 - \beta_1^t}} {m} \oslash "
              rf"\left( \sqrt{{{v}}} / \sqrt{{1 - \beta_2^t}} + \epsilon \right)", None, [], shape(after)),
    ]
