"""Sub-step titles and MathML equations, checked against numbers computed here with numpy from the requests."""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from markupsafe import Markup

from engine import presets
from engine import spec as specmod
from engine import trace as tracemod
from engine.timeline import Substep
from webapp.notation import equations

MINUS = "&#x02212;"


def tables(mathml: str) -> list[np.ndarray]:
    """Every matrix written in the MathML, in order, parsed back to floats."""
    found = []
    for table in re.findall(r"<mtable[^>]*>(.*?)</mtable>", mathml):
        rows = [[_cell(cell) for cell in re.findall(r"<mtd>(.*?)</mtd>", row)]
                for row in re.findall(r"<mtr>(.*?)</mtr>", table)]
        found.append(np.array(rows))
    return found


def _cell(cell: str) -> float:
    text = html.unescape(re.sub(r"<[^>]+>", "", cell)).replace("−", "-")
    match = re.fullmatch(r"(-?[\d.]+)(?:×10(-?\d+))?", text)
    assert match, f"not a number: {text!r}"
    return float(match[1]) * (10.0 ** int(match[2]) if match[2] else 1.0)


def fractions(mathml: str) -> list[tuple[str, str]]:
    """(numerator, denominator) text of every fraction."""
    found = []
    for element in re.findall(r"<math .*?</math>", mathml, flags=re.S):
        for fraction in ElementTree.fromstring(element).iter("{http://www.w3.org/1998/Math/MathML}mfrac"):
            numerator, denominator = ("".join(part.itertext()) for part in fraction)
            found.append((numerator, denominator))
    return found


def assert_tables(mathml: str, expected: list) -> None:
    """The written matrices are the expected ones (shape and values to the 4 significant digits shown)."""
    got = tables(mathml)
    assert len(got) == len(expected), f"{len(got)} matrices written, expected {len(expected)}"
    for position, (written, exact) in enumerate(zip(got, expected)):
        exact = np.atleast_2d(np.asarray(exact, dtype=float))
        assert written.shape == exact.shape, f"matrix {position}: shape {written.shape}, expected {exact.shape}"
        np.testing.assert_allclose(written, exact, rtol=6e-4, atol=1e-300, err_msg=f"matrix {position}")


def plain(mathml: str) -> str:
    """The MathML's text, tags dropped and entities decoded (no-break spaces as spaces)."""
    return html.unescape(re.sub(r"<[^>]+>", "", mathml)).replace("\u00a0", " ")


def contains_number(mathml: str, value: float) -> bool:
    text = f"{abs(value):.4g}"
    return (f"<mo>{MINUS}</mo><mn>{text}</mn>" if value < 0 else f"<mn>{text}</mn>") in mathml


def run(body: dict):
    spec = specmod.from_request(body)
    return spec, tracemod.run(spec)


def sigmoid(s):
    return 1 / (1 + np.exp(-s))


