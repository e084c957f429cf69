"""Lab states in the URL: every valid state survives encode -> decode; anything else is refused cleanly."""
from __future__ import annotations

import base64
import json
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import presets, timeline
from engine.spec import REDUCTIONS
from webapp import create_app
from webapp.api.limits import Limits
from webapp.api.problems import InvalidRequest, Problem, TooLarge
from webapp.lab import state

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
LIMITS = Limits()
finite = st.floats(allow_nan=False, allow_infinity=False)


def pack(data: bytes) -> str:
    """Deflate and base64url-encode raw bytes, as a forged link would."""
    return base64.urlsafe_b64encode(zlib.compress(data, 9)).rstrip(b"=").decode()


def matrix(rows: int, cols: int):
    return st.lists(st.lists(finite, min_size=cols, max_size=cols), min_size=rows, max_size=rows)


@st.composite
def requests(draw) -> dict:
    """A valid trace request in either layout, with optional fields sometimes left out."""
    layout = draw(st.sampled_from(["rows", "columns"]))
    widths = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    examples = draw(st.integers(1, 4))
    layers = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        shape = (fan_in, fan_out) if layout == "rows" else (fan_out, fan_in)
        layer = {
            "weights": draw(matrix(*shape)),
            "bias": draw(st.none() | st.lists(finite, min_size=fan_out, max_size=fan_out)),
            "activation": draw(st.sampled_from(ACTIVATIONS)),
        }
        if layer["activation"] == "leaky_relu" and draw(st.booleans()):
            layer["negative_slope"] = draw(finite)
        for flag in ("train_weights", "train_bias"):
            if draw(st.booleans()):
                layer[flag] = draw(st.booleans())
        layers.append(layer)
    body = {"layers": layers}
    if layout == "columns" or draw(st.booleans()):
        body["layout"] = layout
    body["inputs"] = draw(matrix(*((examples, widths[0]) if layout == "rows" else (widths[0], examples))))
    name = draw(st.sampled_from(sorted(REDUCTIONS)))
    loss = {"name": name}
    if draw(st.booleans()):
        loss["reduction"] = draw(st.sampled_from(REDUCTIONS[name]))
    if name == "squared_error" and draw(st.booleans()):
        loss["half"] = draw(st.booleans())
    if name == "multiclass_hinge" and draw(st.booleans()):
        loss["margin"] = draw(finite)
    body["loss"] = loss
    if draw(st.booleans()):
        body["labels"] = draw(st.lists(st.integers(0, widths[-1] - 1), min_size=examples, max_size=examples))
    else:
        shape = (examples, widths[-1]) if layout == "rows" else (widths[-1], examples)
        body["targets"] = draw(matrix(*shape))
    if draw(st.booleans()):
        body["optimizer"] = {"name": "sgd", "learning_rate": draw(st.floats(1e-6, 10.0))}
    if draw(st.booleans()):
        body["steps"] = draw(st.integers(1, 5))
    return body


@st.composite
def lab_states(draw) -> state.LabState:
    body = draw(requests())
    keys = [substep.key for substep in timeline.substeps(len(body["layers"]), body.get("steps", 1))]
    return state.LabState(
        request=body,
        substep=draw(st.none() | st.sampled_from(keys)),
        panels=draw(st.none() | st.permutations(state.PANELS).flatmap(lambda order: st.integers(0, 5).map(lambda n: tuple(order[:n])))),
        preset=draw(st.none() | st.sampled_from([preset.id for preset in presets.PRESETS])),
    )


@settings(max_examples=200, deadline=None)
@given(lab_states())
def test_every_valid_state_survives_encode_decode(lab_state):
    token = state.encode(lab_state)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    decoded = state.decode(token, LIMITS)
    assert decoded.state == lab_state
    # Floats come back bit for bit (== would let -0.0 pass for 0.0).
    assert json.dumps(decoded.state.to_dict(), sort_keys=True) == json.dumps(lab_state.to_dict(), sort_keys=True)
    assert len(decoded.spec.layers) == len(lab_state.request["layers"])


def test_token_is_compact_sorted_json_deflated_in_base64url():
    lab_state = state.LabState(presets.get("mazur-2-2-2").body(), "s0-backward-1", ("heatmaps", "equation"), "mazur-2-2-2")
    token = state.encode(lab_state)
    assert "=" not in token
    text = zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))).decode()
    expected = {**presets.get("mazur-2-2-2").body(), "substep": "s0-backward-1", "panels": ["heatmaps", "equation"],
                "preset": "mazur-2-2-2"}
    assert text == json.dumps(expected, separators=(",", ":"), sort_keys=True)


def test_decode_uses_the_apps_limits(app):
    token = state.encode(state.LabState(presets.get("xor").body()))
    with app.app_context():
        assert state.decode(token).spec.steps == presets.get("xor").request["steps"]
    strict = create_app({"TESTING": True, "LIMITS": {"max_layers": 1}})
    with strict.app_context(), pytest.raises(TooLarge, match="max_layers"):
        state.decode(token)


VALID = state.encode(state.LabState(presets.get("quiz4-softmax-ce").body(), "s0-loss"))


