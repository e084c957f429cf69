"""Security headers on every response, and the optional rate limit.

Every response, pages, partials, JSON, static files and errors alike, gets a
Content-Security-Policy that runs only this site's own script files (no
inline script, no other origin), `X-Content-Type-Options: nosniff` and a
`Referrer-Policy`. A page may be framed only by this site, except the embed
page: an endpoint whose name ends in ".embed", or a view decorated with
`@frameable`, may be framed by the origins of BACKPROP_VIZ_EMBED_FRAME_ANCESTORS
(default: any).

style-src allows inline styles: Plotly positions its SVG with style attributes
and adds its CSS as a <style> element, and cannot draw without them. Styles
cannot run script, so scripts stay 'self' only.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, request

from .settings import Settings, current

View = TypeVar("View", bound=Callable)

BASE_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)
REFERRER_POLICY = "strict-origin-when-cross-origin"


def frameable(view: View) -> View:
    """Let other sites frame this view (within BACKPROP_VIZ_EMBED_FRAME_ANCESTORS)."""
    view.frameable = True
    return view


def content_security_policy(frame_ancestors: tuple[str, ...]) -> str:
    return "; ".join((*BASE_POLICY, "frame-ancestors " + " ".join(frame_ancestors)))


def init_app(app: Flask) -> None:
    settings: Settings = current(app)
    own = content_security_policy(("'self'",))
    embed = content_security_policy(settings.embed_frame_ancestors)
    # X-Frame-Options cannot name other origins: send it only where it says what the CSP says.
    embed_frame_options = {("'self'",): "SAMEORIGIN", ("'none'",): "DENY"}.get(settings.embed_frame_ancestors)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        if _is_frameable():
            headers["Content-Security-Policy"] = embed
            if embed_frame_options:
                headers["X-Frame-Options"] = embed_frame_options
            else:
                headers.pop("X-Frame-Options", None)
        else:
            headers["Content-Security-Policy"] = own
            headers["X-Frame-Options"] = "SAMEORIGIN"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = REFERRER_POLICY
        return response

    if settings.rate_limit:
        _rate_limit(app, settings.rate_limit)


def _is_frameable() -> bool:
    endpoint = request.endpoint
    if endpoint is None:  # no route matched (404, 405): an error page, framed by no one else
        return False
    view = current_app.view_functions.get(endpoint)
    return endpoint.endswith(".embed") or getattr(view, "frameable", False)


def _rate_limit(app: Flask, limit: str) -> None:
    """At most `limit` requests per client address over all routes together, in each worker.

    Storage is in memory, so each worker process counts on its own: with W workers a client
    may get up to W times the limit. Static files and /healthz are not counted. A client over
    the limit gets 429 with Retry-After (problem+json under /api/).
    """
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(
        get_remote_address,
        app=app,
        application_limits=[limit],
        storage_uri="memory://",
        headers_enabled=True,
    )
    limiter.request_filter(lambda: request.endpoint == "ops.healthz")
    app.extensions["backprop_viz_limiter"] = limiter
