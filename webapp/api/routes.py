"""JSON API, version 1 (contract: shared/api/trace-v1.md).

A route reads the body, validates it (schemas), checks the size limits
(limits), runs the engine and answers JSON. Every failure is a `Problem`,
answered as application/problem+json; no request body leads to a 500.
"""
from __future__ import annotations

import orjson
from flask import Blueprint, Flask, Response, abort, request
from werkzeug.exceptions import HTTPException

from engine import explain as explainmod
from engine import gradcheck as gradcheckmod
from engine import presets as presetsmod
from engine import spec as specmod
from engine import trace as tracemod

from . import explain_schemas
from . import openapi as openapimod
from . import responses
from .answers import Answers
from .bodies import parse_json_object, read_json_body, read_json_bytes
from .limits import check_spec, current_limits
from .openapi import PREFIX
from .pipeline import engine_call, spec_from_body, to_json, trace_result
from .problems import HTTPProblem, InvalidRequest, Problem, TooLarge, problem_response

bp = Blueprint("api", __name__, url_prefix=PREFIX)
bp.register_error_handler(Problem, problem_response)


ANSWERS = Answers()


@bp.post("/trace")
def trace() -> Response:
    limits = current_limits()
    body = read_json_bytes(request, limits.max_body_bytes)
    # The same body under the same limits has the same answer (see answers.py).
    key = Answers.key(body, repr(sorted(limits.as_dict().items())).encode())
    answer = ANSWERS.get(key)
    if answer is None:
        spec = spec_from_body(parse_json_object(body))
        check_spec(spec, limits)
        # The engine has checked every traced number is finite (or raised Overflow), so the
        # fast encoder, which would write NaN as null rather than refuse it, is safe here.
        answer = orjson.dumps(trace_result(spec))
        ANSWERS.put(key, answer)
    return Response(answer, mimetype="application/json")


@bp.post("/gradcheck")
def gradcheck() -> Response:
    limits = current_limits()
    spec = spec_from_body(read_json_body(request, limits.max_body_bytes))
    check_spec(spec, limits, gradcheck=True)
    return _json_response(engine_call(lambda: gradcheckmod.check(spec).to_dict()))


@bp.post("/explain")
def explain() -> Response:
    """One cell's formula as terms with their numbers (engine.explain), for the trace of `request`."""
    limits = current_limits()
    asked = explain_schemas.parse_explain_request(read_json_body(request, limits.max_body_bytes))
    try:
        spec = specmod.from_request(asked.request.to_body())
    except ValueError as error:
        raise InvalidRequest([{"path": "request", "message": str(error)}]) from None
    check_spec(spec, limits)
    if asked.key.endswith(".loss") and spec.batch_examples * spec.widths[-1] > explain_schemas.MAX_TERMS:
        raise TooLarge(f"the loss of {spec.batch_examples} x {spec.widths[-1]} outputs has more than "
                       f"{explain_schemas.MAX_TERMS} terms to explain; explain one cell of the output gradient")
    trace = engine_call(lambda: tracemod.run(spec))
    try:
        explanation = explainmod.explain(spec, trace, asked.key, asked.cell)
    except explainmod.NotExplained as error:
        raise InvalidRequest([{"path": error.field, "message": str(error)}]) from None
    return _json_response({"version": 1, **explanation.to_dict()})


@bp.get("/presets")
def presets() -> Response:
    return _json_response(
        [responses.Preset.model_validate(preset, from_attributes=True).model_dump() for preset in presetsmod.PRESETS]
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
    return _json_response(openapimod.openapi_document())


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