def softmax_rows(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- seed 002, Exercise 2: columns layout, no bias, relu then identity, 1/(2N) squared error ---------

@pytest.fixture(scope="module")
def seed002():
    body = presets.get("seed002-ex2").body()
    spec, trace = run(body)
    x, t = np.array(body["inputs"]), np.array(body["targets"])
    w1, w2 = (np.array(layer["weights"]) for layer in body["layers"])
    n = x.shape[1]
    s1 = w1 @ x
    z1 = np.maximum(s1, 0)
    y = w2 @ z1
    g2 = (y - t) / n
    dw2 = g2 @ z1.T
    g1 = w2.T @ g2
    d1 = g1 * (s1 > 0)
    dw1 = d1 @ x.T
    numbers = dict(x=x, t=t, w1=w1, w2=w2, s1=s1, z1=z1, y=y, loss=((y - t) ** 2).sum() / (2 * n), g2=g2, dw2=dw2,
                   g1=g1, d1=d1, mask=(s1 > 0).astype(float), dw1=dw1, w1_new=w1 - 0.5 * dw1, w2_new=w2 - 0.5 * dw2)
    return spec, trace, numbers


def test_seed002_titles(seed002):
    spec, _, _ = seed002
    titles = [equations.title(spec, sub) for sub in _substeps(2)]
    assert titles == [
        "Forward, layer 1: S1 = W1 X, Z1 = relu(S1)",
        "Forward, layer 2: S2 = W2 Z1, Z2 = S2",
        "Loss: L = 1/(2N) Σ‖Y − T‖²",
        "Backward, layer 2: δ2 = dL/dZ2, dL/dW2 = δ2 Z1^T, dL/dZ1 = W2^T δ2",
        "Backward, layer 1: δ1 = dL/dZ1 ⊙ relu'(S1), dL/dW1 = δ1 X^T",
        "Update: W ← W − r dL/dW (r = 0.5)",
    ]


def test_seed002_forward_is_written_as_columns(seed002):
    spec, trace, v = seed002
    first = equations.equation(spec, trace, Substep(0, "forward", 1))
    assert isinstance(first, Markup)
    assert_tables(first, [v["w1"], v["x"], v["s1"], v["z1"]])
    assert "relu" in first and "<mi>X</mi>" in first
    assert_tables(equations.equation(spec, trace, Substep(0, "forward", 2)), [v["w2"], v["z1"], v["y"], v["y"]])


def test_seed002_loss_with_its_value_and_gradient(seed002):
    spec, trace, v = seed002
    loss = equations.equation(spec, trace, Substep(0, "loss", None))
    assert_tables(loss, [v["y"], v["t"], v["g2"]])
    assert contains_number(loss, v["loss"]) and "<mn>0.4916</mn>" in loss
    assert ("1", "2N") in fractions(loss)
    assert ("1", "2·4") in fractions(loss)  # 1/(2·N) with N = 4 substituted
    assert "&#x02016;" in loss  # the norm bars


def test_seed002_backward_layer_2(seed002):
    spec, trace, v = seed002
    mathml = equations.equation(spec, trace, Substep(0, "backward", 2))
    # δ2 = dL/dZ2; dL/dW2 = δ2 Z1^T; dL/dZ1 = W2^T δ2
    assert_tables(mathml, [v["g2"], v["g2"], v["z1"], v["dw2"], v["w2"], v["g2"], v["g1"]])
    assert "&#x022A4;" in mathml  # transposes
    assert contains_number(mathml, -0.20595239625)  # dL/dW2[1,2], which the seed truncates to -0.2059


def test_seed002_backward_layer_1(seed002):
    spec, trace, v = seed002
    mathml = equations.equation(spec, trace, Substep(0, "backward", 1))
    assert_tables(mathml, [v["g1"], v["mask"], v["d1"], v["d1"], v["x"], v["dw1"]])
    assert "&#x02299;" in mathml  # Hadamard product
    assert "Z" in mathml and "<mn>0</mn>" in mathml


def test_seed002_update(seed002):
    spec, trace, v = seed002
    mathml = equations.equation(spec, trace, Substep(0, "update", None))
    assert_tables(mathml, [v["w1"], v["dw1"], v["w1_new"], v["w2"], v["dw2"], v["w2_new"]])
    assert "&#x02190;" in mathml and "<mn>0.5</mn>" in mathml


# --- seed 004: rows layout, biases, sigmoid then softmax under a squared loss (full Jacobian) -----

@pytest.fixture(scope="module")
def seed004():
    body = presets.get("seed004-p2-case1").body()
    spec, trace = run(body)
    x, t = np.array(body["inputs"]), np.array(body["targets"])
    (w1, w2), (b1, b2) = ([np.array(layer[k]) for layer in body["layers"]] for k in ("weights", "bias"))
    s1 = x @ w1 + b1
    z1 = sigmoid(s1)
    s2 = z1 @ w2 + b2
    z2 = softmax_rows(s2)
    g2 = z2 - t  # 1/2 sum of squares: dL/dY = Y - T
    d2 = z2 * (g2 - (g2 * z2).sum(axis=1, keepdims=True))
    g1 = d2 @ w2.T
    d1 = g1 * z1 * (1 - z1)
    numbers = dict(x=x, t=t, w1=w1, w2=w2, b1=b1[None, :], b2=b2[None, :], s1=s1, z1=z1, s2=s2, z2=z2, g2=g2, d2=d2,
                   dw2=z1.T @ d2, db2=d2.sum(axis=0)[None, :], g1=g1, d1=d1, slope1=z1 * (1 - z1), dw1=x.T @ d1,
                   db1=d1.sum(axis=0)[None, :], loss=0.5 * ((z2 - t) ** 2).sum())
    return body, spec, trace, numbers


def test_seed004_titles_are_written_as_rows(seed004):
    _, spec, _, _ = seed004
    assert equations.title(spec, Substep(0, "forward", 1)) == "Forward, layer 1: S1 = X W1 + 1_N b1, Z1 = σ(S1)"
    assert equations.title(spec, Substep(0, "forward", 2)) == "Forward, layer 2: S2 = Z1 W2 + 1_N b2, Z2 = softmax(S2)"
    assert equations.title(spec, Substep(0, "loss", None)) == "Loss: L = 1/2 Σ‖Y − T‖²"
    assert equations.title(spec, Substep(0, "backward", 2)) == (
        "Backward, layer 2: δ2 = Z2 ⊙ (G − (G ⊙ Z2) 1 1^T) with G = dL/dZ2, dL/dW2 = Z1^T δ2, "
        "dL/db2 = 1_N^T δ2, dL/dZ1 = δ2 W2^T")
    assert equations.title(spec, Substep(0, "update", None)) == "Update: W ← W − r dL/dW, b ← b − r dL/db (r = 0.5)"


def test_seed004_forward_with_bias_in_rows(seed004):
    _, spec, trace, v = seed004
    first = equations.equation(spec, trace, Substep(0, "forward", 1))
    assert_tables(first, [v["x"], v["w1"], v["b1"], v["s1"], v["z1"]])
    assert "𝟏" in first and "&#x003C3;" in first  # 1_N b1, sigma
    second = equations.equation(spec, trace, Substep(0, "forward", 2))
    assert_tables(second, [v["z1"], v["w2"], v["b2"], v["s2"], v["z2"]])
    assert "softmax" in plain(second) and "each row" in plain(second)


def test_seed004_softmax_jacobian_and_the_rest_of_backward(seed004):
    _, spec, trace, v = seed004
    second = equations.equation(spec, trace, Substep(0, "backward", 2))
    assert_tables(second, [v["z2"], v["g2"], v["g2"], v["z2"], v["d2"],  # δ2 = Z ⊙ (G − (G ⊙ Z) 1 1^T)
                           v["z1"], v["d2"], v["dw2"],  # dL/dW2 = Z1^T δ2
                           v["d2"], v["db2"],  # dL/db2 = 1_N^T δ2
                           v["d2"], v["w2"], v["g1"]])  # dL/dZ1 = δ2 W2^T
    first = equations.equation(spec, trace, Substep(0, "backward", 1))
    assert_tables(first, [v["g1"], v["slope1"], v["d1"], v["x"], v["d1"], v["dw1"], v["d1"], v["db1"]])


def test_seed004_loss(seed004):
    _, spec, trace, v = seed004
    mathml = equations.equation(spec, trace, Substep(0, "loss", None))
    assert_tables(mathml, [v["z2"], v["t"], v["g2"]])
    assert contains_number(mathml, v["loss"])
    assert ("1", "2") in fractions(mathml)


def test_frozen_parameters_get_a_note_and_no_update(seed004):
    body = presets.get("seed004-p2-case2").body()
    spec, trace = run(body)
    _, _, _, v = seed004
    assert equations.title(spec, Substep(0, "update", None)).endswith("; W1, b1 frozen")
    mathml = equations.equation(spec, trace, Substep(0, "update", None))
    assert mathml.count("frozen") == 2
    w2, b2 = np.array(body["layers"][1]["weights"]), np.array(body["layers"][1]["bias"])[None, :]
    assert_tables(mathml, [w2, v["dw2"], w2 - 0.5 * v["dw2"], b2, v["db2"], b2 - 0.5 * v["db2"]])


# --- every loss and reduction ----------------------------------------------------------------

X3 = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]]
W3 = [[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]]
B3 = [0.05, -0.1, 0.2]
T3 = [[0.2, -0.1, 0.4], [1.0, 0.0, -0.5], [0.3, 0.3, 0.3]]
P3 = [[0.2, 0.7, 0.9], [1.0, 0.0, 0.5], [0.3, 0.6, 0.1]]  # targets in [0, 1] for binary cross-entropy
LABELS = [2, 0, 1]


