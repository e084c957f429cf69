"""The spec: a request becomes immutable data, and anything malformed is a ValueError that names the shapes."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from engine import spec as specmod
from engine import trace as tracemod

BASE = {
    "layout": "rows",
    "layers": [
        {"weights": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], "bias": [0.0, 0.1, 0.2], "activation": "relu"},
        {"weights": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], "bias": None, "activation": "softmax"},
    ],
    "inputs": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]],
    "labels": [0, 1, 1, 0],
    "loss": {"name": "cross_entropy", "reduction": "sum"},
    "optimizer": {"name": "sgd", "learning_rate": 0.25},
    "steps": 2,
}


def body(**changes) -> dict:
    out = copy.deepcopy(BASE)
    out.update(changes)
    return out


def test_from_request_reads_every_field():
    spec = specmod.from_request(body())
    assert spec.layout == "rows"
    assert len(spec.layers) == 2
    first, second = spec.layers
    assert first.weights.dtype == np.float64 and first.weights.shape == (2, 3)
    np.testing.assert_array_equal(first.bias, [0.0, 0.1, 0.2])
    assert second.bias is None and second.activation == "softmax"
    assert first.train_weights and first.train_bias and first.negative_slope == 0.01
    assert spec.inputs.shape == (4, 2)
    assert spec.labels == (0, 1, 1, 0) and spec.targets is None
    assert spec.loss == specmod.Loss("cross_entropy", "sum", False, 1.0)
    assert spec.optimizer == specmod.Optimizer("sgd", 0.25)
    assert spec.steps == 2


def test_defaults():
    minimal = {
        "layers": [{"weights": [[1.0]], "activation": "leaky_relu"}],
        "inputs": [[1.0]],
        "targets": [[0.0]],
        "loss": {"name": "squared_error"},
    }
    spec = specmod.from_request(minimal)
    assert spec.layout == "rows" and spec.steps == 1
    assert spec.layers[0].bias is None and spec.layers[0].negative_slope == 0.01
    assert spec.loss == specmod.Loss("squared_error", "mean", False, 1.0)
    assert spec.optimizer == specmod.Optimizer("sgd", 0.1)


def test_layer_options():
    request = body()
    request["layers"][0].update(activation="leaky_relu", negative_slope=0.2, train_weights=False, train_bias=False)
    layer = specmod.from_request(request).layers[0]
    assert layer.negative_slope == 0.2 and not layer.train_weights and not layer.train_bias


def test_spec_is_immutable():
    spec = specmod.from_request(body())
    with pytest.raises(AttributeError):
        spec.steps = 3  # type: ignore[misc]


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_sizes(layout):
    request = body()
    if layout == "columns":
        request["layout"] = "columns"
        request["inputs"] = np.array(request["inputs"]).T.tolist()
        for layer in request["layers"]:
            layer["weights"] = np.array(layer["weights"]).T.tolist()
    spec = specmod.from_request(request)
    assert spec.num_examples == 4
    assert spec.widths == (2, 3, 2)
    assert spec.work_per_step() == 3 * 4 * (2 * 3 + 3 * 2)


def test_trace_values_counts_the_numbers_of_one_traced_step():
    request = body()
    request["layers"][1]["bias"] = [0.0, 0.0]  # with every bias the count is exact
    spec = specmod.from_request(request)
    step = tracemod.run(spec).steps[0]
    arrays = [step.output_gradient]
    arrays += [a for f in step.forward for a in (f.pre_activation, f.activation)]
    arrays += [a for b in step.backward for a in (b.grad_activation, b.delta, b.grad_weights, b.grad_bias)]
    arrays += [a for p in step.parameters + step.update for a in (p.weights, p.bias)]
    assert spec.trace_values() == sum(np.size(a) for a in arrays)


def columns_body() -> dict:
    return {
        "layout": "columns",
        "layers": [{"weights": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "bias": None, "activation": "relu"},
                   {"weights": [[1.0, 1.0, 1.0]], "bias": None, "activation": "identity"}],
        "inputs": [[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0]],
        "targets": [[1.0, 1.0, -1.0, -1.0]],
        "loss": {"name": "squared_error"},
    }


def test_columns_layout_is_read_as_written():
    spec = specmod.from_request(columns_body())
    assert spec.layout == "columns" and spec.num_examples == 4 and spec.widths == (2, 3, 1)


def with_layer(index: int, **changes) -> dict:
    request = body()
    request["layers"][index].update(changes)
    return request


MALFORMED = [
    (body(layout="diagonal"), r"layout"),
    (with_layer(0, weights=[[0.1, 0.2, 0.3]]), r"W1 has shape \(1, 3\).*takes 1 inputs.*gives 2"),
    (with_layer(1, weights=[[1.0, 0.0], [0.0, 1.0]]), r"W2 has shape \(2, 2\).*takes 2 inputs.*gives 3"),
    (with_layer(0, bias=[0.0, 0.1]), r"b1 has shape \(2,\), expected \(3,\)"),
    (with_layer(1, bias=[0.0, 0.1, 0.2]), r"b2 has shape \(3,\), expected \(2,\)"),
    (with_layer(0, weights=[0.1, 0.2]), r"W1 must be a non-empty matrix, got shape \(2,\)"),
    (with_layer(0, weights=[[]]), r"W1 must be a non-empty matrix, got shape \(1, 0\)"),
    (with_layer(0, activation="swish"), r"layer 1: unknown activation 'swish'"),
    (body(inputs=[1.0, 2.0]), r"X must be a non-empty matrix, got shape \(2,\)"),
    (body(inputs=[[1.0, 2.0, 3.0]]), r"W1 has shape \(2, 3\).*gives 3"),
    (body(labels=[0, 1, 1]), r"3 labels for 4 examples"),
    (body(labels=[0, 1, 2, 0]), r"labels must be class indices in 0..1"),
    (body(labels=[0, -1, 1, 0]), r"labels must be class indices in 0..1"),
    (body(targets=[[1.0, 0.0]] * 4), r"exactly one of targets and labels"),
    (body(labels=None), r"exactly one of targets and labels"),
    (body(labels=None, targets=[[1.0, 0.0, 0.0]] * 4), r"T has shape \(4, 3\), expected \(4, 2\)"),
    (body(loss={"name": "kl_divergence"}), r"unknown loss 'kl_divergence'"),
    (body(loss={"name": "cross_entropy", "reduction": "mean_all"}), r"cross_entropy takes reduction"),
    (body(loss={"name": "multiclass_hinge", "reduction": "batchmean"}), r"multiclass_hinge takes reduction"),
    (body(optimizer={"name": "sgd", "learning_rate": 0.0}), r"learning_rate must be positive"),
    (body(optimizer={"name": "sgd", "learning_rate": -0.1}), r"learning_rate must be positive"),
    (body(steps=0), r"steps must be at least 1"),
    (body(inputs=[[1.0, "a"]] * 4), None),  # not a number
    (body(inputs=[[1.0, 2.0], [3.0]]), None),  # ragged
]


@pytest.mark.parametrize(("request_body", "message"), MALFORMED, ids=[f"case{i}" for i in range(len(MALFORMED))])
def test_malformed_requests_are_value_errors_naming_the_shapes(request_body, message):
    with pytest.raises(ValueError, match=message):
        specmod.from_request(request_body)


def test_columns_shapes_are_checked_in_the_columns_convention():
    request = columns_body()
    request["targets"] = [[1.0, 1.0, -1.0]]
    with pytest.raises(ValueError, match=r"T has shape \(1, 3\), expected \(1, 4\)"):
        specmod.from_request(request)
    request = columns_body()
    request["layers"][1]["weights"] = [[1.0, 1.0]]
    with pytest.raises(ValueError, match=r"W2 has shape \(1, 2\): it takes 2 inputs but the previous layer gives 3"):
        specmod.from_request(request)


def test_a_network_without_layers_is_a_value_error():
    # Accepted today, and engine.trace.run then fails with an IndexError.
    with pytest.raises(ValueError):
        specmod.from_request(body(layers=[], labels=None, targets=[[0.0, 0.0]] * 4))


@pytest.mark.parametrize("missing", ["layers", "inputs", "loss"])
def test_a_missing_required_field_is_a_value_error(missing):
    request = body()
    del request[missing]
    with pytest.raises(ValueError, match=missing):
        specmod.from_request(request)
