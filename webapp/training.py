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
from dataclasses import dataclass

import numpy as np
import plotly.io as pio
from flask import Blueprint, Response, render_template, request, url_for
from markupsafe import Markup

from engine import datasets, experiment, training
from engine import features as featuremod
from engine import trace as tracemod
from engine.spec import Optimizer

from . import lab
from . import state as labstate
from . import training_figures as figures
from . import training_planes as planes
from . import training_schemas as schemas
from .training_form import OPTIMIZER_CHOICES, Form, form_errors, page_query, read_form, setup_from_form
from .api import spec_from_body, to_json
from .bodies import read_json_body
from .limits import Limits, check_spec, current_limits
from .problems import InvalidRequest, Problem, TooLarge, TrainingOverflow, problem_response

bp = Blueprint("training", __name__)
bp.register_error_handler(Problem, problem_response)

CHUNK = training.CHECKPOINT_EVERY  # the page never asks for more steps at once, so chunks end on checkpoints
# A lab link carries the whole step; gunicorn takes request lines of at most 8190 bytes (GET, path, HTTP/1.1).
MAX_URL = 8000


@dataclass(frozen=True)
class Built:
    setup: schemas.Setup
    run: experiment.Experiment
    plane: planes.Plane | None
    notes: tuple[str, ...] = ()


# The pipeline: setup -> data -> experiment --------------------------------------------------------------------------


def build(setup: schemas.Setup, limits: Limits, lenient: bool = False) -> Built:
    """The experiment a setup describes. Raises InvalidRequest (422) or TooLarge (413) naming the field.

    `lenient` (the page's form) drops features the data cannot have instead of refusing them.
    """
    _check_network_size(setup, limits)  # before anything is drawn or allocated
    data = _data(setup, limits)
    rng = np.random.default_rng([setup.data_seed, 2])
    train, test = datasets.split(data, setup.test_fraction, rng)
    notes = []
    names = None if setup.features is None else tuple(setup.features)
    if data.dimension > 2 and names is not None:
        if not lenient:
            raise _invalid("features", f"the data has {data.dimension} columns: features are for 1-D and 2-D points; send null")
        names, notes = None, notes + [f"The inputs are the CSV's {data.dimension} feature columns as they are."]
    if names and lenient:
        kept = tuple(name for name in names if name in featuremod.available(data.dimension))
        names = kept or ("x1",)
    if names is not None:
        try:
            featuremod.check(names, data.dimension)
        except ValueError as error:
            raise _invalid("features", str(error)) from None
    head = setup.head or _default_head(data)
    hidden_units = [width for width in setup.hidden]
    if any(width < 1 for width in hidden_units):
        raise _invalid("hidden", "every hidden layer needs at least one unit")
    optimizer = Optimizer(
        name=setup.optimizer.name,
        learning_rate=setup.optimizer.learning_rate,
        momentum=setup.optimizer.momentum if setup.optimizer.name == "sgd" else 0.0,
        nesterov=setup.optimizer.nesterov and setup.optimizer.name == "sgd" and setup.optimizer.momentum > 0,
        betas=tuple(setup.optimizer.betas),
        eps=setup.optimizer.eps,
    )
    try:
        built = experiment.build(
            train, test, features=names, hidden=tuple(hidden_units), activation=setup.activation, head=head,
            optimizer=optimizer, batch_size=setup.batch_size, seed=setup.seed, standardize=setup.standardize,
        )
    except ValueError as error:
        path = "head" if "output" in str(error) else ""
        raise _invalid(path, str(error)) from None
    check_spec(built.run.spec, limits)
    return Built(setup, built, planes.plane_of(built, setup.dataset != "csv"), tuple(notes))


def _data(setup: schemas.Setup, limits: Limits) -> datasets.Dataset:
    if setup.dataset == "csv":
        if not setup.csv or not setup.csv.strip():
            raise _invalid("csv", "paste or upload CSV data: features first, the target last, one example a row")
        try:
            return datasets.parse_csv(setup.csv, limits.max_examples, limits.max_units, setup.task)
        except ValueError as error:
            raise _invalid("csv", str(error)) from None
    if setup.size > limits.max_examples:
        raise TooLarge(
            f"size {setup.size} is over the limit max_examples = {limits.max_examples}",
            limit="max_examples", value=setup.size, maximum=limits.max_examples,
        )
    return datasets.generate(setup.dataset, setup.size, setup.noise, np.random.default_rng([setup.data_seed, 1]))


def _check_network_size(setup: schemas.Setup, limits: Limits) -> None:
    layers = len(setup.hidden) + 1
    if layers > limits.max_layers:
        raise TooLarge(f"the network has {layers} layers: over the limit max_layers = {limits.max_layers}",
                       limit="max_layers", value=layers, maximum=limits.max_layers)
    for index, width in enumerate(setup.hidden, start=1):
        if width > limits.max_units:
            raise TooLarge(f"the request has {width} units in layer {index}: over the limit max_units = "
                           f"{limits.max_units}", limit="max_units", value=width, maximum=limits.max_units)


