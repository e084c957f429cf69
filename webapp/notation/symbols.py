"""How the equations are written: the pieces of the LaTeX that `webapp.notation.equations` turns
into MathML (numbers, matrices, fractions, a line with its numbers).

The titles live in `webapp.notation.titles`, the rules both share (trained parameters, the
optimizer's rule, the reduction's divisor, the fused output) in `webapp.notation.rules`; both are
importable from here, as the lab has always imported them.
"""
from __future__ import annotations

import numpy as np

from engine.spec import Spec

from .rules import adam_t, fused, loss_denominator, optimizer_kind, parameters, reduction
from .titles import title

__all__ = [
    "MAX_SHOWN",
    "adam_t",
    "bias_in_layout",
    "fraction",
    "fused",
    "line",
    "loss_denominator",
    "matrix",
    "number",
    "optimizer_kind",
    "parameters",
    "reduction",
    "title",
    "z_latex",
]

MAX_SHOWN = 8  # matrices up to 8 x 8 are written out with their numbers


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
