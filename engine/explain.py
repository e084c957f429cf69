"""Where one number of a trace comes from: the terms of its formula, each with the numbers it uses.

`explain(spec, trace, key, cell)` takes a quantity key as the exercise contract names them
(`s0.forward.1.pre_activation`, `s0.loss`, `s0.backward.2.delta`, `s0.update.1.weights`, ...)
and a cell of it (0-based, in the spec's layout: `(i, j)` of a matrix, `(j,)` of a vector, `()`
for the loss) and answers an `Explanation`: the rule that made the cell, its value, and its
terms. A term is a product of factors; a factor is a `Ref` (a cell of another quantity, with
its value, so a page can highlight it) or a plain number (a derivative, a scale, a rate), and
the rule says how the terms combine:

| rule | value | terms |
|---|---|---|
| `dot` | the sum of the terms | Z_(l-1) x W entries, then the bias alone |
| `function` | f of the one factor (`function` names f) | S |
| `softmax` | the first term's exp over the sum of all the terms' exps | S of the cell, then its row (column) |
| `sum` | the sum of the terms | a loss's terms; dL/dW, dL/db and dL/dZ over examples or units |
| `chain` | the one term's product | dL/dZ x f'(S) |
| `jacobian` | the sum of the terms | dL/dZ_k x dZ_k/dS_j over the units k of a softmax |
| `elementwise` | the formula of `notes["formula"]` | dL/dY, a fused output delta: Y, T and the scale |
| `sgd`, `momentum`, `adam` | the optimizer's rule (notes hold its numbers) | the old value and the gradient |

Everything is recomputed here from the trace's own numbers (plain floats), so a test can
combine the terms and compare with the trace. NumPy only; the notation package writes it out.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .spec import Spec
from .trace import Trace

_KEY = re.compile(
    r"s(?P<step>\d+)\.(?:(?P<loss>loss|output_gradient)"
    r"|(?P<stage>forward|backward|update)\.(?P<layer>\d+)\.(?P<quantity>[a-z_]+))"
)
FORWARD = ("pre_activation", "activation")
BACKWARD = ("grad_activation", "delta", "grad_weights", "grad_bias", "grad_inputs")
UPDATE = ("weights", "bias")
MAX_TERMS = 4096  # a cell of the largest network the API takes has at most this many terms


@dataclass(frozen=True)
class Ref:
    """One cell of a quantity: `key` as the exercise contract names it ("inputs", "targets" and
    "s<k>.parameters.<l>.weights|bias" for the givens), `cell` 0-based in the spec's layout."""

    key: str
    cell: tuple[int, ...]
    value: float


@dataclass(frozen=True)
class Term:
    """A product of factors; `uses` are cells a term is computed from that are not factors of it
    (a loss term's output and target), for a page to highlight."""

    factors: tuple[Ref | float, ...]
    uses: tuple[Ref, ...] = ()

    @property
    def value(self) -> float:
        return math.prod(f.value if isinstance(f, Ref) else f for f in self.factors)


@dataclass(frozen=True)
class Explanation:
    key: str
    cell: tuple[int, ...]
    value: float  # the trace's number
    rule: str
    terms: tuple[Term, ...]
    notes: dict = field(default_factory=dict)  # function, formula, scale, rate, ... (plain numbers and text)

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "cell": list(self.cell),
            "value": self.value,
            "rule": self.rule,
            "terms": [
                {"factors": [_factor(f) for f in term.factors], "value": term.value,
                 **({"uses": [_factor(ref) for ref in term.uses]} if term.uses else {})}
                for term in self.terms
            ],
            "notes": self.notes,
        }


def _factor(factor: Ref | float) -> dict:
    if isinstance(factor, Ref):
        return {"key": factor.key, "cell": list(factor.cell), "value": factor.value}
    return {"number": factor}


class NotExplained(ValueError):
    """A key that is not a quantity of this trace (`field` "key"), or a cell outside it ("cell")."""

    def __init__(self, message: str, field: str = "key"):
        super().__init__(message)
        self.field = field


