"""HTML pages: the preset gallery and the lab.

The lab's whole state is in its URL: `GET /lab?state=<token>` (webapp.state:
the request, the sub-step shown, the open panels and the worked example it
started from). `GET /lab/<preset_id>` opens a worked example at its first
sub-step (the gallery links there); every other lab URL is `/lab?state=`.
Stepping and opening or closing a panel rewrite the URL in the browser; an
edit posts the lab's form to
`POST /lab/<preset_id>` (`POST /lab` for a network from no preset), which
answers the `_lab.html` partial to htmx with the URL of the new state
(HX-Push-Url), or redirects there without JavaScript. A link that cannot be
shown gets a friendly error page with a way back to the gallery, never a 500.

The embed page (`share.embed`) renders the same lab through `render_lab`;
what the templates get is built in webapp.lab_context.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from engine import presets as presetsmod

from . import lab, lab_context, lab_draft, lab_edits, state
from .problems import Problem

bp = Blueprint("pages", __name__)

DEFAULT_SEED = 1


@dataclass(frozen=True)
class GalleryCard:
    preset: presetsmod.Preset
    shape: str  # "2 → 3 → 1"
    activations: str
    steps: int
    preview: dict  # circles and lines of a small network drawing (SVG coordinates)


def preview(widths: list[int], width: int = 220, height: int = 96) -> dict:
    """A small drawing of the network: one column of units per layer, every edge."""
    shown = [min(w, 6) for w in widths]
    step_x = (width - 24) / max(1, len(widths) - 1)
    columns = []
    for layer, count in enumerate(shown):
        x = 12 + layer * step_x
        gap = (height - 20) / max(1, count - 1) if count > 1 else 0
        top = height / 2 - gap * (count - 1) / 2
        columns.append([(round(x, 1), round(top + k * gap, 1)) for k in range(count)])
    lines = [(a, b) for left, right in zip(columns, columns[1:]) for a in left for b in right]
    return {"width": width, "height": height, "columns": columns, "lines": lines}


def _preset(preset_id: str | None) -> presetsmod.Preset | None:
    if preset_id is None:
        return None
    try:
        return presetsmod.get(preset_id)
    except KeyError:
        abort(404, f"There is no worked example {preset_id!r}.")


@bp.get("/")
def index() -> str:
    cards = []
    for preset in presetsmod.PRESETS:
        body = preset.request
        rows = body.get("layout", "rows") == "rows"
        widths = [len(body["inputs"][0]) if rows else len(body["inputs"])]
        widths += [len(layer["weights"][0]) if rows else len(layer["weights"]) for layer in body["layers"]]
        cards.append(
            GalleryCard(
                preset,
                " → ".join(str(w) for w in widths),
                ", ".join(layer["activation"] for layer in body["layers"]),
                body.get("steps", 1),
                preview(widths),
            )
        )
    return render_template("index.html", cards=cards)


@bp.get("/lab", endpoint="lab")
def open_state() -> Response | str:
    token = request.args.get("state", "")
    if not token:
        return redirect(url_for("pages.index"), 303)
    try:
        decoded = state.decode(token)
    except Problem as problem:
        return error_page(problem.status, "This link does not hold a network the lab can show", problem.detail)
    panels = decoded.state.panels or state.PANELS
    return render_lab(decoded.state, lab_context.View(panels=panels))


@bp.get("/lab/<preset_id>")
def lab_page(preset_id: str) -> Response | str:
    # Query arguments are ignored: a site that links here may add its own (tracking, cache busting).
    preset = _preset(preset_id)
    return render_lab(state.LabState(preset.body(), None, None, preset.id), lab_context.View())


def render_lab(lab_state: state.LabState, view: lab_context.View) -> Response | str:
    """The lab (or its embed) of a state; the friendly error page if the lab cannot draw it."""
    try:
        lab.run(lab_state.request)
    except lab.Rejected as rejected:
        return error_page(400, "The lab cannot show the network in this link", str(rejected), view.embed)
    preset = _preset(lab_state.preset)
    draft = lab_draft.draft_from_body(lab_state.request, seed=DEFAULT_SEED)
    context = lab_context.build(preset, draft, lab_state.request, {}, [], [], lab_state.substep, view)
    return render_template("embed.html" if view.embed else "lab.html", **context)


def error_page(status: int, title: str, detail: str, embed: bool = False) -> Response:
    """A friendly page for a link that cannot be shown, with a way back to the gallery."""
    return Response(render_template("error.html", title=title, detail=detail, embed=embed), status=status)


@bp.post("/lab", defaults={"preset_id": None})
@bp.post("/lab/<preset_id>")
def lab_edit(preset_id: str | None) -> Response | str:
    preset = _preset(preset_id)
    try:
        edit = lab_edits.read_form(request.form)
        view = _view_of_form(request.form)
    except ValueError as error:
        abort(400, str(error))
    if edit.reset and preset is not None:
        edit.draft = lab_draft.draft_from_body(preset.body(), seed=DEFAULT_SEED)
        edit.notes.append("Reset to the worked example.")
    body, errors, general = lab_edits.check(edit)
    shown_body = body if not errors and not general else _last_valid(preset, request.form.get("last-valid", ""))
    context = lab_context.build(preset, edit.draft, shown_body, errors, general, edit.notes, request.form.get("at"), view)
    # A count that was not accepted is shown as typed (the draft keeps the old shape).
    context["typed"] = {name: request.form[name] for name in errors if name in request.form}
    valid = not errors and not general
    if request.headers.get("HX-Request"):
        response = Response(render_template("partials/_lab.html", **context))
        if valid:
            response.headers["HX-Push-Url"] = context["url"]
        return response
    if valid:
        return redirect(context["url"], 303)
    return Response(render_template("embed.html" if view.embed else "lab.html", **context), status=422)


def _view_of_form(form) -> lab_context.View:
    """The view the form was posted from (hidden fields `view` and `panels`); ValueError if malformed."""
    embed = form.get("view") == "embed"
    raw = form.get("panels", "")
    panels = lab_context.parse_panels(raw) if raw else state.PANELS
    return lab_context.View(panels=panels, embed=embed)


def _last_valid(preset: presetsmod.Preset | None, token: str) -> dict:
    """The network shown before an invalid edit (a state token in the form), or the preset's."""
    if token:
        try:
            body = state.decode(token).state.request
            lab.run(body)
            return body
        except (Problem, lab.Rejected):
            pass
    if preset is None:
        abort(400, "The form lost the network it was editing; open the link again.")
    return preset.body()


