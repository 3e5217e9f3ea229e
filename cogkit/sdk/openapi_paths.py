"""The fixed parts of the OpenAPI document: request/response envelopes, status enums and paths.

Component names match Cog's (`PredictionRequest`, `Status`, `HTTPValidationError`, ...), because
Replicate's clients and web UI look them up by name.
"""

from __future__ import annotations

from typing import Any, Dict, Union

from cogkit.mode import Mode

REF = "#/components/schemas/"
STATUSES = ["starting", "processing", "succeeded", "canceled", "failed"]
WEBHOOK_EVENTS = ["start", "output", "logs", "completed"]


def _ref(name: str) -> Dict[str, Any]:
    return {"$ref": REF + name}


def _names(mode: Mode) -> Dict[str, str]:
    envelope = mode.noun.title()  # PredictionRequest, TrainingResponse, ...
    return {
        "in": mode.input_component,
        "out": mode.output_component,
        "req": f"{envelope}Request",
        "resp": f"{envelope}Response",
    }


def components(
    input_schema: Dict[str, Any], output_schema: Dict[str, Any], *, mode: Union[Mode, str]
) -> Dict[str, Any]:
    """Input/Output under the mode's names, and the envelopes that reference them."""
    n = _names(Mode(mode))
    dt = {"type": "string", "format": "date-time"}
    request = {
        "title": n["req"],
        "type": "object",
        "properties": {
            "id": {"title": "Id", "type": "string"},
            "created_at": {"title": "Created At", **dt},
            "input": _ref(n["in"]),
            "context": {"title": "Context", "type": "object", "additionalProperties": {"type": "string"}},
            "webhook": {
                "title": "Webhook",
                "type": "string",
                "format": "uri",
                "minLength": 1,
                "maxLength": 65536,
            },
            "webhook_events_filter": {
                "type": "array",
                "items": _ref("WebhookEvent"),
                "default": list(WEBHOOK_EVENTS),
            },
            "output_file_prefix": {"title": "Output File Prefix", "type": "string"},
        },
    }
    response = {
        "title": n["resp"],
        "type": "object",
        "properties": {
            "id": {"title": "Id", "type": "string"},
            "version": {"title": "Version", "type": "string"},
            "input": _ref(n["in"]),
            "output": _ref(n["out"]),
            "logs": {"title": "Logs", "type": "string", "default": ""},
            "error": {"title": "Error", "type": "string"},
            "status": _ref("Status"),
            "created_at": {"title": "Created At", **dt},
            "started_at": {"title": "Started At", **dt},
            "completed_at": {"title": "Completed At", **dt},
            "metrics": {"title": "Metrics", "type": "object"},
        },
    }
    return {
        n["in"]: {**input_schema, "title": n["in"]},
        n["out"]: {**output_schema, "title": n["out"]},
        n["req"]: request,
        n["resp"]: response,
        "Status": {
            "title": "Status",
            "description": "An enumeration.",
            "enum": list(STATUSES),
            "type": "string",
        },
        "WebhookEvent": {
            "title": "WebhookEvent",
            "description": "An enumeration.",
            "enum": list(WEBHOOK_EVENTS),
            "type": "string",
        },
        "ValidationError": {
            "title": "ValidationError",
            "type": "object",
            "required": ["loc", "msg", "type"],
            "properties": {
                "loc": {
                    "title": "Location",
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                },
                "msg": {"title": "Message", "type": "string"},
                "type": {"title": "Error Type", "type": "string"},
            },
        },
        "HTTPValidationError": {
            "title": "HTTPValidationError",
            "type": "object",
            "properties": {"detail": {"title": "Detail", "type": "array", "items": _ref("ValidationError")}},
        },
    }


def _json(schema: Dict[str, Any]) -> Dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(summary: str, op_id: str, ok: Dict[str, Any], **extra: Any) -> Dict[str, Any]:
    responses: Dict[str, Any] = {"200": {"description": "Successful Response", **_json(ok)}}
    if "requestBody" in extra or "parameters" in extra:
        responses["422"] = {"description": "Validation Error", **_json(_ref("HTTPValidationError"))}
    return {"summary": summary, "operationId": op_id, "responses": responses, **extra}


def paths(*, mode: Union[Mode, str]) -> Dict[str, Any]:
    """Cog's routes; the server may add its own (metrics, polling) to the result."""
    mode = Mode(mode)
    n = _names(mode)
    noun, one = mode.endpoint, mode.noun
    id_param = [
        {"name": mode.id_param, "in": "path", "required": True, "schema": {"title": "Id", "type": "string"}}
    ]
    prefer = [
        {"name": "prefer", "in": "header", "required": False, "schema": {"title": "Prefer", "type": "string"}}
    ]
    body = {"requestBody": {"required": False, **_json(_ref(n["req"]))}}
    out: Dict[str, Any] = {
        f"/{noun}": {
            "post": _op(
                f"Create {one.title()}", f"{one}_{noun}_post", _ref(n["resp"]), parameters=prefer, **body
            )
        },
        f"/{noun}/{{{mode.id_param}}}": {
            "put": _op(
                f"Create {one.title()} Idempotent",
                f"{one}_idempotent_{noun}__{one}_id__put",
                _ref(n["resp"]),
                parameters=id_param + prefer,
                **body,
            )
        },
        f"/{noun}/{{{mode.id_param}}}/cancel": {
            "post": _op(
                f"Cancel {one.title()}", f"cancel_{noun}__{one}_id__cancel_post", {}, parameters=id_param
            )
        },
    }
    if mode is Mode.PREDICT:
        out["/"] = {"get": _op("Root", "root__get", {"title": "Response Root  Get"})}
        out["/health-check"] = {"get": _op("Healthcheck", "healthcheck_health_check_get", {})}
        out["/shutdown"] = {"post": _op("Start Shutdown", "start_shutdown_shutdown_post", {})}
    return out


def merge(predict_doc: Dict[str, Any], train_doc: Dict[str, Any]) -> Dict[str, Any]:
    """One document for a model with both `predict` and `train` references."""
    merged = {**predict_doc, "paths": {**predict_doc["paths"], **train_doc["paths"]}}
    schemas = dict(train_doc["components"]["schemas"])
    schemas.update(predict_doc["components"]["schemas"])
    merged["components"] = {"schemas": schemas}
    return merged
