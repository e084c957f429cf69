"""The lab's whole state in one URL parameter: `?state=<token>`.

A state is a trace request (the contract's body) plus a few lab fields:
`substep` (the sub-step shown, a timeline key such as "s0-backward-2"),
`panels` (the panels open) and `preset` (the worked example it started from).
The token is that object as compact JSON with sorted keys, deflated (zlib,
level 9) and written in base64url without padding.

Decoding trusts nothing: the token's length is bounded before a byte is
decoded, inflation stops one byte past the API's body limit (a deflate bomb
costs at most that much), and the JSON then goes through exactly the API's
own parse and validation (`bodies.parse_json_object`, `api.spec_from_body`,
`limits.check_spec`). Every failure is a `Problem`: InvalidState (400) for a
token that is not a state, InvalidRequest (422) for a state that is not a
valid request, TooLarge (413) past a limit.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass

from engine import presets as presetsmod
from engine import timeline
from engine.spec import Spec
from webapp.api.bodies import parse_json_object
from webapp.api.limits import Limits, check_spec, current_limits
from webapp.api.pipeline import spec_from_body
from webapp.api.problems import BadRequest, InvalidRequest, TooLarge

PANELS = ("heatmaps", "diagram", "equation", "loss", "controls")
# The longest URL a page links to with its state in the query; a longer state goes in the fragment.
MAX_URL = 7_900
LAB_FIELDS = ("substep", "panels", "preset")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class InvalidState(BadRequest):
    """A `state` parameter that does not decode to a JSON object (cut short, altered, not ours)."""

    title = "Invalid State"
    slug = "invalid-state"


@dataclass(frozen=True)
class LabState:
    """What the lab shows: a trace request and how it is being looked at.

    `request` is the contract's request body exactly as written (no defaults
    filled in), so a state survives encode -> decode unchanged. None for a lab
    field means the page's default.
    """

    request: dict
    substep: str | None = None
    panels: tuple[str, ...] | None = None
    preset: str | None = None

    def to_dict(self) -> dict:
        """The state as one JSON object: the request's fields and the lab fields that are set."""
        data = dict(self.request)
        if self.substep is not None:
            data["substep"] = self.substep
        if self.panels is not None:
            data["panels"] = list(self.panels)
        if self.preset is not None:
            data["preset"] = self.preset
        return data


@dataclass(frozen=True)
class Decoded:
    """A decoded state with its validated engine spec."""

    state: LabState
    spec: Spec


def encode(state: LabState) -> str:
    """The URL token of a state: compact sorted JSON -> zlib level 9 -> base64url, no padding."""
    text = json.dumps(state.to_dict(), separators=(",", ":"), sort_keys=True, allow_nan=False)
    packed = zlib.compress(text.encode("utf-8"), 9)
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode(token: str, limits: Limits | None = None) -> Decoded:
    """The state of a URL token, validated as the API validates a request.

    Raises InvalidState (400), InvalidRequest (422) or TooLarge (413).
    Without `limits`, the current app's limits apply (needs an app context).
    """
    limits = limits or current_limits()
    data = _parse(_inflate(_unbase64(token, limits.max_body_bytes), limits.max_body_bytes))
    state = _lab_state(data)
    spec = spec_from_body(state.request)
    check_spec(spec, limits)
    check_substep(state.substep, spec)
    return Decoded(state, spec)


def _parse(text: bytes) -> dict:
    """The inflated bytes as one JSON object, parsed as strictly as a request body."""
    try:
        return parse_json_object(text)
    except BadRequest as problem:
        raise InvalidState(f"the state is not a JSON object: {problem.detail}") from None


