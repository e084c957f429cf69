"""The gunicorn worker of `backprop-viz serve --production`: gevent, with read deadlines.

A sync worker serves one connection at a time, and waits while its client
sends slowly: a few connections that send their headers and stop hold every
worker. This worker keeps each connection in a greenlet, so a waiting client
costs a little memory, not a worker, and it closes those that wait too long:

- the head of the request (request line and headers) must arrive within
  `read_timeout` seconds of the connection opening;
- the body is read whole before the app sees it (at most `max_body_bytes` + 1
  bytes, so the app still answers 413 past the limit); if no byte of it
  arrives for `read_timeout` seconds, the client gets 408 and the connection
  is closed;
- an answer the client does not take for `read_timeout` seconds is dropped;
- at most `max_connections` connections are open per worker; more wait in
  the listen queue.

The values come from the app's settings (BACKPROP_VIZ_READ_TIMEOUT,
BACKPROP_VIZ_MAX_CONNECTIONS, BACKPROP_VIZ_MAX_BODY_BYTES), with plain
gunicorn too: `gunicorn -k webapp.serving.worker.Worker "webapp:create_app()"`.

The app's work is NumPy on the CPU, which does not yield to other greenlets:
while a request computes, the others on that worker wait. The work limits keep
that short (a trace of seed 002 is about 1 ms, one near the limits about 0.15 s), and
a worker whose loop is busy takes no new connection: the others accept them.
For the same reason each connection gets one answer and is closed
(`Connection: close`), as with the sync workers before: a kept-alive connection
ties its client to one worker, and behind a worker that is computing (or that
the machine gives less CPU) its clients wait while the other worker may be
idle. Measured with 64 clients of wrk on the trace (benchmarks/README.md): p99
0.66-1.09 s kept alive, 46-235 ms closed. A proxy in front can keep the
browsers' connections alive on its side.
"""
from __future__ import annotations

import io

import gevent
from gunicorn import util
from gunicorn.workers.base_async import AsyncWorker
from gunicorn.workers.ggevent import GeventWorker

from .settings import Settings

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class Worker(GeventWorker):
    read_timeout: float = Settings.read_timeout
    max_body_bytes: int = Settings.max_body_bytes

    def load_wsgi(self) -> None:
        super().load_wsgi()
        config = getattr(self.wsgi, "config", None) or {}
        settings = config.get("SETTINGS") if isinstance(config.get("SETTINGS"), Settings) else Settings.from_env()
        self.read_timeout = settings.read_timeout
        self.max_body_bytes = config.get("LIMITS", {}).get("max_body_bytes", settings.max_body_bytes)
        self.worker_connections = settings.max_connections

    def timeout_ctx(self) -> gevent.Timeout:
        """The deadline for a request's head; gunicorn's own worker waits `keepalive` seconds."""
        return gevent.Timeout(self.read_timeout, False)

    def handle(self, listener, client, addr) -> None:
        # Every read and write of the connection gives up after read_timeout seconds of silence
        # (gunicorn's gevent worker makes the socket blocking, with no timeout).
        client.settimeout(self.read_timeout)
        AsyncWorker.handle(self, listener, client, addr)

    def handle_request(self, listener_name, req, sock, addr) -> bool:
        try:
            _read_ahead(req, sock, self.max_body_bytes + 1)
        except TimeoutError:
            self.log.info("408: no byte of the request body from %s for %s s", addr[0] if addr else "?",
                          self.read_timeout)
            try:
                util.write(sock, REQUEST_TIMEOUT)
            except OSError:
                pass
            raise StopIteration() from None
        req.must_close = True  # one answer per connection, as the sync workers gave: see the module's notes
        return super().handle_request(listener_name, req, sock, addr)


def _read_ahead(req, sock, limit: int) -> None:
    """Read up to `limit` bytes of the request body now, and leave them in the body's buffer for the app.

    A body announced as longer than that is left alone: the app answers 413 on its
    Content-Length without reading it. gunicorn's Body serves reads from its `buf` first.
    A client that asked `Expect: 100-continue` is told to go on first (gunicorn would tell
    it only when the app is called, and the client would wait before sending).
    """
    body = req.body
    length = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), None)
    if body is None or (length is not None and length.isdigit() and int(length) >= limit):
        return
    if getattr(req, "_expected_100_continue", False):
        util.write(sock, b"HTTP/1.1 100 Continue\r\n\r\n")
        req._expected_100_continue = False
    data = body.read(limit)
    body.buf = io.BytesIO()
    body.buf.write(data)
