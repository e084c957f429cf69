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
from webapp.api.pipeline import to_json, trace_result

from . import script_parts as parts

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
    layout = parts.LAYOUT[body.get("layout", "rows")]
    layers = body["layers"]
    loss = {"reduction": "mean", "half": False, **body["loss"]}
    optimizer = body.get("optimizer") or {}
    kind = "adam" if optimizer.get("name") == "adam" else "momentum" if optimizer.get("momentum", 0) > 0 else "sgd"
    used = list(dict.fromkeys(layer["activation"] for layer in layers))
    fused = parts.FUSED.get((loss["name"], layers[-1]["activation"]))
    hinge = loss["name"] == "multiclass_hinge"
    batched = body.get("batch_size") is not None

    values = dict(layout)
    values.update(
        title=_docstring_safe(title or "A dense network, step by step"),
        filename=filename,
        layout=body.get("layout", "rows"),
        half="0.5" if loss["half"] else "1.0",
        half_text="1/2 " if loss["half"] else "",
        reduction_text=parts.REDUCTION[loss["reduction"]][1],
        classes=", classes" if hinge else "",
        correct=layout["entry"].format(name="y") + ("[:, None]" if body.get("layout", "rows") == "rows" else "[None, :]"),
        margin_entry=layout["entry"].format(name="margins"),
        grad_entry=layout["entry"].format(name="grad"),
        direction="grad + mu * velocity[name]" if optimizer.get("nesterov") else "velocity[name]",
    )
    values["scale"] = _fill(parts.REDUCTION[loss["reduction"]][0], values)
    loss_text, loss_body = parts.LOSSES[loss["name"]]
    optimizer_text, optimizer_code = parts.OPTIMIZERS[kind]
    helpers = [parts.SIGMOID] if "sigmoid" in used else []
    if "softmax" in used:
        helpers += [parts.SOFTMAX] + ([parts.LOG_SOFTMAX] if fused and loss["name"] == "cross_entropy" else [])
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
        trainable=parts.TRAINABLE,
        optimizer_text=optimizer_text,
        optimizer=_fill(optimizer_code, values),
        targets=_targets(body, values, hinge),
        show_state="".join(
            f'        for name, value in state["{field}"].items():\n            show(f"{field} {{name}}", value)\n'
            for field in parts.STATE_FIELDS[kind]
        )
        + ('        print(f"  optimizer step = {state[\'step\']}")\n' if kind != "sgd" else ""),
        **_batch_values(batched, hinge, values),
    )
    return _fill(_SCRIPT, values)


def trace_json(spec: Spec, request: dict | None = None) -> str:
    """The trace-v1 response of a spec, as the API answers it, and (given) the request it answers under
    `request`, so the export opens in the lab again (webapp.share.opening); raises TrainingOverflow (422)."""
    answer = trace_result(spec)
    return to_json(answer if request is None else {**answer, "request": request})


def _dispatch(used: list[str], which: int, values: dict) -> str:
    return "".join(f'    if name == "{name}":\n        {_fill(parts.ACTIVATIONS[name][which], values)}\n' for name in used)


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
        "batches": parts.BATCHES,
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
