"""The pieces a notation profile is made of: a symbol template (`Term`) and the forms of the products.

A `Term` is a symbol in plain text and in LaTeX, with `$l` for the layer as the text numbers
it and `$L` for the output layer's number: `Term("W^[$l]", "W^{[$l]}")` is W^[2] at layer 2.
A quantity the text names apart at the output layer (Quiz 4's S and P) or in a network with a
single hidden layer (Quiz 4's Z and H, HW3's H) carries those names in `output` and `lone`;
`bare` is the symbol without a layer, as an update rule writes it (W ← W − r dL/dW).

The forms write each product of a sub-step with slots ({Z} the activation below, {W} the
weights, {D} the delta, {1} the vector of ones, {b} the bias, {P} the product), `{X}ᵀ` for a
transpose. `fill` writes a form in plain text, in LaTeX symbols or in LaTeX matrices, so the
title, the symbolic line and the line with numbers are one form read three ways.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple


class Symbol(NamedTuple):
    """One symbol as it is written: plain text (titles, figure names, labels) and LaTeX (equations)."""

    plain: str
    latex: str


@dataclass(frozen=True)
class Term:
    """A symbol template; see the module's docstring."""

    plain: str
    latex: str
    output: Term | None = None  # the output layer's own name
    lone: Term | None = None  # the hidden layer's name in a network with one hidden layer
    bare: Term | None = None  # without a layer (update rules); the template itself if None

    def at(self, layer: int, last: int, offset: int = 0) -> Symbol:
        """The symbol at lab layer `layer` (1-based) of a network whose output layer is `last`."""
        term = self
        if layer == last and self.output is not None:
            term = self.output
        elif last == 2 and layer == 1 and self.lone is not None:
            term = self.lone
        layer, last = layer + offset, last + offset
        return Symbol(_layered(term.plain, layer, last), _layered(term.latex, layer, last))

    def without_layer(self) -> Symbol:
        term = self.bare or self
        return Symbol(term.plain, term.latex)

    def of(self, symbol: Symbol) -> Symbol:
        """A template over a quantity (`$x`), e.g. the gradient 'dL/d$x' of W1: 'dL/dW1'."""
        return Symbol(self.plain.replace("$x", symbol.plain), self.latex.replace("$x", symbol.latex))


def _layered(template: str, layer: int, last: int) -> str:
    return template.replace("$l", str(layer)).replace("$L", str(last))


# --- the products of each sub-step, by (layout, whether W is stored transposed to the layout) ---------

_PRODUCT = {("rows", False): "{Z} {W}", ("rows", True): "{Z} {W}ᵀ",
            ("columns", False): "{W} {Z}", ("columns", True): "{W}ᵀ {Z}"}
_GRAD_WEIGHTS = {("rows", False): "{Z}ᵀ {D}", ("rows", True): "{D}ᵀ {Z}",
                 ("columns", False): "{D} {Z}ᵀ", ("columns", True): "{Z} {D}ᵀ"}
_GRAD_BELOW = {("rows", False): "{D} {W}ᵀ", ("rows", True): "{D} {W}",
               ("columns", False): "{W}ᵀ {D}", ("columns", True): "{W} {D}"}
_GRAD_BIAS = {"rows": "{1}ᵀ {D}", "columns": "{D} {1}"}
# How the bias joins the product: through the vector of ones, broadcast, or written first (Goodfellow).
_WITH_BIAS = {("ones", "rows"): "{P} + {1} {b}", ("ones", "columns"): "{P} + {b} {1}ᵀ",
              ("broadcast", "rows"): "{P} + {b}", ("broadcast", "columns"): "{P} + {b}",
              ("first", "rows"): "{b} + {P}", ("first", "columns"): "{b} + {P}"}


def pre_activation_form(layout: str, transposed: bool, bias: str | None) -> str:
    """The right-hand side of S = ...: the product, and the bias added as the profile writes it (None: no bias)."""
    product = _PRODUCT[layout, transposed]
    return product if bias is None else _WITH_BIAS[bias, layout].replace("{P}", product)


def grad_weights_form(layout: str, transposed: bool) -> str:
    """dL/dW as stored: Z^T δ in rows; the transpose of the layout's form when W is stored transposed."""
    return _GRAD_WEIGHTS[layout, transposed]


def grad_below_form(layout: str, transposed: bool) -> str:
    """dL/dZ of the layer below: δ W^T in rows, W^T δ in columns (W as stored)."""
    return _GRAD_BELOW[layout, transposed]


def grad_bias_form(layout: str) -> str:
    return _GRAD_BIAS[layout]


_SLOT = re.compile(r"\{(\w)\}(ᵀ)?")


def fill(form: str, values: dict[str, str], transpose: Callable[[str], str]) -> str:
    """The form with each slot written from `values`, `transpose` applied where the form transposes."""
    return _SLOT.sub(lambda found: transpose(values[found[1]]) if found[2] else values[found[1]], form)


def transpose_plain(symbol: str) -> str:
    """'Z1^T'; '(W^1)^T' when the symbol has a superscript or spaces of its own."""
    return f"({symbol})^T" if "^" in symbol or " " in symbol else f"{symbol}^T"


def transpose_latex(symbol: str) -> str:
    r"""'Z_{1}^\top'; '(W^{1})^\top' when the symbol has a superscript (a double superscript is no LaTeX)."""
    return rf"({symbol})^\top" if "^" in symbol else rf"{symbol}^\top"


def transpose_matrix(matrix: str) -> str:
    r"""A written matrix is one group: '{...}^\top'."""
    return rf"{matrix}^\top"
