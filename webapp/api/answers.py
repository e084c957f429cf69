"""Answers kept for bodies asked again: a class on one worked example sends the same trace request many times.

A trace is a pure function of its request body (and of the server's limits, which decide whether it is
answered at all), so the JSON of a body already answered is sent again as it was, without parsing,
validating or running it. Kept: the most recent answers up to `MAX_BYTES` in all, none over
`MAX_ANSWER_BYTES` (a large trace is rare, and would push out many small ones). Only 200 answers are kept;
an error is worked out again each time. Per worker process, in memory; nothing is written anywhere.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

MiB = 1024 * 1024
MAX_BYTES = 64 * MiB
MAX_ANSWER_BYTES = 2 * MiB


class Answers:
    """A bounded, least-recently-used map of a request's key to its answer's bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_answer_bytes: int = MAX_ANSWER_BYTES):
        self.max_bytes = max_bytes
        self.max_answer_bytes = max_answer_bytes
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(*parts: bytes) -> bytes:
        digest = hashlib.sha256()
        for part in parts:
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.digest()

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            answer = self._entries.get(key)
            if answer is not None:
                self._entries.move_to_end(key)
            return answer

    def put(self, key: bytes, answer: bytes) -> None:
        if len(answer) > self.max_answer_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._entries[key] = answer
            self._size += len(answer)
            while self._size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._size
