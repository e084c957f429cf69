"""Notation profiles: each text's titles of a 3-layer network, typed here from ../shared/notation.md and
the seeds (never produced by the code under test); the default profile is held to what the lab wrote
before profiles (tests/notation/data/default_lab.json); HW3 and PyTorch substitute W as they store it
and still give the engine's numbers. Names, labels and legends: test_profile_names.py.
"""
from __future__ import annotations

import hashlib
import json
import re
from xml.etree import ElementTree

import numpy as np
import pytest

from engine import presets
from engine import spec as specmod
from engine import trace as tracemod
from engine.timeline import Substep, substeps
from tests.notation import default_cases
from tests.notation.test_equations import tables
from webapp.notation import equation_lines, equations, profiles

IDS = ("default", "assignment", "quiz4", "hw3", "hw7", "deeplearning-ai", "nielsen", "goodfellow", "pytorch")

# A 2-3-2-2 network: relu, tanh, sigmoid, every layer with a bias; 1/(2N) squared error; SGD with rate 0.5.
THREE_LAYERS = {
    "layout": "rows",
    "layers": [
        {"weights": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "bias": [0.1, 0.2, 0.3], "activation": "relu"},
        {"weights": [[0.2, -0.1], [0.3, 0.4], [-0.5, 0.6]], "bias": [0.0, 0.1], "activation": "tanh"},
        {"weights": [[0.7, -0.8], [0.9, 0.1]], "bias": [0.2, -0.2], "activation": "sigmoid"},
    ],
    "inputs": [[1.0, 0.5], [-0.5, 0.25], [0.3, -0.7], [0.2, 0.9]],
    "targets": [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
    "loss": {"name": "squared_error", "reduction": "mean", "half": True},
    "optimizer": {"name": "sgd", "learning_rate": 0.5},
    "steps": 1,
}

# (profile, layout): the titles of forward 1-3, the loss, backward 3-1 and the update.
EXPECTED = {
    ("default", "rows"): [
        "Forward, layer 1: S1 = X W1 + 1_N b1, Z1 = relu(S1)",
        "Forward, layer 2: S2 = Z1 W2 + 1_N b2, Z2 = tanh(S2)",
        "Forward, layer 3: S3 = Z2 W3 + 1_N b3, Z3 = σ(S3)",
        "Loss: L = 1/(2N) Σ‖Y − T‖²",
        "Backward, layer 3: δ3 = dL/dZ3 ⊙ σ'(S3), dL/dW3 = Z2^T δ3, dL/db3 = 1_N^T δ3, dL/dZ2 = δ3 W3^T",
        "Backward, layer 2: δ2 = dL/dZ2 ⊙ tanh'(S2), dL/dW2 = Z1^T δ2, dL/db2 = 1_N^T δ2, dL/dZ1 = δ2 W2^T",
        "Backward, layer 1: δ1 = dL/dZ1 ⊙ relu'(S1), dL/dW1 = X^T δ1, dL/db1 = 1_N^T δ1",
        "Update: W ← W − r dL/dW, b ← b − r dL/db (r = 0.5)",
    ],
    ("default", "columns"): [
        "Forward, layer 1: S1 = W1 X + b1 1_N^T, Z1 = relu(S1)",
        "Forward, layer 2: S2 = W2 Z1 + b2 1_N^T, Z2 = tanh(S2)",
        "Forward, layer 3: S3 = W3 Z2 + b3 1_N^T, Z3 = σ(S3)",
        "Loss: L = 1/(2N) Σ‖Y − T‖²",
        "Backward, layer 3: δ3 = dL/dZ3 ⊙ σ'(S3), dL/dW3 = δ3 Z2^T, dL/db3 = δ3 1_N, dL/dZ2 = W3^T δ3",
        "Backward, layer 2: δ2 = dL/dZ2 ⊙ tanh'(S2), dL/dW2 = δ2 Z1^T, dL/db2 = δ2 1_N, dL/dZ1 = W2^T δ2",
        "Backward, layer 1: δ1 = dL/dZ1 ⊙ relu'(S1), dL/dW1 = δ1 X^T, dL/db1 = δ1 1_N",
        "Update: W ← W − r dL/dW, b ← b − r dL/db (r = 0.5)",
    ],
    # Seed 002: S_i = W_i Z_(i-1) + b_i (broadcast), Y_out, Y_gt, 𝓛, δ_L = 1/N (Y_out − Y_gt) ⊙ f'_L(S_L),
    # ∂𝓛/∂W_l = δ_l Z_(l-1)^T, ∂𝓛/∂b_l = δ_l 1_N, ∂𝓛/∂Z_l = W_(l+1)^T δ_(l+1); the rate is its number.
    ("assignment", "columns"): [
        "Forward, layer 1: S1 = W1 X + b1, Z1 = relu(S1)",
        "Forward, layer 2: S2 = W2 Z1 + b2, Z2 = tanh(S2)",
        "Forward, layer 3: S3 = W3 Z2 + b3, Z3 = σ(S3)",
        "Loss: 𝓛 = 1/(2N) Σ‖Y_out − Y_gt‖²",
        "Backward, layer 3: δ3 = 1/N (Y_out − Y_gt) ⊙ σ'(S3), ∂𝓛/∂W3 = δ3 Z2^T, ∂𝓛/∂b3 = δ3 1_N, ∂𝓛/∂Z2 = W3^T δ3",
        "Backward, layer 2: δ2 = ∂𝓛/∂Z2 ⊙ tanh'(S2), ∂𝓛/∂W2 = δ2 Z1^T, ∂𝓛/∂b2 = δ2 1_N, ∂𝓛/∂Z1 = W2^T δ2",
        "Backward, layer 1: δ1 = ∂𝓛/∂Z1 ⊙ relu'(S1), ∂𝓛/∂W1 = δ1 X^T, ∂𝓛/∂b1 = δ1 1_N",
        "Update: W ← W − 0.5 ∂𝓛/∂W, b ← b − 0.5 ∂𝓛/∂b",
    ],
    # Quiz 4: Z = X W1 + 1_N b1, H = ReLU(Z), S = H W2 + 1_N b2, P; no δ; ∂L/∂W2 = H^T ∂L/∂S, ∂L/∂H = ∂L/∂S W2^T.
    # Three layers: hidden layers numbered Z1, H1, Z2, H2; the output keeps S and P.
    ("quiz4", "rows"): [
        "Forward, layer 1: Z1 = X W1 + 1_N b1, H1 = ReLU(Z1)",
        "Forward, layer 2: Z2 = H1 W2 + 1_N b2, H2 = tanh(Z2)",
        "Forward, layer 3: S = H2 W3 + 1_N b3, P = σ(S)",
        "Loss: L = 1/(2N) Σ‖P − y‖²",
        "Backward, layer 3: ∂L/∂S = ∂L/∂P ⊙ σ'(S), ∂L/∂W3 = H2^T ∂L/∂S, ∂L/∂b3 = 1_N^T ∂L/∂S, ∂L/∂H2 = ∂L/∂S W3^T",
        ("Backward, layer 2: ∂L/∂Z2 = ∂L/∂H2 ⊙ tanh'(Z2), ∂L/∂W2 = H1^T ∂L/∂Z2, ∂L/∂b2 = 1_N^T ∂L/∂Z2, "
         "∂L/∂H1 = ∂L/∂Z2 W2^T"),
        "Backward, layer 1: ∂L/∂Z1 = ∂L/∂H1 ⊙ ReLU'(Z1), ∂L/∂W1 = X^T ∂L/∂Z1, ∂L/∂b1 = 1_N^T ∂L/∂Z1",
        "Update: W ← W − r ∂L/∂W, b ← b − r ∂L/∂b (r = 0.5)",
    ],
    # HW3: W^l stored in × out, H = φ((W^1)^T x + W^1_0), ŷ = σ_M(...); ∇ for gradients, no δ; bias W^l_0.
    ("hw3", "columns"): [
        "Forward, layer 1: z^1 = (W^1)^T x + W^1_0, H^1 = relu(z^1)",
        "Forward, layer 2: z^2 = (W^2)^T H^1 + W^2_0, H^2 = tanh(z^2)",
        "Forward, layer 3: z^3 = (W^3)^T H^2 + W^3_0, ŷ = φ(z^3)",
        "Loss: ℓ = 1/(2N) Σ‖ŷ − y‖²",
        "Backward, layer 3: ∇z^3 = ∇ŷ ⊙ φ'(z^3), ∇W^3 = H^2 (∇z^3)^T, ∇W^3_0 = ∇z^3 1_N, ∇H^2 = W^3 ∇z^3",
        "Backward, layer 2: ∇z^2 = ∇H^2 ⊙ tanh'(z^2), ∇W^2 = H^1 (∇z^2)^T, ∇W^2_0 = ∇z^2 1_N, ∇H^1 = W^2 ∇z^2",
        "Backward, layer 1: ∇z^1 = ∇H^1 ⊙ relu'(z^1), ∇W^1 = x (∇z^1)^T, ∇W^1_0 = ∇z^1 1_N",
        "Update: W ← W − r ∇W, W_0 ← W_0 − r ∇W_0 (r = 0.5)",
    ],
    # HW7: h1 = ReLU(w1 X + b1), p = Softmax(w3 h2 + b3), logits f; ∂L/∂f, ∂L/∂w3 = ∂L/∂f h2^T, ∂L/∂h2; n examples.
    ("hw7", "columns"): [
        "Forward, layer 1: z1 = w1 X + b1, h1 = ReLU(z1)",
        "Forward, layer 2: z2 = w2 h1 + b2, h2 = tanh(z2)",
        "Forward, layer 3: f = w3 h2 + b3, p = σ(f)",
        "Loss: L = 1/(2n) Σ‖p − y‖²",
        "Backward, layer 3: ∂L/∂f = ∂L/∂p ⊙ σ'(f), ∂L/∂w3 = ∂L/∂f h2^T, ∂L/∂b3 = ∂L/∂f 1_n, ∂L/∂h2 = w3^T ∂L/∂f",
        ("Backward, layer 2: ∂L/∂z2 = ∂L/∂h2 ⊙ tanh'(z2), ∂L/∂w2 = ∂L/∂z2 h1^T, ∂L/∂b2 = ∂L/∂z2 1_n, "
         "∂L/∂h1 = w2^T ∂L/∂z2"),
        "Backward, layer 1: ∂L/∂z1 = ∂L/∂h1 ⊙ ReLU'(z1), ∂L/∂w1 = ∂L/∂z1 X^T, ∂L/∂b1 = ∂L/∂z1 1_n",
        "Update: w ← w − r ∂L/∂w, b ← b − r ∂L/∂b (r = 0.5)",
    ],
    # deeplearning.ai: Z^[l] = W^[l] A^[l-1] + b^[l], A^[l] = g^[l](Z^[l]), Ŷ = A^[L], dZ, dW, db, dA, J, α, m.
    ("deeplearning-ai", "columns"): [
        "Forward, layer 1: Z^[1] = W^[1] X + b^[1], A^[1] = relu(Z^[1])",
        "Forward, layer 2: Z^[2] = W^[2] A^[1] + b^[2], A^[2] = tanh(Z^[2])",
        "Forward, layer 3: Z^[3] = W^[3] A^[2] + b^[3], A^[3] = σ(Z^[3])",
        "Loss: J = 1/(2m) Σ‖Ŷ − Y‖²",
        ("Backward, layer 3: dZ^[3] = 1/m (Ŷ − Y) ⊙ σ'(Z^[3]), dW^[3] = dZ^[3] (A^[2])^T, db^[3] = dZ^[3] 1_m, "
         "dA^[2] = (W^[3])^T dZ^[3]"),
        ("Backward, layer 2: dZ^[2] = dA^[2] ⊙ tanh'(Z^[2]), dW^[2] = dZ^[2] (A^[1])^T, db^[2] = dZ^[2] 1_m, "
         "dA^[1] = (W^[2])^T dZ^[2]"),
        "Backward, layer 1: dZ^[1] = dA^[1] ⊙ relu'(Z^[1]), dW^[1] = dZ^[1] X^T, db^[1] = dZ^[1] 1_m",
        "Update: W ← W − α dW, b ← b − α db (α = 0.5)",
    ],
    # Nielsen: the input x = a^1 is layer 1, so the lab's layers 1-3 are his 2-4; z^l = w^l a^(l-1) + b^l,
    # a^l = σ(z^l), δ^l = ∂C/∂z^l, ∂C/∂w^l, ∂C/∂b^l, C, η, n.
    ("nielsen", "columns"): [
        "Forward, layer 2: z^2 = w^2 x + b^2, a^2 = relu(z^2)",
        "Forward, layer 3: z^3 = w^3 a^2 + b^3, a^3 = tanh(z^3)",
        "Forward, layer 4: z^4 = w^4 a^3 + b^4, a^4 = σ(z^4)",
        "Loss: C = 1/(2n) Σ‖a^4 − y‖²",
        "Backward, layer 4: δ^4 = ∂C/∂a^4 ⊙ σ'(z^4), ∂C/∂w^4 = δ^4 (a^3)^T, ∂C/∂b^4 = δ^4 1_n, ∂C/∂a^3 = (w^4)^T δ^4",
        ("Backward, layer 3: δ^3 = ∂C/∂a^3 ⊙ tanh'(z^3), ∂C/∂w^3 = δ^3 (a^2)^T, ∂C/∂b^3 = δ^3 1_n, "
         "∂C/∂a^2 = (w^3)^T δ^3"),
        "Backward, layer 2: δ^2 = ∂C/∂a^2 ⊙ relu'(z^2), ∂C/∂w^2 = δ^2 x^T, ∂C/∂b^2 = δ^2 1_n",
        "Update: w ← w − η ∂C/∂w, b ← b − η ∂C/∂b (η = 0.5)",
    ],
    # Goodfellow: a^(k) = b^(k) + W^(k) h^(k-1), h^(k) = f(a^(k)), ŷ, g ← ∇_{a^(k)} J, ∇_{W^(k)} J = g h^(k-1)^T, J, ε.
    ("goodfellow", "columns"): [
        "Forward, layer 1: a^(1) = b^(1) + W^(1) x, h^(1) = relu(a^(1))",
        "Forward, layer 2: a^(2) = b^(2) + W^(2) h^(1), h^(2) = tanh(a^(2))",
        "Forward, layer 3: a^(3) = b^(3) + W^(3) h^(2), h^(3) = σ(a^(3))",
        "Loss: J = 1/(2m) Σ‖ŷ − y‖²",
        ("Backward, layer 3: g^(3) = ∇_{h^(3)} J ⊙ σ'(a^(3)), ∇_{W^(3)} J = g^(3) (h^(2))^T, "
         "∇_{b^(3)} J = g^(3) 1_m, ∇_{h^(2)} J = (W^(3))^T g^(3)"),
        ("Backward, layer 2: g^(2) = ∇_{h^(2)} J ⊙ tanh'(a^(2)), ∇_{W^(2)} J = g^(2) (h^(1))^T, "
         "∇_{b^(2)} J = g^(2) 1_m, ∇_{h^(1)} J = (W^(2))^T g^(2)"),
        "Backward, layer 1: g^(1) = ∇_{h^(1)} J ⊙ relu'(a^(1)), ∇_{W^(1)} J = g^(1) x^T, ∇_{b^(1)} J = g^(1) 1_m",
        "Update: W ← W − ε ∇_{W} J, b ← b − ε ∇_{b} J (ε = 0.5)",
    ],
    # PyTorch: rows, W stored out × in, y = x W^T + b; gradients as .grad; loss, lr.
    ("pytorch", "rows"): [
        "Forward, layer 1: z1 = x W1.weight^T + W1.bias, h1 = relu(z1)",
        "Forward, layer 2: z2 = h1 W2.weight^T + W2.bias, h2 = tanh(z2)",
        "Forward, layer 3: z3 = h2 W3.weight^T + W3.bias, output = sigmoid(z3)",
        "Loss: loss = 1/(2N) Σ‖output − target‖²",
        ("Backward, layer 3: z3.grad = output.grad ⊙ sigmoid'(z3), W3.weight.grad = z3.grad^T h2, "
         "W3.bias.grad = 1_N^T z3.grad, h2.grad = z3.grad W3.weight"),
        ("Backward, layer 2: z2.grad = h2.grad ⊙ tanh'(z2), W2.weight.grad = z2.grad^T h1, "
         "W2.bias.grad = 1_N^T z2.grad, h1.grad = z2.grad W2.weight"),
        "Backward, layer 1: z1.grad = h1.grad ⊙ relu'(z1), W1.weight.grad = z1.grad^T x, W1.bias.grad = 1_N^T z1.grad",
        "Update: weight ← weight − lr weight.grad, bias ← bias − lr bias.grad (lr = 0.5)",
    ],
}


def in_layout(body: dict, layout: str) -> dict:
    return body if body["layout"] == layout else default_cases.other_layout(body)


def run(body: dict):
    spec = specmod.from_request(body)
    return spec, tracemod.run(spec)


def test_every_profile_and_every_layout_it_allows_has_its_titles_here():
    assert tuple(profiles.PROFILES) == IDS
    assert {(p.id, layout) for p in profiles.PROFILES.values() for layout in p.layouts} == set(EXPECTED)
    assert profiles.get("default").layouts == ("rows", "columns")


@pytest.mark.parametrize("profile_id, layout", sorted(EXPECTED))
def test_titles_of_a_three_layer_network(profile_id, layout):
    spec, _ = run(in_layout(THREE_LAYERS, layout))
    profile = profiles.get(profile_id)
    assert [equations.title(spec, sub, profile=profile) for sub in substeps(3)] == EXPECTED[profile_id, layout]


@pytest.mark.parametrize("preset, profile_id, expected", [
    # Quiz 4 (seed 000, eqs. 4-7 and 9-13), its own 2-layer network: Z, H, S, P without indices.
    ("quiz4-softmax-ce", "quiz4", {
        "s0-forward-1": "Forward, layer 1: Z = X W1 + 1_N b1, H = ReLU(Z)",
        "s0-forward-2": "Forward, layer 2: S = H W2 + 1_N b2, P = softmax(S)",
        "s0-backward-2": "Backward, layer 2: ∂L/∂S = (P − y)/N, ∂L/∂W2 = H^T ∂L/∂S, ∂L/∂b2 = 1_N^T ∂L/∂S, "
                         "∂L/∂H = ∂L/∂S W2^T",
        "s0-backward-1": "Backward, layer 1: ∂L/∂Z = ∂L/∂H ⊙ ReLU'(Z), ∂L/∂W1 = X^T ∂L/∂Z, ∂L/∂b1 = 1_N^T ∂L/∂Z"}),
    # HW3 (seed 004, eqs. 13 and 15) in its columns: H = φ((W^1)^T x + W^1_0), ŷ = σ_M((W^2)^T H + W^2_0).
    ("seed004-p2-case2", "hw3", {
        "s0-forward-1": "Forward, layer 1: z^1 = (W^1)^T x + W^1_0, H = φ(z^1)",
        "s0-forward-2": "Forward, layer 2: z^2 = (W^2)^T H + W^2_0, ŷ = σ_M(z^2)",
        "s0-loss": "Loss: ℓ = 1/2 Σ‖ŷ − y‖²",
        "s0-update": "Update: W ← W − r ∇W, W_0 ← W_0 − r ∇W_0 (r = 0.5); W^1, W^1_0 frozen"}),
    # Assignment 1 (seed 002, Exercise 2): δ_2 = 1/4 (Y_out − Y_gt), ∂𝓛/∂W_2 = δ_2 Z_1^T, W_2 ← W_2 − 0.5 ∂𝓛/∂W_2.
    ("seed002-ex2", "assignment", {
        "s0-forward-1": "Forward, layer 1: S1 = W1 X, Z1 = relu(S1)",
        "s0-backward-2": "Backward, layer 2: δ2 = 1/N (Y_out − Y_gt), ∂𝓛/∂W2 = δ2 Z1^T, ∂𝓛/∂Z1 = W2^T δ2",
        "s0-update": "Update: W ← W − 0.5 ∂𝓛/∂W"}),
    # HW7 (seed 003, 1a): h1 = ReLU(w1 X + b1), p = Softmax(w3 h2 + b3), ∂L/∂w3 = ∂L/∂f h2^T.
    ("hw7-relu-softmax", "hw7", {
        "s0-forward-3": "Forward, layer 3: f = w3 h2 + b3, p = Softmax(f)",
        "s0-backward-3": "Backward, layer 3: ∂L/∂f = (p − y)/n, ∂L/∂w3 = ∂L/∂f h2^T, ∂L/∂b3 = ∂L/∂f 1_n, "
                         "∂L/∂h2 = w3^T ∂L/∂f"}),
    # The autoencoder has one hidden layer: h without an index, as Problem 2 writes it.
    ("hw7-autoencoder", "hw7", {"s0-forward-1": "Forward, layer 1: z = w1 X + b1, h = ReLU(z)"}),
])
def test_a_worked_example_in_its_own_profile(preset, profile_id, expected):
    profile = profiles.get(profile_id)
    spec, _ = run(in_layout(presets.get(preset).body(), profile.layouts[0]))
    for sub in substeps(len(spec.layers)):
        if sub.key in expected:
            assert equations.title(spec, sub, profile) == expected[sub.key]


@pytest.mark.parametrize("layers, forward", [
    (1, ["Forward, layer 1: S = X W1 + 1_N b1, P = softmax(S)"]),
    (4, ["Forward, layer 1: Z1 = X W1 + 1_N b1, H1 = ReLU(Z1)",
         "Forward, layer 2: Z2 = H1 W2 + 1_N b2, H2 = ReLU(Z2)",
         "Forward, layer 3: Z3 = H2 W3 + 1_N b3, H3 = ReLU(Z3)",
         "Forward, layer 4: S = H3 W4 + 1_N b4, P = softmax(S)"]),
])
def test_quiz4_names_other_depths_consistently(layers, forward):
    widths = [2] * (layers + 1)
    body = {"layout": "rows", "inputs": [[1.0, 0.0], [0.0, 1.0]], "labels": [0, 1],
            "loss": {"name": "cross_entropy"}, "steps": 1,
            "layers": [{"weights": np.eye(2).tolist(), "bias": [0.0] * widths[i + 1],
                        "activation": "softmax" if i == layers - 1 else "relu"} for i in range(layers)]}
    spec, _ = run(body)
    quiz4 = profiles.get("quiz4")
    assert [equations.title(spec, Substep(0, "forward", layer), quiz4) for layer in range(1, layers + 1)] == forward


# --- the default profile is the lab of before ------------------------------------------------------

@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(default_cases.GOLDEN.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(default_cases.cases()))
def test_the_default_profile_writes_what_the_lab_wrote(case, recorded):
    spec, trace = run(default_cases.cases()[case])
    for sub in default_cases.shown_substeps(spec):
        title = equations.title(spec, sub, profile=profiles.DEFAULT)
        mathml = str(equations.equation(spec, trace, sub, profile=profiles.DEFAULT))
        assert title == recorded[case][sub.key][0], sub.key
        assert hashlib.sha256(mathml.encode()).hexdigest() == recorded[case][sub.key][1], sub.key
        assert equations.title(spec, sub) == title and str(equations.equation(spec, trace, sub)) == mathml


def test_every_preset_of_the_recording_is_a_recorded_case():
    assert set(default_cases.RECORDED_PRESETS) <= {p.id for p in presets.PRESETS}
    assert set(default_cases.RECORDED_PRESETS) <= set(default_cases.cases())


# --- the stored orientation: HW3 in x out in columns, PyTorch out x in in rows ------------------------

@pytest.mark.parametrize("profile_id, layout", [("hw3", "columns"), ("pytorch", "rows")])
def test_weights_are_substituted_as_stored_and_results_are_the_engines(profile_id, layout):
    profile = profiles.get(profile_id)
    spec, trace = run(in_layout(THREE_LAYERS, layout))
    step = trace.step(0)
    assert profile.stores_transposed(layout)
    for layer in (1, 2, 3):
        weights = spec.layers[layer - 1].weights
        forward = tables(str(equations.equation(spec, trace, Substep(0, "forward", layer), profile)))
        # rows: x, W^T as stored, b, S, Z; columns: W^T as stored, x, b, S, Z
        written_weights = forward[1] if layout == "rows" else forward[0]
        np.testing.assert_allclose(written_weights, weights.T, rtol=6e-4)
        np.testing.assert_allclose(forward[3], step.forward[layer - 1].pre_activation, rtol=6e-4, atol=1e-12)
        np.testing.assert_allclose(forward[4], step.forward[layer - 1].activation, rtol=6e-4, atol=1e-12)
        backward = tables(str(equations.equation(spec, trace, Substep(0, "backward", layer), profile)))
        grads = next(b for b in step.backward if b.layer == layer)
        # after the delta's line (3 matrices): dW (2 operands, result as stored), db (1 operand, result), dZ below
        np.testing.assert_allclose(backward[5], grads.grad_weights.T, rtol=6e-4, atol=1e-12)
        if layer > 1:
            # dZ below: δ W as stored in rows, W as stored δ in columns
            np.testing.assert_allclose(backward[9] if layout == "rows" else backward[8], weights.T, rtol=6e-4)
            below = next(b for b in step.backward if b.layer == layer - 1)
            np.testing.assert_allclose(backward[10], below.grad_activation, rtol=6e-4, atol=1e-12)
    update = tables(str(equations.equation(spec, trace, Substep(0, "update", None), profile)))
    for layer in (1, 2, 3):  # W before, dW, W after; then b before, db, b after
        first = 6 * (layer - 1)
        np.testing.assert_allclose(update[first], spec.layers[layer - 1].weights.T, rtol=6e-4)
        np.testing.assert_allclose(update[first + 2], step.update[layer - 1].weights.T, rtol=6e-4)


@pytest.mark.parametrize("profile_id, layout, forward, grad_weights, grad_below", [
    ("hw3", "columns", r"z^{2} = (W^{2})^\top H^{1} + W^{2}_{0} = ", r"\nabla W^{2} = H^{1} (\nabla z^{2})^\top = ",
     r"\nabla H^{1} = W^{2} \nabla z^{2} = "),
    ("pytorch", "rows", r"\mathtt{z2} = \mathtt{h1} \mathtt{W2.weight}^\top + \mathtt{W2.bias} = ",
     r"\mathtt{W2.weight}\mathtt{.grad} = \mathtt{z2}\mathtt{.grad}^\top \mathtt{h1} = ",
     r"\mathtt{h1}\mathtt{.grad} = \mathtt{z2}\mathtt{.grad} \mathtt{W2.weight} = "),
])
def test_the_equations_write_the_transpose_where_the_text_does(profile_id, layout, forward, grad_weights, grad_below):
    profile = profiles.get(profile_id)
    spec, trace = run(in_layout(THREE_LAYERS, layout))
    step = trace.step(0)
    assert equation_lines.forward_lines(spec, profile, trace, step, 2)[0].startswith(forward)
    backward = equation_lines.backward_lines(spec, profile, trace, step, 2)
    assert backward[1].startswith(grad_weights) and backward[3].startswith(grad_below)


def test_independent_numbers_for_pytorchs_forward():
    spec, trace = run(THREE_LAYERS)
    x = np.array(THREE_LAYERS["inputs"])
    weight = np.array(THREE_LAYERS["layers"][0]["weights"]).T  # nn.Linear's weight: out x in
    bias = np.array(THREE_LAYERS["layers"][0]["bias"])
    written = tables(str(equations.equation(spec, trace, Substep(0, "forward", 1), profiles.get("pytorch"))))
    np.testing.assert_allclose(written[1], weight, rtol=6e-4)
    np.testing.assert_allclose(written[3], x @ weight.T + bias, rtol=6e-4)


def test_the_assignments_delta_is_written_from_the_output():
    body = presets.get("seed002-ex2").body()
    spec, trace = run(body)
    w1, w2 = (np.array(layer["weights"]) for layer in body["layers"])
    y = w2 @ np.maximum(w1 @ np.array(body["inputs"]), 0)
    t = np.array(body["targets"])
    written = tables(str(equations.equation(spec, trace, Substep(0, "backward", 2), profiles.get("assignment"))))
    for found, exact in zip(written[:3], [y, t, (y - t) / 4]):  # δ2 = 1/4 (Y_out − Y_gt), seed 002's numbers
        np.testing.assert_allclose(found, exact, rtol=6e-4)


@pytest.mark.parametrize("profile_id", IDS)
@pytest.mark.parametrize("preset", [p.id for p in presets.PRESETS])
def test_every_profile_writes_every_preset_as_mathml(profile_id, preset):
    profile = profiles.get(profile_id)
    spec, trace = run(in_layout(presets.get(preset).body(), profile.layouts[0]))
    for sub in default_cases.shown_substeps(spec):
        mathml = str(equations.equation(spec, trace, sub, profile))
        for element in re.findall(r"<math .*?</math>", mathml, flags=re.DOTALL):
            ElementTree.fromstring(element)
        assert "\\" not in re.sub(r"<[^>]+>", "", mathml) and "$" not in mathml
        assert "$" not in equations.title(spec, sub, profile)
