"""The path of a request through the engine, shared by the API, the pages and the command line.

A body becomes a validated engine Spec (`spec_from_body`), the Spec a trace (`trace_result`), the
trace JSON (`to_json`); each failure is a Problem (422) with the contract's fields.
"""
from __future__ import annotations

import json

from engine import spec as specmod
from engine import trace as tracemod

from . import schemas
from .problems import InvalidRequest, TrainingOverflow


def spec_from_body(body: object) -> specmod.Spec:
    """A validated request body as an engine Spec; raises InvalidRequest (422)."""
    trace_request = schemas.parse_trace_request(body)
    try:
        return specmod.from_request(trace_request.to_body())
    except ValueError as error:
        # Validation should have caught it; the engine's message still names the shapes.
        raise InvalidRequest([{"path": "", "message": str(error)}]) from None


def trace_result(spec: specmod.Spec) -> dict:
    """The contract's trace response; raises TrainingOverflow (422) if the numbers stop being finite."""
    return engine_call(lambda: tracemod.run(spec).to_dict())


def to_json(data: object) -> str:
    """JSON text with no NaN or Infinity: a value that is not finite is a 422, never a 200."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError:
        raise TrainingOverflow("the result holds a value that is not finite: the numbers overflow") from None


def engine_call(compute):
    try:
        return compute()
    except tracemod.Overflow as error:
        raise TrainingOverflow(
            str(error), step=error.step, layer=error.layer, stage=error.stage, quantity=error.quantity
        ) from None
    except (ValueError, ArithmeticError) as error:
        raise TrainingOverflow(f"the numbers cannot be computed: {error}") from None
