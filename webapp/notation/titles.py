"""Each sub-step's title: the sub-step in words with its equations in plain text, in a notation profile.

In the default profile, 'Forward, layer 1: S1 = X W1 + 1_N b1, Z1 = tanh(S1)' in rows and
'Forward, layer 1: S1 = W1 X + b1 1_N^T, Z1 = tanh(S1)' in columns; in deeplearning-ai,
'Forward, layer 1: Z^[1] = W^[1] X + b^[1], A^[1] = tanh(Z^[1])'. Every symbol comes from the
profile; the products come from `webapp.notation.terms` in the spec's layout and the profile's
stored orientation (HW3: 'z^1 = (W^1)^T x + W^1_0').
"""
from __future__ import annotations

from engine.spec import Spec
from engine.timeline import Substep

from . import terms
from .profile import Profile
from .profiles import DEFAULT
from .rules import adam_t, delta_from_output, fused, loss_denominator, optimizer_kind, parameters, reduction


def title(spec: Spec, substep: Substep, profile: Profile = DEFAULT) -> str:
    """The sub-step in words with its equations in plain text, e.g. 'Forward, layer 1: S1 = W1 X, Z1 = relu(S1)'."""
    names = _Plain(profile, spec)
    if substep.kind == "forward":
        layer = substep.layer
        return (f"Forward, layer {profile.layer_number(layer)}: {names('pre_activation', layer)} = "
                f"{_pre_activation(spec, profile, names, layer)}, {names('activation', layer)} = "
                f"{_activation(spec, profile, names, layer)}")
    if substep.kind == "loss":
        return f"Loss: {names('loss')} = {_loss(spec, profile, names)}"
    if substep.kind == "backward":
        return f"Backward, layer {profile.layer_number(substep.layer)}: " + ", ".join(
            _backward(spec, profile, names, substep.layer))
    frozen = [names(kind, int(name[1:])) for name, kind, trained in parameters(spec) if not trained]
    return _update(spec, profile, names, substep.step) + (f"; {', '.join(frozen)} frozen" if frozen else "")


class _Plain:
    """The profile's plain-text symbols for one network: names('delta', 2) -> 'δ2'."""

    def __init__(self, profile: Profile, spec: Spec):
        self.profile, self.depth = profile, len(spec.layers)
        self.ones = "1_" + profile.batch.plain

    def __call__(self, quantity: str, layer: int | None = None) -> str:
        return self.profile.symbol(quantity, layer, depth=self.depth).plain


def _pre_activation(spec: Spec, profile: Profile, names: _Plain, layer: int) -> str:
    has_bias = spec.layers[layer - 1].bias is not None
    form = terms.pre_activation_form(spec.layout, profile.stores_transposed(spec.layout),
                                     profile.bias_added if has_bias else None)
    values = {"Z": names("activation", layer - 1), "W": names("weights", layer), "1": names.ones}
    if has_bias:
        values["b"] = names("bias", layer)
    return terms.fill(form, values, terms.transpose_plain)


def _activation(spec: Spec, profile: Profile, names: _Plain, layer: int) -> str:
    config, s = spec.layers[layer - 1], names("pre_activation", layer)
    if config.activation == "leaky_relu":
        return f"max({s}, {config.negative_slope:g} {s})"
    if config.activation == "identity":
        return s
    return f"{profile.function(config.activation).plain}({s})"


def _product(symbols: list[str]) -> str:
    """'2N', 'N·d2': the symbols of a divisor in plain text, parenthesised when there are several."""
    text = ""
    for symbol in symbols:
        text += ("·" if text and symbol.startswith("d") else "") + symbol
    return f"({text})" if len(symbols) > 1 else text


def _fraction(numerator: int, denominator: list[str]) -> str:
    if not denominator:
        return "" if numerator == 1 else f"{numerator} "
    return f"{numerator}/{_product(denominator)} "


