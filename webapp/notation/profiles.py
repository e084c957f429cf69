"""The notation profiles, one table: `PROFILES`, `get(id)` and `DEFAULT` (the lab's own symbols).

The facts of each source are in ../shared/notation.md. Where a source names nothing, the
profile chooses a symbol in its spirit and records the choice in `chosen`, which the legend
shows. Generalisations to other depths are the profiles' `output` and `lone` names: Quiz 4
writes Z, H, S, P for its 2-layer network only, so a deeper one gets Z1, H1, Z2, H2, ..., S, P.
"""
from __future__ import annotations

from .profile import Profile
from .terms import Term


def _layered(plain: str, latex: str, bare: str | None = None, bare_latex: str | None = None, **names) -> Term:
    """A per-layer term; `bare` is its symbol without a layer (update rules)."""
    return Term(plain, latex, bare=None if bare is None else Term(bare, bare_latex or bare), **names)


def _same(text: str) -> Term:
    """A symbol written alike in plain text and LaTeX."""
    return Term(text, text)


def _code(text: str) -> Term:
    """A name as code writes it (PyTorch): monospace in LaTeX."""
    return Term(text, rf"\mathtt{{{text}}}")


DEFAULT = Profile(
    id="default", name="The lab", source="the lab's own notation",
    layouts=("rows", "columns"), orientation="as the layout", layer_offset=0,
    batch=_same("N"), input=_same("X"), pre_activation=Term("S$l", "S_{$l}"), activation=Term("Z$l", "Z_{$l}"),
    output=_same("Y"), target=_same("T"),
    weights=_layered("W$l", "W_{$l}", "W"), bias=_layered("b$l", "b_{$l}", "b"),
    gradient=Term("dL/d$x", r"\frac{\partial L}{\partial $x}"), delta=Term("δ$l", r"\delta_{$l}"),
    loss=_same("L"), rate=_same("r"),
    weights_new=Term("W$l (new)", r"W_{$l}^{\text{new}}"), bias_new=Term("b$l (new)", r"b_{$l}^{\text{new}}"),
    weights_step=Term("ΔW$l", r"\Delta W_{$l}"), bias_step=Term("Δb$l", r"\Delta b_{$l}"),
    derivative=Term("f$l'", "f_{$l}'"), bias_added="ones", mean_in="loss",
    notes=(("X = Z0", "the input is the activation of layer 0"), ("Y = ZL", "the output is the last activation")),
)

ASSIGNMENT = Profile(
    id="assignment", name="Assignment 1", source="seed 002 (Assignment 1)",
    layouts=("columns",), orientation="as the layout", layer_offset=0,
    batch=_same("N"), input=_same("X"), pre_activation=Term("S$l", "S_{$l}"), activation=Term("Z$l", "Z_{$l}"),
    output=Term("Y_out", r"Y_{\text{out}}"), target=Term("Y_gt", r"Y_{\text{gt}}"),
    weights=_layered("W$l", "W_{$l}", "W"), bias=_layered("b$l", "b_{$l}", "b"),
    gradient=Term("∂𝓛/∂$x", r"\frac{\partial \mathcal{L}}{\partial $x}"), delta=Term("δ$l", r"\delta_{$l}"),
    loss=Term("𝓛", r"\mathcal{L}"), rate=None,
    weights_new=Term("W$l (new)", r"W_{$l}^{\text{new}}"), bias_new=Term("b$l (new)", r"b_{$l}^{\text{new}}"),
    weights_step=Term("ΔW$l", r"\Delta W_{$l}"), bias_step=Term("Δb$l", r"\Delta b_{$l}"),
    derivative=Term("f$l'", "f_{$l}'"), bias_added="broadcast", mean_in="delta",
    notes=(("X = Z0", "the input is the activation of layer 0"), ("Y_out = ZL", "the output is the last activation"),
           ("δl = ∂𝓛/∂Zl ⊙ f'l(Sl)", "the assignment's delta; δL = 1/N (Y_out − Y_gt) ⊙ f'L(SL)")),
)

