"""The PyTorch export of a state: the same network in `torch.nn`, its gradients by autograd.

`torch_script(body)` writes a short program that builds the request's network
from `torch.nn.Linear` layers in float64 with the state's weights, computes the
loss with the same reduction and factor, lets autograd find every gradient and
`torch.optim` take every step, and prints the same quantities, in the same
format, as the NumPy script (webapp.share.script). Nothing of it is the
engine's code: where its numbers equal the trace's, two implementations agree.

PyTorch stores a Linear layer's weight as out x in and computes with examples
as rows; the script converts from and to the request's layout (rows: W is
in x out, so weight = W^T; columns: W is out x in, and X, S, Z are transposed)
and prints everything as the request writes it. The losses are written out
rather than taken from `torch.nn.functional` where the library's forms differ
from the contract's (softplus's threshold, binary cross-entropy's clamp of the
log at -100); the fused output forms use autograd through log-softmax and
`binary_cross_entropy_with_logits`, which are exact at saturation.
"""
from __future__ import annotations

import pprint
from string import Template

_SCRIPT = '''#!/usr/bin/env python3
"""${title}

Exported from Backprop Visualizer: the network of the request below in PyTorch
(torch.nn, float64), its gradients by autograd and its updates by torch.optim.
Prints the forward pass, loss, backward pass and update of every step with each
number in full precision (Python's repr), as the NumPy export does:

    python ${filename}

Layout "${layout}": ${shapes}.
PyTorch stores a Linear layer's weight as out x in and puts examples in rows:
${orientation}
Everything printed is in the request's layout.
Loss: L = ${loss_text}.
Optimizer: ${optimizer_text}${batches_text}
"""
import torch
${numpy_import}
REQUEST = ${request}
OPTIMIZER = REQUEST.get("optimizer") or {}  # SGD with learning rate 0.1 where the request names none
COLUMNS = REQUEST.get("layout", "rows") == "columns"
LOSS = {"reduction": "mean", "half": False, "margin": 1.0, **REQUEST["loss"]}
FUSED = ${fused}  # the output layer's loss computed from its pre-activation (stable at saturation)
torch.set_default_dtype(torch.float64)


def as_layout(value):
    """A (N x d) tensor of examples in rows, or a weight (out x in), as the request writes it."""
    return value.T if COLUMNS else value


def show(name, value):
    """Print a number, vector or matrix with every float in full precision."""
    if value is None:
        print(f"  {name} = None")
    elif isinstance(value, torch.Tensor) and value.dim() == 0:
        print(f"  {name} = {float(value)!r}")
    else:
        print(f"  {name} = {value.tolist()}")


def weight_as_written(layer):
    """The layer's weight in the request's orientation: in x out for rows, out x in for columns."""
    return layer.weight.detach().T if not COLUMNS else layer.weight.detach()


def build():
    """One torch.nn.Linear per layer, in float64, with the request's weights and biases."""
    layers = torch.nn.ModuleList()
    for raw in REQUEST["layers"]:
        weight = torch.tensor(raw["weights"])
        weight = weight if COLUMNS else weight.T  # PyTorch's out x in
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=raw.get("bias") is not None)
        with torch.no_grad():
            linear.weight.copy_(weight)
            if linear.bias is not None:
                linear.bias.copy_(torch.tensor(raw["bias"]))
        layers.append(linear)
    return layers


def activation(name, s, negative_slope):
    """Z = f(S), examples in rows; autograd differentiates each as the engine does at 0."""
    if name == "identity":
        return s
    if name == "relu":
        return torch.relu(s)  # relu'(0) = 0
    if name == "leaky_relu":
        return torch.nn.functional.leaky_relu(s, negative_slope)  # leaky_relu'(0) = the slope
    if name == "sigmoid":
        return torch.sigmoid(s)
    if name == "tanh":
        return torch.tanh(s)
    if name == "softmax":
        return torch.softmax(s, dim=1)
    raise ValueError(f"this script has no activation {name!r}")


def scale(output):
    """1 over the reduction's divisor: N (mean), N dL (mean_all) or 1 (sum)."""
    n, width = output.shape
    return 1.0 / {"mean": n, "mean_all": n * width, "sum": 1}[LOSS["reduction"]]


def loss_of_output(y, t, classes):
    """L from the output Y (examples in rows); a zero target contributes nothing (0 log 0 = 0)."""
    name, c = LOSS["name"], scale(y)
    if name == "squared_error":
        return (0.5 if LOSS["half"] else 1.0) * c * ((y - t) ** 2).sum()
    if name == "cross_entropy":
        return -c * (t * torch.log(torch.where(t == 0, 1.0, y))).sum()
    if name == "binary_cross_entropy":
        positive = t * torch.log(torch.where(t == 0, 1.0, y))
        negative = (1 - t) * torch.log1p(-torch.where(t == 1, 0.0, y))
        return -c * (positive + negative).sum()
    if name == "multiclass_hinge":
        correct = torch.nn.functional.one_hot(classes, y.shape[1]).bool()
        margins = (y - y.gather(1, classes[:, None]) + LOSS["margin"]).masked_fill(correct, 0.0)
        return c * torch.relu(margins).sum()  # a term exactly at 0 passes no gradient
    if name == "linear":
        return c * (t * y).sum()  # the targets are the upstream gradient dL/dY
    raise ValueError(f"this script has no loss {name!r}")


def loss_of_pre_activation(s, t):
    """L straight from the output layer's pre-activation S, where the loss and activation fuse."""
    c = scale(s)
    if LOSS["name"] == "cross_entropy":
        return -c * (t * torch.log_softmax(s, dim=1)).sum()
    return c * torch.nn.functional.binary_cross_entropy_with_logits(s, t, reduction="sum")


def forward(layers, x):
    """Pre-activations S and activations Z of layers 1..L (examples in rows), kept for their gradients."""
    S, Z = [], [x]
    for layer, raw in zip(layers, REQUEST["layers"]):
        s = layer(Z[-1])
        z = activation(raw["activation"], s, raw.get("negative_slope", 0.01))
        s.retain_grad()
        z.retain_grad()
        S.append(s)
        Z.append(z)
    return S, Z


def loss(S, Z, t, classes):
    return loss_of_pre_activation(S[-1], t) if FUSED else loss_of_output(Z[-1], t, classes)


def output_gradient(y, t, classes):
    """dL/dY, or None where a saturated output makes it infinite (the fused form still gives delta)."""
    y = y.detach().requires_grad_()
    (grad,) = torch.autograd.grad(loss_of_output(y, t, classes), y)
    return grad if torch.isfinite(grad).all() else None


def optimizer_for(layers):
    """torch.optim's SGD (with momentum, Nesterov) or Adam over the trainable parameters, from the request's state."""
    params = {}
    for l, (layer, raw) in enumerate(zip(layers, REQUEST["layers"]), start=1):
        if raw.get("train_weights", True):
            params[f"W{l}"] = layer.weight
        if layer.bias is not None and raw.get("train_bias", True):
            params[f"b{l}"] = layer.bias
    rate = OPTIMIZER.get("learning_rate", 0.1)
    start = OPTIMIZER.get("state") or {}
    if not params:
        return None, params  # every parameter frozen: torch.optim takes no empty list, and nothing moves
    if OPTIMIZER.get("name") == "adam":
        betas = tuple(OPTIMIZER.get("betas", (0.9, 0.999)))
        optimizer = torch.optim.Adam(list(params.values()), lr=rate, betas=betas, eps=OPTIMIZER.get("eps", 1e-8))
        if start:
            for name, param in params.items():
                optimizer.state[param] = {
                    "step": torch.tensor(float(start.get("step", 0))),
                    "exp_avg": given_state(start, "first_moment", name, param),
                    "exp_avg_sq": given_state(start, "second_moment", name, param),
                }
    else:
        mu = OPTIMIZER.get("momentum", 0.0)
        optimizer = torch.optim.SGD(list(params.values()), lr=rate, momentum=mu, nesterov=OPTIMIZER.get("nesterov", False))
        if mu > 0 and start.get("velocity") is not None:
            for name, param in params.items():
                optimizer.state[param] = {"momentum_buffer": given_state(start, "velocity", name, param)}
    return optimizer, params


def given_state(start, field, name, param):
    """An optimizer array of the request's state (in its layout) in PyTorch's orientation, or zeros."""
    values = start.get(field)
    if values is None:
        return torch.zeros_like(param)
    value = torch.tensor(values[name])
    return value.T.clone() if name.startswith("W") and not COLUMNS else value
${batches}

def main():
    layers = build()
    X = torch.tensor(REQUEST["inputs"])
    X = X.T if COLUMNS else X  # examples in rows
${targets}    optimizer, trainable = optimizer_for(layers)
    kind = "adam" if OPTIMIZER.get("name") == "adam" else "momentum" if OPTIMIZER.get("momentum", 0.0) > 0 else "sgd"
    count = (OPTIMIZER.get("state") or {}).get("step", 0)

    for step in range(REQUEST.get("steps", 1)):
        print(f"step {step}")
${batch}        S, Z = forward(layers, x)
        for l in range(1, len(S) + 1):
            print(f"forward layer {l}")
            show(f"S{l}", as_layout(S[l - 1].detach()))
            show(f"Z{l}", as_layout(Z[l].detach()))

        value = loss(S, Z, t, classes)
        grad_y = output_gradient(Z[-1], t, classes)
        print("loss")
        show("L", value.detach())
        show("dL/dY", None if grad_y is None else as_layout(grad_y))

        layers.zero_grad(set_to_none=True)  # every gradient, a frozen parameter's too
        value.backward()
        for l in range(len(layers), 0, -1):
            layer = layers[l - 1]
            grad_z = grad_y if l == len(layers) else Z[l].grad
            print(f"backward layer {l}")
            show(f"dL/dZ{l}", None if grad_z is None else as_layout(grad_z))
            show(f"delta{l}", as_layout(S[l - 1].grad))
            show(f"dL/dW{l}", layer.weight.grad.T if not COLUMNS else layer.weight.grad)
            show(f"dL/db{l}", None if layer.bias is None else layer.bias.grad)

        if optimizer is not None:
            optimizer.step()
        count += 1
        print("update")
        for l, layer in enumerate(layers, start=1):
            show(f"W{l}", weight_as_written(layer))
            show(f"b{l}", None if layer.bias is None else layer.bias.detach())
        show_state(kind, layers, optimizer, trainable, count)

    with torch.no_grad():
        S, Z = forward_without_grad(layers, X)
        print("final")
        show("L", loss(S, Z, T, all_classes))


def forward_without_grad(layers, x):
    S, Z = [], [x]
    for layer, raw in zip(layers, REQUEST["layers"]):
        S.append(layer(Z[-1]))
        Z.append(activation(raw["activation"], S[-1], raw.get("negative_slope", 0.01)))
    return S, Z


def show_state(kind, layers, optimizer, trainable, count):
    """The optimizer's velocity or moments of every parameter (a frozen one keeps its start), and its step."""
    if kind == "sgd":
        return
    fields = {"momentum": (("velocity", "momentum_buffer"),),
              "adam": (("first_moment", "exp_avg"), ("second_moment", "exp_avg_sq"))}[kind]
    start = OPTIMIZER.get("state") or {}
    for field, key in fields:
        for l, layer in enumerate(layers, start=1):
            for name, param in ((f"W{l}", layer.weight), (f"b{l}", layer.bias)):
                if param is None:
                    continue
                held = optimizer.state.get(param, {}).get(key) if name in trainable else None  # trainable: optimizer
                value = held if held is not None else given_state(start, field, name, param)
                show(f"{field} {name}", value.T if name.startswith("W") and not COLUMNS else value)
    print(f"  optimizer step = {count}")


if __name__ == "__main__":
    main()
'''

