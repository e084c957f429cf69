"""The lab's gradient-check panel: analytic gradients against central differences, per entry."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import gradcheck
from webapp.api.limits import check_spec, current_limits
from webapp.api.problems import TooLarge


@dataclass(frozen=True)
class CheckRow:
    entry: str
    analytic: float
    numeric: float
    relative_error: float


@dataclass(frozen=True)
class CheckView:
    step_size: float
    max_relative_error: float
    parameters: tuple[tuple[str, float, tuple[CheckRow, ...]], ...]  # (name, max error, rows)


def gradient_check(spec) -> tuple[CheckView | None, str]:
    """The gradient check at the initial parameters, or why it was skipped (over the server's limits)."""
    try:
        check_spec(spec, current_limits(), gradcheck=True)
    except TooLarge as error:
        return None, f"The gradient check is skipped: {error.detail}."
    result = gradcheck.check(spec)
    parameters = []
    for parameter in result.parameters:
        analytic, numeric = np.atleast_2d(parameter.analytic), np.atleast_2d(parameter.numeric)
        vector = parameter.analytic.ndim == 1
        errors = np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))
        rows = tuple(
            CheckRow(
                f"{parameter.name}[{j + 1}]" if vector else f"{parameter.name}[{i + 1},{j + 1}]",
                float(analytic[i, j]), float(numeric[i, j]), float(errors[i, j]),
            )
            for i, j in np.ndindex(analytic.shape)
        )
        parameters.append((parameter.name, parameter.max_relative_error, rows))
    return CheckView(result.step_size, result.max_relative_error, tuple(parameters)), ""
