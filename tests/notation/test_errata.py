"""The seeds' numeric and textual slips, as the lab shows them next to each preset."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from engine import presets
from engine import spec as specmod
from engine import trace as tracemod
from tests.paths import ERRATA_FILE as SHARED
from webapp.notation import errata

needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared/refcases is not beside the checkout")

# The errata file's names for seed 002 Exercise 2 and the lab's matrix names, written out independently.
SEED002_NAMES = {"Y_out": "Y", "delta2": "δ2", "dL_dW2": "dL/dW2", "dL_dW1": "dL/dW1", "W2_new": "W2 (new)",
                 "W1_new": "W1 (new)", "delta1": "δ1", "S1": "S1", "Z1": "Z1", "loss": "L"}


@pytest.fixture(scope="module")
def seed_errata() -> dict:
    return json.loads(SHARED.read_text(encoding="utf-8"))


def test_seed002_has_the_fifteen_truncation_notes():
    found = errata.notes("seed002-ex2")
    assert len(found) == 15
    assert all(isinstance(note, errata.Note) for note in found)
    assert all("(truncated)" in note.text for note in found)
    first = found[0]
    assert (first.matrix, first.index, first.step, first.printed) == ("Y", (1, 1), 0, "0.0985")
    assert first.text == "The text prints 0.0985 (truncated); the exact value rounds to 0.0986."


@needs_shared
def test_seed002_notes_follow_the_errata_file_with_one_based_indices(seed_errata):
    rows = [r for r in seed_errata["numeric_checks"]["seed_assignment1_ex2"]["rows"] if r["verdict"] != "ok"]
    expected = []
    for row in rows:
        name, row_index, column_index = re.fullmatch(r"(\w+?)\[(\d+)\]\[(\d+)\]", row["quantity"]).groups()
        expected.append((SEED002_NAMES[name], (int(row_index) + 1, int(column_index) + 1), row["printed"], row["exact"]))
    got = [(n.matrix, n.index, n.printed, n.exact) for n in errata.notes("seed002-ex2")]
    assert got == expected
    assert ("W1 (new)", (3, 2), "0.8790", 0.8790986415625) in got  # W1_new[2][1] in the file
    for note, row in zip(errata.notes("seed002-ex2"), rows):
        rounded = re.search(r"rounding: (-?[0-9.]+)", row["verdict"]).group(1)
        assert note.text == f"The text prints {row['printed']} (truncated); the exact value rounds to {rounded}."


def test_mazur_note_is_the_loss_after_one_step():
    (note,) = errata.notes("mazur-2-2-2")
    assert (note.matrix, note.index, note.step, note.printed) == ("L", None, 1, "0.291027924")
    assert note.exact == pytest.approx(0.29102777369359933, rel=1e-15)
    assert "0.291027774" in note.text


@pytest.mark.parametrize("preset_id", ["seed004-p2-case1", "seed004-p2-case2", "quiz4-softmax-ce",
                                       "hw7-relu-softmax", "hw7-autoencoder", "xor", "no-such-preset"])
def test_presets_whose_numbers_are_all_right_have_no_numeric_notes(preset_id):
    assert errata.notes(preset_id) == []


def _trace_value(body: dict, note: errata.Note) -> float:
    """The number at the note's matrix/index, read from the contract JSON of the engine's trace."""
    trace = tracemod.run(specmod.from_request(body)).to_dict()
    if note.matrix == "L":
        return trace["loss_history"][note.step]
    step = trace["steps"][note.step]
    name, layer = re.fullmatch(r"(.+?)(\d+)?(?: \(new\))?", note.matrix).groups()
    backward = {b["layer"]: b for b in step["backward"]}
    if note.matrix == "Y":
        matrix = step["forward"][-1]["activation"]
    elif note.matrix.endswith("(new)"):
        matrix = step["update"][int(layer) - 1]["weights" if name == "W" else "bias"]
    else:
        matrix = {"δ": lambda b: b["delta"], "dL/dW": lambda b: b["grad_weights"]}[name](backward[int(layer)])
    row, column = note.index
    return matrix[row - 1][column - 1]


@pytest.mark.parametrize("preset_id", errata.PRESET_IDS)
def test_every_note_is_the_engine_value_at_its_matrix_entry(preset_id):
    body = presets.get(preset_id).body()
    for note in errata.notes(preset_id):
        assert math.isclose(_trace_value(body, note), note.exact, rel_tol=1e-12, abs_tol=1e-15), note


def test_every_preset_id_is_a_real_preset():
    assert set(errata.PRESET_IDS) == {p.id for p in presets.PRESETS}


@needs_shared
def test_text_notes_come_from_the_seed_of_each_preset(seed_errata):
    text = seed_errata["text_errata"]
    assert errata.text_notes("seed002-ex2") == text["002 (Assignment 1)"]
    assert errata.text_notes("seed004-p2-case1") == text["004 (HW3 solution)"]
    assert errata.text_notes("seed004-p2-case2") == text["004 (HW3 solution)"]
    assert errata.text_notes("hw7-relu-softmax") == text["003 (HW7)"]
    assert errata.text_notes("hw7-autoencoder") == text["003 (HW7)"]
    assert errata.text_notes("mazur-2-2-2") == text["Mazur blog post (not a seed)"]
    quiz = errata.text_notes("quiz4-softmax-ce")
    assert quiz == [f"Quiz 4: {t}" for t in text["000 (Quiz 4)"]] + [
        f"Quiz 4 answer: {t}" for t in text["001 (Quiz 4 answer)"]]
    assert errata.text_notes("xor") == []
    assert errata.text_notes("no-such-preset") == []


@needs_shared
def test_committed_data_is_what_the_errata_file_builds(seed_errata):
    committed = json.loads(errata.DATA.read_text(encoding="utf-8"))
    assert committed == errata.build(seed_errata)


def test_data_lives_inside_the_package():
    assert errata.DATA.is_file()
    assert Path(errata.__file__).resolve().parent in errata.DATA.resolve().parents


@needs_shared
def test_build_refuses_slips_it_cannot_place(seed_errata):
    broken = json.loads(json.dumps(seed_errata))
    broken["numeric_checks"]["seed_hw3_problem2_case1_both_layers"]["rows"][0]["verdict"] = "MISMATCH (x)"
    with pytest.raises(ValueError, match="no preset"):
        errata.build(broken)
