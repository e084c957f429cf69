"""Exports of a state: the trace as JSON, and a NumPy script that reproduces it.

`python_script(body)` writes a short program that needs nothing but NumPy. It
holds the request as a literal, computes in the request's own layout (examples
as rows or as columns, as the text it came from writes them) and prints the
forward pass, the loss, the backward pass and the update of every step with
each float in full precision (repr), so its numbers can be checked against
the trace's. Only the activations and the loss the request uses are written
out, each in the same form the engine computes it (stable sigmoid and
softmax, the fused cross-entropy forms, the full softmax Jacobian).
"""
from __future__ import annotations

import pprint
from string import Template

from engine.spec import Spec

from .api import to_json, trace_result

# What changes with the layout. Names in the generated code: Z[l - 1] is the layer's input,
# params["W{l}"] its weights; `classes` are class indices per example.
_LAYOUT = {
    "rows": {
        "unit_axis": "1",
        "example_axis": "0",
        "shapes": "X is N x d0, W_l is d(l-1) x d(l), T is N x dL",
        "equations": (
            "    S_l = Z_(l-1) W_l + 1_N b_l,   Z_l = f_l(S_l),   Z_0 = X,\n"
            "    delta_l = dL/dS_l,   dL/dW_l = Z_(l-1)^T delta_l,   dL/db_l = 1_N^T delta_l,\n"
            "    dL/dZ_(l-1) = delta_l W_l^T."
        ),
        "pre_activation": 'Z[-1] @ params[f"W{l}"]',
        "add_bias": 's + params[f"b{l}"]',
        "grad_weights": "Z[l - 1].T @ delta",
        "grad_bias": "delta.sum(axis=0)",
        "grad_below": 'delta @ params[f"W{l}"].T',
        "outputs": 'len(REQUEST["layers"][-1]["weights"][0])',
        "one_hot": "T = np.zeros((len(labels), outputs))\n    T[np.arange(len(labels)), labels] = 1.0",
        "examples": "X.shape[0]",
        "select": "{name}[batch]",
        "entry": "{name}[examples, classes]",
    },
    "columns": {
        "unit_axis": "0",
        "example_axis": "1",
        "shapes": "X is d0 x N, W_l is d(l) x d(l-1), T is dL x N",
        "equations": (
            "    S_l = W_l Z_(l-1) + b_l 1_N^T,   Z_l = f_l(S_l),   Z_0 = X,\n"
            "    delta_l = dL/dS_l,   dL/dW_l = delta_l Z_(l-1)^T,   dL/db_l = delta_l 1_N,\n"
            "    dL/dZ_(l-1) = W_l^T delta_l."
        ),
        "pre_activation": 'params[f"W{l}"] @ Z[-1]',
        "add_bias": 's + params[f"b{l}"][:, None]',
        "grad_weights": "delta @ Z[l - 1].T",
        "grad_bias": "delta.sum(axis=1)",
        "grad_below": 'params[f"W{l}"].T @ delta',
        "outputs": 'len(REQUEST["layers"][-1]["weights"])',
        "one_hot": "T = np.zeros((outputs, len(labels)))\n    T[labels, np.arange(len(labels))] = 1.0",
        "examples": "X.shape[1]",
        "select": "{name}[:, batch]",
        "entry": "{name}[classes, examples]",
    },
}

# Z = f(S), and dL/dS from dL/dZ, as the engine computes them.
_ACTIVATIONS = {
    "identity": ("return s.copy()", "return grad_z.copy()"),
    "relu": (
        "return np.maximum(s, 0.0)",
        "return np.where(s > 0, grad_z, 0.0)  # relu'(0) is taken as 0, as PyTorch does",
    ),
    "leaky_relu": (
        "return np.where(s > 0, s, negative_slope * s)",
        "return np.where(s > 0, grad_z, negative_slope * grad_z)  # leaky_relu'(0) is the slope, as in PyTorch",
    ),
    "sigmoid": ("return sigmoid(s)", "return grad_z * z * (1.0 - z)"),
    "tanh": ("return np.tanh(s)", "return grad_z * (1.0 - z * z)"),
    "softmax": (
        "return softmax(s)",
        "# The full Jacobian of each example's softmax: dL/dS = Z * (dL/dZ - sum_k dL/dZ_k Z_k).\n"
        "        return z * (grad_z - (grad_z * z).sum(axis=${unit_axis}, keepdims=True))",
    ),
}

