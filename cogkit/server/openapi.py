"""The document served at /openapi.json: the worker's, merged for training, plus our own routes.

The worker builds the predictor's document (it is the process that imported user code); the
server adds what only it offers: polling with `GET /predictions/{id}` and `/metrics`.
"""

from __future__ import annotations

import copy
from typing import Any

from cogkit.sdk.openapi_paths import merge


def _poll_path(noun: str, response: str) -> dict[str, Any]:
    one = noun[:-1]
    return {
        "summary": f"Get {one.title()}",
        "operationId": f"get_{one}_{noun}__{one}_id__get",
        "parameters": [
            {"name": f"{one}_id", "in": "path", "required": True, "schema": {"title": "Id", "type": "string"}}
        ],
        "responses": {
            "200": {
                "description": "Successful Response",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}},
            },
            "404": {"description": f"No {one} with that id"},
        },
    }


def build_document(predict_doc: dict[str, Any] | None, train_doc: dict[str, Any] | None) -> dict[str, Any]:
    """Combine the predict and train documents (either may be absent) and add server-only paths."""
    if predict_doc and train_doc:
        doc = merge(predict_doc, train_doc)
    else:
        doc = copy.deepcopy(predict_doc or train_doc or {})
    doc = copy.deepcopy(doc)
    paths = doc.setdefault("paths", {})
    if "/predictions/{prediction_id}" in paths:
        paths["/predictions/{prediction_id}"]["get"] = _poll_path("predictions", "PredictionResponse")
    if "/trainings/{training_id}" in paths:
        paths["/trainings/{training_id}"]["get"] = _poll_path("trainings", "TrainingResponse")
    for route, summary, op in (
        ("/", "Root", "root__get"),
        ("/health-check", "Healthcheck", "healthcheck_health_check_get"),
        ("/shutdown", "Start Shutdown", "start_shutdown_shutdown_post"),
    ):
        if route not in paths:
            method = "post" if route == "/shutdown" else "get"
            paths[route] = {
                method: {
                    "summary": summary,
                    "operationId": op,
                    "responses": {"200": {"description": "Successful Response"}},
                }
            }
    paths["/metrics"] = {
        "get": {
            "summary": "Prometheus Metrics",
            "operationId": "metrics_metrics_get",
            "responses": {"200": {"description": "Metrics in the Prometheus text format"}},
        }
    }
    return doc
