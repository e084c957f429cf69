"""Pydantic models of the step-trace API, version 1 (shared/api/trace-v1.md).

Requests are validated here, once, with the path of every bad field; the
engine then gets a well-formed body. Numbers are strict: a JSON string or a
boolean where a number goes is an error, and so is a value that is not finite
(the tokens NaN and Infinity, or 1e400). The response models document the
answers (they feed GET /api/v1/openapi.json).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from engine import optimizers
from engine.spec import ACTIVATIONS, DEFAULT_LEARNING_RATE, DEFAULT_NEGATIVE_SLOPE, LAYOUTS, LOSSES

from .checks import inconsistencies
from .problems import InvalidRequest

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# fail_fast: a list reports its first bad entry, not one error per entry (a body of
# 10^6 strings would otherwise cost seconds and a gigabyte to describe).
Row = Annotated[list[Number], Field(min_length=1, fail_fast=True)]
Matrix = Annotated[
    list[Row], Field(min_length=1, fail_fast=True, description="a non-empty matrix, a list of rows of equal length")
]
ALL_REDUCTIONS = ("mean", "sum", "mean_all")

# Friendlier words for a few of pydantic's messages, by error type.
MESSAGES = {
    "extra_forbidden": "unknown field: version 1 of the contract has no such field",
    "float_type": "must be a JSON number",
    "finite_number": "must be a finite number (NaN, Infinity and overflowing numbers like 1e400 are not)",
}


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LayerSpec(_Request):
    """One dense layer, its matrix written in the request's layout."""

    weights: Matrix = Field(description="W_l: d(l-1) x d(l) in the rows layout, d(l) x d(l-1) in the columns layout")
    bias: Annotated[list[Number], Field(fail_fast=True)] | None = Field(
        None, description="b_l: d(l) numbers, or null for a layer without bias"
    )
    activation: Literal[ACTIVATIONS]
    negative_slope: Number = Field(DEFAULT_NEGATIVE_SLOPE, description="leaky_relu layers only")
    train_weights: StrictBool = Field(True, description="false: the gradient is reported, W_l is not updated")
    train_bias: StrictBool = Field(True, description="false: the gradient is reported, b_l is not updated")


class LossSpec(_Request):
    name: Literal[LOSSES]
    reduction: Literal[ALL_REDUCTIONS] = Field(
        "mean",
        description="mean (1/N), sum, or mean_all (1/(N dL)); cross_entropy, multiclass_hinge and linear take mean "
        "or sum (linear, an addition: L = sum T * Y, so dL/dY = T, a given upstream gradient)",
    )
    half: StrictBool = Field(False, description="squared_error only: true puts a factor 1/2 in front")
    margin: Number = Field(1.0, description="multiclass_hinge only")


Fraction = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, lt=1)]


class OptimizerSpec(_Request):
    """PyTorch's SGD (with optional momentum) or Adam, neither with weight decay."""

    name: Literal[optimizers.NAMES] = "sgd"
    learning_rate: Number = Field(DEFAULT_LEARNING_RATE, gt=0)
    momentum: Fraction = Field(0.0, description="sgd only: velocity v <- momentum v + g")
    nesterov: StrictBool = Field(False, description="sgd with momentum > 0 only")
    betas: tuple[Fraction, Fraction] = Field(optimizers.DEFAULT_BETAS, description="adam only")
    eps: Number = Field(optimizers.DEFAULT_EPS, gt=0, description="adam only")
    state: dict[str, Any] | None = Field(
        None,
        description="the state to start from, as a step's optimizer_state gives it: "
        '{"step": t, "velocity": {"W1": [[...]], ...}} or {"step": t, "first_moment": ..., "second_moment": ...}',
    )


class RecordSpec(_Request):
    """Which steps the response records (an addition to version 1): steps from..to-1, 0-based."""

    from_: StrictInt = Field(0, ge=0, alias="from", description="the first step recorded (0-based)")
    to: StrictInt | None = Field(None, ge=1, description="one past the last step recorded; default: steps")


