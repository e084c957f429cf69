"""How the equations are written: each sub-step's title in plain text, the pieces of the
LaTeX that `webapp.notation.equations` turns into MathML (numbers, matrices, symbols,
fractions, a line with its numbers), and the rules both share.

Titles write a sub-step's equations in the spec's layout, e.g.
'Forward, layer 1: S1 = X W1 + 1_N b1, Z1 = tanh(S1)' in rows and
'Forward, layer 1: S1 = W1 X + b1 1_N^T, Z1 = tanh(S1)' in columns. The shared
rules say which parameters are trained, which optimizer rule applies (and
Adam's update count t), what the loss's reduction divides by, and when the
output activation and the loss are computed as one fused, stable step.
"""
from __future__ import annotations

import numpy as np

from engine.spec import Spec
from engine.timeline import Substep

MAX_SHOWN = 8  # matrices up to 8 x 8 are written out with their numbers

_PLAIN_ACTIVATION = {"identity": "{s}", "relu": "relu({s})", "sigmoid": "σ({s})", "tanh": "tanh({s})",
                     "softmax": "softmax({s})"}
_PLAIN_DERIVATIVE = {"relu": "relu'", "leaky_relu": "leaky_relu'", "sigmoid": "σ'", "tanh": "tanh'"}


# --- titles ----------------------------------------------------------------------------------

def title(spec: Spec, substep: Substep) -> str:
    """The sub-step in words with its equations in plain text, e.g. 'Forward, layer 1: S1 = W1 X, Z1 = relu(S1)'."""
    if substep.kind == "forward":
        layer = substep.layer
        return f"Forward, layer {layer}: {_plain_pre_activation(spec, layer)}, Z{layer} = {_plain_activation(spec, layer)}"
    if substep.kind == "loss":
        return f"Loss: L = {_plain_loss(spec)}"
    if substep.kind == "backward":
        return f"Backward, layer {substep.layer}: " + ", ".join(_plain_backward(spec, substep.layer))
    frozen = [name for name, _, trained in parameters(spec) if not trained]
    return _plain_update(spec, substep.step) + (f"; {', '.join(frozen)} frozen" if frozen else "")


def _z_plain(layer: int) -> str:
    return "X" if layer == 0 else f"Z{layer}"


def _plain_pre_activation(spec: Spec, layer: int) -> str:
    has_bias = spec.layers[layer - 1].bias is not None
    if spec.layout == "rows":
        return f"S{layer} = {_z_plain(layer - 1)} W{layer}" + (f" + 1_N b{layer}" if has_bias else "")
    return f"S{layer} = W{layer} {_z_plain(layer - 1)}" + (f" + b{layer} 1_N^T" if has_bias else "")


def _plain_activation(spec: Spec, layer: int) -> str:
    config = spec.layers[layer - 1]
    if config.activation == "leaky_relu":
        return f"max(S{layer}, {config.negative_slope:g} S{layer})"
    return _PLAIN_ACTIVATION[config.activation].format(s=f"S{layer}")


def _plain_product(symbols: list[str]) -> str:
    """'2N', 'N·d2': the symbols of a divisor in plain text, parenthesised when there are several."""
    text = ""
    for symbol in symbols:
        text += ("·" if text and symbol.startswith("d") else "") + symbol
    return f"({text})" if len(symbols) > 1 else text


def _plain_fraction(numerator: int, denominator: list[str]) -> str:
    if not denominator:
        return "" if numerator == 1 else f"{numerator} "
    return f"{numerator}/{_plain_product(denominator)} "


def _plain_loss(spec: Spec) -> str:
    loss, output = spec.loss, len(spec.layers)
    factor = _plain_fraction(1, [s for s, _ in loss_denominator(spec)])
    if loss.name == "squared_error":
        return f"{factor}Σ‖Y − T‖²"
    if loss.name == "cross_entropy":
        text = f"−{factor}Σ T ⊙ log Y"
        return text + (f" (from S{output} by log-softmax)" if fused(spec) else "")
    if loss.name == "binary_cross_entropy":
        text = f"−{factor}Σ [T ⊙ log Y + (1 − T) ⊙ log(1 − Y)]"
        return text + (f" (from S{output} by softplus)" if fused(spec) else "")
    return f"{factor}Σ_n Σ_(k≠c_n) max(0, y_nk − y_n,c_n + {loss.margin:g})"


def _plain_update(spec: Spec, step: int) -> str:
    optimizer, kind = spec.optimizer, optimizer_kind(spec)
    rate = f"r = {optimizer.learning_rate:g}"
    if kind == "adam":
        beta1, beta2 = optimizer.betas
        return (f"Update (Adam, t = {adam_t(spec, step)}): m ← β1 m + (1 − β1) dL/dW, v ← β2 v + (1 − β2) (dL/dW)², "
                f"W ← W − r m̂ / (√v̂ + ε) ({rate}, β1 = {beta1:g}, β2 = {beta2:g}, ε = {optimizer.eps:g})")
    if kind == "momentum":
        step_rule = "W ← W − r (dL/dW + μ v)" if optimizer.nesterov else "W ← W − r v"
        return f"Update: v ← μ v + dL/dW, {step_rule} ({rate}, μ = {optimizer.momentum:g})"
    rule = "W ← W − r dL/dW"
    if any(layer.bias is not None for layer in spec.layers):
        rule += ", b ← b − r dL/db"
    return f"Update: {rule} ({rate})"


