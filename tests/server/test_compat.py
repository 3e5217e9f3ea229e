"""Where Cog's coglet 0.23.1 is the reference: its status codes and shapes, checked against a
real server. Each behaviour was observed on coglet first (see issue 8, §5)."""

from __future__ import annotations

import json
from typing import Any

from tests.server.conftest import ServerProcess
from tests.server.receiver import Receiver
from tests.server.test_api import HELLO, poll


def test_cancel_of_an_unknown_or_finished_prediction_is_404(server: Any) -> None:
    c = server(HELLO).client
    assert c.post("/predictions/never-was/cancel").status_code == 404
    assert c.put("/predictions/done-already", json={"input": {"text": "x"}}).json()["status"] == "succeeded"
    r = c.post("/predictions/done-already/cancel")
    assert r.status_code == 404
    assert c.get("/predictions/done-already").json()["status"] == "succeeded"


def test_put_whose_body_names_another_id_is_422(server: Any) -> None:
    r = server(HELLO).client.put("/predictions/abc", json={"id": "xyz", "input": {"text": "x"}})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "id"]


def test_an_iterator_that_yields_nothing_has_output_empty_list(server: Any) -> None:
    s = server("stream.py:Predictor")
    assert s.client.post("/predictions", json={"input": {"words": 0}}).json()["output"] == []
    with s.client.stream(
        "POST", "/predictions", json={"input": {"words": 0}}, headers={"Accept": "text/event-stream"}
    ) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert json.loads(lines[-1].removeprefix("data: "))["output"] == []


def test_the_first_intermediate_webhook_goes_out_before_completed(server: Any) -> None:
    """Three items 0.2 s apart with the default filter: at least one output/logs webhook
    arrives before `completed` (coglet sends them; the throttle applies to later ones)."""
    s = server("ticker.py:Predictor")
    with Receiver() as r:
        s.client.post(
            "/predictions",
            json={"id": "steps", "input": {"words": 3, "gap": 0.2}, "webhook": r.url},
            headers={"Prefer": "respond-async"},
        )
        poll(s, "/predictions/steps", {"succeeded"})
        got = r.wait_for(1)
        while got[-1].json()["status"] != "succeeded":
            got = r.wait_for(len(got) + 1)
    statuses = [g.json()["status"] for g in got]
    assert statuses[0] == "processing"  # `start`
    intermediate = [g.json() for g in got[1:-1]]
    assert intermediate, f"no output/logs webhook before completed: {statuses}"
    # The first went out at once (before the second item, 0.2 s later), not after 0.5 s. It carries
    # the first item or the first log line, whichever reached the server first: the model's
    # prints travel through its output pipes, its yields straight over the socket.
    first = intermediate[0]
    assert first["output"] in (None, ["w0 "]) and first["logs"] in ("", "tick 0\n"), first
    assert first["output"] or first["logs"], first
    assert got[-1].json()["output"] == ["w0 ", "w1 ", "w2 "]


def test_after_sys_exit_every_following_prediction_succeeds(fresh_server: Any) -> None:
    """The worker restarts after sys.exit(); no request in the meantime fails: it waits for
    the new worker's setup, and health does not say READY before that."""
    s: ServerProcess = fresh_server("crash.py:Predictor")
    s.wait_for("READY")
    for _ in range(3):
        died = s.client.post("/predictions", json={"input": {"kind": "exit"}}).json()
        assert died["status"] == "failed" and "sys.exit(3)" in died["error"]
        bodies = [s.client.post("/predictions", json={"input": {"kind": "none"}}).json() for _ in range(5)]
        assert [b["status"] for b in bodies] == ["succeeded"] * 5, bodies
