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
from engine.spec import ACTIVATIONS, DEFAULT_LEARNING_RATE, DEFAULT_NEGATIVE_SLOPE, LAYOUTS, LOSSES, REDUCTIONS

from .limits import Limits  # the response model of GET /api/v1/limits, re-exported
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
        description="mean (1/N), sum, or mean_all (1/(N dL)); cross_entropy and multiclass_hinge take mean or sum",
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

    @model_validator(mode="after")
    def _consistent(self) -> TraceRequest:
        errors = _inconsistencies(self)
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


def _shape(matrix: list[list[float]]) -> tuple[int, int]:
    return len(matrix), len(matrix[0])


def _count(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _x(shape: tuple[int, int]) -> str:
    return f"{shape[0]}x{shape[1]}"


def _ragged(matrix: list[list[float]], path: tuple) -> list[tuple[tuple, str]]:
    width = len(matrix[0])
    return [
        (
            path + (r,),
            f"row {r} has {_count(len(row), 'number')} but row 0 has {width}: "
            "every row of a matrix needs the same length",
        )
        for r, row in enumerate(matrix)
        if len(row) != width
    ]


def _inconsistencies(request: TraceRequest) -> list[tuple[tuple, str]]:
    """(path, message) for every field that does not fit the others: shapes, targets, loss options."""
    matrices = [(request.inputs, ("inputs",))]
    matrices += [(layer.weights, ("layers", i, "weights")) for i, layer in enumerate(request.layers)]
    if request.targets is not None:
        matrices.append((request.targets, ("targets",)))
    errors = [error for matrix, path in matrices for error in _ragged(matrix, path)]
    errors += _loss_options(request.loss)
    errors += _optimizer_options(request.optimizer)
    for i, layer in enumerate(request.layers):
        if "negative_slope" in layer.model_fields_set and layer.activation != "leaky_relu":
            errors.append(
                (
                    ("layers", i, "negative_slope"),
                    f"negative_slope is for leaky_relu layers; layer {i + 1} is {layer.activation}",
                )
            )
    if errors:
        # Shapes are only meaningful once every matrix is rectangular.
        return errors
    return _shape_errors(request) or _optimizer_state_errors(request)


def _loss_options(loss: LossSpec) -> list[tuple[tuple, str]]:
    errors = []
    allowed = REDUCTIONS[loss.name]
    if loss.reduction not in allowed:
        message = f"{loss.name} takes reduction {' or '.join(allowed)}, not {loss.reduction}"
        errors.append((("loss", "reduction"), message))
    if loss.half and loss.name != "squared_error":
        errors.append((("loss", "half"), f"half is for squared_error; {loss.name} has no factor 1/2"))
    if "margin" in loss.model_fields_set and loss.name != "multiclass_hinge":
        errors.append((("loss", "margin"), f"margin is for multiclass_hinge, not {loss.name}"))
    return errors


def _optimizer_options(optimizer: OptimizerSpec) -> list[tuple[tuple, str]]:
    given = optimizer.model_fields_set
    if optimizer.name == "adam":
        misplaced = [option for option in ("momentum", "nesterov") if option in given]
        return [(("optimizer", option), f"{option} is for sgd; adam takes betas and eps") for option in misplaced]
    errors = [(("optimizer", option), f"{option} is for adam, not sgd") for option in ("betas", "eps") if option in given]
    if optimizer.nesterov and optimizer.momentum == 0:
        errors.append((("optimizer", "nesterov"), "nesterov needs momentum > 0"))
    return errors


def _optimizer_state_errors(request: TraceRequest) -> list[tuple[tuple, str]]:
    """The engine reads the state against the parameters' shapes; say where it does not fit."""
    if request.optimizer.state is None:
        return []
    shapes = {}
    for index, layer in enumerate(request.layers, start=1):
        shapes[f"W{index}"] = _shape(layer.weights)
        if layer.bias is not None:
            shapes[f"b{index}"] = (len(layer.bias),)
    try:
        optimizers.from_dict(request.optimizer, request.optimizer.state, shapes)
    except (ValueError, TypeError) as error:
        return [(("optimizer", "state"), str(error))]
    return []


def _shape_errors(request: TraceRequest) -> list[tuple[tuple, str]]:
    rows = request.layout == "rows"
    layout = f"in the {request.layout} layout"
    errors = []
    x_shape = _shape(request.inputs)
    examples, width = x_shape if rows else x_shape[::-1]
    source = f"X ({_x(x_shape)}, {_count(examples, 'example')} {layout}) has {_count(width, 'input')}"
    for i, layer in enumerate(request.layers):
        name, w_shape = f"W{i + 1}", _shape(layer.weights)
        fan_in, fan_out = w_shape if rows else w_shape[::-1]
        if fan_in != width:
            need = f"{width}xK" if rows else f"Kx{width}"
            convention = "d(l-1) x d(l)" if rows else "d(l) x d(l-1)"
            errors.append(
                (
                    ("layers", i, "weights"),
                    f"{name} has shape {_x(w_shape)} but {source}, so {name} must be {need} "
                    f"(W_l is {convention} {layout}, K the units of layer {i + 1})",
                )
            )
        if layer.bias is not None and len(layer.bias) != fan_out:
            errors.append(
                (
                    ("layers", i, "bias"),
                    f"b{i + 1} has {_count(len(layer.bias), 'entry', 'entries')} but {name} ({_x(w_shape)} {layout}) "
                    f"gives layer {i + 1} {_count(fan_out, 'unit')}, so b{i + 1} needs {fan_out}",
                )
            )
        width = fan_out
        source = f"layer {i + 1} gives {_count(width, 'unit')}"
    return errors + _target_errors(request, examples, width)


def _target_errors(request: TraceRequest, examples: int, outputs: int) -> list[tuple[tuple, str]]:
    if request.targets is not None and request.labels is not None:
        return [(("labels",), "give exactly one of targets and labels, not both")]
    if request.targets is None and request.labels is None:
        return [(("targets",), "give targets (a matrix) or labels (class indices): one of the two is required")]
    last = len(request.layers)
    if request.targets is not None:
        t_shape = _shape(request.targets)
        expected = (examples, outputs) if request.layout == "rows" else (outputs, examples)
        if t_shape == expected:
            return []
        return [
            (
                ("targets",),
                f"T has shape {_x(t_shape)} but must be {_x(expected)} in the {request.layout} layout "
                f"({_count(examples, 'example')}, {_count(outputs, 'unit')} in the output layer {last})",
            )
        ]
    if len(request.labels) != examples:
        given = _count(len(request.labels), "label")
        return [(("labels",), f"{given} for {_count(examples, 'example')}: give one label per example")]
    return [
        (
            ("labels", j),
            f"label {label} is not a class index 0..{outputs - 1} "
            f"(the output layer {last} has {_count(outputs, 'unit')})",
        )
        for j, label in enumerate(request.labels)
        if not 0 <= label < outputs
    ]


# Responses ------------------------------------------------------------------------------------------------------

OutMatrix = list[list[float]]


class ForwardRecord(BaseModel):
    layer: int = Field(description="1-based")
    pre_activation: OutMatrix = Field(description="S_l")
    activation: OutMatrix = Field(description="Z_l = f(S_l)")


class BackwardRecord(BaseModel):
    layer: int
    grad_activation: OutMatrix | None = Field(description="dL/dZ_l; null for the output where dL/dZ is not finite")
    delta: OutMatrix = Field(description="dL/dS_l")
    grad_weights: OutMatrix = Field(description="dL/dW_l, shaped like W_l")
    grad_bias: list[float] | None = Field(description="dL/db_l, null where the layer has no bias")


class ParametersRecord(BaseModel):
    layer: int
    weights: OutMatrix
    bias: list[float] | None


class TraceStep(BaseModel):
    index: int = Field(description="0-based SGD step")
    forward: list[ForwardRecord] = Field(description="layer 1 up")
    loss: float = Field(description="the loss with the parameters at the start of the step")
    output_gradient: OutMatrix | None = Field(description="dL/d(output); null when any entry is not finite")
    backward: list[BackwardRecord] = Field(description="last layer down")
    update: list[ParametersRecord] = Field(description="the parameters after the step, layer 1 up")
    batch: list[int] | None = Field(None, description="the examples of this step, 0-based (when batch_size is set)")
    optimizer_state: dict[str, Any] | None = Field(
        None, description="after the step, for SGD with momentum and Adam; POST it back as optimizer.state to go on"
    )


class TraceResponse(BaseModel):
    """The answer of POST /api/v1/trace; every matrix in the request's layout."""

    version: Literal[1]
    layout: Literal[LAYOUTS]
    steps: list[TraceStep]
    final_loss: float = Field(description="the loss with the parameters after the last step")
    loss_history: list[float] = Field(description="steps + 1 numbers: the loss before each step, then final_loss")


class GradcheckParameter(BaseModel):
    name: str = Field(description="W1, b1, W2, ...")
    layer: int
    analytic: OutMatrix | list[float] = Field(description="dL/dp from the backward pass, shaped like the parameter")
    numeric: OutMatrix | list[float] = Field(description="central differences (L(p+h) - L(p-h)) / 2h")
    max_relative_error: float = Field(description="max of |a - n| / max(1e-8, |a| + |n|)")


class GradcheckResponse(BaseModel):
    """The answer of POST /api/v1/gradcheck: analytic against numeric gradients at the request's parameters."""

    step_size: float
    max_relative_error: float
    parameters: list[GradcheckParameter]


class Preset(BaseModel):
    """A worked example; GET /api/v1/presets/{id} gives its request body."""

    id: str
    title: str
    description: str
    source: str = Field(description="the text the example comes from")
    convention: str = Field(description="how that text writes the network and normalises the loss")


class ProblemError(BaseModel):
    path: str = Field(description="JSON pointer into the request, without the leading slash, e.g. layers/1/weights")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (application/problem+json); extension members may follow."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = Field(None, description="every invalid field (422)")

