"""Sharing a lab state: the embed page, exports and oEmbed.

`GET /embed?state=<token>&panels=heatmaps,loss&step=<key>&readonly=1` is the
lab without the site's chrome, for an iframe on any site (webapp.serving.security lets any
origin, or the configured ones, frame an endpoint named *.embed). `panels`
picks what it shows among heatmaps, equation, diagram, loss and controls,
`step` the sub-step it starts at, `readonly` hides the editor.

`GET /export?state=<token>&format=html|json|py|torch` downloads one self-contained
HTML file that steps through every sub-step offline, the state's trace (the
API's response), a NumPy script that reproduces it, or the same network in
PyTorch (torch.nn, autograd, torch.optim). `GET /open` and `POST /open` read a pasted or uploaded JSON request (or a JSON export) into the
lab, with the API's messages beside the field when it is not valid. `GET /oembed?url=<a lab
or embed URL>` answers oEmbed 1.0 (https://oembed.com) with a `rich` iframe of
the embed page. A state is decoded and validated exactly as the API validates
a request body (webapp.lab.state). Exports and oEmbed answer failures as
problem+json; the embed page shows a friendly error page.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Response, current_app, get_template_attribute, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine import presets as presetsmod
from webapp.api.limits import current_limits
from webapp.api.pipeline import to_json, trace_result
from webapp.api.problems import BadRequest, NotFound, NotImplementedFormat, Problem, TooLarge, problem_response
from webapp.lab import context as lab_context
from webapp.lab import render as lab_render
from webapp.lab import run as lab
from webapp.lab import state

from . import opening
from . import script as export
from . import torch_script as torch_export

bp = Blueprint("share", __name__)
bp.register_error_handler(Problem, problem_response)

EXPORT_FORMATS = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "py": "text/x-python; charset=utf-8",
    "torch": "text/x-python; charset=utf-8",
}
# A download's file name: the state's name and this ending.
EXPORT_ENDINGS = {"html": ".html", "json": ".json", "py": ".py", "torch": "_torch.py"}
# The HTML export carries every frame (it runs with no server): numbers in the whole trace.
EXPORT_MAX_NUMBERS = 100_000
# The iframe's size unless the consumer asks for less (oEmbed maxwidth / maxheight).
EMBED_WIDTH, EMBED_HEIGHT = 800, 600
OEMBED_CACHE_AGE = 7 * 24 * 3600  # a state's URL always shows the same thing
# The pages oEmbed answers for, and the query arguments an embed takes from their URLs.
EMBEDDABLE = ("lab.show", "lab.preset", "share.embed")
EMBED_ARGUMENTS = ("state", "panels", "step", "readonly")


@bp.get("/embed")
def embed() -> Response | str:
    if "state" not in request.args:
        return render_template("lab_shell.html", embed=True)  # the state is in the URL's fragment
    try:
        decoded = state.decode(request.args.get("state", ""))
        panels = decoded.state.panels or state.PANELS
        if "panels" in request.args:
            panels = lab_context.parse_panels(request.args["panels"])
            if not panels:
                raise ValueError("name at least one panel to show: heatmaps, equation, diagram, loss or controls")
        substep = request.args.get("step") or decoded.state.substep
        state.check_substep(substep, decoded.spec)
    except Problem as problem:
        return lab_render.error_page(problem.status, "This embedded example cannot be shown", problem.detail, embed=True)
    except ValueError as error:
        return lab_render.error_page(400, "This embedded example cannot be shown", str(error), embed=True)
    readonly = request.args.get("readonly", "") in ("1", "true", "yes")
    view = lab_context.View(panels=panels, embed=True, readonly=readonly)
    return lab_render.render_lab(replace(decoded.state, substep=substep), view)


@bp.route("/export", methods=["GET", "POST"])
def export_state() -> Response:
    """An export of a state: ?state=&format=, or the same as a posted form (a state too long for a URL)."""
    fmt = request.values.get("format", "json")
    if fmt not in EXPORT_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    decoded = state.decode(_state_argument())
    name = decoded.state.preset or "network"
    if fmt == "json":
        body = export.trace_json(decoded.spec, decoded.state.request)
    else:
        trace_result(decoded.spec)  # a state whose numbers overflow is refused here as the API refuses it
        if fmt == "py":
            body = export.python_script(decoded.state.request, _title(decoded.state), f"{name}.py")
        elif fmt == "torch":
            body = torch_export.torch_script(decoded.state.request, _title(decoded.state), f"{name}_torch.py")
        else:
            body = standalone_html(decoded.state)
    response = Response(body, content_type=EXPORT_FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}{EXPORT_ENDINGS[fmt]}"'
    return response


@bp.route("/open", methods=["GET", "POST"])
def open_request() -> Response | str:
    """Paste or upload a trace request (or a JSON export): the lab of it, or the form again with what was wrong."""
    if request.method == "GET":
        return render_template("open.html", text="", opened=None)
    try:
        upload = request.files.get("file")
        text = request.form.get("json", "")
    except RequestEntityTooLarge:
        limit = current_limits().max_body_bytes
        opened = opening.Opened(None, 413, f"the upload is over {limit:,} bytes, the API's body limit")
        return Response(render_template("open.html", text="", opened=opened), status=413)
    if upload is not None and upload.filename:
        raw = upload.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            opened = opening.Opened(None, 400, f"{upload.filename} is not a UTF-8 text file")
            return Response(render_template("open.html", text=text, opened=opened), status=400)
    opened = opening.open_text(text, current_limits())
    if opened.request is None:
        return Response(render_template("open.html", text=text, opened=opened), status=opened.status)
    token = state.encode(state.LabState(opened.request))
    url = lab_context.with_state("lab.show", token)
    if "#" in url:  # too long for a URL servers accept: the lab itself, which keeps its state in the page
        return lab_render.render_lab(state.LabState(opened.request), lab_context.View())
    return redirect(url, code=303)


@bp.get("/oembed")
def oembed() -> Response:
    fmt = request.args.get("format", "json")
    if fmt != "json":
        raise NotImplementedFormat(f"only format=json is served, not {fmt!r}")
    url = request.args.get("url", "")
    if not url:
        raise BadRequest("give the url of a lab or embed page: /oembed?url=...")
    query = _embeddable(url)
    try:
        decoded = state.decode(query["state"])
    except Problem as problem:
        # oEmbed (2.3.5) knows one answer for a URL it has nothing to embed for: 404.
        raise NotFound(f"the URL's state cannot be shown: {problem.detail}") from None
    width = _dimension("maxwidth", EMBED_WIDTH)
    height = _dimension("maxheight", EMBED_HEIGHT)
    title = _title(decoded.state)
    html = iframe_html(lab_context.with_state("share.embed", query.pop("state"), _external=True, **query), title, width, height)
    return Response(
        to_json(
            {
                "type": "rich",
                "version": "1.0",
                "title": title,
                "provider_name": "Backprop Visualizer",
                "provider_url": url_for("gallery.index", _external=True),
                "cache_age": OEMBED_CACHE_AGE,
                "html": html,
                "width": width,
                "height": height,
            }
        ),
        mimetype="application/json",
    )


def iframe_html(src: str, title: str, width: int, height: int) -> str:
    """The iframe that embeds a lab, as the lab's Embed dialog writes it."""
    return str(get_template_attribute("partials/_iframe.html", "iframe")(src, title, width, height))


