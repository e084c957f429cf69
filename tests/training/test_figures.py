"""Figures of a training run: the two stacked boundary figures and the curves."""
from __future__ import annotations

import numpy as np

from engine import datasets, experiment, training
from engine.spec import Optimizer
from tests.training.runs import build
from webapp.training import figures, planes


def test_both_boundary_figures_share_size_margins_and_ranges():
    built = build()
    plane = planes.plane_of(built, generated=True)
    field = figures.field_figure(built, training.start(built.run).params, plane)
    overlay = figures.boundary_figure(built, plane)
    for key in ("width", "height", "margin"):
        assert field.layout[key] == overlay.layout[key]
    assert field.layout.xaxis.range == overlay.layout.xaxis.range and field.layout.yaxis.range == overlay.layout.yaxis.range
    assert field.layout.xaxis.visible is False and overlay.layout.xaxis.visible is True
    assert [trace.meta for trace in overlay.data][-1] == "batch"
    legend = [trace.name for trace in overlay.data if trace.showlegend is not False]
    assert legend == ["class 0", "class 1"]


def test_curves_carry_their_metric_names():
    built = build()
    metrics = {"steps": [0, 1], "train_loss": [0.7, 0.6], "train_accuracy": [0.5, 0.6],
               "test_loss": [0.8, 0.7], "test_accuracy": [0.4, 0.5]}
    figure = figures.curves_figure(built, metrics)
    assert [trace.meta for trace in figure.data] == list(figures.CURVES)
    regression = figures.curves_figure(build("sine", features=("x1",), hidden=(2,)),
                                       {"steps": [0], "train_loss": [1.0], "train_accuracy": None,
                                        "test_loss": [1.1], "test_accuracy": None})
    assert [trace.meta for trace in regression.data] == ["train_loss", "test_loss"]


def test_csv_column_names_are_shown_as_written():
    data = datasets.parse_csv('<a href="x">u</a>,<b>v</b>,y\n0,1,0\n1,0,1\n', 10, 4)
    built = experiment.build(data, data.subset(np.arange(0)), features=None, hidden=(), activation="tanh",
                             head="sigmoid", optimizer=Optimizer("sgd", 0.1), batch_size=None, seed=0)
    overlay = figures.boundary_figure(built, planes.plane_of(built, generated=False))
    assert overlay.layout.xaxis.title.text == '&lt;a href="x"&gt;u&lt;/a&gt;'
    assert overlay.layout.yaxis.title.text == "&lt;b&gt;v&lt;/b&gt;"
