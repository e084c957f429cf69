"""Backprop Visualizer web application: `create_app()` builds it (no app at import time).

One package per feature, each owning its blueprint (`routes.bp`) and helpers, over shared packages:

    api/       the JSON API (/api/v1): request and response models, limits, bodies, problems, OpenAPI
    gallery/   the worked examples (/)
    lab/       the lab pages (/lab): running a state, the editor's draft and form, sub-step views, URL state
    share/     embed, oEmbed and exports of a lab state
    training/  the training page (/train) and its JSON endpoints (/api/v1/train/...)
    figures/   Plotly figure builders (heatmaps, network diagram, loss curve): pure, no request
    notation/  how the math is written: symbols, equations (MathML), the sources' slips
    serving/   settings, security headers, static assets and compression, health

Imports go one way: routes -> their feature's helpers -> figures / notation -> engine; a feature may use
another feature's helpers (the share and training pages show lab states) but never its routes.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask

HERE = Path(__file__).resolve().parent


def _folder(name: str) -> str:
    """A folder of the installed package (webapp/templates in a wheel), else the checkout's top-level one."""
    installed = HERE / name
    return str(installed if installed.is_dir() else HERE.parent / name)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=_folder("templates"), static_folder=_folder("static"))
    if test_config:
        app.config.update(test_config)

    from webapp.api import limits
    from webapp.api import routes as api
    from webapp.gallery import routes as gallery
    from webapp.lab import routes as lab
    from webapp.serving import assets, ops, security, settings
    from webapp.share import routes as share
    from webapp.training import routes as training

    settings.init_app(app)
    limits.init_app(app)
    api.register_error_handlers(app)
    for feature in (api, gallery, lab, share, training):
        app.register_blueprint(feature.bp)
    assets.init_app(app)
    ops.init_app(app)
    security.init_app(app)
    _warm_up(app)
    return app


def _warm_up(app: Flask) -> None:
    """Compile the templates, load Plotly's figure validators and compress the static files at start: a
    fresh server's (or worker's) first page would otherwise wait about 450 ms longer than the next
    (benchmarks/README.md, lab). The validators and the compressed files are kept once per process."""
    from webapp.figures import heatmaps
    from webapp.serving import assets

    for name in app.jinja_env.list_templates(extensions=["html"]):
        app.jinja_env.get_template(name)
    heatmaps.warm_up()
    assets.warm_up(app)
