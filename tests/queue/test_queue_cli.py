"""`cogkit queue submit/result/cancel`, run as a user would, against a real Redis and replica."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import redis
from queue_harness import RedisServer, Replica, free_port

STREAM = "jobs"


def cogkit(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cogkit", "queue", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


def test_submit_types_inputs_with_the_published_schema_and_result_waits(
    replicas: Callable[..., Replica], queue_redis: RedisServer, trace: redis.Redis
) -> None:
    url = queue_redis.url(STREAM)
    replicas().wait_consuming()
    submitted = cogkit("submit", url, "-i", "n=3", "-i", "seconds=0.1")
    assert submitted.returncode == 0, submitted.stderr
    prediction_id = submitted.stdout.strip()
    shown = cogkit("result", url, prediction_id, "--wait", "30")
    assert shown.returncode == 0, shown.stderr
    result = json.loads(shown.stdout)
    assert result["status"] == "succeeded" and result["input"] == {"n": 3, "seconds": 0.1}
    assert result["output"].split(":")[1] in trace.lrange("runs:3", 0, -1)


def test_submit_with_json_and_an_id_then_cancel_before_it_runs(
    queue_redis: RedisServer, tmp_path: Path
) -> None:
    url = queue_redis.url(STREAM)
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"n": 4}))
    submitted = cogkit("submit", url, "--json", f"@{inputs}", "--id", "mine")
    assert (submitted.returncode, submitted.stdout) == (0, "mine\n"), submitted.stderr
    assert json.loads(cogkit("result", url, "mine", "--wait", "0.3").stdout) == {
        "id": "mine",
        "status": "starting",
    }
    assert cogkit("cancel", url, "mine").returncode == 0
    client = queue_redis.client()
    assert client.exists(f"{STREAM}:cancel:mine") == 1
    _, fields = client.xrange(STREAM)[0]
    assert json.loads(fields["value"]) == {"id": "mine", "input": {"n": 4}}


def test_user_mistakes_are_one_line_errors(
    replicas: Callable[..., Replica], queue_redis: RedisServer
) -> None:
    url = queue_redis.url(STREAM)
    replicas().wait_consuming()  # publishes the schema that submit checks inputs against
    unknown = cogkit("submit", url, "-i", "steps=3")
    assert unknown.returncode == 2 and "unknown input 'steps'" in unknown.stderr
    assert "this model's inputs are: n, seconds, kill_server" in unknown.stderr
    wrong = cogkit("submit", url, "-i", "n=three")
    assert wrong.returncode == 2 and "n='three' is not a valid integer" in wrong.stderr
    hook = cogkit("submit", url, "-i", "n=1", "--webhook", "ftp://x")
    assert hook.returncode == 2 and "must be an http(s) URL" in hook.stderr
    nowhere = cogkit("result", f"redis://u:pw-secret@127.0.0.1:{free_port()}/0?stream=s", "x")
    assert nowhere.returncode == 1 and "cannot reach Redis at redis://u:***@127.0.0.1" in nowhere.stderr
    for result in (unknown, wrong, hook, nowhere):
        assert "Traceback" not in result.stderr and "pw-secret" not in result.stderr