def explain(spec: Spec, trace: Trace, key: str, cell: tuple[int, ...] | list[int]) -> Explanation:
    match = _KEY.fullmatch(key)
    if match is None:
        raise NotExplained(f"{key!r} is not a quantity key (e.g. s0.forward.1.pre_activation, s0.loss)")
    step_index = int(match["step"])
    try:
        step = trace.step(step_index)
    except KeyError:
        raise NotExplained(f"step {step_index} is not in this trace") from None
    view = _Step(spec, trace, step)
    cell = tuple(int(c) for c in cell)
    if match["loss"] == "loss":
        if cell:
            raise NotExplained("the loss is one number: its cell is []", "cell")
        return view.loss(key)
    if match["loss"] == "output_gradient":
        return view.output_gradient(key, cell)
    layer, stage, quantity = int(match["layer"]), match["stage"], match["quantity"]
    if not 1 <= layer <= len(spec.layers):
        raise NotExplained(f"the network has layers 1..{len(spec.layers)}, not {layer}")
    allowed = {"forward": FORWARD, "backward": BACKWARD, "update": UPDATE}[stage]
    if quantity not in allowed:
        raise NotExplained(f"{stage} has {', '.join(allowed)}, not {quantity!r}")
    return getattr(view, quantity if stage != "update" else f"new_{quantity}")(key, layer, cell)


