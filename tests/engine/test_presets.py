"""Presets: the seeds' printed numbers where the seeds are right (and not where they are not), and every preset runs."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache

import numpy as np
import pytest

from engine import presets
from engine import spec as specmod
from engine import trace as tracemod
from tests.paths import ERRATA_FILE as ERRATA

CHECKS = json.loads(ERRATA.read_text())["numeric_checks"]

PRESET_OF = {
    "seed_assignment1_ex2": "seed002-ex2",
    "seed_hw3_problem2_case1_both_layers": "seed004-p2-case1",
    "seed_hw3_problem2_case2_layer2_only": "seed004-p2-case2",
    "mazur_classic": "mazur-2-2-2",
}


@cache
def run(preset_id: str, steps: int = 1) -> tracemod.Trace:
    body = presets.get(preset_id).body()
    body["steps"] = steps
    return tracemod.run(specmod.from_request(body))


@cache
def after(preset_id: str, steps: int = 1) -> tracemod.Step:
    """The step that starts from the parameters after `steps` updates: its forward pass is the network after them."""
    return run(preset_id, steps + 1).steps[steps]


def forward(step: tracemod.Step, layer: int) -> tracemod.Forward:
    return step.forward[layer - 1]


def backward(step: tracemod.Step, layer: int) -> tracemod.Backward:
    return next(b for b in step.backward if b.layer == layer)


def update(step: tracemod.Step, layer: int) -> tracemod.Params:
    return step.update[layer - 1]


def seed_matrix(preset_id: str, name: str):
    """The matrix (or vector) the seeds call `name`, in the preset's own layout."""
    step = run(preset_id).steps[0]
    return {
        # seed 002, examples as columns
        "S1": lambda: forward(step, 1).pre_activation,
        "Z1": lambda: forward(step, 1).activation,
        "Y_out": lambda: forward(step, 2).activation,
        "delta2": lambda: backward(step, 2).delta,
        "delta1": lambda: backward(step, 1).delta,
        "dL_dW2": lambda: backward(step, 2).grad_weights,
        "dL_dW1": lambda: backward(step, 1).grad_weights,
        # seed 004, examples as rows; W^l_0 is the bias
        "H": lambda: forward(step, 1).activation,
        "yhat": lambda: forward(step, 2).activation,
        "grad_yhat": lambda: step.output_gradient,
        "grad_W2": lambda: backward(step, 2).grad_weights,
        "grad_W2_0": lambda: backward(step, 2).grad_bias,
        "grad_H": lambda: backward(step, 1).grad_activation,
        "grad_W1": lambda: backward(step, 1).grad_weights,
        "grad_W1_0": lambda: backward(step, 1).grad_bias,
        "W2_new": lambda: update(step, 2).weights,
        "W1_new": lambda: update(step, 1).weights,
        "W2_0_new": lambda: update(step, 2).bias,
        "W1_0_new": lambda: update(step, 1).bias,
        "H_after": lambda: forward(after(preset_id), 1).activation,
        "yhat_after": lambda: forward(after(preset_id), 2).activation,
    }[name]()


def mazur(name: str) -> float:
    """Mazur's names: inputs i1 i2, hidden h1 h2, outputs o1 o2; w1..w4 into h1 h2, w5..w8 into o1 o2."""
    trace = run("mazur-2-2-2")
    step = trace.steps[0]
    weight_index = {1: (0, 0), 2: (0, 1), 3: (1, 0), 4: (1, 1)}  # columns layout: W[to][from]
    match = re.fullmatch(r"(out|net)_([ho])(\d)", name)
    if match:
        part = forward(step, 1 if match[2] == "h" else 2)
        matrix = part.activation if match[1] == "out" else part.pre_activation
        return matrix[int(match[3]) - 1][0]
    match = re.fullmatch(r"E_o(\d)", name)
    if match:  # one output's half squared error
        k = int(match[1]) - 1
        return 0.5 * (trace.targets[k][0] - forward(step, 2).activation[k][0]) ** 2
    match = re.fullmatch(r"dE_dw(\d)", name)
    if match:
        w = int(match[1])
        return backward(step, 1 if w <= 4 else 2).grad_weights[weight_index[(w - 1) % 4 + 1]]
    match = re.fullmatch(r"w(\d)\+", name)
    if match:
        w = int(match[1])
        return update(step, 1 if w <= 4 else 2).weights[weight_index[(w - 1) % 4 + 1]]
    if name == "E_total":
        return step.loss
    if name == "E_total_after_1_step":
        return trace.final_loss
    if name == "E_total_after_10000_steps":
        return run("mazur-2-2-2", 10000).final_loss
    match = re.fullmatch(r"out_o(\d)_after_10000_steps", name)
    if match:
        return forward(after("mazur-2-2-2", 10000), 2).activation[int(match[1]) - 1][0]
    raise KeyError(name)


