"""Operations: the health check for load balancers, and HTTP caching of what never changes.

`GET /healthz` answers `{"status": "ok"}` as long as the worker serves requests;
it is never cached and never rate limited. The worked examples (the preset
list, each preset's body) and the OpenAPI document change only with a new
release, so they are cacheable by browsers and proxies for an hour and carry
an ETag: after that a revalidation costs a 304.
"""
from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request

bp = Blueprint("ops", __name__)

CACHEABLE = frozenset({"api.presets", "api.preset", "api.openapi"})
CACHE_CONTROL = "public, max-age=3600"


@bp.get("/healthz")
def healthz() -> Response:
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the blueprint and the caching hook.

    Call after assets.init_app: Flask runs after_request hooks in reverse order, so this
    one sets the ETag before flask-compress, which then suffixes it per encoding and answers
    the conditional request itself for compressed responses.
    """
    app.register_blueprint(bp)
    app.after_request(_cache_presets)


def _cache_presets(response: Response) -> Response:
    if request.endpoint not in CACHEABLE or request.method not in ("GET", "HEAD") or response.status_code != 200:
        return response
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.add_etag()
    return response.make_conditional(request)