def standalone_html(lab_state: state.LabState) -> str:
    """One HTML file that steps through every sub-step with no server and no network request.

    It holds the lab's own figures and sub-step sections, its stylesheet, Plotly and the
    lab's player script, all inline; the player knows it is standalone and leaves the URL alone.
    """
    try:
        spec, _ = lab.run(lab_state.request)
    except lab.Rejected as rejected:
        raise TooLarge(f"the lab cannot draw this network, so it has no HTML export: {rejected}") from None
    numbers = spec.trace_values() * spec.steps
    if numbers > EXPORT_MAX_NUMBERS:
        raise TooLarge(f"the HTML export holds every sub-step of every SGD step: at most {EXPORT_MAX_NUMBERS} "
                       f"numbers, this network's {spec.steps} steps hold {numbers} (export fewer steps)",
                       limit="export_max_numbers", value=numbers, maximum=EXPORT_MAX_NUMBERS)
    preset = presetsmod.get(lab_state.preset) if lab_state.preset else None
    _, viewer = lab_context.viewer_of(lab_state.request, preset, lab_state.substep, everything=True)
    return render_template(
        "export.html",
        viewer=viewer,
        view=lab_context.View(),
        preset=preset,
        title=_title(lab_state),
        permalink=url_for("lab.show", state=state.encode(lab_state), _external=True),
        stylesheet=_inline("lab.css", "</style"),
        scripts=[_inline("vendor/plotly-cartesian.min.js", "</script"), _inline("lab.js", "</script")],
    )


def _inline(filename: str, closing: str) -> Markup:
    """A static file's text for an inline element; a closing tag in it could not end the element."""
    text = (Path(current_app.static_folder) / filename).read_text(encoding="utf-8")
    escaped = re.sub(re.escape(closing), lambda found: found.group(0).replace("/", "\\/"), text, flags=re.IGNORECASE)
    return Markup(escaped)


def _state_argument() -> str:
    token = request.values.get("state", "")
    if not token:
        raise BadRequest("give the lab's state: ?state=... as in the lab's address")
    return token


def _title(lab_state: state.LabState) -> str:
    return lab_context.title_of(presetsmod.get(lab_state.preset) if lab_state.preset else None)


def _embeddable(url: str) -> dict[str, str]:
    """The embed page's query for a URL of this site's lab or embed page; NotFound for any other URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        raise NotFound(f"{url!r} is not a page of this site ({request.host})")
    adapter = current_app.url_map.bind(request.host, script_name=request.script_root or None)
    try:
        endpoint, arguments = adapter.match(parts.path, method="GET")
    except HTTPException:
        raise NotFound(f"{parts.path!r} is not a lab or embed page") from None
    if endpoint not in EMBEDDABLE:
        raise NotFound(f"{parts.path!r} is not a lab or embed page")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items() if key in EMBED_ARGUMENTS}
    if parts.fragment.startswith("state="):
        query["state"] = parts.fragment[len("state="):]  # a long state travels in the fragment
    if not query.get("state") and endpoint == "lab.preset":
        try:
            preset = presetsmod.get(arguments["preset_id"])
        except KeyError:
            raise NotFound(f"there is no worked example {arguments['preset_id']!r}") from None
        query["state"] = state.encode(state.LabState(preset.body(), preset=preset.id))
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

