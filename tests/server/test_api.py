"""Contract tests: every endpoint of a real `python -m cogkit.server` with a real worker."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.server.conftest import ServerProcess

HELLO = "hello.py:Predictor"
SLEEPER = "sleeper.py:Predictor"


def poll(server: ServerProcess, path: str, until: set[str], timeout: float = 30.0) -> dict[str, Any]:
    """GET `path` until its status is in `until` (bounded)."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = server.client.get(path).json()
        if body.get("status") in until:
            return body
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {until}: {body}")


def test_root_lists_the_endpoints(server: Any) -> None:
    body = server(HELLO).client.get("/").json()
    assert body["predictions_url"] == "/predictions"
    assert body["predictions_cancel_url"] == "/predictions/{prediction_id}/cancel"
    assert body["healthcheck_url"] == "/health-check"
    assert "trainings_url" not in body


def test_health_check_reports_ready_with_setup_logs(server: Any) -> None:
    body = server(HELLO).client.get("/health-check").json()
    assert body["status"] == "READY"
    setup = body["setup"]
    assert setup["status"] == "succeeded"
    assert "setting up hello" in setup["logs"]
    assert setup["started_at"] <= setup["completed_at"]


def test_openapi_has_cog_components_and_our_poll_route(server: Any) -> None:
    doc = server(HELLO).client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert {
        "Input",
        "Output",
        "PredictionRequest",
        "PredictionResponse",
        "Status",
        "HTTPValidationError",
    } <= set(schemas)
    assert schemas["Input"]["properties"]["times"]["maximum"] == 5
    assert "get" in doc["paths"]["/predictions/{prediction_id}"]
    assert "put" in doc["paths"]["/predictions/{prediction_id}"]


def test_sync_prediction_has_cogs_response_shape(server: Any) -> None:
    r = server(HELLO).client.post("/predictions", json={"input": {"text": "ada", "times": 2, "token": "t0p"}})
    assert r.status_code == 200
    body = r.json()
    assert body["output"] == "hello ada hello ada"
    assert body["status"] == "succeeded"
    assert body["logs"] == "greeting ada\n"
    assert body["error"] is None
    assert body["input"] == {"text": "ada", "times": 2, "token": "**********"}
    assert body["metrics"]["predict_time"] > 0
    assert body["created_at"] <= body["started_at"] <= body["completed_at"]
    assert body["id"]


def test_invalid_input_is_422_naming_each_field(server: Any) -> None:
    r = server(HELLO).client.post("/predictions", json={"input": {"times": 9}})
    assert r.status_code == 422
    locs = {tuple(d["loc"]) for d in r.json()["detail"]}
    assert locs == {("body", "input", "text"), ("body", "input", "times")}


def test_a_body_that_is_not_json_is_400_and_a_wrong_shape_422(server: Any) -> None:
    """As coglet 0.23.1 answers: 400 when the body does not parse, 422 when its shape is wrong."""
    c = server(HELLO).client
    r = c.post("/predictions", content=b"{oops", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["detail"]
    assert c.put("/predictions/x", content=b"\xff\xfe").status_code == 400
    r = c.post("/predictions", json=[1])
    assert (r.status_code, r.json()["detail"][0]["loc"]) == (422, ["body"])
    assert c.post("/predictions", json={"input": "text"}).status_code == 422


def test_put_is_idempotent(server: Any) -> None:
    c = server(HELLO).client
    first = c.put("/predictions/same-id", json={"input": {"text": "one"}})
    second = c.put("/predictions/same-id", json={"input": {"text": "two"}})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.json()["output"] == "hello one"


def test_put_of_a_running_prediction_joins_it(server: Any) -> None:
    s = server(SLEEPER)
    async_ = {"Prefer": "respond-async"}
    first = s.client.put("/predictions/twice", json={"input": {"seconds": 0.3}}, headers=async_)
    second = s.client.put("/predictions/twice", json={"input": {"seconds": 0.3}}, headers=async_)
    assert first.status_code == second.status_code == 202
    assert first.json()["created_at"] == second.json()["created_at"]
    third = s.client.put("/predictions/twice", json={"input": {"seconds": 0.3}})  # sync: waits for it
    assert third.json()["status"] == "succeeded"
    assert third.json()["logs"] == "sleeping\n"  # it ran once


def test_get_prediction_polls_and_404s(server: Any) -> None:
    s = server(SLEEPER)
    r = s.client.post(
        "/predictions", json={"id": "poll-me", "input": {"seconds": 0.2}}, headers={"Prefer": "respond-async"}
    )
    assert r.status_code == 202
    assert r.json()["id"] == "poll-me"
    assert r.json()["status"] in ("starting", "processing")
    done = poll(s, "/predictions/poll-me", {"succeeded", "failed"})
    assert done["output"] == "slept 0.2"
    assert s.client.get("/predictions/nobody").status_code == 404


def test_cancel_a_running_prediction(server: Any) -> None:
    s = server(SLEEPER)
    s.client.post(
        "/predictions",
        json={"id": "cancel-me", "input": {"seconds": 30}},
        headers={"Prefer": "respond-async"},
    )
    poll(s, "/predictions/cancel-me", {"processing"})
    assert s.client.post("/predictions/cancel-me/cancel").status_code == 200
    done = poll(s, "/predictions/cancel-me", {"canceled", "failed", "succeeded"})
    assert done["status"] == "canceled"
    assert s.client.post("/predictions/nobody/cancel").status_code == 404


def test_busy_slot_gives_409_and_frees_after_cancel(server: Any) -> None:
    s = server(SLEEPER)
    s.client.post(
        "/predictions", json={"id": "hog", "input": {"seconds": 30}}, headers={"Prefer": "respond-async"}
    )
    poll(s, "/predictions/hog", {"processing"})
    assert s.client.get("/health-check").json()["status"] == "BUSY"
    r = s.client.post("/predictions", json={"input": {"seconds": 0}})
    assert r.status_code == 409
    s.client.post("/predictions/hog/cancel")
    poll(s, "/predictions/hog", {"canceled"})
    assert s.client.post("/predictions", json={"input": {"seconds": 0}}).status_code == 200


def test_sequential_keep_alive_client_never_sees_409(server: Any) -> None:
    s = server(HELLO)
    with httpx.Client(base_url=s.url, timeout=30) as c:  # one keep-alive connection
        statuses = [c.post("/predictions", json={"input": {"text": str(i)}}).status_code for i in range(300)]
    assert statuses == [200] * 300


def test_metrics_exposes_counts_latency_queue_and_setup(server: Any) -> None:
    s = server(HELLO)
    s.client.post("/predictions", json={"input": {"text": "m"}})
    text = s.client.get("/metrics").text
    assert 'cogkit_predictions_total{kind="prediction",status="succeeded"}' in text
    assert 'cogkit_http_requests_total{method="POST",route="/predictions",status="200"}' in text
    assert "cogkit_http_request_duration_seconds_bucket" in text
    assert 'cogkit_predictions_in_flight{kind="prediction"} 0.0' in text
    assert 'cogkit_setup_duration_seconds{kind="prediction"}' in text
    assert 'cogkit_prediction_slots{kind="prediction"} 1.0' in text


def test_context_reaches_the_predictor_and_metrics_come_back(server: Any) -> None:
    body = (
        server("scoped.py:Predictor")
        .client.post("/predictions", json={"input": {"n": 7}, "context": {"user": "ada"}})
        .json()
    )
    assert body["output"] == "ada"
    assert body["metrics"]["tokens"] == 7
    assert body["metrics"]["predict_time"] > 0
