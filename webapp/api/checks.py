"""The checks across a trace request's fields (shapes, options, targets) that pydantic's field types cannot state.

`inconsistencies(request)` lists `(path, message)` for every problem; TraceRequest's validator turns
them into errors with those paths.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from engine import optimizers
from engine.spec import REDUCTIONS

if TYPE_CHECKING:
    from .schemas import LossSpec, OptimizerSpec, TraceRequest


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


def inconsistencies(request: TraceRequest) -> list[tuple[tuple, str]]:
    """(path, message) for every field that does not fit the others: shapes, targets, loss options."""
    matrices = [(request.inputs, ("inputs",))]
    matrices += [(layer.weights, ("layers", i, "weights")) for i, layer in enumerate(request.layers)]
    if request.targets is not None:
        matrices.append((request.targets, ("targets",)))
    errors = [error for matrix, path in matrices for error in _ragged(matrix, path)]
    errors += _loss_options(request.loss)
    errors += _optimizer_options(request.optimizer)
    errors += _record_window(request)
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


def _record_window(request: TraceRequest) -> list[tuple[tuple, str]]:
    record = request.record
    if record is None:
        return []
    stop = request.steps if record.to is None else record.to
    if record.to is not None and record.to > request.steps:
        return [(("record", "to"), f"must be at most steps ({request.steps})")]
    if record.from_ >= stop:
        return [(("record", "from"), f"must be less than to ({stop}): the window records at least one step")]
    return []


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


