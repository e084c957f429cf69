"""Pydantic models of POST /api/v1/explain: where one number of a trace comes from.

The body names a trace request, a quantity key (as the exercise contract names them) and a
cell of it; the answer is `engine.explain`'s Explanation as JSON. The request is validated
exactly as POST /api/v1/trace validates its body, its errors under `request/`.
"""
from __future__ import annotations

from pydantic import BaseModel, Field, StrictInt, StrictStr, ValidationError

from .problems import InvalidRequest
from .schemas import MESSAGES, TraceRequest, _message, _Request, _unknown_fields_of_oversized_objects

MAX_TERMS = 4096  # terms of one explained cell (the loss of an N x d output has N d of them)


class ExplainRequest(_Request):
    """A trace request, a quantity key and a cell of it."""

    request: TraceRequest
    key: StrictStr = Field(max_length=80, description="s<step>.forward.<layer>.pre_activation, s<step>.loss, ...")
    cell: list[StrictInt] = Field(max_length=2, description="0-based, in the request's layout: [i, j], [j] or []")


class ExplainFactor(BaseModel):
    key: str | None = Field(None, description="the quantity of a cell the term uses (with its cell and value)")
    cell: list[int] | None = None
    value: float | None = None
    number: float | None = Field(None, description="a plain number: a derivative, a scale, a rate")


class ExplainTerm(BaseModel):
    factors: list[ExplainFactor] = Field(description="the term is their product")
    value: float
    uses: list[ExplainFactor] | None = Field(None, description="cells the term is computed from that are not factors")


class ExplainResponse(BaseModel):
    version: int
    key: str
    cell: list[int]
    value: float = Field(description="the trace's number")
    rule: str = Field(description="dot, function, softmax, sum, chain, jacobian, elementwise, sgd, momentum, adam, frozen")
    terms: list[ExplainTerm]
    notes: dict = Field(description="the rule's numbers and names (function, derivative, scale, rate, ...)")


MODELS = ((ExplainRequest, "validation"), (ExplainResponse, "serialization"))


def parse_explain_request(body: object) -> ExplainRequest:
    """Validate a parsed JSON body; raises InvalidRequest (422) with every bad field's path."""
    inner = body.get("request") if isinstance(body, dict) else None
    unknown = [("request",) + path for path in _unknown_fields_of_oversized_objects(inner)]
    if unknown:
        raise InvalidRequest([{"path": "/".join(map(str, path)), "message": MESSAGES["extra_forbidden"]}
                              for path in unknown])
    try:
        return ExplainRequest.model_validate(body)
    except ValidationError as error:
        raise InvalidRequest(
            [{"path": "/".join(str(part) for part in item["loc"]), "message": _message(item)}
             for item in error.errors(include_url=False)]
        ) from None


def openapi_paths(prefix: str, ref, content, problems) -> dict:
    return {
        f"{prefix}/explain": {
            "post": {
                "summary": "The terms of one cell's formula, each with the numbers it uses",
                "operationId": "explain",
                "requestBody": {"required": True, **content(ref("ExplainRequest"))},
                "responses": {
                    "200": {"description": "The explanation", **content(ref("ExplainResponse"))},
                    **problems(400, 413, 415, 422),
                },
            }
        },
    }
