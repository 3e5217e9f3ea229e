"""Contract tests: SSE streaming, file inputs and outputs, and webhooks from a real server."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import ServerProcess
from tests.server.receiver import Receiver
from tests.server.test_api import poll


def _sse(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_iterator_output_streams_server_sent_events(server: Any) -> None:
    s = server("stream.py:Predictor")
    with s.client.stream(
        "POST", "/predictions", json={"input": {"words": 3}}, headers={"Accept": "text/event-stream"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.read().decode())
    outputs = [v for k, v in events if k == "output"]
    assert outputs == ["w0 ", "w1 ", "w2 "]
    assert "".join(v for k, v in events if k == "log") == "token 0\ntoken 1\ntoken 2\n"
    kind, final = events[-1]
    assert kind == "completed"
    assert final["status"] == "succeeded"
    assert final["output"] == outputs


def test_iterator_output_without_streaming_is_a_list(server: Any) -> None:
    body = server("stream.py:Predictor").client.post("/predictions", json={"input": {"words": 2}}).json()
    assert body["output"] == ["w0 ", "w1 "]


def test_file_inputs_from_url_and_data_uri_and_file_outputs_as_data_uris(server: Any) -> None:
    s = server("files.py:Predictor")
    with Receiver() as r:
        r.files["/in/photo.bin"] = b"abc"
        data = "data:application/octet-stream;base64," + base64.b64encode(b"xyz").decode()
        body = s.client.post(
            "/predictions", json={"input": {"image": r.url + "/in/photo.bin", "extras": [data]}}
        ).json()
    assert body["status"] == "succeeded", body
    first, second = body["output"]
    assert first.startswith("data:")
    assert base64.b64decode(first.split(",", 1)[1]) == b"cba"
    assert base64.b64decode(second.split(",", 1)[1]) == b"xyz"
    assert "read 3 bytes" in body["logs"]
    # The per-prediction download directory is gone once the response is sent.
    downloaded = Path(body["logs"].split(" from ", 1)[1].strip())
    assert downloaded.name == "photo.bin"
    assert not downloaded.parent.parent.exists()


def test_unfetchable_file_input_fails_naming_the_field(server: Any) -> None:
    s = server("files.py:Predictor")
    with Receiver() as r:
        body = s.client.post("/predictions", json={"input": {"image": r.url + "/missing.png"}}).json()
    assert body["status"] == "failed"
    assert body["error"].startswith("input.image:")
    assert "404" in body["error"]
    r422 = s.client.post("/predictions", json={"input": {"image": "file:///etc/passwd"}})
    assert r422.status_code == 422
    assert r422.json()["detail"][0]["loc"] == ["body", "input", "image"]


def test_file_outputs_are_uploaded_with_upload_url(fresh_server: Any) -> None:
    with Receiver() as r:
        s: ServerProcess = fresh_server("files.py:Predictor", args=["--upload-url", r.url + "/up/"])
        s.wait_for("READY")
        data = "data:text/plain;base64," + base64.b64encode(b"hello").decode()
        body = s.client.post("/predictions", json={"input": {"image": data}}).json()
        assert body["status"] == "succeeded", body
        assert body["output"] == [r.url + "/up/reversed-image.txt"]
        assert r.files["/up/reversed-image.txt"] == b"olleh"


def test_async_prediction_sends_webhooks_with_auth(fresh_server: Any) -> None:
    with Receiver() as r:
        s: ServerProcess = fresh_server("stream.py:Predictor", env={"WEBHOOK_AUTH_TOKEN": "hook-token"})
        s.wait_for("READY")
        resp = s.client.post(
            "/predictions",
            json={"id": "hooked", "input": {"words": 2}, "webhook": r.url + "/hook"},
            headers={"Prefer": "respond-async"},
        )
        assert resp.status_code == 202
        poll(s, "/predictions/hooked", {"succeeded"})
        # `start` first; output/logs updates may be folded into `completed` by the throttle.
        got = r.wait_for(2)
        final = got[-1].json()
        while final["status"] != "succeeded":
            got = r.wait_for(len(got) + 1)
            final = got[-1].json()
    assert got[0].json()["status"] == "processing"
    assert final["output"] == ["w0 ", "w1 "]
    assert all(g.headers["authorization"] == "Bearer hook-token" for g in got)
    assert all(g.path == "/hook" for g in got)


def test_webhook_filter_and_completed_retry_on_500(server: Any) -> None:
    s = server("sleeper.py:Predictor")
    with Receiver(statuses=[500, 429, 200]) as r:
        s.client.post(
            "/predictions",
            json={
                "id": "retry-me",
                "input": {"seconds": 0},
                "webhook": r.url,
                "webhook_events_filter": ["completed"],
            },
            headers={"Prefer": "respond-async"},
        )
        got = r.wait_for(3)
    assert [g.json()["status"] for g in got] == ["succeeded"] * 3
    assert "authorization" not in got[0].headers


def test_prediction_failing_before_it_starts_still_sends_completed(server: Any) -> None:
    s = server("files.py:Predictor")
    with Receiver() as r:
        resp = s.client.post(
            "/predictions",
            json={"input": {"image": r.url + "/nothing.png"}, "webhook": r.url + "/hook"},
            headers={"Prefer": "respond-async"},
        )
        assert resp.status_code == 202
        hooks = r.wait_for(1)
    assert [(h.path, h.json()["status"]) for h in hooks] == [("/hook", "failed")]
    assert "404" in hooks[0].json()["error"]


def _stream_events(s: ServerProcess, inputs: dict[str, Any], on_output: Any = None) -> list[tuple[str, Any]]:
    """POST with `Accept: text/event-stream` and parse the events as they come."""
    events: list[tuple[str, Any]] = []
    with s.client.stream(
        "POST", "/predictions", json={"input": inputs}, headers={"Accept": "text/event-stream"}
    ) as r:
        assert r.status_code == 200
        buffer = ""
        for text in r.iter_text():
            buffer += text
            *blocks, buffer = buffer.split("\n\n")
            for block in blocks:
                (event,) = _sse(block)
                events.append(event)
                if on_output is not None and event[0] == "output":
                    on_output(event[1])
    return events


@pytest.mark.parametrize("predictor", ["burst.py:Predictor", "burst.py:AsyncPredictor"])
def test_a_burst_streams_every_token_once_in_order(server: Any, predictor: str) -> None:
    """Tokens yielded without pause travel in batches (worker message, runner, SSE write) and
    still come out one `output` event each, all of them, in order."""
    events = _stream_events(server(predictor), {"count": 5000})
    outputs = [v for k, v in events if k == "output"]
    assert outputs == [f"t{n}" for n in range(5000)]
    kind, final = events[-1]
    assert kind == "completed" and final["status"] == "succeeded" and final["output"] == outputs


def test_files_in_a_burst_keep_their_positions(server: Any) -> None:
    """Each item carries its own file list: files become data URIs exactly where they were
    yielded, and a batch with files in it loses nothing."""
    events = _stream_events(server("burst.py:Predictor"), {"count": 600, "file_every": 97})
    outputs = [v for k, v in events if k == "output"]
    expected = [
        "data:text/plain;base64," + base64.b64encode(f"file {n}".encode()).decode()
        if n % 97 == 0
        else f"t{n}"
        for n in range(600)
    ]
    assert outputs == expected
    assert events[-1][1]["output"] == expected


@pytest.mark.parametrize("predictor", ["burst.py:Predictor", "burst.py:AsyncPredictor"])
def test_a_lone_token_reaches_the_client_before_the_next_is_yielded(
    server: Any, predictor: str, tmp_path: Path
) -> None:
    """The predictor yields one token and waits until the client has it: a token held back to
    wait for company would leave the predictor waiting, and it would say so."""
    signal = tmp_path / "got-first"
    events = _stream_events(
        server(predictor), {"signal": str(signal)}, on_output=lambda value: signal.touch()
    )
    assert [v for k, v in events if k == "output"] == ["first", "second"]