_SIGMOID = '''

def sigmoid(s):
    """Logistic function without overflow: exp is only taken of -|s|."""
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
'''

_SOFTMAX = '''

def softmax(s):
    """Softmax of each example, shifted by its largest entry so exp never overflows."""
    e = np.exp(s - s.max(axis=${unit_axis}, keepdims=True))
    return e / e.sum(axis=${unit_axis}, keepdims=True)
'''

_LOG_SOFTMAX = '''

def log_softmax(s):
    shifted = s - s.max(axis=${unit_axis}, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=${unit_axis}, keepdims=True))
'''

# The reduction's factor (t holds the targets of the examples at hand) and its words.
_REDUCTION = {
    "mean": ("1.0 / t.shape[${example_axis}]", "(1/N) sum over the N examples"),
    "sum": ("1.0", "sum over the examples"),
    "mean_all": ("1.0 / t.size", "(1/(N dL)) sum over every output entry"),
}

_LOSSES = {
    "squared_error": (
        "${half_text}${reduction_text} of ||y - t||^2",
        """    c = ${half}
    diff = y - t
    return c * scale * np.sum(diff * diff), 2.0 * c * scale * diff
""",
    ),
    "cross_entropy": (
        "-${reduction_text} of sum_k t_k log y_k",
        """    with np.errstate(divide="ignore", invalid="ignore"):  # y may saturate to exactly 0
        # A zero target contributes nothing, even where y is 0 (0 log 0 = 0).
        terms = np.where(t == 0, 0.0, t * np.log(y))
        grad = np.where(t == 0, 0.0, -t / y)
    return -scale * np.sum(terms), scale * grad
""",
    ),
    "binary_cross_entropy": (
        "-${reduction_text} of sum_k [t_k log y_k + (1 - t_k) log(1 - y_k)]",
        """    with np.errstate(divide="ignore", invalid="ignore"):  # y may saturate to exactly 0 or 1
        positive = np.where(t == 0, 0.0, t * np.log(y))
        negative = np.where(t == 1, 0.0, (1 - t) * np.log1p(-y))
        grad = np.where(t == 0, 0.0, -t / y) + np.where(t == 1, 0.0, (1 - t) / (1 - y))
    return -scale * np.sum(positive + negative), scale * grad
""",
    ),
    "multiclass_hinge": (
        "${reduction_text} of sum over k != class of max(0, y_k - y_class + margin)",
        """    margin = REQUEST["loss"].get("margin", 1.0)
    examples = np.arange(len(classes))
    margins = y - ${correct} + margin
    ${margin_entry} = 0.0
    # A term exactly at 0 passes no gradient (the kink is taken as PyTorch's relu takes 0).
    active = (margins > 0).astype(np.float64)
    grad = active.copy()
    ${grad_entry} = -active.sum(axis=${unit_axis})
    return scale * np.sum(margins * active), scale * grad
""",
    ),
}

_FUSED = {
    ("cross_entropy", "softmax"): (
        "Cross-entropy straight from the softmax's pre-activation (log-sum-exp):\n"
        "    dL/dS = scale (softmax(S) sum_k t_k - T), exact even for logits of +-1000.",
        """    log_p = log_softmax(s)
    total = np.where(t == 0, 0.0, t * log_p)
    mass = t.sum(axis=${unit_axis}, keepdims=True)
    delta = softmax(s) * mass - t
    return -scale * np.sum(total), scale * delta
""",
    ),
    ("binary_cross_entropy", "sigmoid"): (
        "Binary cross-entropy straight from the sigmoid's pre-activation (softplus):\n"
        "    dL/dS = scale (sigmoid(S) - T), exact even for logits of +-1000.",
        """    softplus = np.maximum(s, 0.0) + np.log1p(np.exp(-np.abs(s)))
    return scale * np.sum(softplus - t * s), scale * (sigmoid(s) - t)
""",
    ),
}