QUIZ4 = Profile(
    id="quiz4", name="Quiz 4", source="seeds 000 and 001 (Quiz 4 and its answer, CS231n-style)",
    layouts=("rows",), orientation="as the layout", layer_offset=0,
    batch=_same("N"), input=_same("X"),
    pre_activation=Term("Z$l", "Z_{$l}", output=_same("S"), lone=_same("Z")),
    activation=Term("H$l", "H_{$l}", output=_same("P"), lone=_same("H")),
    output=_same("P"), target=_same("y"),
    weights=_layered("W$l", "W_{$l}", "W"), bias=_layered("b$l", "b_{$l}", "b"),
    gradient=Term("∂L/∂$x", r"\frac{\partial L}{\partial $x}"), delta=None,
    loss=_same("L"), rate=_same("r"),
    weights_new=Term("W$l (new)", r"W_{$l}^{\text{new}}"), bias_new=Term("b$l (new)", r"b_{$l}^{\text{new}}"),
    weights_step=Term("ΔW$l", r"\Delta W_{$l}"), bias_step=Term("Δb$l", r"\Delta b_{$l}"),
    derivative=Term("f$l'", "f_{$l}'"), bias_added="ones", mean_in="loss",
    functions=(("relu", Term("ReLU", r"\operatorname{ReLU}")),),
    chosen=(("rate", "Quiz 4 has no update step; the lab's r"),),
    notes=(("Z, H, S, P", ("Quiz 4 names a 2-layer network only; a deeper one numbers its hidden layers "
                           "Z1, H1, Z2, H2, ... and keeps S, P for the output layer (chosen here)")),
           ("y", "the labels, written one-hot (N × C) where the lab needs a matrix")),
)

HW3 = Profile(
    id="hw3", name="HW3", source="seed 004 (HW3 solution)",
    layouts=("columns",), orientation="in x out", layer_offset=0,
    batch=_same("N"), input=_same("x"), pre_activation=Term("z^$l", "z^{$l}"),
    activation=Term("H^$l", "H^{$l}", output=Term("ŷ", r"\hat{y}"), lone=_same("H")),
    output=Term("ŷ", r"\hat{y}"), target=_same("y"),
    weights=_layered("W^$l", "W^{$l}", "W"), bias=_layered("W^$l_0", "W^{$l}_{0}", "W_0", "W_{0}"),
    gradient=Term("∇$x", r"\nabla $x"), delta=None,
    loss=Term("ℓ", r"\ell"), rate=_same("r"),
    weights_new=Term("W^$l_new", r"W^{$l}_{\text{new}}"), bias_new=Term("W^$l_0,new", r"W^{$l}_{0,\text{new}}"),
    weights_step=Term("ΔW^$l", r"\Delta W^{$l}"), bias_step=Term("ΔW^$l_0", r"\Delta W^{$l}_{0}"),
    derivative=Term("f$l'", "f_{$l}'"), bias_added="broadcast", mean_in="loss",
    functions=(("sigmoid", Term("φ", r"\phi")), ("softmax", Term("σ_M", r"\sigma_M"))),
    chosen=(("pre_activation", "HW3 writes (W^l)^T x + W^l_0 unnamed; z as in its σ_M(z)"),
            ("batch", "HW3 works one example at a time")),
    notes=(("(W^l)^T", "HW3 stores W^l as in × out (N × N1) and writes (W^l)^T x"),
           ("H^1, H^2, ...", "HW3 has one hidden layer H; a deeper network numbers them (chosen here)")),
)

HW7 = Profile(
    id="hw7", name="HW7", source="seed 003 (HW7)",
    layouts=("columns",), orientation="as the layout", layer_offset=0,
    batch=_same("n"), input=_same("X"),
    pre_activation=Term("z$l", "z_{$l}", output=_same("f"), lone=_same("z")),
    activation=Term("h$l", "h_{$l}", output=_same("p"), lone=_same("h")),
    output=_same("p"), target=_same("y"),
    weights=_layered("w$l", "w_{$l}", "w"), bias=_layered("b$l", "b_{$l}", "b"),
    gradient=Term("∂L/∂$x", r"\frac{\partial L}{\partial $x}"), delta=None,
    loss=_same("L"), rate=_same("r"),
    weights_new=Term("w$l (new)", r"w_{$l}^{\text{new}}"), bias_new=Term("b$l (new)", r"b_{$l}^{\text{new}}"),
    weights_step=Term("Δw$l", r"\Delta w_{$l}"), bias_step=Term("Δb$l", r"\Delta b_{$l}"),
    derivative=Term("f$l'", "f_{$l}'"), bias_added="broadcast", mean_in="loss",
    functions=(("relu", Term("ReLU", r"\operatorname{ReLU}")), ("softmax", Term("Softmax", r"\operatorname{Softmax}"))),
    chosen=(("pre_activation", "HW7 names only the output's logits f; z for a hidden layer's"),
            ("rate", "HW7 has no update step; the lab's r")),
    notes=(("W1, W2, x̂", ("Problem 2 (the autoencoder) writes W upper-case and its output x̂; the profile "
                         "follows Problem 1")),
           ("h, z", "a network with one hidden layer drops the index, as Problem 2's h (chosen here)")),
)

