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


def _colour_bar(figure):
    bars = [trace.marker.colorbar for trace in figure.data if trace.marker is not None and trace.marker.showscale]
    assert len(bars) == 1
    return bars[0]


def test_the_boundary_colour_bar_is_titled_ticked_and_lies_in_the_figure_beside_the_legend():
    built = build()  # two classes, sigmoid output
    overlay = figures.boundary_figure(built, planes.plane_of(built, generated=True))
    bar = _colour_bar(overlay)
    # The field is P(class 1): a sigmoid's range 0..1, marked at its ends and middle.
    assert bar.title.text == "P(class 1)"
    assert list(bar.tickvals or []) == [0.0, 0.5, 1.0] and list(bar.ticktext or []) == ["0", "0.5", "1"]
    assert bar.thickness >= 6 and bar.outlinewidth == 0
    # Its length in pixels, not a fraction of the plot: long enough for the three labels to stand apart.
    assert bar.lenmode == "pixels" and bar.len >= 100

    layout = overlay.layout
    margin = layout.margin
    plot_width = layout.width - margin.l - margin.r
    # Horizontal, over the plot's right end (its x is a fraction of the plot's width, anchored at its right).
    assert bar.orientation == "h" and bar.xref == "paper" and bar.xanchor == "right"
    right = bar.x * plot_width
    assert plot_width - 1 <= right <= plot_width and right - bar.len >= plot_width / 2  # the legend has the left half
    # Its end labels ("1" is the widest, about 0.6 em) overhang the bar by half a label: the right margin holds it.
    assert right + 0.3 * bar.tickfont.size * len(bar.ticktext[-1]) <= plot_width + margin.r
    # Above the plot, in the top margin: the gap, the labels under the bar, the ticks, the bar, the title over it.
    assert bar.yref == "paper" and bar.y == 1 and bar.yanchor == "bottom" and bar.ticks == "outside"
    above = bar.ypad + bar.tickfont.size + bar.ticklen + bar.thickness + bar.title.font.size + 4
    assert above <= margin.t
    # No room kept beside the plot for a bar that is not there: the page's column is about the plot's width.
    assert margin.r <= 20


def test_a_regression_colour_bar_says_output_and_rounds_its_ticks():
    data = datasets.parse_csv("u,v,y\n0,1,-3.7\n1,0,250.2\n1,1,41\n", 10, 4)
    built = experiment.build(data, data.subset(np.arange(0)), features=None, hidden=(), activation="tanh",
                             head="identity", optimizer=Optimizer("sgd", 0.1), batch_size=None, seed=0)
    bar = _colour_bar(figures.boundary_figure(built, planes.plane_of(built, generated=False)))
    assert bar.title.text == "output"
    # The targets' ends (-3.7, 250.2) are no numbers to read a scale by: Plotly picks round ones, a few.
    assert bar.tickmode == "auto" and bar.tickvals is None and 3 <= bar.nticks <= 5


def _origin_labels(axis) -> int:
    """How many labels the axis prints at 0 (1 or 0): auto ticks on a range from 0 label it; array ticks as given."""
    if axis.tickmode != "array":
        return 1
    texts = dict(zip(axis.tickvals, axis.ticktext))
    return int(bool(texts.get(0.0, "")))


def test_the_accuracy_chart_prints_one_0_at_its_origin():
    built = build()
    metrics = {"steps": [0, 10, 20], "train_loss": [0.7, 0.6, 0.5], "train_accuracy": [0.5, 0.6, 0.7],
               "test_loss": [0.8, 0.7, 0.6], "test_accuracy": [0.4, 0.5, 0.6]}
    figure = figures.curves_figure(built, metrics)
    steps, accuracy = figure.layout.xaxis2, figure.layout.yaxis2
    assert figure.layout.annotations[1].text == "accuracy"  # the second subplot is the accuracy chart
    # Both axes start at 0, at the same corner.
    assert steps.rangemode == "tozero" and accuracy.range[0] == 0
    assert _origin_labels(steps) + _origin_labels(accuracy) == 1
    # The accuracy axis is still read by its other ticks, up to 1; its tick at 0 stays, unlabelled.
    if accuracy.tickmode == "array":
        assert 0.0 in accuracy.tickvals and dict(zip(accuracy.tickvals, accuracy.ticktext))[1.0] == "1"
        assert [text for text in accuracy.ticktext if text] == ["0.2", "0.4", "0.6", "0.8", "1"]
