"""The `backprop-viz` command: serve the app, trace a request body, list the presets.

    backprop-viz serve [--host 127.0.0.1] [--port 5000]
    backprop-viz trace FILE|-        the trace JSON of a request body (as POST /api/v1/trace answers it)
    backprop-viz presets             one line per preset: id, a tab, title

`trace` validates exactly as the API does, with the default limits; for a bad
body it prints the problem (RFC 9457 JSON) on stderr and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from engine import presets as presetsmod

from .bodies import body_too_large, parse_json_object
from .limits import Limits, check_spec
from .problems import Problem

BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop-viz", description="Step through backpropagation in small neural networks, with the real numbers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web app on Flask's development server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=5000, help="port (default: %(default)s)")
    serve.add_argument("--debug", action="store_true", help="reload on code changes, show tracebacks")
    serve.set_defaults(run=_serve)

    trace = commands.add_parser("trace", help="print the step trace of a request body (JSON)")
    trace.add_argument("file", metavar="FILE", help="a JSON request body, or - to read standard input")
    trace.set_defaults(run=_trace)

    presets = commands.add_parser("presets", help="list the worked examples: id and title")
    presets.set_defaults(run=_presets)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from . import create_app

    create_app().run(host=args.host, port=args.port, debug=args.debug)
    return 0


def _trace(args: argparse.Namespace) -> int:
    from .api import spec_from_body, to_json, trace_result

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