class TraceRequest(_Request):
    """The body of POST /api/v1/trace (and /gradcheck)."""

    layout: Literal[LAYOUTS] = Field("rows", description="rows: examples are rows; columns: examples are columns")
    layers: list[LayerSpec] = Field(min_length=1, fail_fast=True)
    inputs: Matrix = Field(description="X: N x d0 in the rows layout, d0 x N in the columns layout")
    targets: Matrix | None = Field(None, description="T, in the layout; exactly one of targets and labels")
    labels: Annotated[list[StrictInt], Field(fail_fast=True)] | None = Field(
        None, description="N class indices, 0-based, meaning one-hot targets"
    )
    loss: LossSpec
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    steps: StrictInt = Field(1, ge=1, description="how many SGD steps to trace")
    batch_size: StrictInt | None = Field(None, ge=1, description="null: full batch; else shuffled mini-batches")
    shuffle_seed: StrictInt = Field(0, ge=0, le=2**64 - 1, description="seeds the order of the mini-batches")
    record: RecordSpec | None = Field(
        None, description="null: every step is recorded; else only steps from..to-1 (loss_history stays whole)"
    )
    input_gradient: StrictBool = Field(
        False, description="true: layer 1's backward record adds grad_inputs, dL/dX in the layout (an addition to version 1)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> TraceRequest:
        errors = inconsistencies(self)
        if errors:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(type=PydanticCustomError("inconsistent", message), loc=path, input=None)
                    for path, message in errors
                ],
            )
        return self

    def to_body(self) -> dict:
        """The request as a plain contract dict with its defaults filled in (for engine.spec.from_request).

        Options that belong to another activation or loss are left out, so the
        result is itself a valid request.
        """
        body = self.model_dump()
        for layer in body["layers"]:
            if layer["activation"] != "leaky_relu":
                del layer["negative_slope"]
        if body["loss"]["name"] != "multiclass_hinge":
            del body["loss"]["margin"]
        optimizer = body["optimizer"]
        for option in ("momentum", "nesterov") if optimizer["name"] == "adam" else ("betas", "eps"):
            del optimizer[option]
        if "betas" in optimizer:
            optimizer["betas"] = list(optimizer["betas"])
        if optimizer["state"] is None:
            del optimizer["state"]
        if not self.input_gradient:
            del body["input_gradient"]
        if self.record is None:
            del body["record"]
        else:
            body["record"] = {"from": self.record.from_, "to": self.steps if self.record.to is None else self.record.to}
        return body


def parse_trace_request(body: object) -> TraceRequest:
    """Validate a parsed JSON body; raises InvalidRequest (422) listing every bad field with its path."""
    unknown = _unknown_fields_of_oversized_objects(body)
    if unknown:
        raise InvalidRequest([{"path": "/".join(map(str, path)), "message": MESSAGES["extra_forbidden"]}
                              for path in unknown])
    try:
        return TraceRequest.model_validate(body)
    except ValidationError as error:
        raise InvalidRequest(
            [
                {"path": "/".join(str(part) for part in item["loc"]), "message": _message(item)}
                for item in error.errors(include_url=False)
            ]
        ) from None


MOST_FIELDS = 64  # more than any object of the contract has
MOST_ERRORS = 50


def _unknown_fields_of_oversized_objects(body: object) -> list[tuple]:
    """Paths of the first unknown fields of an object with more than MOST_FIELDS keys.

    Pydantic would list every unknown key of such an object, one error each;
    here the answer stays as small as a normal one.
    """
    if not isinstance(body, dict):
        return []
    objects = [((), body, TraceRequest), (("loss",), body.get("loss"), LossSpec),
               (("optimizer",), body.get("optimizer"), OptimizerSpec)]
    if isinstance(body.get("layers"), list):
        objects += [(("layers", i), layer, LayerSpec) for i, layer in enumerate(body["layers"][:MOST_FIELDS])]
    for path, value, model in objects:
        if isinstance(value, dict) and len(value) > MOST_FIELDS:
            return [path + (key,) for key in value if key not in model.model_fields][:MOST_ERRORS]
    return []


def _message(item: dict) -> str:
    if item["type"] == "float_type" and type(item["input"]) is int:
        # A JSON integer too large for a float64 (10^400): a number, but not a finite one.
        return MESSAGES["finite_number"]
    return MESSAGES.get(item["type"], item["msg"])
