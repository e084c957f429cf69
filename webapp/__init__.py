"""Backprop Visualizer web application: `create_app()` builds it (no app at import time)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    if test_config:
        app.config.update(test_config)

    from . import api, assets, limits, ops, pages, security, settings, share

    settings.init_app(app)
    limits.init_app(app)
    api.register_error_handlers(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(share.bp)
    from . import training

    app.register_blueprint(training.bp)
    assets.init_app(app)
    ops.init_app(app)
    security.init_app(app)
    _warm_up(app)
    return app


def _warm_up(app: Flask) -> None:
    """Compile the templates, load Plotly's figure validators and compress the static files at start: a
    fresh server's (or worker's) first page would otherwise wait about 450 ms longer than the next
    (benchmarks/README.md, lab). The validators and the compressed files are kept once per process."""
    from . import assets, figures

    for name in app.jinja_env.list_templates(extensions=["html"]):
        app.jinja_env.get_template(name)
    figures.warm_up()
    assets.warm_up(app)
