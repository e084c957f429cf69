"""The sub-steps a student steps through, in order, for each SGD step.

forward layer 1..L, loss, backward layer L..1, update.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["forward", "loss", "backward", "update"]


@dataclass(frozen=True)
class Substep:
    step: int  # SGD step, 0-based as in the trace
    kind: Kind
    layer: int | None  # 1-based layer for forward/backward, None for loss and update

    @property
    def key(self) -> str:
        """A stable id for URLs and the DOM, e.g. 's0-backward-2', 's1-loss'."""
        suffix = "" if self.layer is None else f"-{self.layer}"
        return f"s{self.step}-{self.kind}{suffix}"


def substeps(num_layers: int, steps: int = 1) -> tuple[Substep, ...]:
    """Every sub-step of `steps` SGD steps of a network with `num_layers` layers."""
    order: list[Substep] = []
    for step in range(steps):
        order += [Substep(step, "forward", layer) for layer in range(1, num_layers + 1)]
        order.append(Substep(step, "loss", None))
        order += [Substep(step, "backward", layer) for layer in range(num_layers, 0, -1)]
        order.append(Substep(step, "update", None))
    return tuple(order)


def parse_key(key: str) -> Substep:
    """Inverse of Substep.key; raises ValueError for anything else."""
    parts = key.split("-")
    if len(parts) not in (2, 3) or not parts[0].startswith("s") or not parts[0][1:].isdigit():
        raise ValueError(f"not a sub-step key: {key!r}")
    step, kind = int(parts[0][1:]), parts[1]
    if kind in ("loss", "update") and len(parts) == 2:
        return Substep(step, kind, None)
    if kind in ("forward", "backward") and len(parts) == 3 and parts[2].isdigit() and int(parts[2]) >= 1:
        return Substep(step, kind, int(parts[2]))
    raise ValueError(f"not a sub-step key: {key!r}")