_BATCHES = '''

def batch_indices(step, num_examples):
    """The examples of update `step`, in increasing order, as the engine draws them (NumPy's generator).

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

_LOSS_TEXT = {
    "squared_error": "${half}${divisor} sum (Y - T)^2",
    "cross_entropy": "-${divisor} sum T log Y",
    "binary_cross_entropy": "-${divisor} sum (T log Y + (1 - T) log(1 - Y))",
    "multiclass_hinge": "${divisor} sum over examples and wrong classes j of max(0, Y_j - Y_class + margin)",
    "linear": "${divisor} sum T * Y (T is the upstream gradient dL/dY)",
}
_DIVISOR = {"mean": "1/N", "mean_all": "1/(N dL)", "sum": ""}
_FUSED = {("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")}


def torch_script(body: dict, title: str | None = None, filename: str = "backprop_torch.py") -> str:
    """A PyTorch script that recomputes the trace of `body` (a valid trace request) and prints every number."""
    layout = body.get("layout", "rows")
    loss = {"reduction": "mean", "half": False, **body["loss"]}
    optimizer = body.get("optimizer") or {}
    batched = body.get("batch_size") is not None
    hinge = loss["name"] == "multiclass_hinge"
    divisor = _DIVISOR[loss["reduction"]]
    values = {
        "title": " ".join((title or "A dense network, step by step").replace("\\", "/").replace('"', "'").split()),
        "filename": filename,
        "layout": layout,
        "shapes": "X is N x d0, W_l is d(l-1) x d(l), T is N x dL" if layout == "rows"
        else "X is d0 x N, W_l is d(l) x d(l-1), T is dL x N",
        "orientation": "weight = W_l^T (W_l is in x out here); S_l = Z_(l-1) W_l + b_l as Z_(l-1) weight^T + b_l."
        if layout == "rows" else
        "weight = W_l (out x in, as here); the script works with X^T and prints S_l = W_l Z_(l-1) + b_l.",
        "loss_text": Template(_LOSS_TEXT[loss["name"]]).substitute(
            half="1/2 " if loss["half"] else "", divisor=f"{divisor} " if divisor else ""),
        "optimizer_text": _optimizer_text(optimizer),
        "batches_text": "\nBatches: each update uses a mini-batch (batch_indices, NumPy's generator as the engine's); "
        "the final loss is over every example." if batched else "",
        "numpy_import": "import numpy as np  # only for the engine's order of mini-batches\n" if batched else "",
        "request": pprint.pformat(body, width=110, sort_dicts=False),
        "fused": repr((loss["name"], body["layers"][-1]["activation"]) in _FUSED),
        "batches": _BATCHES if batched else "",
        "targets": _targets(body, hinge),
        "batch": (
            "        batch = torch.from_numpy(batch_indices(count, X.shape[0]))\n"
            '        show("batch", batch)\n'
            "        x, t = X[batch], T[batch]\n"
            "        classes = None if all_classes is None else all_classes[batch]\n"
            if batched else "        x, t, classes = X, T, all_classes\n"
        ),
    }
    return Template(_SCRIPT).substitute(values)


def _optimizer_text(optimizer: dict) -> str:
    rate = optimizer.get("learning_rate", 0.1)
    if optimizer.get("name") == "adam":
        betas = optimizer.get("betas", (0.9, 0.999))
        return f"torch.optim.Adam(lr={rate!r}, betas={tuple(betas)!r}, eps={optimizer.get('eps', 1e-8)!r})"
    momentum = optimizer.get("momentum", 0.0)
    if momentum > 0:
        return f"torch.optim.SGD(lr={rate!r}, momentum={momentum!r}, nesterov={bool(optimizer.get('nesterov', False))})"
    return f"torch.optim.SGD(lr={rate!r})"


def _targets(body: dict, hinge: bool) -> str:
    if body.get("labels") is not None:
        lines = [
            '    labels = torch.tensor(REQUEST["labels"])',
            "    # One-hot targets: class c of an example (0-based) is output unit c.",
            "    T = torch.nn.functional.one_hot(labels, layers[-1].out_features).to(torch.float64)",
            f"    all_classes = {'labels' if hinge else 'None'}",
        ]
    else:
        lines = [
            '    T = torch.tensor(REQUEST["targets"])',
            "    T = T.T if COLUMNS else T",
            "    all_classes = T.argmax(dim=1) if LOSS['name'] == 'multiclass_hinge' else None"
            "  # the class of an example: its largest target",
        ]
    return "\n".join(lines) + "\n"
