"""Opening a JSON request in the lab: the inverse of the JSON export.

A student or instructor pastes (or uploads) a trace request body, as POST /api/v1/trace takes it,
or a JSON export of the lab (the trace response with the request it answers, under `request`).
It is read and validated exactly as the API reads a body (`parse_json_object`, `spec_from_body`,
`check_spec`), so the page shows the API's own messages with their paths. Nothing is kept.
"""
from __future__ import annotations

from dataclasses import dataclass

from webapp.api.bodies import parse_json_object
from webapp.api.limits import Limits, check_spec
from webapp.api.pipeline import spec_from_body
from webapp.api.problems import InvalidRequest, Problem

# The keys of a trace response: a body with these and without `request` is a response alone.
RESPONSE_KEYS = {"version", "steps", "final_loss"}


@dataclass(frozen=True)
class Opened:
    """The request a text holds, or the problems that stop it (each with the API's path and message)."""

    request: dict | None
    status: int = 200
    detail: str = ""
    errors: tuple[dict, ...] = ()


def open_text(text: str, limits: Limits) -> Opened:
    """The trace request of a pasted or uploaded text, validated as the API validates a body."""
    if not text.strip():
        return Opened(None, 400, "paste a request body or choose a .json file first")
    if len(text.encode("utf-8")) > limits.max_body_bytes:
        return Opened(None, 413, f"the text is over {limits.max_body_bytes:,} bytes, the API's body limit")
    try:
        body = parse_json_object(text)
        if "request" in body and RESPONSE_KEYS <= body.keys():
            body = body["request"]  # a JSON export of the lab: the response and its request
            if not isinstance(body, dict):
                raise InvalidRequest([{"path": "request", "message": "the export's request must be an object"}])
        elif RESPONSE_KEYS <= body.keys():
            raise InvalidRequest([{"path": "", "message": (
                "this is a trace response without its request (the layers, activations and loss are not in it): "
                "paste the request body, or a JSON export of the lab, which carries its request")}])
        spec = spec_from_body(body)
        check_spec(spec, limits)
    except Problem as problem:
        return Opened(None, problem.status, problem.detail, tuple(problem.errors or ()))
    return Opened(body)
