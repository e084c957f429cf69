"""What the lab's templates get: how the lab is shown, the viewer of the network shown, the form, the links.

`build(...)` is the context of `lab.html`, `embed.html` and the `_lab.html`
partial; `View` says how the lab is shown (full page or embedded, which
panels, read-only); `links(...)` are the URLs of a state at a sub-step (this
page's, the permalink, the embed, oEmbed and the exports).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from flask import url_for

from engine import presets as presetsmod
from engine.spec import ACTIVATIONS, LOSSES, REDUCTIONS

from . import draft as lab_draft
from . import form as lab_form
from . import run as lab
from . import state
from . import view as lab_view

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


def title_of(preset: presetsmod.Preset | None) -> str:
    return preset.title if preset else "A shared network"


def parse_panels(raw: str) -> tuple[str, ...]:
    """`heatmaps,loss` as a tuple of panel names; ValueError naming an unknown one."""
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    unknown = [name for name in names if name not in state.PANELS]
    if unknown:
        raise ValueError(f"unknown panel {unknown[0]!r}: the panels are {', '.join(state.PANELS)}")
    return tuple(dict.fromkeys(names))


def build(preset, draft, body, errors, general, notes, at, view: View) -> dict:
    """What the lab templates need: the form's draft and messages, the viewer of the shown network, its links."""
    pristine, viewer = viewer_of(body, preset, at)
    key = viewer.substeps[viewer.position].key
    lab_state = state.LabState(body, None, view.state_panels, preset.id if preset else None)
    urls = links(lab_state, key, view)
    grids = lab_form.grids(draft, errors)
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
        # Heatmap cards of parameters and data link to their grids when the editor is there.
        "editable": not view.readonly,
        "errors": errors,
        "other_errors": general + [message for name, message in errors.items() if name not in known],
        "notes": notes,
        "viewer": viewer,
        # The grid a matrix's "Edit" link on its card opens, by matrix name (the script makes later cards).
        "edit_targets": {("T" if name == "label" else name): [grid.cells[0][0].id,
                                                              "the labels" if name == "label" else name]
                         for name, grid in grids.items() if grid.cells and grid.cells[0]},
        "pristine": pristine,
        "edited": not pristine,
        "last_valid": state.encode(state.LabState(body)),
        "rendered_shape": lab_form.rendered_shape(draft),
        "view": view,
        "lab_panels": LAB_PANELS,
        "panel_labels": PANEL_LABELS,
        "all_panels": state.PANELS,
        # The state less its sub-step: the script adds the sub-step shown and writes the URL.
        "state_data": lab_state.to_dict(),
        "form_action": url_for("lab.edit", preset_id=preset.id if preset else None),
        **urls,
        "activations": ACTIVATIONS,
        "losses": LOSSES,
        "reductions": REDUCTIONS,
        "limits": {
            "layers": lab.LAB_MAX_LAYERS,
            "units": lab.LAB_MAX_UNITS,
            "examples": lab.LAB_MAX_EXAMPLES,
            "steps": lab.LAB_MAX_STEPS,
        },
    }


def errata_of(body: dict, preset: presetsmod.Preset | None) -> tuple[bool, str]:
    """(pristine, the layout its slips are written in): pristine when it is its preset's network, which then
    shows the source's slips."""
    pristine = preset is not None and lab_draft.same_network(body, preset.request)
    return pristine, (preset.request if preset else body).get("layout", "rows")


def viewer_of(body: dict, preset: presetsmod.Preset | None, at: str | None,
              everything: bool = False) -> tuple[bool, lab_view.Viewer]:
    """(pristine, viewer) of a valid body (`everything`: with the frames of every SGD step)."""
    pristine, errata_layout = errata_of(body, preset)
    return pristine, lab_view.viewer_for(body, preset.id if preset else "", pristine, errata_layout, at, everything)


def links(lab_state: state.LabState, substep: str, view: View) -> dict:
    """The URLs of a state at a sub-step: this page's, the permalink, the embed, oEmbed and the exports."""
    token = state.encode(replace(lab_state, substep=substep))
    embed_query = {}
    if view.embed:
        embed_query["panels"] = ",".join(view.panels)
        embed_query["readonly"] = "1" if view.readonly else None
    lab_url = with_state("lab.show", token)
    # Links in the page are paths (nothing in a page names another origin); the oEmbed query is
    # written out in full so that its absolute `url` reads as one opaque value.
    oembed_query = urlencode({"url": with_state("lab.show", token, _external=True), "format": "json"})
    return {
        "token": token,
        "url": with_state("share.embed", token, **embed_query) if view.embed else lab_url,
        "lab_url": lab_url,
        "permalink": with_state("lab.show", token, _external=True),
        "embed_url": with_state("share.embed", token, _external=True),
        "oembed_url": f"{url_for('share.oembed')}?{oembed_query}",
        "export_urls": {fmt: url_for("share.export_state", state=token, format=fmt) for fmt in ("html", "json", "py", "torch")},
    }


def with_state(endpoint: str, token: str, **query) -> str:
    """The URL of a page with a state: in its query (?state=) while that fits in the request line servers accept
    (gunicorn: 8,190 bytes), else in its fragment (#state=), which the page posts to the server itself."""
    query.pop("state", None)
    url = url_for(endpoint, state=token, **query)
    if len(url) <= state.MAX_URL:
        return url
    return url_for(endpoint, **query) + "#state=" + token