def one_layer(activation: str, loss: dict, targets=None, labels=None, layout="rows") -> dict:
    weights, inputs = np.array(W3), np.array(X3)
    body = {"layout": layout, "layers": [{"weights": (weights if layout == "rows" else weights.T).tolist(),
                                          "bias": B3, "activation": activation}],
            "inputs": (inputs if layout == "rows" else inputs.T).tolist(), "loss": loss,
            "optimizer": {"name": "sgd", "learning_rate": 0.1}, "steps": 1}
    if labels is not None:
        body["labels"] = labels
    else:
        body["targets"] = (np.array(targets) if layout == "rows" else np.array(targets).T).tolist()
    return body


def pre_activation() -> np.ndarray:
    return np.array(X3) @ np.array(W3) + np.array(B3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "mean_all"])
@pytest.mark.parametrize("half", [True, False])
def test_squared_error(reduction, half):
    spec, trace = run(one_layer("identity", {"name": "squared_error", "reduction": reduction, "half": half},
                                targets=T3))
    y, t = pre_activation(), np.array(T3)
    divisor = {"mean": 3, "sum": 1, "mean_all": 9}[reduction] * (2 if half else 1)
    loss = ((y - t) ** 2).sum() / divisor
    gradient = 2 * (y - t) / divisor
    mathml = equations.equation(spec, trace, Substep(0, "loss", None))
    assert_tables(mathml, [y, t, gradient])
    assert contains_number(mathml, loss)
    numeric = {"mean": ["3"], "sum": [], "mean_all": ["3", "3"]}[reduction]
    if half or numeric:
        assert ("1", "·".join((["2"] if half else []) + numeric)) in fractions(mathml)
    symbolic = {"mean": "N", "sum": "", "mean_all": "Nd1"}[reduction]
    if symbolic:
        assert ("1" if half else "2", symbolic) in fractions(mathml)  # the factor of dL/dY
    backward = equations.equation(spec, trace, Substep(0, "backward", 1))
    assert_tables(backward, [gradient, np.array(X3), gradient, np.array(X3).T @ gradient, gradient,
                             gradient.sum(axis=0)])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_after_softmax_is_fused(reduction):
    spec, trace = run(one_layer("softmax", {"name": "cross_entropy", "reduction": reduction}, labels=LABELS))
    y = softmax_rows(pre_activation())
    t = np.eye(3)[LABELS]
    divisor = 3 if reduction == "mean" else 1
    loss = -(t * np.log(y)).sum() / divisor
    mathml = equations.equation(spec, trace, Substep(0, "loss", None))
    assert_tables(mathml, [t, y, -t / y / divisor])
    assert contains_number(mathml, loss)
    assert "log" in mathml and "&#x02298;" in mathml and "log-softmax" in mathml
    backward = equations.equation(spec, trace, Substep(0, "backward", 1))
    delta = (y - t) / divisor
    assert_tables(backward, [y, t, delta, np.array(X3), delta, np.array(X3).T @ delta, delta, delta.sum(axis=0)])
    title = equations.title(spec, Substep(0, "backward", 1))
    assert title.startswith("Backward, layer 1: δ1 = (Y − T)/N," if reduction == "mean" else
                            "Backward, layer 1: δ1 = Y − T,")


