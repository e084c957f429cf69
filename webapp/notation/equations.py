"""Each sub-step's equations as MathML, with the numbers of the trace, in a notation profile.

The equations are written in the spec's layout, as the seeds write them (the default profile):

    rows     S_l = Z_(l-1) W_l + 1_N b_l    dL/dW_l = Z_(l-1)^T δ_l    dL/dZ_(l-1) = δ_l W_l^T
    columns  S_l = W_l Z_(l-1) + b_l 1_N^T  dL/dW_l = δ_l Z_(l-1)^T    dL/dZ_(l-1) = W_l^T δ_l

and with the symbols, forms and stored orientation of any other profile (`webapp.notation.profiles`).
Where every matrix of a line is small, the line goes on with the numbers of the
trace (4 significant digits). LaTeX is built from our own templates and formatted
floats only (`equation_lines`, `update_lines`), and turned into MathML here on the
server by latex2mathml. The plain-text title of each sub-step lives in
`webapp.notation.titles`; `title` is importable from here too.
"""
from __future__ import annotations

import re
from functools import lru_cache

from latex2mathml.converter import convert
from markupsafe import Markup

from engine.spec import Spec
from engine.timeline import Substep
from engine.trace import Trace

from .equation_lines import backward_lines, forward_lines, loss_lines
from .profile import Profile
from .profiles import DEFAULT
from .symbols import matrix, number
from .titles import title
from .update_lines import update_lines

__all__ = ["equation", "matrix", "number", "title"]

def equation(spec: Spec, trace: Trace, substep: Substep, profile: Profile = DEFAULT) -> Markup:
    """The sub-step's equations as MathML, one <math display="block"> per line, in the profile's notation."""
    step = trace.step(substep.step)
    if substep.kind == "forward":
        lines = forward_lines(spec, profile, trace, step, substep.layer)
    elif substep.kind == "loss":
        lines = loss_lines(spec, profile, trace, step)
    elif substep.kind == "backward":
        lines = backward_lines(spec, profile, trace, step, substep.layer)
    else:
        lines = update_lines(spec, profile, trace, step)
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
