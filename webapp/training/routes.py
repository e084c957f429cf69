"""The training page (/train) and its JSON endpoints (/api/v1/train/...).

No run lives on the server. A `Setup` fixes a run completely (data, seed,
network, optimizer), so each request carries the setup and the state to go on
from: `advance` takes k steps and answers the new state, the curves' values
and the heatmaps' new z; `open` replays from a checkpoint to any step and
answers the lab request of that step (its parameters, batch and optimizer
state). The page keeps a state every 50 steps as its checkpoints.
"""
from __future__ import annotations

import json

import numpy as np
import plotly.io as pio
from flask import Blueprint, Response, render_template, request, url_for
from markupsafe import Markup

from engine import datasets, experiment, training
from engine import features as featuremod
from engine import trace as tracemod
from webapp.api import training_schemas as schemas
from webapp.api.bodies import read_json_body
from webapp.api.limits import Limits, check_spec, current_limits
from webapp.api.pipeline import spec_from_body, to_json
from webapp.api.problems import InvalidRequest, Problem, problem_response
from webapp.lab import context as lab_context
from webapp.lab import run as lab
from webapp.lab import state as labstate

from . import build, figures, planes
from .form import OPTIMIZER_CHOICES, Form, form_errors, page_query, read_form, setup_from_form

bp = Blueprint("training", __name__)
bp.register_error_handler(Problem, problem_response)

CHUNK = training.CHECKPOINT_EVERY  # the page never asks for more steps at once, so chunks end on checkpoints


# JSON endpoints ---------------------------------------------------------------------------------------------------