def _max_token_length(max_body_bytes: int) -> int:
    # zlib never grows data by more than 5 bytes per 16 KiB block plus 11 bytes of framing;
    # base64 writes 3 bytes as 4 characters.
    packed = max_body_bytes + 5 * (max_body_bytes // 16384 + 1) + 11
    return 4 * ((packed + 2) // 3)


def _unbase64(token: str, max_body_bytes: int) -> bytes:
    if not token:
        raise InvalidState("the link has an empty state")
    if len(token) > _max_token_length(max_body_bytes):
        raise TooLarge(
            f"the state is {len(token)} characters long: more than a request of max_body_bytes = "
            f"{max_body_bytes} can take",
            limit="max_body_bytes",
            maximum=max_body_bytes,
        )
    if not _BASE64URL.fullmatch(token):
        bad = next(c for c in token if not _BASE64URL.fullmatch(c))
        raise InvalidState(f"the state is not base64url: it holds the character {bad!r}")
    if len(token) % 4 == 1:
        raise InvalidState("the state is not base64url: its length is one more than a multiple of 4 (cut short?)")
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidState(f"the state is not base64url: {error}") from None


def _inflate(packed: bytes, max_body_bytes: int) -> bytes:
    """Inflate zlib data, stopping one byte past max_body_bytes."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(packed, max_body_bytes + 1)
    except zlib.error:
        raise InvalidState("the state is not deflated data: the link was altered, or is not a lab link") from None
    if len(text) > max_body_bytes:
        raise TooLarge(
            f"the state inflates to more than {max_body_bytes} bytes: over the limit max_body_bytes",
            limit="max_body_bytes",
            maximum=max_body_bytes,
        )
    if not inflater.eof:
        raise InvalidState("the state is cut short: its deflated data ends early (was the link copied whole?)")
    if inflater.unused_data:
        raise InvalidState("the state has data after its end: the link was altered")
    return text


def _lab_state(data: dict) -> LabState:
    """Split the lab fields from the request and check their types."""
    request = {key: value for key, value in data.items() if key not in LAB_FIELDS}
    errors = []
    substep, panels, preset = data.get("substep"), data.get("panels"), data.get("preset")
    if substep is not None:
        if not isinstance(substep, str):
            errors.append({"path": "substep", "message": "must be a sub-step key such as \"s0-forward-1\""})
        else:
            try:
                timeline.parse_key(substep)
            except ValueError as error:
                errors.append({"path": "substep", "message": str(error)})
    if panels is not None:
        if not isinstance(panels, list) or not all(isinstance(name, str) for name in panels):
            errors.append({"path": "panels", "message": f"must be a list of panel names from {', '.join(PANELS)}"})
        else:
            errors += [
                {"path": f"panels/{i}", "message": f"unknown panel {name!r}: the panels are {', '.join(PANELS)}"}
                for i, name in enumerate(panels)
                if name not in PANELS
            ]
            if len(set(panels)) != len(panels):
                errors.append({"path": "panels", "message": "a panel is named twice"})
    if preset is not None:
        ids = [p.id for p in presetsmod.PRESETS]
        if preset not in ids:
            errors.append({"path": "preset", "message": f"unknown preset {preset!r}: the presets are {', '.join(ids)}"})
    if errors:
        raise InvalidRequest(errors)
    return LabState(
        request=request,
        substep=substep,
        panels=None if panels is None else tuple(panels),
        preset=preset,
    )


def check_substep(key: str | None, spec: Spec) -> None:
    """Raise InvalidRequest unless `key` is None or a sub-step of the spec's network and steps."""
    if key is None:
        return
    try:
        substep = timeline.parse_key(key)
    except ValueError as error:
        raise InvalidRequest([{"path": "substep", "message": str(error)}]) from None
    layers = len(spec.layers)
    if substep.step >= spec.steps:
        message = f"{key} is in step {substep.step} but the request traces {spec.steps} steps (0..{spec.steps - 1})"
        raise InvalidRequest([{"path": "substep", "message": message}])
    if substep.layer is not None and substep.layer > layers:
        raise InvalidRequest(
            [{"path": "substep", "message": f"{key} names layer {substep.layer} but the network has {layers} layers"}]
        )
