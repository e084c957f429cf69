"""HTML pages: the preset gallery and the lab.

`GET /lab/<preset_id>` shows a preset, or with `?net=<token>` an edited
network, at the sub-step `?at=<key>`: the URL tells the state. The lab's one
form posts to `POST /lab/<preset_id>`, which answers the `_lab.html` partial
to htmx (and the whole page otherwise), with the URL of the new state.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from engine import presets as presetsmod
from engine.spec import ACTIVATIONS, LOSSES, REDUCTIONS

from . import lab, schemas
from .problems import InvalidRequest

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


def _preset(preset_id: str) -> presetsmod.Preset:
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


@bp.get("/lab/<preset_id>")
def lab_page(preset_id: str) -> str:
    preset = _preset(preset_id)
    body = preset.body()
    if request.args.get("net"):
        try:
            body = lab.decode_net(request.args["net"])
        except ValueError as error:
            abort(400, str(error))
    try:
        lab.run(body)
    except lab.Rejected as rejected:
        abort(400, f"The network in this link cannot be shown: {rejected}.")
    draft = lab.draft_from_body(body, seed=DEFAULT_SEED)
    context = lab_context(preset, draft, body, {}, [], [], request.args.get("at"))
    return render_template("lab.html", **context)


@bp.post("/lab/<preset_id>")
def lab_edit(preset_id: str) -> Response | str:
    preset = _preset(preset_id)
    try:
        edit = lab.read_form(request.form)
    except ValueError as error:
        abort(400, str(error))
    if edit.reset:
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
    context = lab_context(preset, edit.draft, shown_body, errors, general, edit.notes, request.form.get("at"))
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
    return Response(render_template("lab.html", **context), status=422)


def _last_valid(preset: presetsmod.Preset, token: str) -> dict:
    """The network shown before an invalid edit (from the form), or the preset's."""
    if token:
        try:
            body = lab.decode_net(token)
            lab.run(body)
            return body
        except (ValueError, lab.Rejected):
            pass
    return preset.body()


def lab_context(preset, draft, body, errors, general, notes, at) -> dict:
    """What the lab templates need: the form's draft and messages, and the viewer of the shown network."""
    pristine = lab.same_network(body, preset.request)
    viewer = lab.viewer_for(body, preset.id, pristine, preset.request.get("layout", "rows"), at)
    same_layout = body.get("layout", "rows") == preset.request.get("layout", "rows")
    net = None if pristine and same_layout else lab.encode_net(body)
    key = viewer.substeps[viewer.position].key
    grids = lab.grids(draft, errors)
    known = {cell.name for grid in grids.values() for row in grid.cells for cell in row}
    known |= {"layout", "examples", "targets-mode", "loss", "reduction", "half", "margin", "learning-rate",
              "steps", "seed"}
    for index in range(len(draft.widths)):
        known |= {f"units-{index}", f"activation-{index}", f"slope-{index}", f"train-weights-{index}",
                  f"train-bias-{index}"}
    return {
        "preset": preset,
        "draft": draft,
        "typed": {},
        "grids": grids,
        "errors": errors,
        "other_errors": general + [message for name, message in errors.items() if name not in known],
        "notes": notes,
        "viewer": viewer,
        "pristine": pristine,
        "edited": not pristine,
        "last_valid": lab.encode_net(body),
        "rendered_shape": lab.rendered_shape(draft),
        "url": url_for("pages.lab_page", preset_id=preset.id, net=net, at=key),
        "net": net,
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
