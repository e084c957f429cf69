"""A small training run built from a seeded data set, for the training page's tests."""
from __future__ import annotations

import numpy as np

from engine import datasets, experiment
from engine.spec import Optimizer


def build(name="circle", hidden=(3, 2), head=None, features=("x1", "x2"), activation="tanh"):
    rng = np.random.default_rng(0)
    data = datasets.generate(name, 40, 0.1, rng)
    train, test = datasets.split(data, 0.25, rng)
    head = head or ("sigmoid" if data.task == "classification" else "identity")
    return experiment.build(train, test, features=features, hidden=hidden, activation=activation, head=head,
                            optimizer=Optimizer("adam", 0.05), batch_size=None, seed=1)
