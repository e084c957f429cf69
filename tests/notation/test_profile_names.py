"""Notation profiles: the names of the lab's matrices, cell labels, the stored orientation, the legend and
the table itself, typed here from ../shared/notation.md (never produced by the code under test)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine import presets
from tests.notation.test_profiles import IDS
from webapp.notation import equations, profiles, symbols

NAMES = ("X", "T", "Y", "dL/dY", "S2", "Z3", "δ1", "dL/dW3", "dL/db2", "dL/dZ1", "W1 (new)", "ΔW1", "L")
MATRIX_NAMES = {  # a 3-layer network, in the order of NAMES
    "default": ("X", "T", "Y", "dL/dY", "S2", "Z3", "δ1", "dL/dW3", "dL/db2", "dL/dZ1", "W1 (new)", "ΔW1", "L"),
    "assignment": ("X", "Y_gt", "Y_out", "∂𝓛/∂Y_out", "S2", "Z3", "δ1", "∂𝓛/∂W3", "∂𝓛/∂b2", "∂𝓛/∂Z1", "W1 (new)",
                   "ΔW1", "𝓛"),
    "quiz4": ("X", "y", "P", "∂L/∂P", "Z2", "P", "∂L/∂Z1", "∂L/∂W3", "∂L/∂b2", "∂L/∂H1", "W1 (new)", "ΔW1", "L"),
    "hw3": ("x", "y", "ŷ", "∇ŷ", "z^2", "ŷ", "∇z^1", "∇W^3", "∇W^2_0", "∇H^1", "W^1_new", "ΔW^1", "ℓ"),
    "hw7": ("X", "y", "p", "∂L/∂p", "z2", "p", "∂L/∂z1", "∂L/∂w3", "∂L/∂b2", "∂L/∂h1", "w1 (new)", "Δw1", "L"),
    "deeplearning-ai": ("X", "Y", "Ŷ", "dA^[3]", "Z^[2]", "A^[3]", "dZ^[1]", "dW^[3]", "db^[2]", "dA^[1]",
                        "W^[1] (new)", "ΔW^[1]", "J"),
    "nielsen": ("x", "y", "a^4", "∂C/∂a^4", "z^3", "a^4", "δ^2", "∂C/∂w^4", "∂C/∂b^3", "∂C/∂a^2", "w^2 (new)",
                "Δw^2", "C"),
    "goodfellow": ("x", "y", "ŷ", "∇_{ŷ} J", "a^(2)", "h^(3)", "g^(1)", "∇_{W^(3)} J", "∇_{b^(2)} J", "∇_{h^(1)} J",
                   "W^(1) (new)", "ΔW^(1)", "J"),
    "pytorch": ("x", "target", "output", "output.grad", "z2", "output", "z1.grad", "W3.weight.grad", "W2.bias.grad",
                "h1.grad", "W1.weight (new)", "ΔW1.weight", "loss"),
}


@pytest.mark.parametrize("profile_id", IDS)
def test_matrix_names(profile_id):
    profile = profiles.get(profile_id)
    assert tuple(profile.matrix_name(name, 3) for name in NAMES) == MATRIX_NAMES[profile_id]


def test_matrix_names_of_a_two_layer_network_and_unknown_names():
    quiz4, hw3 = profiles.get("quiz4"), profiles.get("hw3")
    assert [quiz4.matrix_name(n, 2) for n in ("S1", "Z1", "S2", "Z2", "δ2", "dL/dZ1")] == \
        ["Z", "H", "S", "P", "∂L/∂S", "∂L/∂H"]
    assert [hw3.matrix_name(n, 2) for n in ("Z1", "dL/dZ1", "b2 (new)")] == ["H", "∇H", "W^2_0,new"]
    for bad in ("W4", "S0", "Q1", "δ1 (new)"):
        with pytest.raises(ValueError):
            profiles.DEFAULT.matrix_name(bad, 3)


@pytest.mark.parametrize("profile_id, name, row, column, label", [
    ("default", "W1", 2, 1, "W1[2,1]"),
    ("deeplearning-ai", "W1", 2, 1, "W^[1][2,1]"),
    ("nielsen", "W1", 2, 1, "w^2[2,1]"),
    ("pytorch", "W1", 1, 2, "W1.weight[0,1]"),
    ("pytorch", "b1", 1, None, "W1.bias[0]"),
    ("hw3", "b1", 2, None, "W^1_0[2]"),
    ("goodfellow", "dL/dW2", 1, 3, "∇_{W^(2)} J[1,3]"),
])
def test_cell_labels(profile_id, name, row, column, label):
    profile = profiles.get(profile_id)
    assert profile.cell_label(profile.matrix_name(name, 3), row, column) == label


@pytest.mark.parametrize("profile_id, layout, transposed, axes", [
    ("default", "rows", False, ("in", "out")), ("default", "columns", False, ("out", "in")),
    ("hw3", "columns", True, ("in", "out")), ("hw3", "rows", False, ("in", "out")),
    ("pytorch", "rows", True, ("out", "in")), ("pytorch", "columns", False, ("out", "in")),
    ("deeplearning-ai", "columns", False, ("out", "in")),
])
def test_stored_orientation(profile_id, layout, transposed, axes):
    profile = profiles.get(profile_id)
    assert profile.stores_transposed(layout) is transposed and profile.weight_axes(layout) == axes
    weights = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(profile.stored(weights, layout), weights.T if transposed else weights)


def test_layout_for_a_profile_written_in_one_layout():
    assert profiles.get("hw3").layout_for("rows") == "columns"
    assert profiles.get("pytorch").layout_for("columns") == "rows"
    assert profiles.DEFAULT.layout_for("columns") == "columns"


def test_the_default_legend():
    assert profiles.DEFAULT.legend(2) == (
        ("X", "the inputs"), ("S1, S2", "pre-activation of each layer"), ("Z1, Z2", "activation of each layer"),
        ("Y", "the output"), ("T", "the targets"),
        ("W1, W2", "weights of each layer, stored as the layout writes it (rows: in × out; columns: out × in)"),
        ("b1, b2", "bias of each layer"), ("δ1, δ2", "gradient of the loss with respect to a pre-activation"),
        ("dL/dW1, dL/dW2", "gradient of the weights"), ("dL/db1, dL/db2", "gradient of the bias"),
        ("dL/dZ1", "gradient of a hidden layer's activation"),
        ("dL/dY", "gradient of the loss with respect to the output"), ("L", "the loss"), ("r", "the learning rate"),
        ("N", "the number of examples"),
        ("X = Z0", "the input is the activation of layer 0"), ("Y = ZL", "the output is the last activation"))


@pytest.mark.parametrize("profile_id, symbol, chosen", [
    ("hw3", "z^1, z^2, z^3", True),  # HW3 names no pre-activation
    ("pytorch", "z1, z2, z3", True), ("pytorch", "h1, h2, output", True),  # nor does PyTorch, nor its activations
    ("quiz4", "r", True), ("hw7", "z1, z2, f", True),
    ("deeplearning-ai", "Z^[1], Z^[2], Z^[3]", False), ("nielsen", "η", False),
])
def test_the_legend_shows_the_symbols_a_source_does_not_name(profile_id, symbol, chosen):
    legend = dict(profiles.get(profile_id).legend(3))
    assert ("chosen here" in legend[symbol]) is chosen


def test_legends_say_what_each_text_does_its_own_way():
    assert "in × out" in dict(profiles.get("hw3").legend(2))["W^1, W^2"]
    assert "out × in" in dict(profiles.get("pytorch").legend(2))["W1.weight, W2.weight"]
    assert "layer l + 1" in dict(profiles.get("nielsen").legend(2))["x = a^1"]
    assert "its value" in dict(profiles.get("assignment").legend(2))["its number"]
    assert "1/m" in dict(profiles.get("deeplearning-ai").legend(2))


def test_an_unknown_profile_names_the_known_ones():
    with pytest.raises(KeyError) as raised:
        profiles.get("bishop")
    assert all(known in str(raised.value) for known in IDS)


def test_a_profile_is_frozen_data():
    with pytest.raises(dataclasses.FrozenInstanceError):
        profiles.DEFAULT.layouts = ("rows",)
    assert all(isinstance(p, profiles.Profile) for p in profiles.PROFILES.values())
    assert symbols.title is equations.title  # the lab imports both names


def test_which_texts_name_a_delta():
    named = {p.id for p in profiles.PROFILES.values() if p.names_delta}
    assert named == {"default", "assignment", "nielsen", "goodfellow"}  # Quiz 4 and HW3 write none, nor do the others
    assert profiles.get("hw3").symbol("delta", 2, depth=2).plain == "∇z^2"


def test_a_text_without_a_learning_rate_symbol_writes_its_number():
    with pytest.raises(ValueError):
        profiles.get("assignment").symbol("rate", depth=2)
    with pytest.raises(KeyError):
        profiles.DEFAULT.symbol("momentum", depth=2)


def test_each_worked_example_opens_in_its_sources_profile():
    opened = {preset.id: profiles.for_preset(preset.id).id for preset in presets.PRESETS}
    assert opened == {"seed002-ex2": "assignment", "seed004-p2-case1": "hw3", "seed004-p2-case2": "hw3",
                      "quiz4-softmax-ce": "quiz4", "hw7-relu-softmax": "hw7", "hw7-autoencoder": "hw7",
                      "mazur-2-2-2": "default", "xor": "default", "quiz4-p1-linear": "quiz4",
                      "assignment1-ex3-softmax-hinge": "assignment"}
