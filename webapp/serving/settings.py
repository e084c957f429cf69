"""Deployment settings, read from `BACKPROP_VIZ_...` environment variables.

Every setting has a default that serves one machine safely; README's
"Production" section lists them. `create_app` applies them (`init_app`): the
body and work limits go into `app.config["LIMITS"]`, the rest is kept as
`app.config["SETTINGS"]` for the security headers, the rate limiter,
`backprop-viz serve --production` (gunicorn) and its worker (webapp.serving.worker). A test passes its own
`Settings` as `create_app({"SETTINGS": Settings(...)})`.

A value that does not parse stops the app at start-up with a message naming
the variable: a typo in a deployment should not quietly fall back to a default.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from flask import Flask

from webapp.api.limits import Limits

PREFIX = "BACKPROP_VIZ_"
_LIMIT_DEFAULTS = Limits()

# One CSP source expression of frame-ancestors: *, 'self', a scheme ("https:"), or a host source
# ("https://*.example.edu:8443/path"). No spaces, quotes, commas or semicolons: a value can never
# end the directive and start another.
_FRAME_SOURCE = re.compile(
    r"\*|'self'|[a-zA-Z][a-zA-Z0-9+.-]*:|"
    r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:\*\.)?[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*(?::(?:[0-9]{1,5}|\*))?"
    r"(?:/[a-zA-Z0-9._~!$&()*+=:@%/-]*)?"
)


class SettingsError(ValueError):
    """A BACKPROP_VIZ_... variable that does not parse; the message names it."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 0  # 0: one per CPU (the work is NumPy on one core per request)
    timeout: int = 30
    graceful_timeout: int = 30
    read_timeout: int = 10  # seconds a connection may send nothing (headers, body) before it is closed
    max_connections: int = 1000  # open connections per worker
    max_body_bytes: int = _LIMIT_DEFAULTS.max_body_bytes
    max_work: int = _LIMIT_DEFAULTS.max_work
    rate_limit: str = ""
    embed_frame_ancestors: tuple[str, ...] = ("*",)
    proxies: int = 0

    def __post_init__(self) -> None:
        for name, low in (("port", 1), ("workers", 0), ("timeout", 1), ("graceful_timeout", 1), ("read_timeout", 1),
                          ("max_connections", 1), ("max_body_bytes", 1), ("max_work", 1), ("proxies", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise SettingsError(f"{PREFIX}{name.upper()} must be a whole number >= {low}, got {value!r}")
        if self.port > 65535:
            raise SettingsError(f"{PREFIX}PORT must be at most 65535, got {self.port}")
        if self.rate_limit:
            _check_rate_limit(self.rate_limit)
        _check_frame_ancestors(self.embed_frame_ancestors)

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from `environ` (default os.environ): BACKPROP_VIZ_<FIELD>, defaults for the rest."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in fields(cls):
            name = PREFIX + field.name.upper()
            raw = environ.get(name)
            if raw is None:
                continue
            raw = raw.strip()
            if field.type == "int":
                if not re.fullmatch(r"[0-9]{1,12}", raw.replace("_", "")):
                    raise SettingsError(f"{name} must be a whole number, got {raw!r}")
                values[field.name] = int(raw.replace("_", ""))
            elif field.type == "tuple[str, ...]":
                values[field.name] = tuple(raw.split())
            else:
                values[field.name] = raw
        return cls(**values)


def _check_rate_limit(text: str) -> None:
    """Flask-Limiter's notation: "60/minute", "10 per second; 1000/day"."""
    name = f"{PREFIX}RATE_LIMIT"
    try:
        from limits import parse_many
    except ImportError:
        raise SettingsError(
            f"{name} is set but Flask-Limiter is not installed: pip install 'backprop-visualizer[ratelimit]'"
        ) from None
    try:
        parse_many(text)
    except ValueError:
        raise SettingsError(f"{name} must look like '60/minute' or '10/second; 1000/day', got {text!r}") from None


def _check_frame_ancestors(sources: tuple[str, ...]) -> None:
    name = f"{PREFIX}EMBED_FRAME_ANCESTORS"
    if sources == ("'none'",):
        return
    if not sources:
        raise SettingsError(f"{name} needs at least one origin, or * or 'none'")
    for source in sources:
        if not _FRAME_SOURCE.fullmatch(source):
            raise SettingsError(
                f"{name}: {source!r} is not an origin (such as https://course.example.edu), *, 'self' or 'none'"
            )


def current(app: Flask) -> Settings:
    return app.config["SETTINGS"]


def init_app(app: Flask) -> None:
    """Read the settings (unless the app was given some) and apply the body and work limits.

    Call before limits.init_app: it sets Flask's body cap from LIMITS. Limits given in the
    app's config win over the environment.
    """
    settings = app.config.get("SETTINGS")
    if not isinstance(settings, Settings):
        settings = Settings.from_env()
        app.config["SETTINGS"] = settings
    app.config["LIMITS"] = {
        "max_body_bytes": settings.max_body_bytes,
        "max_work": settings.max_work,
        **app.config.get("LIMITS", {}),
    }
    if settings.proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Trust X-Forwarded-For/-Proto/-Host from that many proxies: client addresses for the
        # rate limiter, https URLs in oEmbed answers.
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.proxies, x_proto=settings.proxies, x_host=settings.proxies
        )
