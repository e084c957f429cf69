"""The loss curve of a trace, as a plain Plotly figure dict."""
from __future__ import annotations

from engine.trace import Trace

HEIGHT = 240  # px: the page keeps this room for the curve until Plotly draws it


def _scatter(name: str, x: list, y: list, **properties) -> dict:
    return {"type": "scatter", "name": name, "x": x, "y": y, "showlegend": False, **properties}


def loss_curve_figure(trace: Trace, step: int) -> dict:
    """The loss before each SGD step and after the last one, with the current step marked, as a figure dict."""
    return loss_curve_figure_of(trace.loss_history, step)


def loss_curve_figure_of(loss_history, step: int) -> dict:
    """`loss_curve_figure` of a loss history: its second trace is the current step's marker."""
    history = [float(value) for value in loss_history]
    steps = list(range(len(history)))
    xaxis = {"title": {"text": "SGD step"}, "range": [-0.3, len(history) - 0.7], "zeroline": False,
             "fixedrange": True}
    if len(history) <= 20:
        xaxis["dtick"] = 1
    return {"data": [
        _scatter("loss", steps, history, mode="lines+markers", line={"color": "#4c72b0", "width": 2},
                 marker={"size": 6}, hoverinfo="text",
                 hovertext=[f"loss before step {i}: {value!r}" if i < len(history) - 1
                            else f"loss after the last step: {value!r}" for i, value in enumerate(history)]),
        _scatter("current step", [step], [history[step]], mode="markers", hoverinfo="text",
                 marker={"size": 13, "color": "#d62728", "line": {"width": 2, "color": "#ffffff"}},
                 hovertext=[f"current step {step}: loss {history[step]!r}"]),
    ], "layout": {
        "template": {},
        "height": HEIGHT,
        "margin": {"l": 60, "r": 20, "t": 20, "b": 45},
        "xaxis": xaxis,
        "yaxis": {"title": {"text": "loss"}, "rangemode": "tozero", "fixedrange": True},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "uirevision": "loss",
    }}
