"""HTML pages: the preset gallery and the lab.

The lab's whole state is in its URL: `GET /lab?state=<token>` (webapp.state:
the request, the sub-step shown, the open panels and the worked example it
started from). `GET /lab/<preset_id>` opens a worked example at its first
sub-step (the gallery links there); every other lab URL is `/lab?state=`.
Stepping and opening or closing a panel
rewrite the URL in the browser; an edit posts the lab's form to
`POST /lab/<preset_id>` (`POST /lab` for a network from no preset), which
answers the `_lab.html` partial to htmx with the URL of the new state
(HX-Push-Url), or redirects there without JavaScript. A link that cannot be
shown gets a friendly error page with a way back to the gallery, never a 500.

The embed page (`share.embed`) renders the same lab through `render_lab`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from engine import presets as presetsmod
from engine.spec import ACTIVATIONS, LOSSES, REDUCTIONS

from . import lab, schemas, state
from .problems import InvalidRequest, Problem

bp = Blueprint("pages", __name__)

DEFAULT_SEED = 1
# The panels the lab's "Show" toggles open and close; the timeline ("controls") stays in the lab.
LAB_PANELS = ("heatmaps", "diagram", "equation", "loss")
PANEL_LABELS = {"heatmaps": "Heatmaps", "equation": "Equation", "diagram": "Network diagram",
                "loss": "Loss curve", "controls": "Step controls"}


@dataclass(frozen=True)
class View:
    """How the lab is shown: the full page, or embedded (no site chrome), maybe read-only."""

    panels: tuple[str, ...] = state.PANELS  # the open panels
    embed: bool = False
    readonly: bool = False

    def opens(self, panel: str) -> bool:
        return panel in self.panels or (panel == "controls" and not self.embed)

    @property
    def state_panels(self) -> tuple[str, ...] | None:
        """The panels as a state keeps them: None when every panel is open."""
        return None if set(self.panels) == set(state.PANELS) else self.panels


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


def title_of(preset: presetsmod.Preset | None) -> str:
    return preset.title if preset else "A shared network"


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
    return render_lab(decoded.state, View(panels=panels))


@bp.get("/lab/<preset_id>")
def lab_page(preset_id: str) -> Response | str:
    # Query arguments are ignored: a site that links here may add its own (tracking, cache busting).
    preset = _preset(preset_id)
    return render_lab(state.LabState(preset.body(), None, None, preset.id), View())


def render_lab(lab_state: state.LabState, view: View) -> Response | str:
    """The lab (or its embed) of a state; the friendly error page if the lab cannot draw it."""
    try:
        lab.run(lab_state.request)
    except lab.Rejected as rejected:
        return error_page(400, "The lab cannot show the network in this link", str(rejected), view.embed)
    preset = _preset(lab_state.preset)
    draft = lab.draft_from_body(lab_state.request, seed=DEFAULT_SEED)
    context = lab_context(preset, draft, lab_state.request, {}, [], [], lab_state.substep, view)
    return render_template("embed.html" if view.embed else "lab.html", **context)


def error_page(status: int, title: str, detail: str, embed: bool = False) -> Response:
    """A friendly page for a link that cannot be shown, with a way back to the gallery."""
    return Response(render_template("error.html", title=title, detail=detail, embed=embed), status=status)


@bp.post("/lab", defaults={"preset_id": None})
@bp.post("/lab/<preset_id>")
def lab_edit(preset_id: str | None) -> Response | str:
    preset = _preset(preset_id)
    try:
        edit = lab.read_form(request.form)
        view = _view_of_form(request.form)
    except ValueError as error:
        abort(400, str(error))
    if edit.reset and preset is not None:
        edit.draft = lab.draft_from_body(preset.body(), seed=DEFAULT_SEED)
        edit.notes.append("Reset to the worked example.")
    body, errors = lab.body_from_draft(edit.draft)
    errors.update(edit.errors)
    general: list[str] = []
    if errors:
        # The typed numbers are placeholders (0) where they did not parse: still report every other problem.
        try:
            schemas.parse_trace_request(body)
        except InvalidRequest as problem:
            for item in problem.errors or []:
                name = lab.field_of_path(item["path"])
                if name is not None:
                    errors.setdefault(name, item["message"])
    else:
        try:
            lab.run(body)
        except lab.Rejected as rejected:
            errors.update(rejected.errors)
            general += rejected.general
    shown_body = body if not errors and not general else _last_valid(preset, request.form.get("last-valid", ""))
    context = lab_context(preset, edit.draft, shown_body, errors, general, edit.notes, request.form.get("at"), view)
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


def _view_of_form(form) -> View:
    """The view the form was posted from (hidden fields `view` and `panels`); ValueError if malformed."""
    embed = form.get("view") == "embed"
    raw = form.get("panels", "")
    panels = parse_panels(raw) if raw else state.PANELS
    return View(panels=panels, embed=embed)


def parse_panels(raw: str) -> tuple[str, ...]:
    """`heatmaps,loss` as a tuple of panel names; ValueError naming an unknown one."""
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    unknown = [name for name in names if name not in state.PANELS]
    if unknown:
        raise ValueError(f"unknown panel {unknown[0]!r}: the panels are {', '.join(state.PANELS)}")
    return tuple(dict.fromkeys(names))


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


def lab_context(preset, draft, body, errors, general, notes, at, view: View) -> dict:
    """What the lab templates need: the form's draft and messages, the viewer of the shown network, its links."""
    pristine, viewer = viewer_of(body, preset, at)
    key = viewer.substeps[viewer.position].key
    lab_state = state.LabState(body, None, view.state_panels, preset.id if preset else None)
    links = share_links(lab_state, key, view)
    grids = lab.grids(draft, errors)
    known = {cell.name for grid in grids.values() for row in grid.cells for cell in row}
    known |= {"layout", "examples", "targets-mode", "loss", "reduction", "half", "margin", "learning-rate",
              "steps", "seed"}
    for index in range(len(draft.widths)):
        known |= {f"units-{index}", f"activation-{index}", f"slope-{index}", f"train-weights-{index}",
                  f"train-bias-{index}"}
    return {
        "preset": preset,
        "title": title_of(preset),
        "draft": draft,
        "typed": {},
        "grids": grids,
        "errors": errors,
        "other_errors": general + [message for name, message in errors.items() if name not in known],
        "notes": notes,
        "viewer": viewer,
        "pristine": pristine,
        "edited": not pristine,
        "last_valid": state.encode(state.LabState(body)),
        "rendered_shape": lab.rendered_shape(draft),
        "view": view,
        "lab_panels": LAB_PANELS,
        "panel_labels": PANEL_LABELS,
        "all_panels": state.PANELS,
        # The state less its sub-step: the script adds the sub-step shown and writes the URL.
        "state_data": lab_state.to_dict(),
        "form_action": url_for("pages.lab_edit", preset_id=preset.id if preset else None),
        **links,
        "activations": ACTIVATIONS,
        "losses": LOSSES,
        "reductions": REDUCTIONS,
        "limits": {
            "layers": lab.LAB_MAX_LAYERS,
            "units": lab.LAB_MAX_UNITS,
            "examples": lab.LAB_MAX_EXAMPLES,
            "steps": lab.LAB_MAX_STEPS,
            "numbers": lab.LAB_MAX_NUMBERS,
        },
    }


