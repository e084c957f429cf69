"""A training run from its setup: the data, the network and the experiment, checked against the limits.

No run lives on the server: a `Setup` fixes a run completely (data, seed, network, optimizer), so
every request rebuilds it here and goes on from the state it carries.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import datasets, experiment, training
from engine import features as featuremod
from engine import trace as tracemod
from engine.spec import Optimizer
from webapp.api import training_schemas as schemas
from webapp.api.limits import Limits, check_spec
from webapp.api.problems import InvalidRequest, TooLarge, TrainingOverflow

from . import planes


@dataclass(frozen=True)
class Built:
    setup: schemas.Setup
    run: experiment.Experiment
    plane: planes.Plane | None
    notes: tuple[str, ...] = ()


# setup -> data -> experiment --------------------------------------------------------------------------


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


def check_steps(built: Built, steps: int, limits: Limits, what: str = "steps") -> None:
    spec = built.run.run.spec
    if steps > limits.max_steps:
        raise TooLarge(f"{steps} {what} in one request: over the limit max_steps = {limits.max_steps}",
                       limit="max_steps", value=steps, maximum=limits.max_steps)
    work = spec.work_per_step() * steps
    if work > limits.max_work:
        raise TooLarge(f"{work} multiply-adds ({spec.work_per_step()} per step x {steps}): over the limit max_work = "
                       f"{limits.max_work}", limit="max_work", value=work, maximum=limits.max_work)


def state_of(built: Built, raw: dict | None, path: str) -> training.State:
    if raw is None:
        return training.start(built.run.run)
    try:
        return training.state_from_dict(built.run.run, raw)
    except ValueError as error:
        raise InvalidRequest([{"path": path, "message": str(error)}]) from None


def metrics_now(built: Built, state: training.State) -> training.Metrics:
    loss, accuracy, test_loss, test_accuracy = training.evaluate(built.run.run, state.params)
    classify = built.run.train.task == "classification"
    tested = test_loss is not None
    return training.Metrics(
        [state.step], [loss], [accuracy] if classify else None,
        [test_loss] if tested else None, [test_accuracy] if classify and tested else None,
    )


def overflow(error: tracemod.Overflow) -> TrainingOverflow:
    return TrainingOverflow(str(error), step=error.step, layer=error.layer, stage=error.stage, quantity=error.quantity)