DEEPLEARNING_AI = Profile(
    id="deeplearning-ai", name="deeplearning.ai", source="Andrew Ng's deeplearning.ai courses",
    layouts=("columns",), orientation="as the layout", layer_offset=0,
    batch=_same("m"), input=_same("X"), pre_activation=Term("Z^[$l]", "Z^{[$l]}"),
    activation=Term("A^[$l]", "A^{[$l]}"), output=Term("Ŷ", r"\hat{Y}"), target=_same("Y"),
    weights=_layered("W^[$l]", "W^{[$l]}", "W"), bias=_layered("b^[$l]", "b^{[$l]}", "b"),
    gradient=_same("d$x"), delta=None, output_gradient=Term("dA^[$L]", "dA^{[$L]}"),
    loss=_same("J"), rate=Term("α", r"\alpha"),
    weights_new=Term("W^[$l] (new)", r"W^{[$l]}_{\text{new}}"), bias_new=Term("b^[$l] (new)", r"b^{[$l]}_{\text{new}}"),
    weights_step=Term("ΔW^[$l]", r"\Delta W^{[$l]}"), bias_step=Term("Δb^[$l]", r"\Delta b^{[$l]}"),
    derivative=Term("g^[$l]'", r"g^{[$l]\prime}"), bias_added="broadcast", mean_in="delta",
    notes=(("X = A^[0]", "the input is the activation of layer 0"),
           ("1/m", ("the course writes 1/m in dW^[l] and db^[l], its dZ^[l] being m times the lab's; here "
                    "dZ^[l] = ∂J/∂Z^[l] carries the 1/m (dZ^[L] = 1/m (A^[L] − Y)), so every number is the lab's"))),
)

NIELSEN = Profile(
    id="nielsen", name="Nielsen", source="Michael Nielsen, Neural Networks and Deep Learning",
    layouts=("columns",), orientation="as the layout", layer_offset=1,
    batch=_same("n"), input=_same("x"), pre_activation=Term("z^$l", "z^{$l}"), activation=Term("a^$l", "a^{$l}"),
    output=Term("a^$L", "a^{$L}"), target=_same("y"),
    weights=_layered("w^$l", "w^{$l}", "w"), bias=_layered("b^$l", "b^{$l}", "b"),
    gradient=Term("∂C/∂$x", r"\frac{\partial C}{\partial $x}"), delta=Term("δ^$l", r"\delta^{$l}"),
    loss=_same("C"), rate=Term("η", r"\eta"),
    weights_new=Term("w^$l (new)", r"w^{$l}_{\text{new}}"), bias_new=Term("b^$l (new)", r"b^{$l}_{\text{new}}"),
    weights_step=Term("Δw^$l", r"\Delta w^{$l}"), bias_step=Term("Δb^$l", r"\Delta b^{$l}"),
    derivative=Term("σ'", r"\sigma'"), bias_added="broadcast", mean_in="loss",
    notes=(("x = a^1", "the input is layer 1, so the lab's layer l is layer l + 1 here"),
           ("w^l_jk", "the weight to neuron j of layer l from neuron k of layer l − 1 (out × in)"),
           ("η", "w ← w − η ∂C/∂w is the book's w → w − (η/m) Σx ∂Cx/∂w: C is the batch's mean")),
)

