"""The pieces of the NumPy export (webapp.share.script): what changes with the layout, each activation
and loss in the form the engine computes it, the optimizers' update rules, the mini-batch order.

Each piece is source text with `${...}` holes that the script fills in.
"""
from __future__ import annotations

# What changes with the layout. Names in the generated code: Z[l - 1] is the layer's input,
# params["W{l}"] its weights; `classes` are class indices per example.
LAYOUT = {
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
ACTIVATIONS = {
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

SIGMOID = '''

def sigmoid(s):
    """Logistic function without overflow: exp is only taken of -|s|."""
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
'''

SOFTMAX = '''

def softmax(s):
    """Softmax of each example, shifted by its largest entry so exp never overflows."""
    e = np.exp(s - s.max(axis=${unit_axis}, keepdims=True))
    return e / e.sum(axis=${unit_axis}, keepdims=True)
'''

LOG_SOFTMAX = '''

def log_softmax(s):
    shifted = s - s.max(axis=${unit_axis}, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=${unit_axis}, keepdims=True))
'''

# The reduction's factor (t holds the targets of the examples at hand) and its words.
REDUCTION = {
    "mean": ("1.0 / t.shape[${example_axis}]", "(1/N) sum over the N examples"),
    "sum": ("1.0", "sum over the examples"),
    "mean_all": ("1.0 / t.size", "(1/(N dL)) sum over every output entry"),
}

LOSSES = {
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
    "linear": (
        "${reduction_text} of sum_k t_k y_k (the targets are the upstream gradient dL/dY)",
        """    return scale * np.sum(t * y), scale * t
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

FUSED = {
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
TRAINABLE = '''

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

OPTIMIZERS = {
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

STATE_FIELDS = {"sgd": (), "momentum": ("velocity",), "adam": ("first_moment", "second_moment")}

BATCHES = '''

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