def test_cross_entropy_after_sigmoid_goes_through_the_derivative():
    spec, trace = run(one_layer("sigmoid", {"name": "cross_entropy"}, targets=P3))
    y, t = sigmoid(pre_activation()), np.array(P3)
    gradient = -t / y / 3
    backward = equations.equation(spec, trace, Substep(0, "backward", 1))
    delta = gradient * y * (1 - y)
    assert_tables(backward, [gradient, y * (1 - y), delta, np.array(X3), delta, np.array(X3).T @ delta, delta,
                             delta.sum(axis=0)])
    assert "log-softmax" not in equations.equation(spec, trace, Substep(0, "loss", None))


@pytest.mark.parametrize("reduction", ["mean", "sum", "mean_all"])
def test_binary_cross_entropy_after_sigmoid_is_fused(reduction):
    spec, trace = run(one_layer("sigmoid", {"name": "binary_cross_entropy", "reduction": reduction}, targets=P3))
    y, t = sigmoid(pre_activation()), np.array(P3)
    divisor = {"mean": 3, "sum": 1, "mean_all": 9}[reduction]
    loss = -(t * np.log(y) + (1 - t) * np.log(1 - y)).sum() / divisor
    mathml = equations.equation(spec, trace, Substep(0, "loss", None))
    assert_tables(mathml, [(y - t) / (y * (1 - y)) / divisor])
    assert contains_number(mathml, loss) and "softplus" in mathml
    delta = (y - t) / divisor
    backward = equations.equation(spec, trace, Substep(0, "backward", 1))
    assert_tables(backward, [y, t, delta, np.array(X3), delta, np.array(X3).T @ delta, delta, delta.sum(axis=0)])
    if reduction == "mean_all":
        assert ("1", "3·3") in fractions(backward)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_multiclass_hinge_with_margin(reduction):
    spec, trace = run(one_layer("identity", {"name": "multiclass_hinge", "reduction": reduction, "margin": 0.5},
                                labels=LABELS))
    y = pre_activation()
    divisor = 3 if reduction == "mean" else 1
    gradient, loss = np.zeros_like(y), 0.0
    for n, c in enumerate(LABELS):
        for k in range(3):
            if k != c and y[n, k] - y[n, c] + 0.5 > 0:
                loss += y[n, k] - y[n, c] + 0.5
                gradient[n, k] += 1 / divisor
                gradient[n, c] -= 1 / divisor
    loss /= divisor
    mathml = equations.equation(spec, trace, Substep(0, "loss", None))
    assert_tables(mathml, [gradient])
    assert contains_number(mathml, loss)
    assert "max" in mathml and "<mn>0.5</mn>" in mathml
    assert "max(0, y_nk − y_n,c_n + 0.5)" in equations.title(spec, Substep(0, "loss", None))