def _default_head(data: datasets.Dataset) -> str:
    if data.task == "regression":
        return "identity"
    return "sigmoid" if data.num_classes == 2 else "softmax"


def _invalid(path: str, message: str) -> InvalidRequest:
    return InvalidRequest([{"path": f"setup/{path}" if path else "setup", "message": message}])


def _check_steps(built: Built, steps: int, limits: Limits, what: str = "steps") -> None:
    spec = built.run.run.spec
    if steps > limits.max_steps:
        raise TooLarge(f"{steps} {what} in one request: over the limit max_steps = {limits.max_steps}",
                       limit="max_steps", value=steps, maximum=limits.max_steps)
    work = spec.work_per_step() * steps
    if work > limits.max_work:
        raise TooLarge(f"{work} multiply-adds ({spec.work_per_step()} per step x {steps}): over the limit max_work = "
                       f"{limits.max_work}", limit="max_work", value=work, maximum=limits.max_work)


def _state(built: Built, raw: dict | None, path: str) -> training.State:
    if raw is None:
        return training.start(built.run.run)
    try:
        return training.state_from_dict(built.run.run, raw)
    except ValueError as error:
        raise InvalidRequest([{"path": path, "message": str(error)}]) from None


def _metrics_now(built: Built, state: training.State) -> training.Metrics:
    loss, accuracy, test_loss, test_accuracy = training.evaluate(built.run.run, state.params)
    classify = built.run.train.task == "classification"
    tested = test_loss is not None
    return training.Metrics(
        [state.step], [loss], [accuracy] if classify else None,
        [test_loss] if tested else None, [test_accuracy] if classify and tested else None,
    )


def _overflow(error: tracemod.Overflow) -> TrainingOverflow:
    return TrainingOverflow(str(error), step=error.step, layer=error.layer, stage=error.stage, quantity=error.quantity)


# JSON endpoints ---------------------------------------------------------------------------------------------------


@bp.post("/api/v1/train/advance")
def advance() -> Response:
    limits = current_limits()
    body = schemas.parse(schemas.AdvanceRequest, read_json_body(request, limits.max_body_bytes))
    built = build(body.setup, limits)
    _check_steps(built, body.steps, limits)
    every = body.every or max(body.steps, 1)
    if -(-body.steps // every) > schemas.MAX_FRAMES:
        raise InvalidRequest([{"path": "every", "message": f"{body.steps} steps, a frame every {every}: "
                                                           f"more than {schemas.MAX_FRAMES} frames"}])
    state = _state(built, body.state, "state")
    frames, parts = [], []
    with np.errstate(all="ignore"):
        if body.steps == 0:
            parts.append(_metrics_now(built, state))
            frames.append(_frame(built, state))
        remaining = body.steps
        while remaining > 0:
            try:
                state, metrics = training.advance(built.run.run, state, min(every, remaining))
            except tracemod.Overflow as error:
                raise _overflow(error) from None
            parts.append(metrics)
            frames.append(_frame(built, state))
            remaining -= min(every, remaining)
    return Response(
        to_json({"step": state.step, "state": state.to_dict(), "metrics": _joined(parts), "frames": frames}),
        mimetype="application/json",
    )


def _frame(built: Built, state: training.State) -> dict:
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
    built = build(body.setup, limits)
    checkpoint = _state(built, body.checkpoint, "checkpoint")
    if body.step < checkpoint.step:
        raise InvalidRequest([{"path": "step", "message": f"step {body.step} is before the checkpoint's step {checkpoint.step}"}])
    _check_steps(built, body.step - checkpoint.step, limits, "steps to replay from the checkpoint")
    try:
        state = training.replay(built.run.run, checkpoint, body.step)
    except tracemod.Overflow as error:
        raise _overflow(error) from None
    lab_request = training.request_at(built.run.run, state)
    spec = spec_from_body(lab_request)
    check_spec(spec, limits)
    batch = training.batch_at(built.run.run, state.step)
    too_big = lab.lab_bounds(spec)
    url = None if too_big else lab_url(lab_request)
    if url is not None and len(url) > MAX_URL:
        too_big, url = [f"its link would be {len(url)} characters long, more than servers take ({MAX_URL})"], None
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
    """The lab showing `lab_request` from its first sub-step (the state travels in the URL)."""
    return url_for("pages.lab", state=labstate.encode(labstate.LabState(request=lab_request)))


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
            built = build(schemas.parse(schemas.Setup, setup, ("setup",)), limits, lenient=True)
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


def _view(built: Built, limits: Limits) -> dict:
    run = built.run
    state = training.start(run.run)
    with np.errstate(all="ignore"):
        metrics = _metrics_now(built, state)
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
