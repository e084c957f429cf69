"""A notation profile: every symbol and rule of one text, as data (the table is `webapp.notation.profiles`).

A `Profile` holds a `Term` per quantity, the layout(s) the text is written in, the
orientation it stores W in, how it numbers layers, where it writes the loss's 1/N, how
the bias joins the product, its names for activation functions, its cell-label format and
the notes of its legend. The gradients are one template over the quantity (`dL/d$x`,
`∇$x`, `$x.grad`), so dL/dW, dL/db, dL/dZ and an unnamed delta are written alike.
Everything that writes math (titles, equations, figure names, labels) asks the profile;
nothing branches on its id.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .terms import Symbol, Term

ORIENTATIONS = ("as the layout", "out x in", "in x out")
BIAS_STYLES = ("ones", "broadcast", "first")
MEAN_PLACES = ("loss", "delta")
LAYERED = ("pre_activation", "activation", "weights", "bias", "delta", "grad_weights", "grad_bias",
           "grad_activation", "weights_new", "bias_new", "weights_step", "bias_step")
UNLAYERED = ("input", "output", "target", "grad_output", "loss", "rate", "batch")
QUANTITIES = UNLAYERED + LAYERED

# The lab's function names: plain text and LaTeX (a profile overrides some, e.g. Quiz 4's ReLU).
FUNCTIONS = {"identity": Term("", ""), "relu": Term("relu", r"\operatorname{relu}"),
             "leaky_relu": Term("leaky_relu", r"\operatorname{leaky\_relu}"), "sigmoid": Term("σ", r"\sigma"),
             "tanh": Term("tanh", r"\tanh"), "softmax": Term("softmax", r"\operatorname{softmax}")}

EPSILON = Term("ε", r"\epsilon")  # Adam's small constant, as most texts write it

_MEANINGS = {
    "input": "the inputs", "pre_activation": "pre-activation of each layer", "activation": "activation of each layer",
    "output": "the output", "target": "the targets", "weights": "weights of each layer", "bias": "bias of each layer",
    "delta": "gradient of the loss with respect to a pre-activation", "grad_weights": "gradient of the weights",
    "grad_bias": "gradient of the bias", "grad_activation": "gradient of a hidden layer's activation",
    "grad_output": "gradient of the loss with respect to the output", "loss": "the loss", "rate": "the learning rate",
    "batch": "the number of examples", "weights_new": "updated weights", "bias_new": "updated bias",
    "weights_step": "the change of the weights in the update", "bias_step": "the change of the bias in the update",
}
_LAB_NAME = re.compile(r"(W|b|S|Z|δ|dL/dW|dL/db|dL/dZ|ΔW|Δb)(\d+)( \(new\))?")
_LAB_PREFIX = {"W": "weights", "b": "bias", "S": "pre_activation", "Z": "activation", "δ": "delta",
               "dL/dW": "grad_weights", "dL/db": "grad_bias", "dL/dZ": "grad_activation", "ΔW": "weights_step",
               "Δb": "bias_step"}
_LAB_UNLAYERED = {"X": "input", "T": "target", "Y": "output", "dL/dY": "grad_output", "L": "loss"}


@dataclass(frozen=True, eq=False)  # a profile is itself: compared and hashed by identity, so symbols cache cheaply
class Profile:
    """The notation of one text. `layouts[0]` is the layout the text itself is written in."""

    id: str
    name: str
    source: str
    layouts: tuple[str, ...]
    orientation: str  # how W is stored: "as the layout", "out x in" (PyTorch) or "in x out" (HW3)
    layer_offset: int  # added to the lab's layer number: 1 for Nielsen, whose input is layer 1
    batch: Term
    input: Term
    pre_activation: Term
    activation: Term
    output: Term
    target: Term
    weights: Term
    bias: Term
    gradient: Term  # over "$x": the gradient of the loss with respect to x
    delta: Term | None  # None: the text names no delta; the gradient of the pre-activation stands for it
    loss: Term
    rate: Term | None  # None: the text writes the learning rate's number itself
    weights_new: Term
    bias_new: Term
    weights_step: Term
    bias_step: Term
    derivative: Term  # the activation's derivative in the LaTeX of a backward line (f_l')
    bias_added: str  # "ones" (+ 1_N b), "broadcast" (+ b) or "first" (b + W h)
    mean_in: str  # where the 1/N is written: "loss" (the loss and dL/dY) or "delta" (also δ_L = 1/N (Y − T) ⊙ f')
    output_gradient: Term | None = None  # None: the gradient template over the output
    functions: tuple[tuple[str, Term], ...] = ()  # overrides of FUNCTIONS
    adam_eps: Term = EPSILON
    cell: str = "{name}[{row},{column}]"
    vector_cell: str = "{name}[{index}]"
    index_base: int = 1  # 0: indices as code reads them (PyTorch)
    chosen: tuple[tuple[str, str], ...] = ()  # (quantity, why): symbols the source does not name
    notes: tuple[tuple[str, str], ...] = ()  # (symbol, meaning): the legend's remarks on the text's own conventions

    def __post_init__(self):
        known = self.orientation in ORIENTATIONS and self.bias_added in BIAS_STYLES and self.mean_in in MEAN_PLACES
        if not known:
            raise ValueError(f"profile {self.id!r}: unknown orientation, bias style or place of the mean")

    # --- symbols ------------------------------------------------------------------------------

    def symbol(self, quantity: str, layer: int | None = None, *, depth: int) -> Symbol:
        """The symbol of a quantity at lab layer `layer` (1-based; 0 is the input) of a `depth`-layer network.

        A layered quantity without a layer is written bare, as an update rule writes it (W, dL/dW).
        """
        return _symbol(self, quantity, layer, depth)

    def _symbol(self, quantity: str, layer: int | None, depth: int) -> Symbol:
        if quantity == "activation" and layer == 0:
            return self._symbol("input", None, depth)
        if quantity == "delta":
            if self.delta is None:
                return self.gradient.of(self._at(self.pre_activation, layer, depth))
            return self._at(self.delta, layer, depth)
        derived = {"grad_weights": self.weights, "grad_bias": self.bias, "grad_activation": self.activation}
        if quantity in derived:
            return self.gradient.of(self._at(derived[quantity], layer, depth))
        if quantity == "grad_output":
            if self.output_gradient is not None:
                return self.output_gradient.at(depth, depth, self.layer_offset)
            return self.gradient.of(self._symbol("output", None, depth))
        if quantity == "rate" and self.rate is None:
            raise ValueError(f"profile {self.id!r} names no learning rate: it writes the number")
        if quantity not in QUANTITIES:
            raise KeyError(f"unknown quantity {quantity!r}; known: {', '.join(QUANTITIES)}")
        term = getattr(self, quantity)
        return self._at(term, depth if quantity in UNLAYERED else layer, depth)

    def _at(self, term: Term, layer: int | None, depth: int) -> Symbol:
        return term.without_layer() if layer is None else term.at(layer, depth, self.layer_offset)

    @property
    def names_delta(self) -> bool:
        """Whether the text names a delta (δ, g); Quiz 4, HW3, HW7, deeplearning.ai and PyTorch write dL/dS."""
        return self.delta is not None

    def function(self, name: str) -> Symbol:
        """An activation function's name, e.g. 'relu' -> ('ReLU', r'\\operatorname{ReLU}') in Quiz 4."""
        term = dict(self.functions).get(name) or FUNCTIONS[name]
        return Symbol(term.plain, term.latex)

    def layer_number(self, layer: int) -> int:
        """The lab's layer `layer` as the text numbers it (Nielsen: our layer 1 is his layer 2)."""
        return layer + self.layer_offset

    # --- layouts and the stored orientation ------------------------------------------------------

    def writes(self, layout: str) -> bool:
        return layout in self.layouts

    def layout_for(self, layout: str) -> str:
        """The layout to show a network in: the requested one if the text writes it, else the text's own."""
        return layout if self.writes(layout) else self.layouts[0]

    def stores_transposed(self, layout: str) -> bool:
        """Whether W is stored transposed to the lab's `layout` (rows: in x out; columns: out x in)."""
        if self.orientation == "as the layout":
            return False
        return layout == ("rows" if self.orientation == "out x in" else "columns")

    def stored(self, weights: np.ndarray, layout: str) -> np.ndarray:
        """A weight matrix (or its gradient, velocity, ...) of the lab's `layout` as the profile stores it."""
        return weights.T if self.stores_transposed(layout) else weights

    def weight_axes(self, layout: str) -> tuple[str, str]:
        """What the rows and the columns of a weight matrix count, as stored: ('in', 'out') or ('out', 'in')."""
        rows_first = ("in", "out") if layout == "rows" else ("out", "in")
        return rows_first[::-1] if self.stores_transposed(layout) else rows_first

    # --- names of the lab's matrices, labels, legend ------------------------------------------------

    def matrix_name(self, name: str, depth: int) -> str:
        """The plain-text name of one of the lab's matrices ('S2', 'δ1', 'dL/dW3', 'W1 (new)', 'X', 'dL/dY', ...)."""
        if name in _LAB_UNLAYERED:
            return self.symbol(_LAB_UNLAYERED[name], depth=depth).plain
        found = _LAB_NAME.fullmatch(name)
        if found is None or not 1 <= int(found[2]) <= depth or (found[3] and found[1] not in ("W", "b")):
            raise ValueError(f"not a matrix of a {depth}-layer network: {name!r}")
        quantity = _LAB_PREFIX[found[1]]
        if found[3]:  # ' (new)': the updated parameter
            quantity += "_new"
        return self.symbol(quantity, int(found[2]), depth=depth).plain

    def cell_label(self, name: str, row: int, column: int | None = None) -> str:
        """A cell of the matrix the profile names `name`, from 1-based `row` and `column` of the matrix as stored.

        `column=None` labels an entry of a vector by its one index: W^[1][2,1], b^[1][2]; PyTorch
        counts from 0 as code does: W1.weight[0,1].
        """
        shift = self.index_base - 1
        if column is None:
            return self.vector_cell.format(name=name, index=row + shift)
        return self.cell.format(name=name, row=row + shift, column=column + shift)

    def legend(self, depth: int) -> tuple[tuple[str, str], ...]:
        """(symbol, meaning) of every quantity of a `depth`-layer network as the profile writes it, then its notes.

        A symbol the source does not name says so ("chosen here: ...").
        """
        chosen = dict(self.chosen)
        entries = []
        for quantity in ("input", "pre_activation", "activation", "output", "target", "weights", "bias", "delta",
                         "grad_weights", "grad_bias", "grad_activation", "grad_output", "loss", "rate", "batch"):
            if quantity == "rate" and self.rate is None:
                entries.append(("its number", "the learning rate, written as its value (W ← W − 0.5 ...)"))
                continue
            if quantity in LAYERED:
                last = depth - 1 if quantity == "grad_activation" else depth
                symbols = (self.symbol(quantity, layer, depth=depth).plain for layer in range(1, last + 1))
                written = ", ".join(dict.fromkeys(symbols))
            else:
                written = self.symbol(quantity, depth=depth).plain
            if not written:
                continue
            meaning = _MEANINGS[quantity]
            if quantity == "weights":
                meaning += f", stored {self._orientation_words()}"
            if quantity in chosen:
                meaning += f" (chosen here: {chosen[quantity]})"
            entries.append((written, meaning))
        return tuple(entries) + self.notes

    def _orientation_words(self) -> str:
        if self.orientation == "as the layout":
            return "as the layout writes it (rows: in × out; columns: out × in)"
        return self.orientation.replace(" x ", " × ")


@lru_cache(maxsize=4096)
def _symbol(profile: Profile, quantity: str, layer: int | None, depth: int) -> Symbol:
    """Profile.symbol, computed once: titles and equations ask for the same few symbols at every sub-step."""
    return profile._symbol(quantity, layer, depth)