# Optimizers, PyTorch's update rules (torch.optim.SGD with dampening 0, torch.optim.Adam).
_TRAINABLE = '''

def trainable(params):
    """Names of the parameters that the layers' train_weights / train_bias flags leave trainable."""
    names = set()
    for l, layer in enumerate(REQUEST["layers"], start=1):
        if layer.get("train_weights", True):
            names.add(f"W{l}")
        if f"b{l}" in params and layer.get("train_bias", True):
            names.add(f"b{l}")
    return names
'''

_OPTIMIZERS = {
    "sgd": (
        "SGD, p <- p - r dL/dp",
        '''

def initial_state(params):
    """Plain SGD keeps nothing but the count of updates."""
    return {"step": (OPTIMIZER.get("state") or {}).get("step", 0)}


def update(params, grads, state):
    """p <- p - r dL/dp for every trainable parameter; a frozen one keeps its value."""
    rate = OPTIMIZER.get("learning_rate", 0.1)
    names = trainable(params)
    new = {name: value - rate * grads[name] if name in names else value for name, value in params.items()}
    return new, {"step": state["step"] + 1}
''',
    ),
    "momentum": (
        "SGD with momentum mu (PyTorch's rule), v <- mu v + dL/dp, p <- p - r v\n"
        "    (Nesterov: p <- p - r (dL/dp + mu v)); the velocity starts at zero.",
        '''

def initial_state(params):
    """Zero velocity for every parameter, or the velocity the request's optimizer state gives."""
    start = OPTIMIZER.get("state") or {}
    velocity = start.get("velocity")
    return {
        "step": start.get("step", 0),
        "velocity": {
            name: np.zeros_like(value) if velocity is None else np.array(velocity[name], dtype=np.float64)
            for name, value in params.items()
        },
    }


def update(params, grads, state):
    """One momentum step for every trainable parameter; a frozen one keeps its value and velocity."""
    rate, mu = OPTIMIZER.get("learning_rate", 0.1), OPTIMIZER["momentum"]
    new, velocity = dict(params), dict(state["velocity"])
    for name in trainable(params):
        grad = grads[name]
        velocity[name] = mu * state["velocity"][name] + grad
        direction = ${direction}
        new[name] = params[name] - rate * direction
    return new, {"step": state["step"] + 1, "velocity": velocity}
''',
    ),
    "adam": (
        "Adam (PyTorch's order of operations), at t = step + 1:\n"
        "    m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,\n"
        "    p <- p - (r / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps); the moments start at zero.",
        '''

def initial_state(params):
    """Zero moments for every parameter, or the moments the request's optimizer state gives."""
    start = OPTIMIZER.get("state") or {}

    def moment(field):
        given = start.get(field)
        return {
            name: np.zeros_like(value) if given is None else np.array(given[name], dtype=np.float64)
            for name, value in params.items()
        }

    return {"step": start.get("step", 0), "first_moment": moment("first_moment"), "second_moment": moment("second_moment")}


def update(params, grads, state):
    """One Adam step for every trainable parameter; a frozen one keeps its value and moments."""
    rate = OPTIMIZER.get("learning_rate", 0.1)
    beta1, beta2 = OPTIMIZER.get("betas", (0.9, 0.999))
    eps = OPTIMIZER.get("eps", 1e-8)
    t = state["step"] + 1
    step_size = rate / (1.0 - beta1**t)
    correction2_sqrt = np.sqrt(1.0 - beta2**t)
    new, first, second = dict(params), dict(state["first_moment"]), dict(state["second_moment"])
    for name in trainable(params):
        grad = grads[name]
        first[name] = beta1 * state["first_moment"][name] + (1.0 - beta1) * grad
        second[name] = beta2 * state["second_moment"][name] + (1.0 - beta2) * grad * grad
        denominator = np.sqrt(second[name]) / correction2_sqrt + eps
        new[name] = params[name] - step_size * (first[name] / denominator)
    return new, {"step": t, "first_moment": first, "second_moment": second}
''',
    ),
}