def viewer_of(body: dict, preset: presetsmod.Preset | None, at: str | None) -> tuple[bool, lab.Viewer]:
    """(pristine, viewer) of a valid body: pristine when it is its preset's network, which then shows the errata."""
    pristine = preset is not None and lab.same_network(body, preset.request)
    errata_layout = (preset.request if preset else body).get("layout", "rows")
    return pristine, lab.viewer_for(body, preset.id if preset else "", pristine, errata_layout, at)


def share_links(lab_state: state.LabState, substep: str, view: View) -> dict:
    """The URLs of a state at a sub-step: this page's, the permalink, the embed, oEmbed and the exports."""
    token = state.encode(replace(lab_state, substep=substep))
    embed_query = {"state": token}
    if view.embed:
        embed_query["panels"] = ",".join(view.panels)
        embed_query["readonly"] = "1" if view.readonly else None
    lab_url = url_for("pages.lab", state=token)
    # Links in the page are paths (nothing in a page names another origin); the oEmbed query is
    # written out in full so that its absolute `url` reads as one opaque value.
    oembed_query = urlencode({"url": url_for("pages.lab", state=token, _external=True), "format": "json"})
    return {
        "token": token,
        "url": url_for("share.embed", **embed_query) if view.embed else lab_url,
        "lab_url": lab_url,
        "permalink": url_for("pages.lab", state=token, _external=True),
        "embed_url": url_for("share.embed", state=token, _external=True),
        "oembed_url": f"{url_for('share.oembed')}?{oembed_query}",
        "export_urls": {fmt: url_for("share.export_state", state=token, format=fmt) for fmt in ("html", "json", "py")},
    }
