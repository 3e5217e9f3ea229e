"""No credential or signed URL in a log line or a prediction's error: the helpers, the root
logging filter, and a real server's stderr while it fails downloads, webhooks and uploads."""

from __future__ import annotations

import io
import logging
import socket
import time
from typing import Any

import pytest

from cogkit.server.redact import RedactingFilter, redact_text, redact_url
from tests.server.conftest import ServerProcess
from tests.server.receiver import Receiver
from tests.server.test_api import poll

SECRETS = ("hunter2", "AKIDEXAMPLE", "deadbeefsig", "t0k3n", "s3cr3t")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:hunter2@host/a", "https://***@host/a"),
        (
            "https://b.s3.amazonaws.com/k.png?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=deadbeefsig",
            "https://b.s3.amazonaws.com/k.png?X-Amz-Credential=***&X-Amz-Signature=***",
        ),
        ("http://h:8080/x?token=t0k3n#frag", "http://h:8080/x?token=***"),
        ("http://h/x?s3cr3t", "http://h/x?***"),
        ("http://h/plain/path", "http://h/plain/path"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_finds_every_url_in_a_sentence() -> None:
    text = "GET 'https://u:hunter2@a/x?sig=deadbeefsig' then http://b/y?token=t0k3n failed"
    clean = redact_text(text)
    assert clean.endswith("http://b/y?token=*** failed")
    assert redact_text("see http://h/x?token=t0k3n.") == "see http://h/x?token=***."
    assert not any(secret in clean for secret in SECRETS)
    assert "https://***@a/x?sig=***" in clean and "http://b/y?token=***" in clean
    assert redact_text("no links here") == "no links here"


def test_the_filter_cleans_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("cogkit.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("webhook %s failed", "http://x:hunter2@h/p?token=t0k3n")
        try:
            raise ValueError("cannot open https://h/f?X-Amz-Signature=deadbeefsig")
        except ValueError:
            logger.exception("download of %s", "https://h/f?sig=deadbeefsig")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert not any(secret in out for secret in SECRETS), out
    assert "http://***@h/p?token=***" in out
    assert "ValueError: cannot open https://h/f?X-Amz-Signature=***" in out


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_in_log(server: ServerProcess, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log:
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{server.log}"
        time.sleep(0.05)


def test_a_real_servers_stderr_and_errors_carry_no_secret(fresh_server: Any) -> None:
    with Receiver(statuses=[500]) as r:
        upload = f"{r.url}/up/?sig=deadbeefsig"
        s: ServerProcess = fresh_server(
            "files.py:Predictor",
            args=["--upload-url", upload, "--webhook-attempts", "2"],
            env={"PYTHONWARNINGS": "default"},
        )
        s.wait_for("READY")
        signed = f"http://user:hunter2@127.0.0.1:{r.port}/in/cat.png?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=deadbeefsig"
        failed_download = s.client.post("/predictions", json={"input": {"image": signed}}).json()
        hook = f"http://hook:s3cr3t@127.0.0.1:{r.port}/hook?token=t0k3n"
        nowhere = f"http://u:hunter2@no-such-host.invalid:{_dead_port()}/h?token=t0k3n"
        for n, url in enumerate((hook, nowhere)):
            s.client.post(
                "/predictions",
                json={
                    "id": f"h{n}",
                    "input": {"image": "data:,x"},
                    "webhook": url,
                    "webhook_events_filter": ["completed"],
                },
                headers={"Prefer": "respond-async"},
            )
            poll(s, f"/predictions/h{n}", {"failed", "succeeded"})
        _wait_in_log(s, "gave up on the completed webhook to http://***@no-such-host.invalid")
        _wait_in_log(s, "gave up on the completed webhook to http://***@127.0.0.1")
        failed_upload = s.client.post("/predictions", json={"input": {"image": "data:,z"}}).json()
    assert failed_download["status"] == "failed" and "404" in failed_download["error"]
    assert "http://***@127.0.0.1" in failed_download["error"]
    assert failed_upload["status"] == "failed" and "sig=***" in failed_upload["error"]
    log = s.log
    assert "/hook?token=***" in log
    for secret in SECRETS:
        assert secret not in log, f"{secret} in the server's stderr:\n{log}"
        assert secret not in failed_download["error"] + failed_upload["error"]
