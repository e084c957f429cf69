"""The OpenAPI 3.1 document of version 1: the paths of every /api/v1 route, the schemas from the pydantic models."""
from __future__ import annotations

from pydantic.json_schema import models_json_schema

from . import explain_schemas, limits, responses, schemas, training_schemas
from .problems import MEDIA_TYPE

PREFIX = "/api/v1"


def openapi_document() -> dict:
    """The OpenAPI 3.1 document of version 1: the paths here, every schema from the pydantic models."""
    _, top = models_json_schema(
        [
            (schemas.TraceRequest, "validation"),
            (responses.TraceResponse, "serialization"),
            (responses.GradcheckResponse, "serialization"),
            (responses.Preset, "serialization"),
            (limits.Limits, "serialization"),
            (responses.Problem, "serialization"),
            *training_schemas.MODELS,
            *explain_schemas.MODELS,
        ],
        ref_template="#/components/schemas/{model}",
    )

    def ref(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def content(schema: dict, media_type: str = "application/json") -> dict:
        return {"content": {media_type: {"schema": schema}}}

    def problems(*statuses: int) -> dict:
        return {
            str(status): {"description": _REASONS[status], **content(ref("Problem"), MEDIA_TYPE)} for status in statuses
        }

    body = {"required": True, **content(ref("TraceRequest"))}
    prefix = PREFIX
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Backprop Visualizer step-trace API",
            "version": "1",
            "description": "Forward pass, loss, backward pass and SGD update of a small dense network, step by step.",
        },
        "paths": {
            f"{prefix}/trace": {
                "post": {
                    "summary": "Trace SGD steps",
                    "operationId": "trace",
                    "requestBody": body,
                    "responses": {
                        "200": {"description": "The trace", **content(ref("TraceResponse"))},
                        **problems(400, 413, 415, 422),
                    },
                }
            },
            f"{prefix}/gradcheck": {
                "post": {
                    "summary": "Check the analytic gradients against central differences",
                    "operationId": "gradcheck",
                    "requestBody": body,
                    "responses": {
                        "200": {"description": "The gradient check", **content(ref("GradcheckResponse"))},
                        **problems(400, 413, 415, 422),
                    },
                }
            },
            f"{prefix}/presets": {
                "get": {
                    "summary": "List the worked examples",
                    "operationId": "listPresets",
                    "responses": {
                        "200": {"description": "The presets", **content({"type": "array", "items": ref("Preset")})}
                    },
                }
            },
            f"{prefix}/presets/{{preset_id}}": {
                "get": {
                    "summary": "A worked example's request body, ready to POST to /trace",
                    "operationId": "getPreset",
                    "parameters": [{"name": "preset_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "A trace request", **content(ref("TraceRequest"))},
                        **problems(404),
                    },
                }
            },
            f"{prefix}/limits": {
                "get": {
                    "summary": "The size limits of a request",
                    "operationId": "getLimits",
                    "responses": {"200": {"description": "The limits", **content(ref("Limits"))}},
                }
            },
            f"{prefix}/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "getOpenAPI",
                    "responses": {"200": {"description": "OpenAPI 3.1", **content({"type": "object"})}},
                }
            },
            **training_schemas.openapi_paths(prefix, ref, content, problems),
            **explain_schemas.openapi_paths(prefix, ref, content, problems),
        },
        "components": {"schemas": top["$defs"]},
    }


_REASONS = {
    400: "The body is not one JSON object",
    404: "Not found",
    413: "Over a size limit (GET /api/v1/limits)",
    415: "The body is not application/json, or is compressed",
    422: "An invalid request, or numbers that overflow while training",
}