_STATE_FIELDS = {"sgd": (), "momentum": ("velocity",), "adam": ("first_moment", "second_moment")}

_BATCHES = '''

def batch_indices(step, num_examples):
    """The examples of update `step`, in increasing order.

    Each epoch takes its own permutation of the examples, drawn from a generator
    seeded with (shuffle_seed, epoch), and cuts it into batches of batch_size; the
    last may be smaller. Update k is batch k mod B of epoch k // B.
    """
    batch_size = REQUEST["batch_size"]
    if batch_size >= num_examples:
        return np.arange(num_examples)
    per_epoch = -(-num_examples // batch_size)
    epoch, position = divmod(step, per_epoch)
    order = np.random.default_rng([REQUEST.get("shuffle_seed", 0), epoch]).permutation(num_examples)
    return np.sort(order[position * batch_size : (position + 1) * batch_size])
'''

_SCRIPT = '''#!/usr/bin/env python3
"""${title}

Exported from Backprop Visualizer. Rebuilds the network of the request below
and prints its forward pass, loss, backward pass and update for every step,
each number in full precision (Python's repr). Needs only NumPy:

    python ${filename}

Layout "${layout}": ${shapes}.
${equations}
Loss: L = ${loss_text}.
Optimizer: ${optimizer_text}${batches_text}
"""
import numpy as np

REQUEST = ${request}
OPTIMIZER = REQUEST.get("optimizer") or {}  # SGD with learning rate 0.1 where the request names none


def show(name, value):
    """Print a number, vector or matrix with every float in full precision."""
    if value is None:
        print(f"  {name} = None")
    elif np.ndim(value) == 0:
        print(f"  {name} = {float(value)!r}")
    else:
        print(f"  {name} = {np.asarray(value).tolist()}")
${helpers}

def activation(name, s, negative_slope):
    """Z = f(S)."""
${activation_forward}    raise ValueError(f"this script has no activation {name!r}")


def activation_backward(name, s, z, grad_z, negative_slope):
    """dL/dS from dL/dZ, where Z = f(S): dL/dZ * f'(S) for an elementwise f."""
${activation_backward}    raise ValueError(f"this script has no activation {name!r}")


def loss_and_gradient(y, t${classes}):
    """L = ${loss_text}, and dL/dY."""
    scale = ${scale}
${loss_body}${fused_function}

def forward(params, X):
    """Pre-activations S[l - 1] and activations Z[l] of the layers l = 1..L (Z[0] is X)."""
    S, Z = [], [X]
    for l, layer in enumerate(REQUEST["layers"], start=1):
        s = ${pre_activation}
        if f"b{l}" in params:
            s = ${add_bias}
        S.append(s)
        Z.append(activation(layer["activation"], s, layer.get("negative_slope", 0.01)))
    return S, Z


def loss_and_output_delta(S, Z, T${classes}):
    """L, dL/dY and dL/dS of the output layer."""
    loss, grad_y = loss_and_gradient(Z[-1], T${classes})
${output_delta}    return loss, grad_y, delta


def backward(params, S, Z, grad_y, delta):
    """Print dL/dZ, delta, dL/dW and dL/db of the layers L..1; return the gradients by name."""
    layers = REQUEST["layers"]
    grads = {}
    # dL/dY is left out where a saturated output makes it infinite (the fused form gave delta).
    grad_z = grad_y if np.all(np.isfinite(grad_y)) else None
    for l in range(len(layers), 0, -1):
        layer = layers[l - 1]
        if l < len(layers):
            delta = activation_backward(layer["activation"], S[l - 1], Z[l], grad_z, layer.get("negative_slope", 0.01))
        grads[f"W{l}"] = ${grad_weights}
        if f"b{l}" in params:
            grads[f"b{l}"] = ${grad_bias}
        print(f"backward layer {l}")
        show(f"dL/dZ{l}", grad_z)
        show(f"delta{l}", delta)
        show(f"dL/dW{l}", grads[f"W{l}"])
        show(f"dL/db{l}", grads.get(f"b{l}"))
        grad_z = ${grad_below}
    return grads
${trainable}${optimizer}${batches}

def main():
    params = {}
    for l, layer in enumerate(REQUEST["layers"], start=1):
        params[f"W{l}"] = np.array(layer["weights"], dtype=np.float64)
        if layer.get("bias") is not None:
            params[f"b{l}"] = np.array(layer["bias"], dtype=np.float64)
    X = np.array(REQUEST["inputs"], dtype=np.float64)
${targets}    state = initial_state(params)

    for step in range(REQUEST.get("steps", 1)):
        print(f"step {step}")
${batch}        S, Z = forward(params, ${x})
        for l in range(1, len(S) + 1):
            print(f"forward layer {l}")
            show(f"S{l}", S[l - 1])
            show(f"Z{l}", Z[l])

        loss, grad_y, delta = loss_and_output_delta(S, Z, ${t}${classes_step})
        print("loss")
        show("L", loss)
        show("dL/dY", grad_y if np.all(np.isfinite(grad_y)) else None)

        grads = backward(params, S, Z, grad_y, delta)
        params, state = update(params, grads, state)
        print("update")
        for l in range(1, len(S) + 1):
            show(f"W{l}", params[f"W{l}"])
            show(f"b{l}", params.get(f"b{l}"))
${show_state}
    S, Z = forward(params, X)
    print("final")
    show("L", loss_and_output_delta(S, Z, T${classes})[0])


if __name__ == "__main__":
    main()
'''