@bp.post("/api/v1/train/advance")
def advance() -> Response:
    limits = current_limits()
    body = schemas.parse(schemas.AdvanceRequest, read_json_body(request, limits.max_body_bytes))
    built = build.build(body.setup, limits)
    build.check_steps(built, body.steps, limits)
    every = body.every or max(body.steps, 1)
    if -(-body.steps // every) > schemas.MAX_FRAMES:
        raise InvalidRequest([{"path": "every", "message": f"{body.steps} steps, a frame every {every}: "
                                                           f"more than {schemas.MAX_FRAMES} frames"}])
    state = build.state_of(built, body.state, "state")
    frames, parts = [], []
    with np.errstate(all="ignore"):
        if body.steps == 0:
            parts.append(build.metrics_now(built, state))
            frames.append(_frame(built, state))
        remaining = body.steps
        while remaining > 0:
            try:
                state, metrics = training.advance(built.run.run, state, min(every, remaining))
            except tracemod.Overflow as error:
                raise build.overflow(error) from None
            parts.append(metrics)
            frames.append(_frame(built, state))
            remaining -= min(every, remaining)
    return Response(
        to_json({"step": state.step, "state": state.to_dict(), "metrics": _joined(parts), "frames": frames}),
        mimetype="application/json",
    )


def _frame(built: build.Built, state: training.State) -> dict:
    return {"step": state.step, **(planes.plane_update(built.run, state.params, built.plane) or {})}


def _joined(parts: list[training.Metrics]) -> dict:
    joined = {}
    for key, values in parts[0].to_dict().items():
        joined[key] = None if values is None else [value for part in parts for value in getattr(part, key)]
    return joined


@bp.post("/api/v1/train/open")
def open_step() -> Response:
    limits = current_limits()
    body = schemas.parse(schemas.OpenRequest, read_json_body(request, limits.max_body_bytes))
    built = build.build(body.setup, limits)
    checkpoint = build.state_of(built, body.checkpoint, "checkpoint")
    if body.step < checkpoint.step:
        raise InvalidRequest([{"path": "step", "message": f"step {body.step} is before the checkpoint's step {checkpoint.step}"}])
    build.check_steps(built, body.step - checkpoint.step, limits, "steps to replay from the checkpoint")
    try:
        state = training.replay(built.run.run, checkpoint, body.step)
    except tracemod.Overflow as error:
        raise build.overflow(error) from None
    lab_request = training.request_at(built.run.run, state)
    spec = spec_from_body(lab_request)
    check_spec(spec, limits)
    batch = training.batch_at(built.run.run, state.step)
    too_big = lab.lab_bounds(spec)
    url = None if too_big else lab_url(lab_request)
    return Response(
        to_json({
            "step": state.step,
            "batch": None if batch is None else batch.tolist(),
            "request": lab_request,
            "lab_url": url,
            "lab_note": _lab_note(too_big),
        }),
        mimetype="application/json",
    )


def lab_url(lab_request: dict) -> str:
    """The lab showing `lab_request` from its first sub-step (the state travels in the URL: in its fragment when
    too long for its query)."""
    return lab_context.with_state("lab.show", labstate.encode(labstate.LabState(request=lab_request)))


def _lab_note(too_big: list[str]) -> str | None:
    """Why the lab cannot show the step, and what to change in the setup."""
    if not too_big:
        return None
    return (f"This step cannot be opened in the lab: {'; '.join(too_big)}. Its trace request is below; "
            f"a batch size of {lab.LAB_MAX_EXAMPLES} or less and at most {lab.LAB_MAX_UNITS} units a layer "
            "open every step.")


# The page ---------------------------------------------------------------------------------------------------------

@bp.get("/train")
def page() -> str:
    return _render(read_form(request.args))


@bp.post("/train")
def page_update() -> Response | str:
    form = read_form(request.form, request.files, posted=True)
    html = _render(form)
    response = Response(html, mimetype="text/html")
    if request.headers.get("HX-Request") and form.values["dataset"] != "csv" and not form.errors:
        response.headers["HX-Push-Url"] = url_for("training.page", **page_query(form))
    return response


def _render(form: Form) -> str:
    limits = current_limits()
    view = None
    setup = setup_from_form(form)
    if setup is not None:
        try:
            built = build.build(schemas.parse(schemas.Setup, setup, ("setup",)), limits, lenient=True)
            view = _view(built, limits)
        except Problem as problem:
            form_errors(form, problem)
        except tracemod.Overflow as error:
            form.general.append(str(error))
    context = dict(
        form=form, view=view, limits=limits, datasets=datasets, features=featuremod, heads=experiment.HEADS,
        activations=schemas.HIDDEN_ACTIVATIONS, optimizers=OPTIMIZER_CHOICES,
        one_dimensional=form.values["dataset"] in datasets.REGRESSION,
    )
    template = "partials/_train.html" if request.headers.get("HX-Request") else "train.html"
    return render_template(template, **context)


def _view(built: build.Built, limits: Limits) -> dict:
    run = built.run
    state = training.start(run.run)
    with np.errstate(all="ignore"):
        metrics = build.metrics_now(built, state)
        drawn = {
            "field": figures.field_figure(run, state.params, built.plane),
            "boundary": figures.boundary_figure(run, built.plane),
            "units": figures.units_figure(run, state.params, built.plane),
            "unit_frames": figures.unit_frames_figure(run, built.plane),
            "curves": figures.curves_figure(run, metrics.to_dict()),
        }
    train = run.train
    points = train.points if train.dimension == 2 else np.column_stack([train.points[:, 0], train.targets])
    data = {
        "setup": built.setup.model_dump(exclude_none=True),
        "state": state.to_dict(),
        "metrics": metrics.to_dict(),
        "figures": {name: None if figure is None else json.loads(pio.to_json(figure)) for name, figure in drawn.items()},
        "points": points.tolist() if built.plane is not None else None,
        "urls": {"advance": url_for("training.advance"), "open": url_for("training.open_step")},
        "chunk": min(CHUNK, limits.max_steps),
        "classify": run.train.task == "classification",
    }
    text = to_json(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    spec = run.run.spec
    return {
        "data": Markup(text),
        "notes": built.notes,
        "summary": {
            "train": run.train.num_examples,
            "test": run.test.num_examples,
            "inputs": figures.feature_labels(run),
            "widths": spec.widths,
            "head": run.head,
            "loss": spec.loss.name.replace("_", " "),
            "batch": spec.batch_size,
        },
        "has_plane": built.plane is not None,
        "has_units": drawn["units"] is not None,
    }