GOODFELLOW = Profile(
    id="goodfellow", name="Goodfellow, Bengio, Courville", source="Deep Learning, chapter 6",
    layouts=("columns",), orientation="as the layout", layer_offset=0,
    batch=_same("m"), input=_same("x"), pre_activation=Term("a^($l)", "a^{($l)}"),
    activation=Term("h^($l)", "h^{($l)}"), output=Term("ŷ", r"\hat{y}"), target=_same("y"),
    weights=_layered("W^($l)", "W^{($l)}", "W"), bias=_layered("b^($l)", "b^{($l)}", "b"),
    gradient=Term("∇_{$x} J", r"\nabla_{$x} J"), delta=Term("g^($l)", "g^{($l)}"),
    loss=_same("J"), rate=Term("ε", r"\epsilon"), adam_eps=Term("δ", r"\delta"),
    weights_new=Term("W^($l) (new)", r"W^{($l)}_{\text{new}}"), bias_new=Term("b^($l) (new)", r"b^{($l)}_{\text{new}}"),
    weights_step=Term("ΔW^($l)", r"\Delta W^{($l)}"), bias_step=Term("Δb^($l)", r"\Delta b^{($l)}"),
    derivative=_same("f'"), bias_added="first", mean_in="loss",
    notes=(("x = h^(0)", "the input is the activation of layer 0"),
           ("g^(k)", "the book's running gradient g ← ∇_{a^(k)} J, numbered by layer here so each can be shown"),
           ("δ", "Adam's small constant, as the book's Algorithm 8.7 writes it (ε is the learning rate)")),
)

PYTORCH = Profile(
    id="pytorch", name="PyTorch", source="PyTorch's nn.Linear and autograd",
    layouts=("rows",), orientation="out x in", layer_offset=0,
    batch=_same("N"), input=_code("x"), pre_activation=_code("z$l"),
    activation=Term("h$l", r"\mathtt{h$l}", output=_code("output")), output=_code("output"), target=_code("target"),
    weights=_layered("W$l.weight", r"\mathtt{W$l.weight}", "weight", r"\mathtt{weight}"),
    bias=_layered("W$l.bias", r"\mathtt{W$l.bias}", "bias", r"\mathtt{bias}"),
    gradient=Term("$x.grad", r"$x\mathtt{.grad}"), delta=None,
    loss=_code("loss"), rate=_code("lr"),
    weights_new=Term("W$l.weight (new)", r"\mathtt{W$l.weight}_{\text{new}}"),
    bias_new=Term("W$l.bias (new)", r"\mathtt{W$l.bias}_{\text{new}}"),
    weights_step=Term("ΔW$l.weight", r"\Delta \mathtt{W$l.weight}"),
    bias_step=Term("ΔW$l.bias", r"\Delta \mathtt{W$l.bias}"),
    derivative=Term("f$l'", "f_{$l}'"), bias_added="broadcast", mean_in="loss",
    functions=(("sigmoid", Term("sigmoid", r"\operatorname{sigmoid}")),),
    vector_cell="{name}[{index}]", index_base=0,
    chosen=(("pre_activation", "PyTorch names none; z for what a layer returns"),
            ("activation", "PyTorch names none; h for a hidden layer's output")),
    notes=(("W1 = nn.Linear(d0, d1)", ("layer 1: W1.weight is out × in, W1.bias has out entries, "
                                        "z1 = x W1.weight^T + W1.bias")),
           ("z1.grad, h1.grad", "gradients as autograd's .grad of each tensor (kept with retain_grad())"),
           ("[0,1]", "indices count from 0, as code reads them")),
)

PROFILES: dict[str, Profile] = {profile.id: profile for profile in (
    DEFAULT, ASSIGNMENT, QUIZ4, HW3, HW7, DEEPLEARNING_AI, NIELSEN, GOODFELLOW, PYTORCH)}


def get(profile_id: str) -> Profile:
    """The profile of that id; a KeyError naming every known id otherwise."""
    try:
        return PROFILES[profile_id]
    except KeyError:
        raise KeyError(f"unknown notation profile {profile_id!r}; known: {', '.join(PROFILES)}") from None


# Each worked example opens in its own source's profile (../shared/notation.md); the others in the default.
PRESET_PROFILES = {"seed002-ex2": "assignment", "seed004-p2-case1": "hw3", "seed004-p2-case2": "hw3",
                   "quiz4-softmax-ce": "quiz4", "hw7-relu-softmax": "hw7", "hw7-autoencoder": "hw7",
                   "quiz4-p1-linear": "quiz4", "assignment1-ex3-softmax-hinge": "assignment"}


def for_preset(preset_id: str) -> Profile:
    """The profile a preset opens in: its source's, or the default for a preset from no seed."""
    return PROFILES[PRESET_PROFILES.get(preset_id, DEFAULT.id)]