def python_script(body: dict, title: str | None = None, filename: str = "backprop.py") -> str:
    """A NumPy-only script that recomputes the trace of `body` and prints every number.

    `body` must be a valid trace request (validated as the API validates it);
    the script holds it as written and applies the contract's defaults itself.
    """
    layout = _LAYOUT[body.get("layout", "rows")]
    layers = body["layers"]
    loss = {"reduction": "mean", "half": False, **body["loss"]}
    optimizer = body.get("optimizer") or {}
    kind = "adam" if optimizer.get("name") == "adam" else "momentum" if optimizer.get("momentum", 0) > 0 else "sgd"
    used = list(dict.fromkeys(layer["activation"] for layer in layers))
    fused = _FUSED.get((loss["name"], layers[-1]["activation"]))
    hinge = loss["name"] == "multiclass_hinge"
    batched = body.get("batch_size") is not None

    values = dict(layout)
    values.update(
        title=_docstring_safe(title or "A dense network, step by step"),
        filename=filename,
        layout=body.get("layout", "rows"),
        half="0.5" if loss["half"] else "1.0",
        half_text="1/2 " if loss["half"] else "",
        reduction_text=_REDUCTION[loss["reduction"]][1],
        classes=", classes" if hinge else "",
        correct=layout["entry"].format(name="y") + ("[:, None]" if body.get("layout", "rows") == "rows" else "[None, :]"),
        margin_entry=layout["entry"].format(name="margins"),
        grad_entry=layout["entry"].format(name="grad"),
        direction="grad + mu * velocity[name]" if optimizer.get("nesterov") else "velocity[name]",
    )
    values["scale"] = _fill(_REDUCTION[loss["reduction"]][0], values)
    loss_text, loss_body = _LOSSES[loss["name"]]
    optimizer_text, optimizer_code = _OPTIMIZERS[kind]
    helpers = [_SIGMOID] if "sigmoid" in used else []
    if "softmax" in used:
        helpers += [_SOFTMAX] + ([_LOG_SOFTMAX] if fused and loss["name"] == "cross_entropy" else [])
    values.update(
        loss_text=_fill(loss_text, values),
        loss_body=_fill(loss_body, values),
        request=pprint.pformat(body, width=110, sort_dicts=False),
        helpers="".join(_fill(helper, values) for helper in helpers),
        activation_forward=_dispatch(used, 0, values),
        activation_backward=_dispatch(used, 1, values),
        fused_function=_fused_function(fused, values),
        output_delta=(
            "    loss, delta = fused_loss_and_delta(S[-1], T)\n"
            if fused
            else '    last = REQUEST["layers"][-1]\n'
            '    delta = activation_backward(last["activation"], S[-1], Z[-1], grad_y, last.get("negative_slope", 0.01))\n'
        ),
        trainable=_TRAINABLE,
        optimizer_text=optimizer_text,
        optimizer=_fill(optimizer_code, values),
        targets=_targets(body, values, hinge),
        show_state="".join(
            f'        for name, value in state["{field}"].items():\n            show(f"{field} {{name}}", value)\n'
            for field in _STATE_FIELDS[kind]
        )
        + ('        print(f"  optimizer step = {state[\'step\']}")\n' if kind != "sgd" else ""),
        **_batch_values(batched, hinge, values),
    )
    return _fill(_SCRIPT, values)


