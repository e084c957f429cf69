"""Rendering a lab state as a page, shared by the lab's routes and the embed page (webapp.share).

What the templates get is built in webapp.lab.context; a state the lab cannot draw gets the
friendly error page, never a 500.
"""
from __future__ import annotations

from flask import Response, abort, render_template

from engine import presets as presetsmod

from . import context as lab_context
from . import draft as lab_draft
from . import run as lab
from . import state

DEFAULT_SEED = 1


def find_preset(preset_id: str | None) -> presetsmod.Preset | None:
    if preset_id is None:
        return None
    try:
        return presetsmod.get(preset_id)
    except KeyError:
        abort(404, f"There is no worked example {preset_id!r}.")


def render_lab(lab_state: state.LabState, view: lab_context.View, partial: bool = False) -> Response | str:
    """The lab (or its embed) of a state; the friendly error page if the lab cannot draw it.

    `partial`: the lab alone (`_lab.html`), for a page that asked for it with a state kept in its URL's
    fragment (webapp.lab.routes.render_state)."""
    try:
        lab.run(lab_state.request)
    except lab.Rejected as rejected:
        return error_page(400, "The lab cannot show the network in this link", str(rejected), view.embed)
    preset = find_preset(lab_state.preset)
    draft = lab_draft.draft_from_body(lab_state.request, seed=DEFAULT_SEED)
    context = lab_context.build(preset, draft, lab_state.request, {}, [], [], lab_state.substep, view)
    if partial:
        return render_template("partials/_lab.html", **context)
    return render_template("embed.html" if view.embed else "lab.html", **context)


def error_page(status: int, title: str, detail: str, embed: bool = False) -> Response:
    """A friendly page for a link that cannot be shown, with a way back to the gallery."""
    return Response(render_template("error.html", title=title, detail=detail, embed=embed), status=status)
