"""Answers kept for bodies asked again: a class on one worked example sends the same trace request many times.

A trace is a pure function of its request body (and of the server's limits, which decide whether it is
answered at all), so the JSON of a body already answered is sent again as it was, without parsing,
validating or running it. Kept: the most recent answers up to `MAX_BYTES` in all, each counted with
`ENTRY_OVERHEAD` for its key and the map's own bytes, none over `MAX_ANSWER_BYTES` (a large trace is rare,
and would push out many small ones). Only 200 answers are kept; an error is worked out again each time.
Per worker process, in memory; nothing is written anywhere.

4 MiB holds about 2,000 answers of the worked examples (1-4 KB each, 24 KB for XOR's): a class of 60
students on 30 states each. A stream of bodies never asked twice fills it and then turns it over, so a
worker grows by at most that (about 4% of its 90 MiB), not without bound (benchmarks/load.py, part b).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

MiB = 1024 * 1024
MAX_BYTES = 4 * MiB
MAX_ANSWER_BYTES = 256 * 1024
ENTRY_OVERHEAD = 256  # bytes of a key (32 + header), its bytes object's header and the map's node, rounded up


class Answers:
    """A bounded, least-recently-used map of a request's key to its answer's bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_answer_bytes: int = MAX_ANSWER_BYTES,
                 entry_overhead: int = ENTRY_OVERHEAD):
        self.max_bytes = max_bytes
        self.max_answer_bytes = max_answer_bytes
        self.entry_overhead = entry_overhead
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
                self._size -= len(old) + self.entry_overhead
            self._entries[key] = answer
            self._size += len(answer) + self.entry_overhead
            while self._size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped) + self.entry_overhead

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._size
