"""The `backprop-viz` command: serve the app, trace a request body, list the presets.

    backprop-viz serve [--host 127.0.0.1] [--port 5000]
    backprop-viz serve --production [--host H] [--port P] [--workers N]
                                     gunicorn (gevent workers), with the BACKPROP_VIZ_... settings
    backprop-viz trace FILE|-        the trace JSON of a request body (as POST /api/v1/trace answers it)
    backprop-viz presets             one line per preset: id, a tab, title

`trace` validates exactly as the API does, with the default limits; for a bad
body it prints the problem (RFC 9457 JSON) on stderr and exits with status 2.
`serve` takes its defaults from the BACKPROP_VIZ_... environment variables
(webapp.serving.settings); a flag given wins over them.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys

from engine import presets as presetsmod
from webapp.api.bodies import body_too_large, parse_json_object
from webapp.api.limits import Limits, check_spec
from webapp.api.problems import Problem

BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop-viz", description="Step through backpropagation in small neural networks, with the real numbers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web app on Flask's development server, or gunicorn")
    serve.add_argument("--host", help="address to listen on (default: BACKPROP_VIZ_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: BACKPROP_VIZ_PORT or 5000)")
    serve.add_argument("--debug", action="store_true", help="reload on code changes, show tracebacks")
    serve.add_argument(
        "--production", action="store_true", help="serve with gunicorn: worker processes, timeouts, read deadlines"
    )
    serve.add_argument(
        "--workers", type=int, help="with --production: worker processes (default: BACKPROP_VIZ_WORKERS or one per CPU)"
    )
    serve.set_defaults(run=_serve)

    trace = commands.add_parser("trace", help="print the step trace of a request body (JSON)")
    trace.add_argument("file", metavar="FILE", help="a JSON request body, or - to read standard input")
    trace.set_defaults(run=_trace)

    presets = commands.add_parser("presets", help="list the worked examples: id and title")
    presets.set_defaults(run=_presets)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from webapp import create_app
    from webapp.serving.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
        given = {name: getattr(args, name) for name in ("host", "port", "workers") if getattr(args, name) is not None}
        settings = dataclasses.replace(settings, **given)
    except SettingsError as error:
        print(f"backprop-viz: {error}", file=sys.stderr)
        return BAD_INPUT
    if args.production:
        if args.debug:
            print("backprop-viz: --debug is for the development server, not --production", file=sys.stderr)
            return BAD_INPUT
        _production_server(create_app({"SETTINGS": settings}), settings).run()
        return 0
    create_app({"SETTINGS": settings}).run(host=settings.host, port=settings.port, debug=args.debug)
    return 0


def _production_server(app, settings):
    """gunicorn serving `app`: gevent workers with read deadlines (webapp.serving.worker), forked from one loaded app.

    A sync worker would wait on each slow client; these hold a waiting connection in a greenlet
    and close it after BACKPROP_VIZ_READ_TIMEOUT seconds of silence.
    """
    from gunicorn.app.base import BaseApplication

    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    options = {
        "bind": f"{host}:{settings.port}",
        "workers": settings.worker_count,
        "worker_class": "webapp.serving.worker.Worker",
        # The worker reads the cap from the settings itself (with plain gunicorn too); given here so the config agrees.
        "worker_connections": settings.max_connections,
        # A worker silent for longer is killed and replaced; the work limits keep a request near 2 s.
        "timeout": settings.timeout,
        "graceful_timeout": settings.graceful_timeout,
        # The lab's state travels in the URL: allow gunicorn's longest request line.
        "limit_request_line": 8190,
        "preload_app": True,
        "accesslog": "-",
        "proc_name": "backprop-viz",
        # gunicorn's control socket is one path per user: two servers on a machine would fight over it.
        "control_socket_disable": True,
    }

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # an older gunicorn has no control socket to disable
                    self.cfg.set(key, value)

        def load(self):
            # Loaded once, before the workers fork: move what exists now out of the collector's sight, so a
            # worker's full collection no longer walks the app's 80,000 objects (about 25 ms, during which the
            # worker's other requests wait) and no longer copies the pages they sit on.
            gc.collect()
            gc.freeze()
            return app

    return Server()


def _trace(args: argparse.Namespace) -> int:
    from webapp.api.pipeline import spec_from_body, to_json, trace_result

    limits = Limits()
    try:
        data = _read(args.file, limits.max_body_bytes)
    except OSError as error:
        print(f"backprop-viz: cannot read {args.file}: {error.strerror or error}", file=sys.stderr)
        return BAD_INPUT
    try:
        if len(data) > limits.max_body_bytes:
            raise body_too_large(None, limits.max_body_bytes)
        spec = spec_from_body(parse_json_object(data))
        check_spec(spec, limits)
        text = to_json(trace_result(spec))
    except Problem as problem:
        print(json.dumps(problem.to_dict(), indent=1), file=sys.stderr)
        return BAD_INPUT
    sys.stdout.write(text + "\n")
    return 0


def _read(file: str, max_bytes: int) -> bytes:
    """At most max_bytes + 1 bytes: enough to tell a body over the limit."""
    if file == "-":
        return sys.stdin.buffer.read(max_bytes + 1)
    with open(file, "rb") as stream:
        return stream.read(max_bytes + 1)


def _presets(args: argparse.Namespace) -> int:
    for preset in presetsmod.PRESETS:
        print(f"{preset.id}\t{preset.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
