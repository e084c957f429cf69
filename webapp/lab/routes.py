"""The lab's pages.

The lab's whole state is in its URL: `GET /lab?state=<token>` (webapp.lab.state:
the request, the sub-step shown, the open panels and the worked example it
started from). `GET /lab/<preset_id>` opens a worked example at its first
sub-step (the gallery links there); every other lab URL is `/lab?state=`.
Stepping and opening or closing a panel rewrite the URL in the browser; an
edit posts the lab's form to
`POST /lab/<preset_id>` (`POST /lab` for a network from no preset), which
answers the `_lab.html` partial to htmx with the URL of the new state
(HX-Push-Url), or redirects there without JavaScript. A link that cannot be
shown gets a friendly error page with a way back to the gallery, never a 500.

The embed page (`share.embed`) renders the same lab through `render.render_lab`;
what the templates get is built in webapp.lab.context.
"""
from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, abort, redirect, render_template, request

from engine import presets as presetsmod
from webapp.api.bodies import read_json_body
from webapp.api.limits import current_limits
from webapp.api.problems import BadRequest, Problem, problem_response

from . import context as lab_context
from . import draft as lab_draft
from . import edits as lab_edits
from . import frames, render, state
from . import view as lab_view
from . import run as lab

bp = Blueprint("lab", __name__)


@bp.get("/lab", endpoint="show")
def open_state() -> Response | str:
    token = request.args.get("state", "")
    if not token:
        # A state too long for a URL that servers accept travels in the fragment (#state=...), which
        # reaches no server: this page asks for the lab with it (or goes to the gallery without one).
        return render_template("lab_shell.html", embed=False)
    try:
        decoded = state.decode(token)
    except Problem as problem:
        return render.error_page(problem.status, "This link does not hold a network the lab can show", problem.detail)
    panels = decoded.state.panels or state.PANELS
    return render.render_lab(decoded.state, lab_context.View(panels=panels))


@bp.get("/lab/<preset_id>", endpoint="preset")
def lab_page(preset_id: str) -> Response | str:
    # Query arguments are ignored: a site that links here may add its own (tracking, cache busting).
    preset = render.find_preset(preset_id)
    return render.render_lab(state.LabState(preset.body(), None, None, preset.id), lab_context.View())


@bp.post("/lab", defaults={"preset_id": None}, endpoint="edit")
@bp.post("/lab/<preset_id>", endpoint="edit")
def lab_edit(preset_id: str | None) -> Response | str:
    preset = render.find_preset(preset_id)
    try:
        edit = lab_edits.read_form(request.form)
        view = _view_of_form(request.form)
    except ValueError as error:
        abort(400, str(error))
    if edit.reset and preset is not None:
        edit.draft = lab_draft.draft_from_body(preset.body(), seed=render.DEFAULT_SEED)
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


@bp.post("/lab/render", endpoint="render_state")
def render_state() -> Response | str:
    """The lab (the `_lab.html` partial) of a state posted as a form: `state`, and for an embed `view=embed`,
    `panels`, `step`, `readonly`; what /lab#state= and /embed#state= pages ask for."""
    embed = request.form.get("view") == "embed"
    try:
        decoded = state.decode(request.form.get("state", ""))
        panels = decoded.state.panels or state.PANELS
        if request.form.get("panels"):
            panels = lab_context.parse_panels(request.form["panels"])
        substep = request.form.get("step") or decoded.state.substep
        state.check_substep(substep, decoded.spec)
    except Problem as problem:
        return render.error_page(problem.status, "This link does not hold a network the lab can show", problem.detail,
                                 embed)
    except ValueError as error:
        return render.error_page(400, "This link does not hold a network the lab can show", str(error), embed)
    readonly = embed and request.form.get("readonly", "") in ("1", "true", "yes")
    view = lab_context.View(panels=panels, embed=embed, readonly=readonly)
    return render.render_lab(replace(decoded.state, substep=substep), view, partial=True)


@bp.post("/lab/frames", endpoint="frames")
def frames_of_state() -> Response:
    """The frames of SGD steps from..to-1 of a state: `{"state": token, "from": k, "to": m}` (JSON)."""
    try:
        body = read_json_body(request, current_limits().max_body_bytes)
        if not isinstance(body, dict) or not isinstance(body.get("state"), str):
            raise BadRequest("send {\"state\": <the lab's state token>, \"from\": k, \"to\": m}")
        first, stop = body.get("from"), body.get("to")
        if type(first) is not int or type(stop) is not int:
            raise BadRequest("from and to are whole numbers: the SGD steps from..to-1")
        decoded = state.decode(body["state"])
        spec, _ = lab.run(decoded.state.request)
        if not 0 <= first < stop <= spec.steps or stop - first > frames.MAX_WINDOW_STEPS:
            raise BadRequest(f"from..to must be within 0..{spec.steps} and at most {frames.MAX_WINDOW_STEPS} steps")
        preset = render.find_preset(decoded.state.preset) if decoded.state.preset else None
        pristine, errata_layout = lab_context.errata_of(decoded.state.request, preset)
        text = lab_view.frames_json(decoded.state.request, preset.id if preset else "", pristine, errata_layout,
                                    first, stop)
    except lab.Rejected as rejected:
        return problem_response(BadRequest(str(rejected)))
    except Problem as problem:
        return problem_response(problem)
    return Response(text, mimetype="application/json")


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