def test_columns_layout_transposes_everything():
    spec, trace = run(one_layer("tanh", {"name": "squared_error", "half": True}, targets=T3, layout="columns"))
    x, w, b = np.array(X3).T, np.array(W3).T, np.array(B3)[:, None]
    s = w @ x + b
    z = np.tanh(s)
    gradient = (z - np.array(T3).T) / 3
    delta = gradient * (1 - z * z)
    assert_tables(equations.equation(spec, trace, Substep(0, "forward", 1)), [w, x, b, s, z])
    assert_tables(equations.equation(spec, trace, Substep(0, "backward", 1)),
                  [gradient, 1 - z * z, delta, delta, x, delta @ x.T, delta, delta.sum(axis=1, keepdims=True)])
    assert equations.title(spec, Substep(0, "forward", 1)) == "Forward, layer 1: S1 = W1 X + b1 1_N^T, Z1 = tanh(S1)"


def test_leaky_relu_shows_its_slope():
    body = one_layer("leaky_relu", {"name": "squared_error"}, targets=T3)
    body["layers"][0]["negative_slope"] = 0.2
    spec, trace = run(body)
    s = pre_activation()
    assert_tables(equations.equation(spec, trace, Substep(0, "forward", 1)),
                  [np.array(X3), np.array(W3), np.array(B3)[None, :], s, np.where(s > 0, s, 0.2 * s)])
    slope = np.where(s > 0, 1.0, 0.2)
    gradient = 2 * (s * slope - np.array(T3)) / 3
    backward = equations.equation(spec, trace, Substep(0, "backward", 1))
    first_line = backward[:backward.index("</math>")]
    assert_tables(first_line, [gradient, slope, gradient * slope])
    assert "<mn>0.2</mn>" in first_line


