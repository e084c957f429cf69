"""The server's size limits, and the check of a request against them.

The defaults keep one request under about a second of NumPy work and a few
tens of megabytes of JSON. An app overrides any of them with
`app.config["LIMITS"] = {"max_steps": 50, ...}`.
"""
from __future__ import annotations

import dataclasses
import functools

from flask import Flask, current_app
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

from engine.spec import Spec

from .problems import TooLarge

MiB = 1024 * 1024


# Every field is in a response, so the response schema marks every field required.
@dataclass(
    frozen=True,
    config=ConfigDict(extra="forbid", title="Limits", json_schema_serialization_defaults_required=True),
)
class Limits:
    """The size limits of a request (the body of GET /api/v1/limits)."""

    max_layers: int = Field(8, ge=1, description="layers in the network")
    max_units: int = Field(1024, ge=1, description="width of any layer, the input width included")
    max_examples: int = Field(1024, ge=1, description="examples N in the batch")
    max_steps: int = Field(500, ge=1, description="SGD steps to trace")
    max_body_bytes: int = Field(4 * MiB, ge=1, description="bytes of the request body")
    max_work: int = Field(
        300_000_000, ge=1, description="multiply-adds of the whole trace: work of one step times steps"
    )
    max_trace_values: int = Field(
        2_000_000, ge=1, description="numbers in the traced response: numbers per step times steps"
    )
    max_gradcheck_work: int = Field(
        50_000_000,
        ge=1,
        description="multiply-adds of a gradient check: parameters times 2 forward passes",
    )

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def current_limits() -> Limits:
    """The limits of the current app: the defaults with `app.config["LIMITS"]` over them."""
    return _limits(tuple(sorted(current_app.config.get("LIMITS", {}).items())))


@functools.lru_cache(maxsize=64)
def _limits(overrides: tuple) -> Limits:
    # Validating the limits on every request would cost as much as a small trace.
    return Limits(**dict(overrides))


def check_spec(spec: Spec, limits: Limits, gradcheck: bool = False) -> None:
    """Raise TooLarge (413) naming the first limit the spec is over.

    A trace is bounded by its work and by the numbers it returns; a gradient
    check by its own work: every parameter costs two forward passes over all
    N examples, N sum d(l-1) d(l) multiply-adds each (a third of a full-batch step).
    """
    widths = spec.widths
    _at_most("max_layers", len(spec.layers), limits.max_layers, "layers")
    widest = max(widths)
    where = widths.index(widest)
    _at_most("max_units", widest, limits.max_units, "inputs per example" if where == 0 else f"units in layer {where}")
    _at_most("max_examples", spec.num_examples, limits.max_examples, "examples")
    _at_most("max_steps", spec.steps, limits.max_steps, "steps")
    if gradcheck:
        parameters = sum(layer.weights.size + (0 if layer.bias is None else layer.bias.size) for layer in spec.layers)
        # A gradient check runs on the whole batch, whatever batch_size the trace would use.
        forward = spec.num_examples * sum(a * b for a, b in zip(widths, widths[1:]))
        _at_most(
            "max_gradcheck_work",
            parameters * 2 * forward,
            limits.max_gradcheck_work,
            "multiply-adds for the gradient check",
            f"({parameters} parameters x 2 forward passes of {forward})",
        )
    else:
        per_step = spec.work_per_step()
        _at_most(
            "max_work",
            per_step * spec.steps,
            limits.max_work,
            "multiply-adds",
            f"({per_step} per step x {spec.steps} steps)",
        )
        values = spec.trace_values()
        recorded = len(spec.recorded_steps)
        _at_most(
            "max_trace_values",
            values * recorded,
            limits.max_trace_values,
            "numbers in the trace",
            f"({values} per step x {recorded} recorded steps)",
        )


def _at_most(limit: str, value: int, maximum: int, what: str, how: str = "") -> None:
    if value > maximum:
        how = f" {how}" if how else ""
        raise TooLarge(
            f"the request has {value} {what}{how}: over the limit {limit} = {maximum}",
            limit=limit,
            value=value,
            maximum=maximum,
        )


def init_app(app: Flask) -> None:
    """Config defaults: no overrides, and Flask's own body cap (MAX_CONTENT_LENGTH) at max_body_bytes."""
    app.config.setdefault("LIMITS", {})
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = Limits(**app.config["LIMITS"]).max_body_bytes
