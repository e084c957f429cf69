"""Pydantic models of the training API (POST /api/v1/train/advance and /open).

A `Setup` is everything that fixes a training run: the data (a generated set
with its size, noise, test share and seed, or CSV text), the input features,
the network, the optimizer, the batch size and the seed of the weights and
batch order. The same setup always gives the same run, step for step, so the
page keeps no run on the server: every request carries the setup and the
state to go on from.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt, ValidationError

from engine import datasets, experiment, optimizers
from engine import features as featuremod

from .problems import InvalidRequest
from .schemas import MESSAGES, Fraction, Number, _Request

HIDDEN_ACTIVATIONS = ("tanh", "relu", "leaky_relu", "sigmoid", "identity")
SOURCES = datasets.NAMES + ("csv",)


class TrainOptimizer(_Request):
    """PyTorch's SGD (momentum > 0 keeps a velocity) or Adam, as in the trace API."""

    name: Literal[optimizers.NAMES] = "sgd"
    learning_rate: Number = Field(0.03, gt=0)
    momentum: Fraction = Field(0.0, description="sgd only")
    nesterov: StrictBool = Field(False, description="sgd with momentum > 0 only")
    betas: tuple[Fraction, Fraction] = Field(optimizers.DEFAULT_BETAS, description="adam only")
    eps: Number = Field(optimizers.DEFAULT_EPS, gt=0, description="adam only")


class Setup(_Request):
    """What fixes a training run."""

    dataset: Literal[SOURCES] = Field("spiral", description="a generated set, or csv for the `csv` text")
    size: StrictInt = Field(500, ge=4, description="examples to generate (train and test together)")
    noise: Number = Field(0.1, ge=0, le=1, description="0 clean .. 1 heavily overlapping")
    test_fraction: Number = Field(0.2, ge=0, le=0.9, description="share of the examples held out for testing")
    data_seed: StrictInt = Field(0, ge=0, le=2**32 - 1, description="seeds the generated data and the split")
    csv: str | None = Field(None, description="features in every column but the last, the target last; a header row is optional")
    task: Literal["auto", "classification", "regression"] = Field("auto", description="how to read a CSV target")
    features: list[Literal[featuremod.NAMES]] | None = Field(
        None, description="input features of the points (x1, x2, x1_squared, ...); null: the raw columns"
    )
    standardize: StrictBool = Field(False, description="shift and scale every input to mean 0, deviation 1")
    hidden: list[StrictInt] = Field([8, 8], description="units in each hidden layer")
    activation: Literal[HIDDEN_ACTIVATIONS] = "tanh"
    head: Literal[experiment.HEADS] | None = Field(
        None, description="output layer and loss; null: sigmoid for two classes, softmax for more, identity for regression"
    )
    optimizer: TrainOptimizer = Field(default_factory=TrainOptimizer)
    batch_size: StrictInt | None = Field(None, ge=1, description="null: full batch")
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1, description="seeds the initial weights and the batch order")


MAX_FRAMES = 50


class AdvanceRequest(_Request):
    """Take `steps` steps from `state` (null: the start of the run), drawing a frame every `every` steps."""

    setup: Setup
    state: dict[str, Any] | None = Field(None, description="a state this endpoint answered; null for step 0")
    steps: StrictInt = Field(1, ge=0, description="0 answers the state's curves and planes without training")
    every: StrictInt | None = Field(
        None, ge=1, description=f"a frame every this many steps (null: one, at the end); at most {MAX_FRAMES} frames"
    )


class OpenRequest(_Request):
    """The lab request of step `step`, replayed from `checkpoint` (a state at or before it)."""

    setup: Setup
    checkpoint: dict[str, Any] | None = Field(None, description="a state at or before `step`; null: step 0")
    step: StrictInt = Field(ge=0)


class Metrics(BaseModel):
    steps: list[int] = Field(description="how many updates were done when each value was measured")
    train_loss: list[float]
    train_accuracy: list[float] | None = Field(description="null for regression")
    test_loss: list[float] | None = Field(description="null without a test set")
    test_accuracy: list[float] | None


class Frame(BaseModel):
    step: int
    field: dict[str, Any] | None = Field(None, description="the output over the plane: Plotly trace updates")
    units: dict[str, Any] | None = Field(None, description="the hidden units' mosaic: Plotly trace updates")


class AdvanceResponse(BaseModel):
    step: int = Field(description="updates done: the state is at the start of this step")
    state: dict[str, Any] = Field(description='{"parameters": {"W1": ..}, "optimizer": {"step": .., ..}}, rows layout')
    metrics: Metrics
    frames: list[Frame] = Field(description="what the figures show every `every` steps, the last at `step`")


class OpenResponse(BaseModel):
    step: int
    batch: list[int] | None = Field(description="the training examples of the step (null for full batch)")
    request: dict[str, Any] = Field(description="a trace request whose step 0 is this training step")
    lab_url: str | None = Field(description="the lab showing that request (null when the lab cannot draw it)")
    lab_note: str | None = Field(description="why the lab cannot draw it, and what to change")


def parse(model: type[BaseModel], body: object, prefix: tuple = ()) -> Any:
    """Validate a parsed body; raises InvalidRequest (422) naming every bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise InvalidRequest(
            [
                {"path": "/".join(str(part) for part in prefix + tuple(item["loc"])), "message": MESSAGES.get(item["type"], item["msg"])}
                for item in error.errors(include_url=False)
            ]
        ) from None


# OpenAPI --------------------------------------------------------------------------------------------------------

MODELS = ((AdvanceRequest, "validation"), (AdvanceResponse, "serialization"), (OpenRequest, "validation"),
          (OpenResponse, "serialization"))


def openapi_paths(prefix: str, ref, content, problems) -> dict:
    """The training endpoints for the OpenAPI document (helpers as webapp.api.openapi uses them)."""
    return {
        f"{prefix}/train/advance": {
            "post": {
                "summary": "Take training steps from a state, with a frame of the figures every few steps",
                "operationId": "trainAdvance",
                "requestBody": {"required": True, **content(ref("AdvanceRequest"))},
                "responses": {
                    "200": {"description": "The new state, the curves' values, the frames", **content(ref("AdvanceResponse"))},
                    **problems(400, 413, 415, 422),
                },
            }
        },
        f"{prefix}/train/open": {
            "post": {
                "summary": "The trace request of one training step, replayed from a checkpoint",
                "operationId": "trainOpen",
                "requestBody": {"required": True, **content(ref("OpenRequest"))},
                "responses": {
                    "200": {"description": "The step's trace request and lab link", **content(ref("OpenResponse"))},
                    **problems(400, 413, 415, 422),
                },
            }
        },
    }