class _Step:
    """One recorded step's numbers in the rows layout, with a way back to the spec's layout's cells."""

    def __init__(self, spec: Spec, trace: Trace, step):
        self.spec, self.step, self.k = spec, step, step.index
        self.columns = spec.layout == "columns"
        rows = (lambda a: None if a is None else np.asarray(a).T) if self.columns else (
            lambda a: None if a is None else np.asarray(a))
        self.rows = rows
        self.examples = np.arange(spec.num_examples) if step.batch is None else np.asarray(step.batch)
        self.x = rows(trace.inputs)[self.examples]
        self.t = rows(trace.targets)[self.examples]
        self.weights = [rows(p.weights) for p in step.parameters]
        self.biases = [p.bias for p in step.parameters]
        self.s = [rows(f.pre_activation) for f in step.forward]
        self.z = [rows(f.activation) for f in step.forward]
        self.backward = {b.layer: b for b in step.backward}

    # --- references -------------------------------------------------------------------------
    def _matrix_cell(self, n: int, j: int) -> tuple[int, int]:
        """A cell (example n, unit j) of the rows layout as the spec's layout writes it."""
        return (j, n) if self.columns else (n, j)

    def _weight_cell(self, i: int, j: int) -> tuple[int, int]:
        """W's cell from input unit i to unit j (rows: W[i, j]; columns: W[j, i])."""
        return (j, i) if self.columns else (i, j)

    def _rows_cell(self, key: str, cell: tuple[int, ...], shape: tuple[int, int], weight: bool = False):
        """The rows-layout (a, b) of a cell given in the spec's layout; NotExplained if outside."""
        if len(cell) != 2:
            raise NotExplained(f"{key} is a matrix: give its cell as [i, j]", "cell")
        a, b = (cell[1], cell[0]) if self.columns else cell
        if not (0 <= a < shape[0] and 0 <= b < shape[1]):
            raise NotExplained(f"cell {list(cell)} is outside {key}", "cell")
        return a, b

    def _vector_cell(self, key: str, cell: tuple[int, ...], size: int) -> int:
        if len(cell) != 1 or not 0 <= cell[0] < size:
            raise NotExplained(f"{key} is a vector of {size}: give its cell as [j], 0 <= j < {size}", "cell")
        return cell[0]

    def below(self, layer: int, n: int, i: int) -> Ref:
        """Z_(l-1)[n, i]: an activation of the layer below, or an input."""
        if layer == 1:
            return Ref("inputs", self._matrix_cell(int(self.examples[n]), i), float(self.x[n, i]))
        return Ref(f"s{self.k}.forward.{layer - 1}.activation", self._matrix_cell(n, i), float(self.z[layer - 2][n, i]))

    def weight(self, layer: int, i: int, j: int) -> Ref:
        return Ref(f"s{self.k}.parameters.{layer}.weights", self._weight_cell(i, j),
                   float(self.weights[layer - 1][i, j]))

    def matrix(self, name: str, layer: int | None, array: np.ndarray, n: int, j: int) -> Ref:
        key = f"s{self.k}.{name}" if layer is None else f"s{self.k}.{name.replace('#', str(layer))}"
        return Ref(key, self._matrix_cell(n, j), float(array[n, j]))

    def target(self, n: int, j: int) -> Ref:
        return Ref("targets", self._matrix_cell(int(self.examples[n]), j), float(self.t[n, j]))

    def _scale(self) -> float:
        n, width = self.z[-1].shape
        return 1.0 / {"mean": n, "sum": 1, "mean_all": n * width}[self.spec.loss.reduction]

    def _fused(self) -> bool:
        return (self.spec.loss.name, self.spec.layers[-1].activation) in (
            ("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"))

    # --- forward ------------------------------------------------------------------------------
    def pre_activation(self, key: str, layer: int, cell) -> Explanation:
        s = self.s[layer - 1]
        n, j = self._rows_cell(key, cell, s.shape)
        terms = [
            Term((self.weight(layer, i, j), self.below(layer, n, i)) if self.columns
                 else (self.below(layer, n, i), self.weight(layer, i, j)))
            for i in range(self.weights[layer - 1].shape[0])
        ]
        bias = self.biases[layer - 1]
        if bias is not None:
            terms.append(Term((Ref(f"s{self.k}.parameters.{layer}.bias", (j,), float(bias[j])),)))
        return Explanation(key, tuple(cell), float(s[n, j]), "dot", tuple(terms), {"bias": bias is not None})

    def activation(self, key: str, layer: int, cell) -> Explanation:
        z, s = self.z[layer - 1], self.s[layer - 1]
        n, j = self._rows_cell(key, cell, z.shape)
        spec_layer = self.spec.layers[layer - 1]
        pre = f"forward.{layer}.pre_activation"
        if spec_layer.activation == "softmax":
            row = s[n]
            shift = float(row.max())
            terms = [Term((self.matrix(pre, None, s, n, j),))] + [
                Term((self.matrix(pre, None, s, n, k),)) for k in range(s.shape[1])]
            return Explanation(key, tuple(cell), float(z[n, j]), "softmax", tuple(terms),
                               {"function": "softmax", "shift": shift})
        notes = {"function": spec_layer.activation}
        if spec_layer.activation == "leaky_relu":
            notes["negative_slope"] = spec_layer.negative_slope
        return Explanation(key, tuple(cell), float(z[n, j]), "function",
                           (Term((self.matrix(pre, None, s, n, j),)),), notes)

    # --- loss ---------------------------------------------------------------------------------
    def loss(self, key: str) -> Explanation:
        loss, scale = self.spec.loss, self._scale()
        y, s, t = self.z[-1], self.s[-1], self.t
        last = len(self.spec.layers)
        output = f"forward.{last}.activation"
        terms = []
        if loss.name == "multiclass_hinge":
            classes = np.argmax(t, axis=1)
            for n in range(y.shape[0]):
                c = int(classes[n])
                for j in range(y.shape[1]):
                    margin = float(y[n, j] - y[n, c] + loss.margin)
                    if j != c and margin > 0:
                        uses = (self.matrix(output, None, y, n, j), self.matrix(output, None, y, n, c))
                        terms.append(Term((scale, margin), uses))
            formula = "scale * sum over examples and wrong classes j of max(0, Y_j - Y_class + margin)"
        else:
            for n in range(y.shape[0]):
                for j in range(y.shape[1]):
                    term = self._loss_term(n, j, y, s, last)
                    if term is not None:
                        terms.append(Term((scale, *term.factors), term.uses))
            formula = {
                "squared_error": "scale * c * (Y - T)^2", "cross_entropy": "-scale * T * log Y",
                "linear": "scale * T * Y",
                "binary_cross_entropy": "-scale * (T log Y + (1 - T) log(1 - Y))"}[loss.name]
            if self._fused():
                formula = {"cross_entropy": "-scale * T * log_softmax(S)",
                           "binary_cross_entropy": "scale * (softplus(S) - T * S)"}[loss.name]
        return Explanation(key, (), float(self.step.loss), "sum", tuple(terms),
                           {"loss": loss.name, "reduction": loss.reduction, "scale": scale, "formula": formula,
                            "half": loss.half, "margin": loss.margin, "fused": self._fused()})

    def _loss_term(self, n: int, j: int, y, s, last: int) -> Term | None:
        """Example n's and unit j's term of the loss before the scale, or None where it is 0 by definition."""
        loss = self.spec.loss
        target = self.target(n, j)
        tv = target.value
        if self._fused():
            pre = self.matrix(f"forward.{last}.pre_activation", None, s, n, j)
            if loss.name == "cross_entropy":
                if tv == 0:
                    return None
                row = s[n]
                log_p = float(row[j] - row.max() - math.log(float(np.exp(row - row.max()).sum())))
                return Term((-tv, log_p), (pre, target))
            softplus = max(pre.value, 0.0) + math.log1p(math.exp(-abs(pre.value)))
            return Term((softplus - tv * pre.value,), (pre, target))
        output = self.matrix(f"forward.{last}.activation", None, y, n, j)
        yv = output.value
        if loss.name == "squared_error":
            diff = yv - tv
            return Term((0.5 if loss.half else 1.0, diff * diff), (output, target))
        if loss.name == "cross_entropy":
            return None if tv == 0 else Term((-tv, math.log(yv)), (output, target))
        if loss.name == "linear":
            return Term((target, output))
        positive = tv * math.log(yv) if tv != 0 else 0.0
        negative = (1 - tv) * math.log1p(-yv) if tv != 1 else 0.0
        return Term((-1.0, positive + negative), (output, target))

    def output_gradient(self, key: str, cell) -> Explanation:
        grad = self.rows(self.step.output_gradient)
        if grad is None:
            raise NotExplained(f"{key} is null in this trace (a saturated output): there is no number to explain")
        n, j = self._rows_cell(key, cell, grad.shape)
        return self._elementwise_gradient(key, tuple(cell), float(grad[n, j]), n, j)

    def _elementwise_gradient(self, key, cell, value, n, j) -> Explanation:
        """dL/dY[n, j] from Y, T and the scale (the hinge's from the margins of the row)."""
        loss, scale = self.spec.loss, self._scale()
        last = len(self.spec.layers)
        y = self.z[-1]
        output = self.matrix(f"forward.{last}.activation", None, y, n, j)
        target = self.target(n, j)
        notes = {"loss": loss.name, "scale": scale}
        if loss.name == "squared_error":
            c = 0.5 if loss.half else 1.0
            notes["formula"] = "2 * c * scale * (Y - T)"
            notes["c"] = c
            return Explanation(key, cell, value, "elementwise",
                               (Term((2 * c * scale, output)), Term((-2 * c * scale, target))), notes)
        if loss.name == "cross_entropy":
            notes["formula"] = "-scale * T / Y (0 where T = 0)"
            term = Term((0.0,), (output, target)) if target.value == 0 else Term((-scale, target, 1.0 / output.value), (output,))
            return Explanation(key, cell, value, "elementwise", (term,), notes)
        if loss.name == "linear":
            notes["formula"] = "scale * T (the given upstream gradient)"
            return Explanation(key, cell, value, "elementwise", (Term((scale, target), (output,)),), notes)
        if loss.name == "binary_cross_entropy":
            notes["formula"] = "scale * (-T / Y + (1 - T) / (1 - Y))"
            yv, tv = output.value, target.value
            parts = (0.0 if tv == 0 else -tv / yv) + (0.0 if tv == 1 else (1 - tv) / (1 - yv))
            return Explanation(key, cell, value, "elementwise", (Term((scale, parts), (output, target)),), notes)
        classes = np.argmax(self.t, axis=1)
        c = int(classes[n])
        margins = y[n] - y[n, c] + loss.margin
        margins[c] = 0.0
        active = margins > 0
        notes["formula"] = "scale * (1 if the margin of j is positive; minus the count of positive margins for the class)"
        count = -float(active.sum()) if j == c else float(active[j])
        row = tuple(self.matrix(f"forward.{last}.activation", None, y, n, k) for k in range(y.shape[1]))
        return Explanation(key, cell, value, "elementwise", (Term((scale, count), row),), notes)

    # --- backward -----------------------------------------------------------------------------
    def _record(self, layer: int):
        return self.backward[layer]

    def grad_activation(self, key: str, layer: int, cell) -> Explanation:
        record = self._record(layer)
        if record.grad_activation is None:
            raise NotExplained(f"{key} is null in this trace (a saturated output): there is no number to explain")
        grad = self.rows(record.grad_activation)
        n, i = self._rows_cell(key, cell, grad.shape)
        if layer == len(self.spec.layers):
            out = self.rows(self.step.output_gradient)
            return Explanation(key, tuple(cell), float(grad[n, i]), "sum",
                               (Term((self.matrix("output_gradient", None, out, n, i),)),),
                               {"output": True})
        return self._through_weights(key, tuple(cell), float(grad[n, i]), layer + 1, n, i)

    def _through_weights(self, key, cell, value, above: int, n: int, i: int) -> Explanation:
        """dL/dZ_(l)[n, i] = sum_j delta_(l+1)[n, j] W_(l+1)[i, j] (rows), W^T delta in columns."""
        delta = self.rows(self._record(above).delta)
        terms = [
            Term((self.weight(above, i, j), self.matrix(f"backward.{above}.delta", None, delta, n, j)) if self.columns
                 else (self.matrix(f"backward.{above}.delta", None, delta, n, j), self.weight(above, i, j)))
            for j in range(delta.shape[1])
        ]
        return Explanation(key, cell, value, "sum", tuple(terms), {})

    def grad_inputs(self, key: str, layer: int, cell) -> Explanation:
        record = self._record(layer)
        if layer != 1 or record.grad_inputs is None:
            raise NotExplained(f"{key} is only in layer 1's record of a trace asked with input_gradient")
        grad = self.rows(record.grad_inputs)
        n, i = self._rows_cell(key, cell, grad.shape)
        return self._through_weights(key, tuple(cell), float(grad[n, i]), 1, n, i)

    def delta(self, key: str, layer: int, cell) -> Explanation:
        record = self._record(layer)
        delta = self.rows(record.delta)
        n, j = self._rows_cell(key, cell, delta.shape)
        value = float(delta[n, j])
        spec_layer = self.spec.layers[layer - 1]
        s, z = self.s[layer - 1], self.z[layer - 1]
        last = layer == len(self.spec.layers)
        if last and self._fused():
            scale = self._scale()
            output = self.matrix(f"forward.{layer}.activation", None, z, n, j)
            target = self.target(n, j)
            if self.spec.loss.name == "cross_entropy":
                mass = float(self.t[n].sum())
                return Explanation(key, tuple(cell), value, "elementwise",
                                   (Term((scale * mass, output)), Term((-scale, target))),
                                   {"formula": "scale * (Y * sum(T of the example) - T)", "fused": True,
                                    "scale": scale, "mass": mass, "loss": "cross_entropy"})
            return Explanation(key, tuple(cell), value, "elementwise", (Term((scale, output)), Term((-scale, target))),
                               {"formula": "scale * (Y - T)", "fused": True, "scale": scale,
                                "loss": "binary_cross_entropy"})
        upstream_name = "output_gradient" if last else f"backward.{layer}.grad_activation"
        upstream = self.rows(self.step.output_gradient if last else record.grad_activation)
        if spec_layer.activation == "softmax":
            terms = []
            for k in range(z.shape[1]):
                jacobian = float(z[n, k] * ((1.0 if k == j else 0.0) - z[n, j]))
                terms.append(Term((self.matrix(upstream_name, None, upstream, n, k), jacobian)))
            return Explanation(key, tuple(cell), value, "jacobian", tuple(terms), {"function": "softmax"})
        derivative = _derivative(spec_layer.activation, float(s[n, j]), float(z[n, j]), spec_layer.negative_slope)
        pre = self.matrix(f"forward.{layer}.pre_activation", None, s, n, j)
        return Explanation(key, tuple(cell), value, "chain",
                           (Term((self.matrix(upstream_name, None, upstream, n, j), derivative)),),
                           {"function": spec_layer.activation, "derivative": derivative,
                            "at": {"key": pre.key, "cell": list(pre.cell), "value": pre.value}})

    def grad_weights(self, key: str, layer: int, cell) -> Explanation:
        record = self._record(layer)
        grad = self.rows(record.grad_weights)
        if len(cell) != 2:
            raise NotExplained(f"{key} is a matrix: give its cell as [i, j]", "cell")
        i, j = (cell[1], cell[0]) if self.columns else cell
        if not (0 <= i < grad.shape[0] and 0 <= j < grad.shape[1]):
            raise NotExplained(f"cell {list(cell)} is outside {key}", "cell")
        delta = self.rows(record.delta)
        terms = [
            Term((self.matrix(f"backward.{layer}.delta", None, delta, n, j), self.below(layer, n, i)) if self.columns
                 else (self.below(layer, n, i), self.matrix(f"backward.{layer}.delta", None, delta, n, j)))
            for n in range(delta.shape[0])
        ]
        return Explanation(key, tuple(cell), float(grad[i, j]), "sum", tuple(terms), {"over": "examples"})

    def grad_bias(self, key: str, layer: int, cell) -> Explanation:
        record = self._record(layer)
        if record.grad_bias is None:
            raise NotExplained(f"layer {layer} has no bias")
        j = self._vector_cell(key, cell, len(record.grad_bias))
        delta = self.rows(record.delta)
        terms = [Term((self.matrix(f"backward.{layer}.delta", None, delta, n, j),)) for n in range(delta.shape[0])]
        return Explanation(key, tuple(cell), float(record.grad_bias[j]), "sum", tuple(terms), {"over": "examples"})

    # --- update -------------------------------------------------------------------------------
    def new_weights(self, key: str, layer: int, cell) -> Explanation:
        new = self.rows(self.step.update[layer - 1].weights)
        if len(cell) != 2:
            raise NotExplained(f"{key} is a matrix: give its cell as [i, j]", "cell")
        i, j = (cell[1], cell[0]) if self.columns else cell
        if not (0 <= i < new.shape[0] and 0 <= j < new.shape[1]):
            raise NotExplained(f"cell {list(cell)} is outside {key}", "cell")
        old = self.weight(layer, i, j)
        grad = Ref(f"s{self.k}.backward.{layer}.grad_weights", old.cell,
                   float(self.rows(self._record(layer).grad_weights)[i, j]))
        trainable = self.spec.layers[layer - 1].train_weights
        return self._update(key, tuple(cell), float(new[i, j]), old, grad, f"W{layer}", old.cell, trainable)

    def new_bias(self, key: str, layer: int, cell) -> Explanation:
        new = self.step.update[layer - 1].bias
        if new is None:
            raise NotExplained(f"layer {layer} has no bias")
        j = self._vector_cell(key, cell, len(new))
        old = Ref(f"s{self.k}.parameters.{layer}.bias", (j,), float(self.biases[layer - 1][j]))
        grad = Ref(f"s{self.k}.backward.{layer}.grad_bias", (j,), float(self._record(layer).grad_bias[j]))
        trainable = self.spec.layers[layer - 1].train_bias
        return self._update(key, tuple(cell), float(new[j]), old, grad, f"b{layer}", (j,), trainable)

    def _update(self, key, cell, value, old: Ref, grad: Ref, name: str, at: tuple[int, ...], trainable: bool):
        config = self.spec.optimizer
        rate = config.learning_rate
        if not trainable:
            return Explanation(key, cell, value, "frozen", (Term((old,)),), {"frozen": True})
        state = self.step.optimizer_state
        if config.name == "adam":
            first = float(np.asarray(state.first_moment[name])[at])
            second = float(np.asarray(state.second_moment[name])[at])
            t = state.step
            beta1, beta2 = config.betas
            m_hat, v_hat = first / (1 - beta1**t), second / (1 - beta2**t)
            return Explanation(key, cell, value, "adam", (Term((old,)), Term((grad,))),
                               {"rate": rate, "beta1": beta1, "beta2": beta2, "eps": config.eps, "t": t,
                                "first_moment": first, "second_moment": second, "m_hat": m_hat, "v_hat": v_hat,
                                "step_size": rate / (1 - beta1**t)})
        if config.momentum > 0:
            velocity = float(np.asarray(state.velocity[name])[at])
            previous = (velocity - grad.value) / config.momentum
            return Explanation(key, cell, value, "momentum", (Term((old,)), Term((grad,))),
                               {"rate": rate, "momentum": config.momentum, "nesterov": config.nesterov,
                                "velocity": velocity, "previous_velocity": previous})
        return Explanation(key, cell, value, "sgd", (Term((old,)), Term((-rate, grad))), {"rate": rate})


def _derivative(name: str, s: float, z: float, negative_slope: float) -> float:
    """f'(S) as the engine takes it (relu'(0) = 0, leaky_relu'(0) = the slope, sigmoid and tanh from Z)."""
    if name == "identity":
        return 1.0
    if name == "relu":
        return 1.0 if s > 0 else 0.0
    if name == "leaky_relu":
        return 1.0 if s > 0 else negative_slope
    if name == "sigmoid":
        return z * (1.0 - z)
    if name == "tanh":
        return 1.0 - z * z
    raise ValueError(f"no elementwise derivative for {name!r}")