def test_large_matrices_show_their_shape_instead_of_numbers():
    rng = np.random.default_rng(7)
    body = {"layout": "rows", "layers": [{"weights": rng.normal(size=(2, 9)).round(2).tolist(), "bias": None,
                                          "activation": "relu"},
                                         {"weights": rng.normal(size=(9, 1)).round(2).tolist(), "bias": None,
                                          "activation": "identity"}],
            "inputs": rng.normal(size=(3, 2)).round(2).tolist(), "targets": [[1.0], [0.0], [1.0]],
            "loss": {"name": "squared_error"}, "steps": 1}
    spec, trace = run(body)
    forward = equations.equation(spec, trace, Substep(0, "forward", 1))
    assert tables(forward) == [] and "(3 × 9)" in plain(forward)
    second = equations.equation(spec, trace, Substep(0, "forward", 2))
    assert len(tables(second)) == 2  # Z1 is 3 x 9: only the 3 x 1 results S2 and Z2 are written out


def test_tiny_numbers_use_powers_of_ten():
    assert equations.number(1.5e-05) == r"1.5 \times 10^{-5}"
    assert equations.number(-0.0) == "0"
    assert equations.number(0.09859000000000001) == "0.09859"
    body = one_layer("identity", {"name": "squared_error"}, targets=T3)
    body["layers"][0]["weights"][0][0] = 1.5e-05
    spec, trace = run(body)
    written = tables(equations.equation(spec, trace, Substep(0, "forward", 1)))[1]
    assert written[0, 0] == pytest.approx(1.5e-05)


@pytest.mark.parametrize("preset", [p.id for p in presets.PRESETS])
def test_every_sub_step_of_every_preset_is_well_formed_mathml(preset):
    spec, trace = run(presets.get(preset).body())
    for sub in _substeps(len(spec.layers)):
        mathml = equations.equation(spec, trace, sub)
        for element in re.findall(r"<math .*?</math>", mathml, flags=re.S):
            root = ElementTree.fromstring(element)
            assert root.tag == "{http://www.w3.org/1998/Math/MathML}math" and root.get("display") == "block"
        assert "<script" not in mathml and "\\" not in re.sub(r"<[^>]+>", "", mathml)  # no unconverted LaTeX
        assert equations.title(spec, sub)


def _substeps(layers: int) -> list[Substep]:
    return ([Substep(0, "forward", layer) for layer in range(1, layers + 1)] + [Substep(0, "loss", None)]
            + [Substep(0, "backward", layer) for layer in range(layers, 0, -1)] + [Substep(0, "update", None)])


# --- optimizers and mini-batches -------------------------------------------------------------

def seed002_gradients(w1, w2, x, t):
    """(dL/dW1, dL/dW2) of seed 002's network, columns layout, 1/(2N) squared error."""
    s1 = w1 @ x
    z1 = np.maximum(s1, 0)
    g2 = (w2 @ z1 - t) / x.shape[1]
    return ((w2.T @ g2) * (s1 > 0)) @ x.T, g2 @ z1.T


def seed002_with(optimizer: dict, **extra):
    body = presets.get("seed002-ex2").body()
    body.update(optimizer=optimizer, steps=2, **extra)
    x, t = np.array(body["inputs"]), np.array(body["targets"])
    weights = [np.array(layer["weights"]) for layer in body["layers"]]
    return body, x, t, weights


