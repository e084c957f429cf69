"""Pydantic models of the step-trace API's answers (they document GET /api/v1/openapi.json)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.spec import LAYOUTS

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
    grad_inputs: OutMatrix | None = Field(
        None, description="dL/dX, shaped like X: layer 1 only, where the request sets input_gradient (an addition)"
    )


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