def _loss(spec: Spec, profile: Profile, names: _Plain) -> str:
    loss, y, t = spec.loss, names("output"), names("target")
    factor = _fraction(1, [s for s, _ in loss_denominator(spec, batch=profile.batch.plain)])
    if loss.name == "squared_error":
        return f"{factor}Σ‖{y} − {t}‖²"
    if loss.name == "cross_entropy":
        text = f"−{factor}Σ {t} ⊙ log {y}"
        return text + (f" (from {names('pre_activation', names.depth)} by log-softmax)" if fused(spec) else "")
    if loss.name == "binary_cross_entropy":
        text = f"−{factor}Σ [{t} ⊙ log {y} + (1 − {t}) ⊙ log(1 − {y})]"
        return text + (f" (from {names('pre_activation', names.depth)} by softplus)" if fused(spec) else "")
    if loss.name == "linear":
        return f"{factor}Σ {t} ⊙ {y} (so {names('grad_output')} = {factor}{t}, the given upstream gradient)"
    return f"{factor}Σ_n Σ_(k≠c_n) max(0, y_nk − y_n,c_n + {loss.margin:g})"


def _backward(spec: Spec, profile: Profile, names: _Plain, layer: int) -> list[str]:
    config, rows = spec.layers[layer - 1], spec.layout == "rows"
    delta, s, z = names("delta", layer), names("pre_activation", layer), names("activation", layer)
    y, t = names("output"), names("target")
    derivative = f"{profile.function(config.activation).plain}'({s})"
    divisor = [symbol for symbol, _ in reduction(spec, batch=profile.batch.plain)]
    if layer == len(spec.layers) and fused(spec):
        parts = [f"{delta} = ({y} − {t})/{_product(divisor)}" if divisor else f"{delta} = {y} − {t}"]
    elif layer == len(spec.layers) and delta_from_output(spec, profile.mean_in):
        text = f"{delta} = {_fraction(1 if spec.loss.half else 2, divisor)}({y} − {t})"
        parts = [text if config.activation == "identity" else f"{text} ⊙ {derivative}"]
    elif config.activation == "softmax":
        jacobian = f"(G − (G ⊙ {z}) 1 1^T)" if rows else f"(G − 1 1^T (G ⊙ {z}))"
        parts = [f"{delta} = {z} ⊙ {jacobian} with G = {names('grad_activation', layer)}"]
    elif config.activation == "identity":
        parts = [f"{delta} = {names('grad_activation', layer)}"]
    else:
        parts = [f"{delta} = {names('grad_activation', layer)} ⊙ {derivative}"]
    transposed = profile.stores_transposed(spec.layout)
    values = {"Z": names("activation", layer - 1), "D": delta, "W": names("weights", layer), "1": names.ones}
    parts.append(f"{names('grad_weights', layer)} = "
                 + terms.fill(terms.grad_weights_form(spec.layout, transposed), values, terms.transpose_plain))
    if config.bias is not None:
        parts.append(f"{names('grad_bias', layer)} = "
                     + terms.fill(terms.grad_bias_form(spec.layout), values, terms.transpose_plain))
    if layer > 1:
        parts.append(f"{names('grad_activation', layer - 1)} = "
                     + terms.fill(terms.grad_below_form(spec.layout, transposed), values, terms.transpose_plain))
    return parts


def _update(spec: Spec, profile: Profile, names: _Plain, step: int) -> str:
    optimizer, kind = spec.optimizer, optimizer_kind(spec)
    w, b, gw, gb = names("weights"), names("bias"), names("grad_weights"), names("grad_bias")
    rate = f"{optimizer.learning_rate:g}" if profile.rate is None else names("rate")
    given = [] if profile.rate is None else [f"{rate} = {optimizer.learning_rate:g}"]
    eps = profile.adam_eps.plain
    if kind == "adam":
        beta1, beta2 = optimizer.betas
        given += [f"β1 = {beta1:g}", f"β2 = {beta2:g}", f"{eps} = {optimizer.eps:g}"]
        return (f"Update (Adam, t = {adam_t(spec, step)}): m ← β1 m + (1 − β1) {gw}, v ← β2 v + (1 − β2) ({gw})², "
                f"{w} ← {w} − {rate} m̂ / (√v̂ + {eps}) ({', '.join(given)})")
    if kind == "momentum":
        step_rule = f"{w} ← {w} − {rate} ({gw} + μ v)" if optimizer.nesterov else f"{w} ← {w} − {rate} v"
        given.append(f"μ = {optimizer.momentum:g}")
        return f"Update: v ← μ v + {gw}, {step_rule} ({', '.join(given)})"
    rule = f"{w} ← {w} − {rate} {gw}"
    if any(layer.bias is not None for layer in spec.layers):
        rule += f", {b} ← {b} − {rate} {gb}"
    return f"Update: {rule}" + (f" ({', '.join(given)})" if given else "")
