"""The sub-step timeline: forward 1..L, loss, backward L..1, update, per SGD step; keys round-trip."""
from __future__ import annotations

import pytest

from engine import timeline
from engine.timeline import Substep


def test_order_of_one_step():
    order = [(s.kind, s.layer) for s in timeline.substeps(3)]
    assert order == [
        ("forward", 1), ("forward", 2), ("forward", 3), ("loss", None),
        ("backward", 3), ("backward", 2), ("backward", 1), ("update", None),
    ]


@pytest.mark.parametrize(("layers", "steps"), [(1, 1), (2, 3), (4, 2)])
def test_every_step_repeats_the_order(layers, steps):
    order = timeline.substeps(layers, steps)
    per_step = 2 * layers + 2
    assert len(order) == steps * per_step
    for step in range(steps):
        block = order[step * per_step:(step + 1) * per_step]
        assert {s.step for s in block} == {step}
        assert [(s.kind, s.layer) for s in block] == [(s.kind, s.layer) for s in timeline.substeps(layers)]


def test_keys():
    assert Substep(0, "backward", 2).key == "s0-backward-2"
    assert Substep(1, "loss", None).key == "s1-loss"
    assert Substep(12, "forward", 1).key == "s12-forward-1"
    assert Substep(3, "update", None).key == "s3-update"


def test_keys_are_unique_and_round_trip():
    order = timeline.substeps(4, 3)
    keys = [s.key for s in order]
    assert len(set(keys)) == len(keys)
    assert [timeline.parse_key(key) for key in keys] == list(order)


@pytest.mark.parametrize(
    "key",
    ["", "s0", "0-loss", "s-loss", "sx-loss", "s0-loss-1", "s0-update-2", "s0-forward", "s0-backward-0",
     "s0-backward-x", "s0-forward-1-2", "s0-train", "s0-Loss", "t0-loss", "s0--1"],
)
def test_parse_key_rejects_anything_else(key):
    with pytest.raises(ValueError):
        timeline.parse_key(key)