def trace_json(spec: Spec) -> str:
    """The trace-v1 response of a spec, as the API answers it; raises TrainingOverflow (422)."""
    return to_json(trace_result(spec))


def _dispatch(used: list[str], which: int, values: dict) -> str:
    return "".join(f'    if name == "{name}":\n        {_fill(_ACTIVATIONS[name][which], values)}\n' for name in used)


def _fused_function(fused: tuple[str, str] | None, values: dict) -> str:
    if fused is None:
        return ""
    note, body = fused
    return f'\n\ndef fused_loss_and_delta(s, t):\n    """{note}\n    """\n    scale = {values["scale"]}\n' + _fill(body, values)


def _targets(body: dict, values: dict, hinge: bool) -> str:
    if body.get("labels") is not None:
        lines = [
            '    labels = np.array(REQUEST["labels"])',
            f"    outputs = {values['outputs']}  # units of the output layer",
            "    # One-hot targets: class c of an example (0-based) is output unit c.",
            f"    {values['one_hot']}",
        ]
        if hinge:
            lines.append("    classes = labels")
    else:
        lines = ['    T = np.array(REQUEST["targets"], dtype=np.float64)']
        if hinge:
            lines.append(f"    classes = np.argmax(T, axis={values['unit_axis']})  # the class of an example: its largest target")
    return "\n".join(lines) + "\n"


def _batch_values(batched: bool, hinge: bool, values: dict) -> dict:
    if not batched:
        return {"batches": "", "batches_text": "", "batch": "", "x": "X", "t": "T", "classes_step": values["classes"]}
    select = values["select"]
    lines = [
        f'        batch = batch_indices(state["step"], {values["examples"]})',
        '        show("batch", batch)',
        f"        X_batch, T_batch = {select.format(name='X')}, {select.format(name='T')}",
    ]
    if hinge:
        lines.append("        classes_batch = classes[batch]")
    return {
        "batches": _BATCHES,
        "batches_text": "\nBatches: each update uses a mini-batch (batch_indices); the final loss is over every example.",
        "batch": "\n".join(lines) + "\n",
        "x": "X_batch",
        "t": "T_batch",
        "classes_step": ", classes_batch" if hinge else "",
    }


def _docstring_safe(text: str) -> str:
    return " ".join(text.replace("\\", "/").replace('"', "'").split())


def _fill(template: str, values: dict) -> str:
    return Template(template).substitute(values)
