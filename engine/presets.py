"""Worked examples: the seeds' exercises and two classics, each a ready trace request.

`source` names the seed file and exercise; `convention` says, in the text's
own terms, how it writes the network and normalises the loss.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    description: str
    source: str
    convention: str
    request: dict

    def body(self) -> dict:
        """A fresh copy of the request, safe to modify."""
        return copy.deepcopy(self.request)


def _seed004(train_layer1: bool) -> dict:
    """Seed 004, Problem 2: one example, sigmoid then softmax, half the summed squared error."""
    frozen = {} if train_layer1 else {"train_weights": False, "train_bias": False}
    return {
        "layout": "rows",
        "layers": [
            {"weights": [[3.0, 6.0], [4.0, 5.0]], "bias": [1.0, -6.0], "activation": "sigmoid", **frozen},
            {"weights": [[2.0, 3.0], [4.0, 3.0]], "bias": [-1.0, -2.0], "activation": "softmax"},
        ],
        "inputs": [[1.0, 0.0]],
        "targets": [[0.0, 1.0]],
        "loss": {"name": "squared_error", "reduction": "sum", "half": True},
        "optimizer": {"name": "sgd", "learning_rate": 0.5},
        "steps": 1,
    }

PRESETS: tuple[Preset, ...] = (
    Preset(
        id="seed002-ex2",
        title="A 2-3-1 ReLU network, one SGD step",
        description="Four examples, no biases, squared error with 1/(2N): the exercise works every matrix by hand.",
        source="seed 002 (Assignment 1), Exercise 2",
        convention="examples as columns: S = W Z, L = 1/(2N) ||Y - T||_F^2, learning rate 0.5",
        request={
            "layout": "columns",
            "layers": [
                {"weights": [[0.6, 0.01], [0.7, 0.43], [0.0, 0.88]], "bias": None, "activation": "relu"},
                {"weights": [[0.02, 0.03, 0.09]], "bias": None, "activation": "identity"},
            ],
            "inputs": [[0.75, 0.2, -0.75, 0.2], [0.8, 0.05, 0.8, -0.05]],
            "targets": [[1.0, 1.0, -1.0, -1.0]],
            "loss": {"name": "squared_error", "reduction": "mean", "half": True},
            "optimizer": {"name": "sgd", "learning_rate": 0.5},
            "steps": 1,
        },
    ),
    Preset(
        id="seed004-p2-case1",
        title="Sigmoid then softmax with a squared loss, both layers trained",
        description="One example; the softmax Jacobian is applied in full because the loss is squared, not cross-entropy.",
        source="seed 004 (HW3), Problem 2, case 1",
        convention="examples as rows: S = X W + 1 b, L = 1/2 ||y_hat - y||^2, learning rate 0.5",
        request=_seed004(train_layer1=True),
    ),
    Preset(
        id="seed004-p2-case2",
        title="The same network with layer 1 frozen",
        description="Only W2 and b2 are updated; the gradients of layer 1 are still computed and shown.",
        source="seed 004 (HW3), Problem 2, case 2",
        convention="examples as rows: S = X W + 1 b, L = 1/2 ||y_hat - y||^2, learning rate 0.5",
        request=_seed004(train_layer1=False),
    ),
    Preset(
        id="quiz4-softmax-ce",
        title="Two-layer ReLU network with softmax and cross-entropy",
        description="A batch of five examples with class labels: dL/dS = (P - onehot)/N, then back through the ReLU.",
        source="seeds 000 and 001 (Quiz 4 and its answer), Problem 2",
        convention="examples as rows: Z = X W1 + 1_N b1, S = H W2 + 1_N b2, mean cross-entropy over N",
        request={
            "layout": "rows",
            "layers": [
                {
                    "weights": [[-0.81, 0.88, -0.52], [-0.72, -0.16, 0.59], [0.31, 0.34, 0.35], [0.3, 0.2, 0.86]],
                    "bias": [0.32, 0.41, 0.23],
                    "activation": "relu",
                },
                {
                    "weights": [[0.14, 0.66, 0.88], [0.03, -0.82, 0.0], [-0.81, -1.22, 0.7]],
                    "bias": [-0.37, -0.09, 0.37],
                    "activation": "softmax",
                },
            ],
            "inputs": [
                [-0.6, 0.22, 0.95, -0.24],
                [-0.33, -0.69, -0.14, -0.28],
                [0.68, 0.17, -0.26, -0.9],
                [-0.94, -0.96, -0.81, -0.34],
                [0.97, -0.75, -0.95, 0.89],
            ],
            "labels": [0, 0, 2, 1, 1],
            "loss": {"name": "cross_entropy", "reduction": "mean"},
            "optimizer": {"name": "sgd", "learning_rate": 0.1},
            "steps": 1,
        },
    ),
    Preset(
        id="quiz4-p1-linear",
        title="Y = X W with a given upstream gradient: dL/dX = ∇L_y Wᵀ",
        description="Quiz 4's Problem 1 with numbers: one linear layer, the gradient of L with respect to Y given, "
        "and dL/dX asked for; each entry of dL/dX is a row of ∇L_y times a row of W.",
        source="seeds 000 and 001 (Quiz 4 and its answer), Problem 1",
        convention="examples as rows: Y = X W; the loss L = sum ∇L_y ⊙ Y stands for any L with that gradient",
        request={
            "layout": "rows",
            "layers": [
                {"weights": [[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]], "bias": None, "activation": "identity"},
            ],
            "inputs": [[1.0, -2.0, 0.5], [0.0, 1.5, -1.0]],
            "targets": [[0.5, -1.0], [2.0, 0.25]],
            "loss": {"name": "linear", "reduction": "sum"},
            "optimizer": {"name": "sgd", "learning_rate": 0.1},
            "input_gradient": True,
            "steps": 1,
        },
    ),
    Preset(
        id="assignment1-ex3-softmax-hinge",
        title="Softmax with the multiclass hinge on its probabilities",
        description="Assignment 1's Exercise 3 with numbers: the hinge asks the right class's probability to beat "
        "each other class's by the margin; its gradient goes back through the whole softmax Jacobian.",
        source="seed 002 (Assignment 1), Exercise 3",
        convention="examples as columns: o = W x + b, p = softmax(o), L = sum_i sum_(l != y_i) max(0, p_l - p_(y_i) "
        "+ margin), margin 0.2",
        request={
            "layout": "columns",
            "layers": [
                {"weights": [[0.9, -0.3], [0.2, 0.8], [-0.6, 0.4]], "bias": [0.1, 0.0, -0.1], "activation": "softmax"},
            ],
            "inputs": [[1.0, 0.5, -1.0], [0.5, -1.5, 2.0]],
            "labels": [0, 2, 1],
            "loss": {"name": "multiclass_hinge", "reduction": "sum", "margin": 0.2},
            "optimizer": {"name": "sgd", "learning_rate": 0.5},
            "steps": 1,
        },
    ),
    Preset(
        id="hw7-relu-softmax",
        title="Two ReLU layers and a softmax classifier",
        description="h1 = ReLU(w1 X + b1), h2 = ReLU(w2 h1 + b2), p = softmax(w3 h2 + b3), mean cross-entropy.",
        source="seed 003 (HW7), Problem 1a",
        convention="examples as columns: h = ReLU(w X + b), L = (1/n) sum -log p(y_i | x_i)",
        request={
            "layout": "columns",
            "layers": [
                {
                    "weights": [[0.3, 0.8, 0.6], [-0.5, -0.4, 0.7], [-1.0, 0.6, 0.6], [-0.1, -0.4, -0.4]],
                    "bias": [0.2, 0.3, 0.4, 0.5],
                    "activation": "relu",
                },
                {
                    "weights": [[1.0, 0.6, 0.2, 1.0], [-0.6, -0.7, 0.2, -0.9], [-0.9, 0.0, -0.1, 0.8]],
                    "bias": [0.3, 0.2, 0.1],
                    "activation": "relu",
                },
                {
                    "weights": [[-0.5, -1.0, -0.6], [0.4, -0.6, -0.3], [-1.0, 0.7, -0.7]],
                    "bias": [-0.5, 0.8, 0.0],
                    "activation": "softmax",
                },
            ],
            "inputs": [[0.7, 0.3, 0.5, -0.8], [0.1, 0.0, 0.7, -0.3], [0.2, -0.9, -0.2, -0.4]],
            "labels": [0, 2, 1, 1],
            "loss": {"name": "cross_entropy", "reduction": "mean"},
            "optimizer": {"name": "sgd", "learning_rate": 0.5},
            "steps": 3,
        },
    ),
    Preset(
        id="hw7-autoencoder",
        title="A ReLU autoencoder",
        description="h = ReLU(W1 x + b1), x_hat = ReLU(W2 h + b2): the targets are the inputs themselves.",
        source="seed 003 (HW7), Problem 2a",
        convention="examples as columns: L = (1/n) sum ||x_i - x_hat_i||^2 (no 1/2)",
        request={
            "layout": "columns",
            "layers": [
                {
                    "weights": [[-0.7, 0.6, -0.2, 1.0], [0.2, 0.2, 0.3, 0.4]],
                    "bias": [0.1, -0.1],
                    "activation": "relu",
                },
                {
                    "weights": [[-0.5, 0.2], [-0.8, 0.9], [0.6, 0.3], [0.4, 0.7]],
                    "bias": [0.3, -0.2, 0.2, 0.1],
                    "activation": "relu",
                },
            ],
            "inputs": [[0.9, 0.2, 0.5], [0.6, 0.9, 0.3], [0.1, 0.6, 0.8], [0.6, 0.4, 0.4]],
            "targets": [[0.9, 0.2, 0.5], [0.6, 0.9, 0.3], [0.1, 0.6, 0.8], [0.6, 0.4, 0.4]],
            "loss": {"name": "squared_error", "reduction": "mean"},
            "optimizer": {"name": "sgd", "learning_rate": 0.2},
            "steps": 3,
        },
    ),
    Preset(
        id="mazur-2-2-2",
        title="Mazur's step-by-step example: 2-2-2 sigmoid network",
        description="The classic blog walk-through: one example, total squared error with 1/2, biases never updated.",
        source="Matt Mazur, 'A Step by Step Backpropagation Example' (2015)",
        convention="examples as columns: net = W x + b, E_total = sum 1/2 (target - out)^2, learning rate 0.5",
        request={
            "layout": "columns",
            "layers": [
                {"weights": [[0.15, 0.2], [0.25, 0.3]], "bias": [0.35, 0.35], "activation": "sigmoid",
                 "train_bias": False},
                {"weights": [[0.4, 0.45], [0.5, 0.55]], "bias": [0.6, 0.6], "activation": "sigmoid",
                 "train_bias": False},
            ],
            "inputs": [[0.05], [0.1]],
            "targets": [[0.01], [0.99]],
            "loss": {"name": "squared_error", "reduction": "sum", "half": True},
            "optimizer": {"name": "sgd", "learning_rate": 0.5},
            "steps": 1,
        },
    ),
    Preset(
        id="xor",
        title="XOR with a 2-3-1 tanh network",
        description="The four XOR points, a tanh hidden layer and a sigmoid output with binary cross-entropy.",
        source="classic example (not from a seed)",
        convention="examples as rows: S = X W + 1 b, mean binary cross-entropy, learning rate 1",
        request={
            "layout": "rows",
            "layers": [
                {"weights": [[-0.5, -0.9, 0.8], [-0.1, 0.1, -0.4]], "bias": [0.5, -0.9, -0.3], "activation": "tanh"},
                {"weights": [[-0.9], [-0.8], [0.9]], "bias": [0.3], "activation": "sigmoid"},
            ],
            "inputs": [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
            "targets": [[0.0], [1.0], [1.0], [0.0]],
            "loss": {"name": "binary_cross_entropy", "reduction": "mean"},
            "optimizer": {"name": "sgd", "learning_rate": 1.0},
            "steps": 10,
        },
    ),
)

_BY_ID = {preset.id: preset for preset in PRESETS}


def get(preset_id: str) -> Preset:
    """The preset with this id; KeyError if there is none."""
    return _BY_ID[preset_id]