def test_momentum_update_shows_the_velocity():
    body, x, t, weights = seed002_with({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    spec, trace = run(body)
    first = seed002_gradients(*weights, x, t)
    after_first = [w - 0.1 * g for w, g in zip(weights, first)]  # v = g at the first step
    second = seed002_gradients(*after_first, x, t)
    velocity = [0.9 * a + b for a, b in zip(first, second)]
    after_second = [w - 0.1 * v for w, v in zip(after_first, velocity)]
    mathml = equations.equation(spec, trace, Substep(1, "update", None))
    expected = []
    for layer in range(2):  # v <- mu v + g = [..]; W <- W - r v = [..]
        expected += [first[layer], second[layer], velocity[layer], after_first[layer], velocity[layer],
                     after_second[layer]]
    assert_tables(mathml, expected)
    assert equations.title(spec, Substep(1, "update", None)) == \
        "Update: v ← μ v + dL/dW, W ← W − r v (r = 0.1, μ = 0.9)"


def test_nesterov_update():
    body, x, t, weights = seed002_with({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True})
    spec, trace = run(body)
    first = seed002_gradients(*weights, x, t)
    after_first = [w - 0.1 * (g + 0.9 * g) for w, g in zip(weights, first)]
    second = seed002_gradients(*after_first, x, t)
    velocity = [0.9 * a + b for a, b in zip(first, second)]
    after_second = [w - 0.1 * (g + 0.9 * v) for w, g, v in zip(after_first, second, velocity)]
    expected = []
    for layer in range(2):
        expected += [first[layer], second[layer], velocity[layer],
                     after_first[layer], second[layer], velocity[layer], after_second[layer]]
    assert_tables(equations.equation(spec, trace, Substep(1, "update", None)), expected)
    assert "W ← W − r (dL/dW + μ v)" in equations.title(spec, Substep(1, "update", None))


def test_adam_update_shows_both_moments():
    body, x, t, weights = seed002_with({"name": "adam", "learning_rate": 0.01})
    spec, trace = run(body)
    first = seed002_gradients(*weights, x, t)
    m = [0.1 * g for g in first]
    v = [0.001 * g * g for g in first]
    after_first = [w - 0.01 / (1 - 0.9) * a / (np.sqrt(b) / np.sqrt(1 - 0.999) + 1e-8)
                   for w, a, b in zip(weights, m, v)]
    second = seed002_gradients(*after_first, x, t)
    m2 = [0.9 * a + 0.1 * g for a, g in zip(m, second)]
    v2 = [0.999 * b + 0.001 * g * g for b, g in zip(v, second)]
    after_second = [w - 0.01 / (1 - 0.9 ** 2) * a / (np.sqrt(b) / np.sqrt(1 - 0.999 ** 2) + 1e-8)
                    for w, a, b in zip(after_first, m2, v2)]
    expected = []
    for layer in range(2):
        expected += [m[layer], second[layer], m2[layer], v[layer], second[layer], second[layer], v2[layer],
                     after_second[layer]]
    mathml = equations.equation(spec, trace, Substep(1, "update", None))
    assert_tables(mathml, expected)
    assert plain(mathml).startswith("t=2, r=0.01")
    assert equations.title(spec, Substep(1, "update", None)).startswith("Update (Adam, t = 2): m ← β1 m")


def test_a_mini_batch_step_uses_its_own_examples_and_n():
    body, x, t, (w1, w2) = seed002_with({"name": "sgd", "learning_rate": 0.5}, batch_size=2)
    spec, trace = run(body)
    batch = trace.to_dict()["steps"][0]["batch"]
    assert len(batch) == 2
    xb, tb = x[:, batch], t[:, batch]
    s1 = w1 @ xb
    y = w2 @ np.maximum(s1, 0)
    loss = ((y - tb) ** 2).sum() / 4
    assert_tables(equations.equation(spec, trace, Substep(0, "forward", 1)), [w1, xb, s1, np.maximum(s1, 0)])
    mathml = equations.equation(spec, trace, Substep(0, "loss", None))
    assert_tables(mathml, [y, tb, (y - tb) / 2])
    assert contains_number(mathml, loss)
    assert ("1", "2·2") in fractions(mathml)
    assert f"mini-batch: examples {batch[0] + 1}, {batch[1] + 1}" in plain(mathml)


def test_titles_and_equations_are_importable_from_equations():
    """The lab imports both from webapp.notation.equations; the titles and shared notation live in webapp.notation.symbols."""
    from webapp.notation import symbols as notation
    from webapp.notation.equations import equation, title

    assert title is notation.title and callable(equation)
