"""A training run from a student's choices: data, input features, network, output head, optimizer.

The head fixes the output layer, the loss and how targets are written:

    sigmoid   1 unit, binary cross-entropy, targets 0 / 1 (class 1 where output > 0.5)
    tanh      1 unit, squared error (1/2, mean), targets -1 / +1 for two classes (class 1 where output > 0),
              or the values themselves for regression
    softmax   one unit per class, cross-entropy, the classes as labels
    identity  1 unit, squared error (1/2, mean), regression
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import features as featuremod
from . import network, training
from .datasets import Dataset
from .spec import Layer, Loss, Optimizer, Spec, check

HEADS = ("sigmoid", "tanh", "softmax", "identity")
_HALF_MEAN_SQUARED = Loss("squared_error", "mean", half=True)


@dataclass(frozen=True)
class Encoder:
    """Raw points (N, d) -> network inputs (N, d0): the chosen features, then (x - shift) / scale."""

    features: tuple[str, ...] | None  # None: the raw columns as they are
    shift: np.ndarray  # (d0,)
    scale: np.ndarray  # (d0,)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        columns = points if self.features is None else featuremod.compute(points, self.features)
        return (columns - self.shift) / self.scale


@dataclass(frozen=True)
class Experiment:
    run: training.Run
    encoder: Encoder
    train: Dataset
    test: Dataset
    head: str


def build(
    train: Dataset,
    test: Dataset,
    *,
    features: tuple[str, ...] | None,
    hidden: tuple[int, ...],
    activation: str,
    head: str,
    optimizer: Optimizer,
    batch_size: int | None,
    seed: int,
    standardize: bool = False,
) -> Experiment:
    """The run, starting from weights drawn with `seed` (which also orders the mini-batches).

    `standardize` shifts and scales every input to mean 0, deviation 1 on the training set.
    """
    _check_head(head, train)
    columns = train.points if features is None else featuremod.compute(train.points, features)
    width = columns.shape[1]
    shift, scale = np.zeros(width), np.ones(width)
    if standardize:
        shift = columns.mean(axis=0)
        deviation = columns.std(axis=0)
        scale = np.where(deviation > 0, deviation, 1.0)
    encoder = Encoder(None if features is None else tuple(features), shift, scale)
    outputs = train.num_classes if head == "softmax" else 1
    activations = tuple([activation] * len(hidden)) + (head,)
    rng = np.random.default_rng([seed, 1])
    layers = initial_layers((width, *hidden, outputs), activations, rng)
    loss = {"sigmoid": Loss("binary_cross_entropy"), "softmax": Loss("cross_entropy")}.get(head, _HALF_MEAN_SQUARED)
    classes = tuple(int(c) for c in train.targets) if head == "softmax" else None
    spec = Spec(
        layout="rows",
        layers=layers,
        inputs=encoder(train.points),
        loss=loss,
        targets=None if classes is not None else _targets(head, train),
        labels=classes,
        optimizer=optimizer,
        batch_size=batch_size,
        shuffle_seed=seed,
    )
    check(spec)
    test_targets = (
        np.eye(outputs)[test.targets.astype(int)] if head == "softmax" else _targets(head, test)
    ).reshape(-1, outputs)
    threshold = 0.5 if head == "sigmoid" else 0.0
    run = training.make_run(spec, encoder(test.points), test_targets, train.task, threshold)
    return Experiment(run, encoder, train, test, head)


def _check_head(head: str, data: Dataset) -> None:
    if head not in HEADS:
        raise ValueError(f"unknown output head {head!r}: choose from {', '.join(HEADS)}")
    if data.task == "regression" and head in ("sigmoid", "softmax"):
        raise ValueError(f"a {head} output classifies: for regression take identity or tanh")
    if data.task == "classification" and head == "identity":
        raise ValueError("an identity output regresses: for classes take sigmoid, tanh or softmax")
    if data.task == "classification" and head in ("sigmoid", "tanh") and data.num_classes != 2:
        raise ValueError(f"a single {head} output tells two classes apart; the data has {data.num_classes}: take softmax")


def _targets(head: str, data: Dataset) -> np.ndarray:
    """(N, 1): the class (0/1) for sigmoid, -1/+1 for a tanh classifier, the values for regression."""
    values = data.targets
    if data.task == "classification" and head == "tanh":
        values = 2.0 * values - 1.0
    return values.reshape(-1, 1).astype(np.float64)


def initial_layers(widths: tuple[int, ...], activations: tuple[str, ...], rng: np.random.Generator) -> tuple[Layer, ...]:
    """Weights (rows layout, d(l-1) x d(l)) drawn uniformly: He's bound sqrt(6 / fan_in) before a ReLU,
    Glorot's sqrt(6 / (fan_in + fan_out)) otherwise; biases start at zero."""
    layers = []
    for fan_in, fan_out, activation in zip(widths, widths[1:], activations):
        if activation in ("relu", "leaky_relu"):
            bound = math.sqrt(6.0 / fan_in)
        else:
            bound = math.sqrt(6.0 / (fan_in + fan_out))
        layers.append(Layer(rng.uniform(-bound, bound, (fan_in, fan_out)), np.zeros(fan_out), activation))
    return tuple(layers)


def passes_at(experiment: Experiment, params: network.Params, points: np.ndarray) -> list[network.LayerForward]:
    """Every layer's pre-activation and activation at raw `points` (N, d), e.g. a grid over the plane."""
    with np.errstate(all="ignore"):
        return network.forward(experiment.run.spec.layers, params, experiment.encoder(points))
