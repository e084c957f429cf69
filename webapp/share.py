"""Sharing a lab state: exports and oEmbed.

`GET /export?state=<token>&format=json|py` downloads the state's trace (the
API's response) or a NumPy script that reproduces it. `GET /oembed?url=<a lab
or embed URL>` answers oEmbed 1.0 (https://oembed.com) with a `rich` iframe of
the embed page. A state is decoded and validated exactly as the API validates
a request body (webapp.state); every failure is problem+json.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Response, current_app, request, url_for
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from engine import presets as presetsmod

from . import export, state
from .api import to_json, trace_result
from .problems import BadRequest, Problem, problem_response

bp = Blueprint("share", __name__)
bp.register_error_handler(Problem, problem_response)

EXPORT_FORMATS = {
    "json": "application/json",
    "py": "text/x-python; charset=utf-8",
}
# The iframe's size unless the consumer asks for less (oEmbed maxwidth / maxheight).
EMBED_WIDTH, EMBED_HEIGHT = 800, 600
OEMBED_CACHE_AGE = 7 * 24 * 3600  # a state's URL always shows the same thing


class NotFound(Problem):
    status = 404
    title = "Not Found"
    slug = "not-found"


class NotImplementedFormat(Problem):
    status = 501
    title = "Not Implemented"
    slug = "format-not-implemented"


@bp.get("/export")
def export_state() -> Response:
    fmt = request.args.get("format", "json")
    if fmt not in EXPORT_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    decoded = state.decode(_state_argument())
    name = decoded.state.preset or "network"
    if fmt == "json":
        body = export.trace_json(decoded.spec)
    else:
        trace_result(decoded.spec)  # a state whose numbers overflow is refused here as the API refuses it
        body = export.python_script(decoded.state.request, _title(decoded.state), f"{name}.py")
    response = Response(body, content_type=EXPORT_FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@bp.get("/oembed")
def oembed() -> Response:
    fmt = request.args.get("format", "json")
    if fmt != "json":
        raise NotImplementedFormat(f"only format=json is served, not {fmt!r}")
    url = request.args.get("url", "")
    if not url:
        raise BadRequest("give the url of a lab or embed page: /oembed?url=...")
    query = _embeddable(url)
    decoded = state.decode(query["state"])
    width = _dimension("maxwidth", EMBED_WIDTH)
    height = _dimension("maxheight", EMBED_HEIGHT)
    title = _title(decoded.state)
    src = url_for("share.embed", _external=True, **query)
    html = (
        f'<iframe src="{escape(src)}" width="{width}" height="{height}" title="{escape(title)}" '
        'style="border:0;max-width:100%" loading="lazy"></iframe>'
    )
    return Response(
        to_json(
            {
                "type": "rich",
                "version": "1.0",
                "title": title,
                "provider_name": "Backprop Visualizer",
                "provider_url": url_for("pages.index", _external=True),
                "cache_age": OEMBED_CACHE_AGE,
                "html": html,
                "width": width,
                "height": height,
            }
        ),
        mimetype="application/json",
    )


def _state_argument() -> str:
    token = request.args.get("state", "")
    if not token:
        raise BadRequest("give the lab's state: ?state=... as in the lab's address")
    return token


def _title(lab_state: state.LabState) -> str:
    if lab_state.preset is not None:
        return presetsmod.get(lab_state.preset).title
    return "A network, step by step"


def _embeddable(url: str) -> dict[str, str]:
    """The embed page's query for a URL of this site's lab or embed page; NotFound for any other URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        raise NotFound(f"{url!r} is not a page of this site ({request.host})")
    adapter = current_app.url_map.bind(request.host, script_name=request.script_root or None)
    try:
        endpoint, _ = adapter.match(parts.path, method="GET")
    except HTTPException:
        raise NotFound(f"{parts.path!r} is not a lab or embed page") from None
    if endpoint not in EMBEDDABLE:
        raise NotFound(f"{parts.path!r} is not a lab or embed page")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items() if key in EMBED_ARGUMENTS}
    if not query.get("state"):
        raise NotFound("the URL carries no state (?state=...)")
    return query


def _dimension(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw) or int(raw) < 1:
        raise BadRequest(f"{name} must be a positive whole number of pixels, got {raw!r}")
    return min(default, int(raw))


EMBEDDABLE = ("pages.lab", "share.embed")
EMBED_ARGUMENTS = ("state", "panels", "step", "readonly")
