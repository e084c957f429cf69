"""Static assets: versioned URLs, long-lived caching, and compression.

`asset_url("lab.js")` (a template global) gives `/static/lab.js?v=<content hash>`.
A static response asked for with the current hash is cached for a year and
marked immutable: a changed file gets a new URL. Dynamic responses (pages,
partials, JSON) are compressed by flask-compress; static files are compressed
once per file version and kept in memory: brotli at its highest level, except
for files over 512 KiB (Plotly), where level 11 would take ~2 s for a 7% gain.
"""
from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

import brotli
from flask import Flask, Response, current_app, request, url_for
from flask_compress import Compress

IMMUTABLE = "public, max-age=31536000, immutable"
# Encodings we produce for static files, in order of preference.
STATIC_ENCODINGS = ("br", "gzip")
LARGE = 512 * 1024
COMPRESSIBLE_SUFFIXES = (".js", ".css", ".svg", ".json", ".html", ".txt", ".map")


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)
    app.config.setdefault("COMPRESS_LEVEL", 6)
    Compress(app)
    # Registered after flask-compress, so it runs before it (Flask runs after_request
    # hooks in reverse order); the Content-Encoding we set makes flask-compress skip.
    app.after_request(_static_headers)
    app.add_template_global(asset_url)


def warm_up(app: Flask) -> None:
    """Compress the static files (brotli, what browsers ask for) now: done once per process, it would
    otherwise hold up a fresh server's first page by about 200 ms (Plotly alone takes 100)."""
    folder = Path(app.static_folder)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in COMPRESSIBLE_SUFFIXES:
            content_hash(path)
            stat = path.stat()
            _compressed(str(path), stat.st_mtime_ns, stat.st_size, "br")


def asset_url(filename: str) -> str:
    """The URL of a file under static/, with `?v=` its content hash."""
    return url_for("static", filename=filename, v=content_hash(_static_path(filename)))


def content_hash(path: Path) -> str:
    stat = path.stat()
    return _hash(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _hash(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


@lru_cache(maxsize=64)
def _compressed(path: str, mtime_ns: int, size: int, encoding: str) -> bytes:
    data = Path(path).read_bytes()
    if encoding == "br":
        return brotli.compress(data, quality=11 if len(data) <= LARGE else 9)
    return gzip.compress(data, compresslevel=9, mtime=0)


def _static_path(filename: str) -> Path:
    return Path(current_app.static_folder) / filename


def _accepted(encoding: str) -> bool:
    for part in request.headers.get("Accept-Encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() == encoding:
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _static_headers(response: Response) -> Response:
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    path = _static_path((request.view_args or {}).get("filename", ""))
    if not path.is_file():
        return response
    if request.args.get("v") == content_hash(path):
        response.headers["Cache-Control"] = IMMUTABLE
    if response.status_code != 200 or request.method != "GET" or path.suffix not in COMPRESSIBLE_SUFFIXES:
        return response
    _vary_on_encoding(response)
    encoding = next((e for e in STATIC_ENCODINGS if _accepted(e)), None)
    if encoding is None or "Content-Encoding" in response.headers or "Content-Range" in response.headers:
        return response
    stat = path.stat()
    body = _compressed(str(path), stat.st_mtime_ns, stat.st_size, encoding)
    original = response.response
    response.direct_passthrough = False
    response.set_data(body)
    if hasattr(original, "close"):
        original.close()
    response.headers["Content-Encoding"] = encoding
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(f"{etag}:{encoding}", weak=weak)
    return response


def _vary_on_encoding(response: Response) -> None:
    vary = response.headers.get("Vary", "")
    if "accept-encoding" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
