"""JSON API, version 1 (contract: shared/api/trace-v1.md).

A route reads the body, validates it (schemas), checks the size limits
(limits), runs the engine and answers JSON. Every failure is a `Problem`,
answered as application/problem+json; no request body leads to a 500.
"""
from __future__ import annotations

import json

import orjson
from flask import Blueprint, Flask, Response, abort, request
from pydantic.json_schema import models_json_schema
from werkzeug.exceptions import HTTPException

from engine import gradcheck as gradcheckmod
from engine import presets as presetsmod
from engine import spec as specmod
from engine import trace as tracemod

from . import schemas, training_schemas
from .bodies import read_json_body
from .limits import check_spec, current_limits
from .problems import MEDIA_TYPE, HTTPProblem, InvalidRequest, Problem, TrainingOverflow, problem_response

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.register_error_handler(Problem, problem_response)


@bp.post("/trace")
def trace() -> Response:
    limits = current_limits()
    spec = spec_from_body(read_json_body(request, limits.max_body_bytes))
    check_spec(spec, limits)
    # The engine has checked every traced number is finite (or raised Overflow), so the
    # fast encoder, which would write NaN as null rather than refuse it, is safe here.
    return Response(orjson.dumps(trace_result(spec)), mimetype="application/json")


@bp.post("/gradcheck")
def gradcheck() -> Response:
    limits = current_limits()
    spec = spec_from_body(read_json_body(request, limits.max_body_bytes))
    check_spec(spec, limits, gradcheck=True)
    return _json_response(_engine_call(lambda: gradcheckmod.check(spec).to_dict()))


@bp.get("/presets")
def presets() -> Response:
    return _json_response(
        [schemas.Preset.model_validate(preset, from_attributes=True).model_dump() for preset in presetsmod.PRESETS]
    )


@bp.get("/presets/<preset_id>")
def preset(preset_id: str) -> Response:
    try:
        found = presetsmod.get(preset_id)
    except KeyError:
        abort(404, f"there is no preset {preset_id!r}; GET /api/v1/presets lists them")
    return _json_response(found.body())


@bp.get("/limits")
def limits() -> Response:
    return _json_response(current_limits().as_dict())


@bp.get("/openapi.json")
def openapi() -> Response:
    return _json_response(openapi_document())


# The pipeline, shared with the command line --------------------------------------------------------------------


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
    return _engine_call(lambda: tracemod.run(spec).to_dict())


def to_json(data: object) -> str:
    """JSON text with no NaN or Infinity: a value that is not finite is a 422, never a 200."""
    try:
        return json.dumps(data, allow_nan=False)
    except ValueError:
        raise TrainingOverflow("the result holds a value that is not finite: the numbers overflow") from None


def _engine_call(compute):
    try:
        return compute()
    except tracemod.Overflow as error:
        raise TrainingOverflow(
            str(error), step=error.step, layer=error.layer, stage=error.stage, quantity=error.quantity
        ) from None
    except (ValueError, ArithmeticError) as error:
        raise TrainingOverflow(f"the numbers cannot be computed: {error}") from None


def _json_response(data: object) -> Response:
    return Response(to_json(data), mimetype="application/json")


# Errors outside the routes (unknown URL, wrong method, body over MAX_CONTENT_LENGTH) -----------------------------


def register_error_handlers(app: Flask) -> None:
    """Answer HTTP errors under /api/ as problem details; leave other paths to Flask's defaults."""
    app.register_error_handler(HTTPException, _http_error)


def _http_error(error: HTTPException):
    if request.path == bp.url_prefix or request.path.startswith(bp.url_prefix + "/"):
        return problem_response(HTTPProblem(error))
    return error


# OpenAPI 3.1, generated from the models ----------------------------------------------------------------------------


def openapi_document() -> dict:
    """The OpenAPI 3.1 document of version 1: the paths here, every schema from the pydantic models."""
    _, top = models_json_schema(
        [
            (schemas.TraceRequest, "validation"),
            (schemas.TraceResponse, "serialization"),
            (schemas.GradcheckResponse, "serialization"),
            (schemas.Preset, "serialization"),
            (schemas.Limits, "serialization"),
            (schemas.Problem, "serialization"),
            *training_schemas.MODELS,
        ],
        ref_template="#/components/schemas/{model}",
    )

    def ref(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def content(schema: dict, media_type: str = "application/json") -> dict:
        return {"content": {media_type: {"schema": schema}}}

    def problems(*statuses: int) -> dict:
        return {
            str(status): {"description": _REASONS[status], **content(ref("Problem"), MEDIA_TYPE)} for status in statuses
        }

    body = {"required": True, **content(ref("TraceRequest"))}
    prefix = bp.url_prefix
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Backprop Visualizer step-trace API",
            "version": "1",
            "description": "Forward pass, loss, backward pass and SGD update of a small dense network, step by step.",
        },
        "paths": {
            f"{prefix}/trace": {
                "post": {
                    "summary": "Trace SGD steps",
                    "operationId": "trace",
                    "requestBody": body,
                    "responses": {
                        "200": {"description": "The trace", **content(ref("TraceResponse"))},
                        **problems(400, 413, 415, 422),
                    },
                }
            },
            f"{prefix}/gradcheck": {
                "post": {
                    "summary": "Check the analytic gradients against central differences",
                    "operationId": "gradcheck",
                    "requestBody": body,
                    "responses": {
                        "200": {"description": "The gradient check", **content(ref("GradcheckResponse"))},
                        **problems(400, 413, 415, 422),
                    },
                }
            },
            f"{prefix}/presets": {
                "get": {
                    "summary": "List the worked examples",
                    "operationId": "listPresets",
                    "responses": {
                        "200": {"description": "The presets", **content({"type": "array", "items": ref("Preset")})}
                    },
                }
            },
            f"{prefix}/presets/{{preset_id}}": {
                "get": {
                    "summary": "A worked example's request body, ready to POST to /trace",
                    "operationId": "getPreset",
                    "parameters": [{"name": "preset_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "A trace request", **content(ref("TraceRequest"))},
                        **problems(404),
                    },
                }
            },
            f"{prefix}/limits": {
                "get": {
                    "summary": "The size limits of a request",
                    "operationId": "getLimits",
                    "responses": {"200": {"description": "The limits", **content(ref("Limits"))}},
                }
            },
            f"{prefix}/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "getOpenAPI",
                    "responses": {"200": {"description": "OpenAPI 3.1", **content({"type": "object"})}},
                }
            },
            **training_schemas.openapi_paths(prefix, ref, content, problems),
        },
        "components": {"schemas": top["$defs"]},
    }


_REASONS = {
    400: "The body is not one JSON object",
    404: "Not found",
    413: "Over a size limit (GET /api/v1/limits)",
    415: "The body is not application/json, or is compressed",
    422: "An invalid request, or numbers that overflow while training",
}
