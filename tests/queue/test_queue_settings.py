"""Queue URLs, settings and messages: the parts that need no Redis."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cogkit.errors import UsageError
from cogkit.queue import QueueAddress, parse_queue_url
from cogkit.queue.address import redact
from cogkit.queue.messages import Entry, MessageInvalid, failed_prediction, to_request
from cogkit.queue.settings import queue_settings
from cogkit.server.config import resolve_config

FIXTURES = Path(__file__).parent / "fixtures"


def test_url_splits_into_connection_stream_and_group() -> None:
    address = parse_queue_url("redis://user:pw@cache.internal:6380/2?stream=jobs&group=gpu")
    assert address == QueueAddress("redis://user:pw@cache.internal:6380/2", "jobs", "gpu")
    assert parse_queue_url("rediss://h/0?stream=s").group == "cogkit"
    assert address.dead == "jobs:dead"
    assert address.result_key("p1") == "jobs:result:p1"
    assert address.cancel_key("p1") == "jobs:cancel:p1"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://h:6379/0?stream=s", "scheme"),
        ("redis://h:6379/0", "no stream"),
        ("redis://h:6379/0?stream=", "no stream"),
        ("redis://h:port/0?stream=s", "not a URL"),
        ("redis://h:6379/zero?stream=s", "database number"),
        ("redis://h/0?stream=s&timeout=3", "unknown parameter 'timeout'"),
        ("redis://h/0?stream=s&stream=t", "given twice"),
        ("redis://h/0?stream=a%20b", "without spaces"),
        ("redis:///0?stream=s", "no host"),
    ],
)
def test_bad_urls_get_one_line_naming_the_problem(url: str, problem: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_queue_url(url, source="--queue")
    assert problem in info.value.message
    assert info.value.message.startswith("--queue ")
    assert info.value.hint


def test_passwords_never_appear_in_errors_or_display() -> None:
    with pytest.raises(UsageError) as info:
        parse_queue_url("redis://admin:hunter2@h:6379/0?stream=s&bad=1")
    assert "hunter2" not in str(info.value)
    address = parse_queue_url("redis://admin:hunter2@h:6379/0?stream=s")
    assert "hunter2" not in address.display
    assert redact("redis://:only-password@h:1/0") == "redis://:***@h:1/0"


def test_tuning_variables_are_checked() -> None:
    settings = queue_settings(
        "redis://h/0?stream=s",
        {
            "COGKIT_QUEUE_CLAIM_IDLE": "4.5",
            "COGKIT_QUEUE_MAX_DELIVERIES": "5",
            "COGKIT_QUEUE_RESULT_TTL": "60",
        },
    )
    assert (settings.claim_idle, settings.max_deliveries, settings.result_ttl) == (4.5, 5, 60)
    assert settings.heartbeat_interval == 1.5
    for name, value in [
        ("COGKIT_QUEUE_CLAIM_IDLE", "soon"),
        ("COGKIT_QUEUE_MAX_DELIVERIES", "2.5"),
        ("COGKIT_QUEUE_RESULT_TTL", "-1"),
    ]:
        with pytest.raises(UsageError, match=name):
            queue_settings("redis://h/0?stream=s", {name: value})


def test_server_config_takes_the_flag_then_the_environment() -> None:
    env = {"COGKIT_QUEUE_URL": "redis://h/0?stream=from-env"}
    config = resolve_config(predictor="work.py:Predictor", cwd=FIXTURES, env=env)
    assert config.queue is not None and config.queue.address.stream == "from-env"
    config = resolve_config(predictor="p.py:P", cwd=FIXTURES, env=env, queue_url="redis://h/0?stream=flag")
    assert config.queue is not None and config.queue.address.stream == "flag"
    assert resolve_config(predictor="p.py:P", cwd=FIXTURES, env={}).queue is None
    with pytest.raises(UsageError, match="COGKIT_QUEUE_URL needs a predictor"):
        resolve_config(train="t.py:train", cwd=FIXTURES, env=env)


def test_a_bad_queue_url_stops_the_server_with_one_line_and_exit_2() -> None:
    server = [
        sys.executable,
        "-m",
        "cogkit.server",
        "--predictor",
        "work.py:Predictor",
        "--cwd",
        str(FIXTURES),
    ]
    out = subprocess.run(
        [*server, "--queue", "redis://me:s3cret@localhost:6379/0"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert "--queue 'redis://me:***@localhost:6379/0': no stream name" in out.stderr
    assert "s3cret" not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_server_without_a_queue_does_not_import_redis() -> None:
    code = (
        "import sys; from cogkit.server import serve as _; import cogkit.server.lifecycle; "
        "assert 'redis' not in sys.modules, 'redis was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- messages: everything in an entry is hostile --------------------------------------------------


def entry(value: bytes | None, entry_id: str = "1-0", **fields: bytes) -> Entry:
    raw = {k.encode(): v for k, v in fields.items()}
    if value is not None:
        raw[b"value"] = value
    return Entry(entry_id, raw)


def test_a_message_is_cogs_request_body_and_its_id_defaults_to_the_entry_id() -> None:
    body = {"id": "p1", "input": {"n": 1}, "webhook": "http://h/x", "webhook_events_filter": ["completed"]}
    request = to_request(entry(json.dumps(body).encode()))
    assert (request.id, request.input, request.webhook) == ("p1", {"n": 1}, "http://h/x")
    assert request.webhook_events_filter == ("completed",)
    assert to_request(entry(b'{"input": {}}', "99-3")).id == "99-3"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "no 'value' field"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper than"),
        (b'"just a string"', "must be a JSON object"),
        (b'{"input": [1, 2]}', "input"),
        (b'{"input": {}, "webhook": "file:///etc/passwd"}', "webhook"),
        (b'{"input": {}, "id": "../../x"}', "id"),
        (b'{"input": {}, "webhook_events_filter": ["everything"]}', "webhook_events_filter"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(MessageInvalid) as info:
        to_request(entry(value, "7-0"))
    assert reason in info.value.reason
    assert info.value.prediction_id == "7-0"


def test_an_invalid_request_with_a_usable_id_fails_under_that_id() -> None:
    with pytest.raises(MessageInvalid) as info:
        to_request(entry(b'{"id": "mine", "input": "nope"}', "7-0"))
    assert info.value.prediction_id == "mine"


def test_failed_predictions_have_cogs_shape_and_echo_no_input() -> None:
    body = json.loads(failed_prediction("p1", "boom"))
    assert body["status"] == "failed" and body["error"] == "boom" and body["input"] == {}
    assert set(body) == {
        "id",
        "input",
        "output",
        "logs",
        "error",
        "status",
        "created_at",
        "started_at",
        "completed_at",
        "metrics",
    }


def test_the_public_surface_resolves() -> None:
    import cogkit.queue

    for name in cogkit.queue.__all__:
        assert getattr(cogkit.queue, name) is not None
    assert sorted(cogkit.queue.__all__) == sorted(cogkit.queue._HOMES)