def _plain_backward(spec: Spec, layer: int) -> list[str]:
    config, rows = spec.layers[layer - 1], spec.layout == "rows"
    if layer == len(spec.layers) and fused(spec):
        divisor = _plain_product([s for s, _ in reduction(spec)])
        parts = [f"δ{layer} = (Y − T)/{divisor}" if divisor else f"δ{layer} = Y − T"]
    elif config.activation == "softmax":
        jacobian = f"(G − (G ⊙ Z{layer}) 1 1^T)" if rows else f"(G − 1 1^T (G ⊙ Z{layer}))"
        parts = [f"δ{layer} = Z{layer} ⊙ {jacobian} with G = dL/dZ{layer}"]
    elif config.activation == "identity":
        parts = [f"δ{layer} = dL/dZ{layer}"]
    else:
        parts = [f"δ{layer} = dL/dZ{layer} ⊙ {_PLAIN_DERIVATIVE[config.activation]}(S{layer})"]
    below = _z_plain(layer - 1)
    parts.append(f"dL/dW{layer} = " + (f"{below}^T δ{layer}" if rows else f"δ{layer} {below}^T"))
    if config.bias is not None:
        parts.append(f"dL/db{layer} = " + (f"1_N^T δ{layer}" if rows else f"δ{layer} 1_N"))
    if layer > 1:
        parts.append(f"dL/dZ{layer - 1} = " + (f"δ{layer} W{layer}^T" if rows else f"W{layer}^T δ{layer}"))
    return parts


# --- LaTeX: numbers, matrices, symbols --------------------------------------------------------

def number(value: float) -> str:
    """A float to 4 significant digits in LaTeX (1.5e-05 -> 1.5 \\times 10^{-5})."""
    value = float(value)
    if value == 0:
        return "0"
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def matrix(array: np.ndarray) -> str:
    """A matrix (or a bias vector, already shaped as a row or a column) in LaTeX, as one group."""
    array = np.atleast_2d(array)
    body = r" \\ ".join(" & ".join(number(v) for v in row) for row in array)
    return rf"{{\begin{{matrix}} {body} \end{{matrix}}}}"


def _small(*arrays) -> bool:
    return all(max(np.atleast_2d(a).shape) <= MAX_SHOWN for a in arrays)


def line(symbolic: str, substituted: str | None, operands, result=None) -> str:
    """'symbolic = substituted = result', with the numbers only where every matrix is small.

    A large operand drops the substituted middle; a large result is replaced by its shape.
    """
    text = symbolic
    operands = [a for a in operands if a is not None]
    if substituted is not None and _small(*operands) and (result is None or _small(result)):
        text += f" = {substituted}"
    if result is None:
        return text
    if np.ndim(result) == 0:
        return text + f" = {number(result)}"
    if _small(result):
        return text + f" = {matrix(result)}"
    rows, columns = np.atleast_2d(result).shape
    return text + rf" \quad \text{{({rows} × {columns})}}"


def z_latex(layer: int) -> str:
    """The activation of layer `layer` (X for the inputs) in LaTeX."""
    return "X" if layer == 0 else f"Z_{{{layer}}}"


def bias_in_layout(spec: Spec, bias: np.ndarray | None) -> np.ndarray | None:
    """A bias vector as the layout writes it: a row (rows layout) or a column (columns layout)."""
    if bias is None:
        return None
    return bias.reshape(1, -1) if spec.layout == "rows" else bias.reshape(-1, 1)


def fraction(numerator: int, denominator: list[tuple[str, int]]) -> tuple[str, str]:
    """(symbolic, numeric) LaTeX of numerator / product(denominator); '' for 1."""
    if not denominator:
        text = "" if numerator == 1 else str(numerator)
        return text, text
    symbols = " ".join(s if len(s) == 1 else f"d_{{{s[1:]}}}" for s, _ in denominator)
    values = r" \cdot ".join(str(v) for _, v in denominator)
    return rf"\frac{{{numerator}}}{{{symbols}}}", rf"\frac{{{numerator}}}{{{values}}}"


# --- rules shared by titles and MathML -------------------------------------------------------

def reduction(spec: Spec, n: int = 0) -> list[tuple[str, int]]:
    """The reduction's divisor as (symbol, value) factors: N for mean, N and d_L for mean_all (n: the step's N)."""
    width, last = spec.widths[-1], len(spec.layers)
    return {"mean": [("N", n)], "sum": [], "mean_all": [("N", n), (f"d{last}", width)]}[spec.loss.reduction]


def loss_denominator(spec: Spec, n: int = 0) -> list[tuple[str, int]]:
    """What the loss divides by: the reduction's factors, after a 2 for a halved squared error."""
    half = spec.loss.name == "squared_error" and spec.loss.half
    return ([("2", 2)] if half else []) + reduction(spec, n)


def fused(spec: Spec) -> bool:
    """Whether the output activation and the loss are computed together, stably (log-softmax, softplus)."""
    last = spec.layers[-1].activation
    return (spec.loss.name, last) in (("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"))


def parameters(spec: Spec) -> list[tuple[str, str, bool]]:
    """(name, kind, trained) of every parameter: ('W1', 'weights', True), ('b1', 'bias', False), ..."""
    found = []
    for index, layer in enumerate(spec.layers, start=1):
        found.append((f"W{index}", "weights", layer.train_weights))
        if layer.bias is not None:
            found.append((f"b{index}", "bias", layer.train_bias))
    return found


def optimizer_kind(spec: Spec) -> str:
    """'sgd', 'momentum' (SGD with momentum > 0) or 'adam'."""
    if spec.optimizer.name == "adam":
        return "adam"
    return "momentum" if spec.optimizer.momentum > 0 else "sgd"


def adam_t(spec: Spec, step: int) -> int:
    """Adam's update count t after this step (the request may start from a saved state)."""
    start = spec.optimizer.state.step if spec.optimizer.state is not None else 0
    return start + step + 1