@pytest.mark.parametrize(
    "token, message",
    [
        ("", "empty"),
        (VALID[:-1], "cut short|base64url"),
        (VALID[:-2], "cut short|base64url"),
        (VALID[: len(VALID) // 2], "cut short|base64url"),
        (VALID[:5], "cut short|base64url|not deflated"),
        (VALID[:-3] + "$" + VALID[-2:], "base64url: it holds the character '\\$'"),
        (VALID.replace(VALID[10], "+", 1), "base64url"),
        ("a" * 41, "one more than a multiple of 4"),
        (base64.urlsafe_b64encode(b"hello, world").rstrip(b"=").decode(), "not deflated"),
        (pack(b"not json at all"), "not a JSON object"),
        (pack(b'["a", "list"]'), "not a JSON object"),
        (pack(b'{"a": 1, "a": 2}'), "twice"),
        (pack(b"\xff\xfe"), "not UTF-8"),
        (pack(b"[" * 10_000 + b"]" * 10_000), "nested"),
        (pack(b'{"layers": []}') + "AAAA", "data after its end|not deflated"),
    ],
)
def test_malformed_states_are_refused_with_a_clear_message(token, message):
    with pytest.raises(state.InvalidState, match=message) as caught:
        state.decode(token, LIMITS)
    assert caught.value.status == 400


def test_trailing_data_after_the_deflate_stream_is_refused():
    packed = zlib.compress(json.dumps(presets.get("xor").body()).encode(), 9) + b"extra"
    token = base64.urlsafe_b64encode(packed).rstrip(b"=").decode()
    with pytest.raises(state.InvalidState, match="after its end"):
        state.decode(token, LIMITS)


@pytest.mark.parametrize(
    "change, path",
    [
        (lambda body: body.pop("layers"), "layers"),
        (lambda body: body.update(steps=0), "steps"),
        (lambda body: body["layers"][0].update(activation="swish"), "layers/0/activation"),
        (lambda body: body.update(labels=[0, 0, 9, 1, 1]), "labels/2"),
        (lambda body: body.update(unknown=1), "unknown"),
        (lambda body: body.update(panels=["heatmaps", "nope"]), "panels/1"),
        (lambda body: body.update(panels="heatmaps"), "panels"),
        (lambda body: body.update(panels=["loss", "loss"]), "panels"),
        (lambda body: body.update(substep="s0-sideways-1"), "substep"),
        (lambda body: body.update(substep="s1-loss"), "substep"),
        (lambda body: body.update(substep="s0-forward-3"), "substep"),
        (lambda body: body.update(substep=3), "substep"),
        (lambda body: body.update(preset="no-such-preset"), "preset"),
    ],
)
def test_invalid_requests_are_refused_as_the_api_refuses_them(change, path, client):
    body = presets.get("quiz4-softmax-ce").body()
    change(body)
    with pytest.raises(InvalidRequest) as caught:
        state.decode(pack(json.dumps(body).encode()), LIMITS)
    assert caught.value.status == 422
    assert path in [error["path"] for error in caught.value.errors]
    lab_fields = {"panels", "substep", "preset"}
    if path.split("/")[0] not in lab_fields:
        answer = client.post("/api/v1/trace", json=body)
        assert answer.status_code == 422
        assert caught.value.errors == answer.get_json()["errors"]


def test_a_state_over_a_size_limit_is_refused():
    body = presets.get("xor").body()
    body["steps"] = 3
    with pytest.raises(TooLarge, match="max_steps"):
        state.decode(pack(json.dumps(body).encode()), Limits(max_steps=2))


def test_a_state_that_inflates_past_the_body_limit_is_refused():
    body = presets.get("xor").body()
    body["inputs"] = [[0.123456789, 0.987654321]] * 20_000 + [[0.0, 1.0]]
    body["targets"] = [[1.0]] * 20_001
    text = json.dumps(body).encode()
    limits = Limits(max_body_bytes=len(text) - 1)
    with pytest.raises(TooLarge, match="max_body_bytes"):
        state.decode(pack(text), limits)
    with pytest.raises(TooLarge):
        state.decode(pack(text), Limits(max_body_bytes=len(text)))  # fits in bytes, but not max_examples


def test_an_overlong_token_is_refused_before_decoding():
    limits = Limits(max_body_bytes=1000)
    with pytest.raises(TooLarge, match="characters long"):
        state.decode("A" * 2000, limits)


def test_a_deflate_bomb_is_refused_quickly():
    bomb = pack(b"0" * 100_000_000)  # 100 MB of zeros deflate to about 100 kB
    started = time.perf_counter()
    with pytest.raises(TooLarge, match="inflates to more than"):
        state.decode(bomb, LIMITS)
    assert time.perf_counter() - started < 1.0


def test_a_bomb_of_nested_brackets_is_refused_quickly():
    bomb = pack(b"[" * 3_000_000)
    started = time.perf_counter()
    with pytest.raises(Problem):
        state.decode(bomb, LIMITS)
    assert time.perf_counter() - started < 2.0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=% ."), max_size=200)
       | st.binary(max_size=300).map(pack)
       | st.builds(lambda token, cut: token[:cut], st.just(VALID), st.integers(0, len(VALID))))
def test_any_token_is_either_a_state_or_a_problem(token):
    try:
        decoded = state.decode(token, LIMITS)
    except Problem as problem:
        assert problem.status in (400, 413, 422)
        assert problem.detail
    else:
        assert token == VALID and decoded.state.substep == "s0-loss"
