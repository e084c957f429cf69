"""Networks on which the `default` profile must write what the lab wrote before profiles existed.

`record()` writes every sub-step's title and MathML for each case; its output at commit 5a0fabe (the
lab before notation profiles) is tests/notation/data/default_lab.json, which
test_profiles.py compares with today's titles and equations. Regenerate only on purpose:

    .venv/bin/python -m tests.notation.default_cases
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np

from engine import presets
from engine import spec as specmod
from engine import trace as tracemod
from engine.timeline import substeps

GOLDEN = Path(__file__).resolve().parent / "data" / "default_lab.json"
# The worked examples there were when the golden file was recorded (later ones have no "before").
RECORDED_PRESETS = ("seed002-ex2", "seed004-p2-case1", "seed004-p2-case2", "quiz4-softmax-ce", "hw7-relu-softmax",
                    "hw7-autoencoder", "mazur-2-2-2", "xor")


def other_layout(body: dict) -> dict:
    """The same network in the other layout: every matrix transposed, biases and labels unchanged."""
    body = copy.deepcopy(body)
    body["layout"] = "columns" if body["layout"] == "rows" else "rows"
    body["inputs"] = np.array(body["inputs"]).T.tolist()
    if body.get("targets") is not None:
        body["targets"] = np.array(body["targets"]).T.tolist()
    for layer in body["layers"]:
        layer["weights"] = np.array(layer["weights"]).T.tolist()
    return body


def _one_layer(activation: str, loss: dict, layout: str = "rows", **extra) -> dict:
    inputs = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]])
    weights = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]])
    targets = np.array([[0.2, 0.7, 0.9], [1.0, 0.0, 0.5], [0.3, 0.6, 0.1]])
    body = {"layout": "rows", "layers": [{"weights": weights.tolist(), "bias": [0.05, -0.1, 0.2],
                                          "activation": activation, **extra}],
            "inputs": inputs.tolist(), "loss": loss, "optimizer": {"name": "sgd", "learning_rate": 0.1}, "steps": 1}
    if loss["name"] in ("multiclass_hinge",) or (loss["name"] == "cross_entropy" and activation == "softmax"):
        body["labels"] = [2, 0, 1]
    else:
        body["targets"] = targets.tolist()
    return body if layout == "rows" else other_layout(body)


def _three_layers(layout: str, frozen: bool = False, batch_size: int | None = None) -> dict:
    rng = np.random.default_rng(3)
    widths = [2, 3, 2, 2]
    layers = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        layers.append({"weights": rng.normal(size=(fan_in, fan_out)).round(2).tolist(),
                       "bias": rng.normal(size=fan_out).round(2).tolist() if index != 1 else None,
                       "activation": ("tanh", "relu", "sigmoid")[index]})
    if frozen:
        layers[0]["train_weights"] = False
    body = {"layout": "rows", "layers": layers, "inputs": rng.normal(size=(4, 2)).round(2).tolist(),
            "targets": rng.uniform(size=(4, 2)).round(2).tolist(), "loss": {"name": "squared_error", "half": True},
            "optimizer": {"name": "sgd", "learning_rate": 0.3}, "steps": 2}
    if batch_size is not None:
        body["batch_size"] = batch_size
    return body if layout == "rows" else other_layout(body)


def cases() -> dict[str, dict]:
    """Trace requests by case id: every preset in both layouts and with each optimizer, every loss, 3 layers."""
    found: dict[str, dict] = {}
    for preset in map(presets.get, RECORDED_PRESETS):
        found[preset.id] = preset.body()
        found[f"{preset.id}/other-layout"] = other_layout(preset.body())
        for name, optimizer in (("momentum", {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}),
                                ("nesterov", {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
                                ("adam", {"name": "adam", "learning_rate": 0.01})):
            body = preset.body()
            body.update(optimizer=optimizer, steps=2)
            found[f"{preset.id}/{name}"] = body
    for layout in ("rows", "columns"):
        for reduction in ("mean", "sum", "mean_all"):
            for half in (True, False):
                found[f"squared-{reduction}-{half}/{layout}"] = _one_layer(
                    "identity", {"name": "squared_error", "reduction": reduction, "half": half}, layout)
            found[f"bce-{reduction}/{layout}"] = _one_layer(
                "sigmoid", {"name": "binary_cross_entropy", "reduction": reduction}, layout)
        for reduction in ("mean", "sum"):
            found[f"softmax-ce-{reduction}/{layout}"] = _one_layer(
                "softmax", {"name": "cross_entropy", "reduction": reduction}, layout)
            found[f"hinge-{reduction}/{layout}"] = _one_layer(
                "identity", {"name": "multiclass_hinge", "reduction": reduction, "margin": 0.5}, layout)
        found[f"sigmoid-ce/{layout}"] = _one_layer("sigmoid", {"name": "cross_entropy"}, layout)
        found[f"softmax-squared/{layout}"] = _one_layer("softmax", {"name": "squared_error"}, layout)
        found[f"leaky/{layout}"] = _one_layer("leaky_relu", {"name": "squared_error"}, layout, negative_slope=0.2)
        found[f"three/{layout}"] = _three_layers(layout)
        found[f"three-frozen/{layout}"] = _three_layers(layout, frozen=True)
        found[f"three-batch/{layout}"] = _three_layers(layout, batch_size=3)
    return found


def shown_substeps(spec):
    """The sub-steps compared: every one of the first and of the last SGD step."""
    every = substeps(len(spec.layers), spec.steps)
    return [s for s in every if s.step in (0, spec.steps - 1)]


def written(title_of, equation_of) -> dict[str, dict[str, list[str]]]:
    """{case: {sub-step key: [title, sha256 of the MathML]}} for the given title and equation functions."""
    found = {}
    for case, body in cases().items():
        spec = specmod.from_request(body)
        trace = tracemod.run(spec)
        found[case] = {sub.key: [title_of(spec, sub), _digest(equation_of(spec, trace, sub))]
                       for sub in shown_substeps(spec)}
    return found


def _digest(mathml) -> str:
    return hashlib.sha256(str(mathml).encode()).hexdigest()


def record() -> None:
    from webapp.notation import equations

    GOLDEN.write_text(json.dumps(written(equations.title, equations.equation), ensure_ascii=False, indent=1) + "\n",
                      encoding="utf-8")


if __name__ == "__main__":
    record()
