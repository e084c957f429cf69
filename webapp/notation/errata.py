"""Slips in the worked examples the presets come from: numbers printed wrong, and textual errors.

The notes live in webapp/notation/errata.json, generated once from the seeds' errata
list (refcases/seed-errata.json) by

    python -m webapp.notation.errata path/to/seed-errata.json

so the app never reads outside its own package. `notes(preset_id)` gives the
numeric slips, each tied to a matrix entry of the preset's trace; `text_notes`
gives the textual slips of the seed text(s) the preset comes from.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "errata.json"
PRESET_IDS = ("seed002-ex2", "seed004-p2-case1", "seed004-p2-case2", "quiz4-softmax-ce",
              "hw7-relu-softmax", "hw7-autoencoder", "mazur-2-2-2", "xor", "quiz4-p1-linear",
              "assignment1-ex3-softmax-hinge")


@dataclass(frozen=True)
class Note:
    """A number the source prints differently from the exact value.

    matrix: the trace's matrix, named as the lab names it ("Y", "δ2", "dL/dW1", "W1 (new)", "L", ...);
    index: 1-based (row, column) in the preset's layout, or None for a scalar such as the loss;
    step: the SGD step (0-based) whose matrix it is; "L" at step 1 is the loss after one update.
    """

    matrix: str
    index: tuple[int, int] | None
    printed: str
    exact: float
    text: str
    step: int = 0


def notes(preset_id: str) -> list[Note]:
    """The numeric slips of the worked example behind a preset ([] for a preset without any)."""
    entry = _data()["presets"].get(preset_id, {})
    return [
        Note(matrix=n["matrix"], index=None if n["index"] is None else tuple(n["index"]), printed=n["printed"],
             exact=n["exact"], text=n["text"], step=n["step"])
        for n in entry.get("notes", [])
    ]


def text_notes(preset_id: str) -> list[str]:
    """The textual slips of the seed text(s) a preset comes from ([] for a preset without any)."""
    return list(_data()["presets"].get(preset_id, {}).get("text_notes", []))


@cache
def _data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


# --- building webapp/notation/errata.json from the seeds' errata ---------------------------------

# Which errata sections (text_errata keys) each preset's source text has, with a label where there are several.
_TEXT_SOURCES = {
    "seed002-ex2": [("002 (Assignment 1)", None)],
    "seed004-p2-case1": [("004 (HW3 solution)", None)],
    "seed004-p2-case2": [("004 (HW3 solution)", None)],
    "quiz4-softmax-ce": [("000 (Quiz 4)", "Quiz 4"), ("001 (Quiz 4 answer)", "Quiz 4 answer")],
    "hw7-relu-softmax": [("003 (HW7)", None)],
    "hw7-autoencoder": [("003 (HW7)", None)],
    "mazur-2-2-2": [("Mazur blog post (not a seed)", None)],
    "xor": [],
}

# Numeric checks whose slips map onto a preset's trace: quantity name -> (matrix, step), and how to word them.
_SEED002_MATRICES = {"S1": "S1", "Z1": "Z1", "Y_out": "Y", "loss": "L", "delta2": "δ2", "dL_dW2": "dL/dW2",
                     "delta1": "δ1", "dL_dW1": "dL/dW1", "W2_new": "W2 (new)", "W1_new": "W1 (new)"}
_NUMERIC_SOURCES = {
    "seed_assignment1_ex2": {
        "preset": "seed002-ex2",
        "document": "text",
        "reason": "",
    },
    "mazur_classic": {
        "preset": "mazur-2-2-2",
        "document": "post",
        "quantities": {"E_total_after_1_step": ("L", None, 1)},
        # Beyond the one traced step: the post's text notes cover them.
        "beyond_trace": {"E_total_after_10000_steps", "out_o1_after_10000_steps", "out_o2_after_10000_steps"},
        "reason": " The post's first script formed the hidden-layer deltas with the already-updated output "
                  "weights; correct backpropagation gives the exact value.",
    },
}
_QUANTITY = re.compile(r"^(?P<name>[A-Za-z0-9_]+?)(?P<index>(?:\[\d+\])*)$")
_CORRECT = re.compile(r"correct (?P<digits>\d+)-dp (?P<kind>rounding|value): (?P<value>-?[0-9.]+)")


def _locate(source: dict, quantity: str) -> tuple[str, tuple[int, int] | None, int]:
    """(matrix, 1-based index, step) of a quantity such as 'Y_out[0][2]' (0-based in the errata)."""
    if "quantities" in source:
        return source["quantities"][quantity]
    match = _QUANTITY.match(quantity)
    if match is None or match["name"] not in _SEED002_MATRICES:
        raise ValueError(f"no matrix for the quantity {quantity!r}")
    indices = [int(i) + 1 for i in re.findall(r"\d+", match["index"])]
    if len(indices) not in (0, 2):
        raise ValueError(f"expected a (row, column) index in {quantity!r}")
    return _SEED002_MATRICES[match["name"]], tuple(indices) if indices else None, 0


def _wording(source: dict, printed: str, verdict: str) -> str:
    correct = _CORRECT.search(verdict)
    if correct is None:
        raise ValueError(f"cannot read the correct value from the verdict {verdict!r}")
    document = source["document"]
    if verdict.startswith("truncated"):
        return f"The {document} prints {printed} (truncated); the exact value rounds to {correct['value']}."
    return (f"The {document} prints {printed}; the exact value is {correct['value']} "
            f"to {correct['digits']} decimal places.{source['reason']}")


def build(seed_errata: dict) -> dict:
    """The app's errata data (webapp/notation/errata.json) from the seeds' errata list."""
    presets: dict[str, dict] = {pid: {"notes": [], "text_notes": []} for pid in PRESET_IDS}
    for preset_id, sections in _TEXT_SOURCES.items():
        for key, label in sections:
            presets[preset_id]["text_notes"] += [
                text if label is None else f"{label}: {text}" for text in seed_errata["text_errata"][key]
            ]
    for name, check in seed_errata["numeric_checks"].items():
        slips = [row for row in check["rows"] if row["verdict"] != "ok"]
        source = _NUMERIC_SOURCES.get(name)
        if source is None:
            if slips:
                raise ValueError(f"numeric check {name!r} has slips but no preset to show them on")
            continue
        for row in slips:
            if row["quantity"] in source.get("beyond_trace", ()):
                continue
            printed = row.get("printed", row.get("published"))
            matrix, index, step = _locate(source, row["quantity"])
            presets[source["preset"]]["notes"].append({
                "matrix": matrix, "index": None if index is None else list(index), "step": step,
                "printed": printed, "exact": row["exact"], "text": _wording(source, printed, row["verdict"]),
            })
    return {
        "about": "The slips of the worked examples behind each preset. Generated by "
                 "`python -m webapp.notation.errata seed-errata.json`; do not edit by hand.",
        "presets": presets,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m webapp.notation.errata path/to/seed-errata.json", file=sys.stderr)
        return 2
    data = build(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

