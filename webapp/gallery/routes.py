"""The gallery of worked examples (`GET /`): a card for each preset with a small drawing of its network."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template

from engine import presets as presetsmod

bp = Blueprint("gallery", __name__)


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