def engine_value(case: str, quantity: str) -> float:
    preset_id = PRESET_OF[case]
    if case == "mazur_classic":
        return float(mazur(quantity))
    if quantity == "loss":
        return run(preset_id).steps[0].loss
    if quantity == "loss_before":
        return run(preset_id).steps[0].loss
    if quantity == "loss_after":
        return run(preset_id).final_loss
    match = re.fullmatch(r"(\w+?)((?:\[\d+\])+)", quantity)
    assert match, f"unknown quantity {quantity!r}"
    value = np.asarray(seed_matrix(preset_id, match[1]))
    indices = tuple(int(i) for i in re.findall(r"\d+", match[2]))
    if value.ndim == 1:  # a bias: the seeds write it as a row or column
        indices = indices[-1:]
    return float(value[indices])


ROWS = [
    pytest.param(case, row, id=f"{case}-{row['quantity']}")
    for case in PRESET_OF
    for row in CHECKS[case]["rows"]
]


def printed_of(row: dict) -> str:
    return row.get("printed", row.get("published"))


def rounded_like(value: float, printed: str) -> Decimal:
    """`value` rounded to as many decimals as `printed` shows."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return Decimal(f"{value:.{decimals}f}")


@pytest.mark.parametrize(("case", "row"), ROWS)
def test_engine_value_is_the_exact_value(case, row):
    assert engine_value(case, row["quantity"]) == pytest.approx(row["exact"], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("case", "row"), ROWS)
def test_printed_number_is_reproduced_exactly_where_the_seed_is_right(case, row):
    value, printed = engine_value(case, row["quantity"]), printed_of(row)
    if row["verdict"] == "ok":
        assert rounded_like(value, printed) == Decimal(printed), f"{value!r} does not round to {printed}"
    else:
        assert rounded_like(value, printed) != Decimal(printed), f"{value!r} rounds to the misprinted {printed}"


def test_every_errata_row_is_checked():
    for case in PRESET_OF:
        summary = CHECKS[case].get("summary", {})
        if "n_compared" in summary:
            assert len(CHECKS[case]["rows"]) == summary["n_compared"]
            assert sum(row["verdict"] == "ok" for row in CHECKS[case]["rows"]) == summary["n_ok"]


EXPECTED_IDS = {"seed002-ex2", "seed004-p2-case1", "seed004-p2-case2", "quiz4-softmax-ce", "hw7-relu-softmax",
                "hw7-autoencoder", "mazur-2-2-2", "xor", "quiz4-p1-linear", "assignment1-ex3-softmax-hinge"}


def test_preset_ids():
    ids = [preset.id for preset in presets.PRESETS]
    assert len(ids) == len(set(ids))
    assert set(ids) == EXPECTED_IDS


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda preset: preset.id)
def test_preset_is_described_accepted_and_runs(preset):
    for field in ("id", "title", "description", "source", "convention"):
        assert isinstance(getattr(preset, field), str) and getattr(preset, field).strip(), field
    assert presets.get(preset.id) is preset
    spec = specmod.from_request(preset.body())
    assert spec.layout in ("rows", "columns")
    result = tracemod.run(spec)  # no Overflow
    assert len(result.steps) == preset.request.get("steps", 1)
    json.dumps(result.to_dict(), allow_nan=False)


def test_preset_body_is_a_copy():
    body = presets.get("xor").body()
    body["layers"][0]["weights"][0][0] = 99.0
    body["steps"] = 1000
    assert presets.get("xor").request["layers"][0]["weights"][0][0] == -0.5
    assert presets.get("xor").request["steps"] == 10


@pytest.mark.parametrize("unknown", ["nope", "", "XOR", "seed002"])
def test_get_raises_key_error_for_an_unknown_id(unknown):
    with pytest.raises(KeyError):
        presets.get(unknown)


def test_frozen_layer_of_seed004_case2_keeps_its_parameters():
    step = run("seed004-p2-case2").steps[0]
    np.testing.assert_array_equal(step.update[0].weights, [[3.0, 6.0], [4.0, 5.0]])
    np.testing.assert_array_equal(step.update[0].bias, [1.0, -6.0])
    # its gradients are still computed and shown, and equal case 1's
    case1 = run("seed004-p2-case1").steps[0]
    np.testing.assert_array_equal(backward(step, 1).grad_weights, backward(case1, 1).grad_weights)
    np.testing.assert_array_equal(update(step, 2).weights, update(case1, 2).weights)


REFCASES = ERRATA.with_name("trace-v1-cases.json")


@pytest.mark.parametrize(
    ("case", "preset_id"), [*PRESET_OF.items(), ("quiz4_softmax_ce", "quiz4-softmax-ce")]
)
def test_seed_presets_are_the_reference_requests(case, preset_id):
    """The worked examples are exactly the requests whose traces were computed independently."""
    requests = {c["name"]: c["request"] for c in json.loads(REFCASES.read_text())["cases"]}
    assert presets.get(preset_id).request == requests[case]
