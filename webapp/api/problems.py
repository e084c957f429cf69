"""Errors as RFC 9457 problem details (`application/problem+json`).

A route raises a `Problem`; the API's error handler turns it into a response.
Every problem has `type`, `title`, `status` and `detail`; an invalid request
adds `errors`, a list of {"path", "message"} where `path` is a JSON pointer
into the request without its leading slash ("layers/1/weights").
"""
from __future__ import annotations

import json

from flask import Response
from werkzeug.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"
# Shown in full up to this many; a body with 500 000 bad numbers should not get a 500 000-entry answer.
MAX_ERRORS = 50


class Problem(Exception):
    """An error answer. `extra` holds extension members (e.g. the step and layer of an overflow)."""

    status = 500
    title = "Internal Server Error"
    slug = "internal-error"

    def __init__(self, detail: str, errors: list[dict] | None = None, headers: dict | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    @property
    def type(self) -> str:
        return f"urn:backprop-visualizer:problem:{self.slug}"

    def to_dict(self) -> dict:
        body = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.errors is not None:
            body["errors"] = self.errors[:MAX_ERRORS]
            if len(self.errors) > MAX_ERRORS:
                body["errors_omitted"] = len(self.errors) - MAX_ERRORS
        body.update(self.extra)
        return body


class BadRequest(Problem):
    """The body is not a JSON object (malformed JSON, duplicate keys, nested too deeply, an array...)."""

    status = 400
    title = "Bad Request"
    slug = "malformed-body"


class InvalidRequest(Problem):
    """A JSON object that is not a valid request; `errors` names each bad field."""

    status = 422
    title = "Invalid Request"
    slug = "invalid-request"

    def __init__(self, errors: list[dict], detail: str | None = None, **extra):
        if detail is None:
            first = errors[0]
            where = f"at {first['path']}" if first["path"] else "in the request"
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            detail = f"{first['message']} {where}{more}"
        super().__init__(detail, errors, **extra)


class TrainingOverflow(Problem):
    """A valid request whose numbers stop being finite while training."""

    status = 422
    title = "Training Overflow"
    slug = "training-overflow"


class TooLarge(Problem):
    """Over one of the server's size limits (see GET /api/v1/limits)."""

    status = 413
    title = "Content Too Large"
    slug = "too-large"


class NotFound(Problem):
    """Nothing to show at that address (oEmbed for a URL that is not a lab or embed page)."""

    status = 404
    title = "Not Found"
    slug = "not-found"


class NotImplementedFormat(Problem):
    """A format the endpoint does not serve (oEmbed answers 501 for anything but json, as its spec says)."""

    status = 501
    title = "Not Implemented"
    slug = "format-not-implemented"


class UnsupportedMediaType(Problem):
    """A body that is not `application/json`, or one with a Content-Encoding.

    RFC 9110 (15.5.16): answer with Accept or Accept-Encoding, whichever was the cause.
    """

    status = 415
    title = "Unsupported Media Type"
    slug = "unsupported-media-type"


class HTTPProblem(Problem):
    """A plain HTTP error (404, 405, ...) from Flask, as problem details."""

    def __init__(self, error: HTTPException):
        # Keep headers such as Allow (405) but not the HTML content type.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        super().__init__(error.description or error.name, headers=headers)
        self.status = error.code or 500
        self.title = error.name

    @property
    def type(self) -> str:
        # RFC 9457: "about:blank" when the status code says all there is to say.
        return "about:blank"


def problem_response(problem: Problem) -> Response:
    response = Response(json.dumps(problem.to_dict(), allow_nan=False), status=problem.status, mimetype=MEDIA_TYPE)
    response.headers.update(problem.headers)
    return response
