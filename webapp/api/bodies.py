"""Reading a JSON request body: media type, size, then a strict parse.

Order matters: the media type and size are checked before a byte is parsed,
so an oversized or non-JSON body costs nothing. The parse itself rejects what
Python's json module would quietly accept (a repeated key keeps its last
value there) or crash on (deep nesting raises RecursionError).
"""
from __future__ import annotations

import json
import math
import re

from werkzeug.exceptions import RequestEntityTooLarge

from .problems import BadRequest, TooLarge, UnsupportedMediaType

# Deepest nesting a request needs is 4 (object > layers > layer > weights > row);
# 32 leaves room for fields added later and keeps every walk over the body shallow.
MAX_DEPTH = 32


def is_json_media_type(mimetype: str) -> bool:
    """application/json or a structured-syntax type such as application/merge-patch+json."""
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def read_json_body(request, max_bytes: int) -> object:
    """The parsed JSON body of a Flask `request`.

    Raises UnsupportedMediaType (415) for a Content-Type that is not JSON or any
    Content-Encoding, TooLarge (413) over `max_bytes`, BadRequest (400) for
    anything that is not one JSON object.
    """
    return parse_json_object(read_json_bytes(request, max_bytes))


def read_json_bytes(request, max_bytes: int) -> bytes:
    """The bytes of a JSON body, unparsed, with the checks of `read_json_body` but the parsing."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not accepted: send the JSON body uncompressed",
            headers={"Accept-Encoding": "identity"},
        )
    if not is_json_media_type(request.mimetype):
        given = request.mimetype or "no Content-Type"
        raise UnsupportedMediaType(
            f"the body must be JSON with Content-Type application/json, got {given}",
            headers={"Accept": "application/json"},
        )
    if request.content_length is not None and request.content_length > max_bytes:
        raise body_too_large(request.content_length, max_bytes)
    # A chunked body has no Content-Length: read until it ends or passes the limit. Werkzeug
    # stops its stream at MAX_CONTENT_LENGTH and raises RequestEntityTooLarge on the next read.
    data = bytearray()
    try:
        while len(data) <= max_bytes:
            chunk = request.stream.read(max_bytes + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except RequestEntityTooLarge:
        raise body_too_large(None, max_bytes) from None
    if len(data) > max_bytes:
        raise body_too_large(None, max_bytes)
    return bytes(data)


def body_too_large(length: int | None, max_bytes: int) -> TooLarge:
    size = "more than that" if length is None else f"{length} bytes"
    return TooLarge(
        f"the body is {size}: over the limit max_body_bytes = {max_bytes}",
        limit="max_body_bytes",
        maximum=max_bytes,
        **({} if length is None else {"value": length}),
    )


def parse_json_object(data: bytes | str) -> dict:
    """Parse one JSON object strictly; raises BadRequest (400) for anything else.

    The tokens NaN, Infinity and -Infinity parse to floats so that validation
    rejects them with the path of the field (a 422), as it does 1e400.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRequest(f"the body is not UTF-8: {error.reason} at byte {error.start}") from None
    try:
        value = json.loads(data, object_pairs_hook=_object_without_duplicates, parse_constant=float)
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise BadRequest(f"the body is not valid JSON: {error.msg} at {where}") from None
    except ValueError as error:
        # Duplicate keys, or an integer too long to convert (Python caps them at 4300 digits).
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"the body must be a JSON object, got {_json_kind(value)}")
    if _deeper_than(data, MAX_DEPTH):
        raise _too_deep()
    return value


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _too_deep() -> BadRequest:
    return BadRequest(f"the body is nested more than {MAX_DEPTH} levels deep")


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: no per-character alternation
# Keep only the brackets, all of one kind: "{" and "[" open, "}" and "]" close.
_BRACKETS_ONLY = {code: None for code in range(128) if chr(code) not in "[]{}"} | {ord("{"): "[", ord("}"): "]"}


def _deeper_than(text: str, limit: int) -> bool:
    """Whether valid JSON text nests arrays and objects more than `limit` deep.

    String passes at C speed instead of a walk over every parsed value: with
    the strings dropped and the brackets kept, each pass of replace("[]", "")
    removes exactly the innermost level.
    """
    brackets = _STRING.sub("", text).translate(_BRACKETS_ONLY)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace("[]", "")
    return bool(brackets)


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "a non-finite number"
    return "a number"
