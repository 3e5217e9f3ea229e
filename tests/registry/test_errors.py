"""Registry answers that a local Distribution cannot be made to give (quota, size limits), served by a
tiny WSGI registry, and the one clear line each becomes at the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cogkit.cli.main import cli
from cogkit.errors import RegistryError
from cogkit.registry.blobs import BlobPusher
from cogkit.registry.transport import Transport

Start = Callable[[str, list[tuple[str, str]]], object]


def registry_app(fail: tuple[str, int, dict]) -> Callable[[dict, Start], Iterable[bytes]]:
    """A registry that accepts everything until the request method `fail[0]`, answered with `fail[1:]`."""
    method, status, body = fail

    def app(environ: dict, start: Start) -> Iterable[bytes]:
        verb, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        if verb == method:
            start(f"{status} X", [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        if verb == "HEAD":
            start("404 Not Found", [])
            return [b""]
        if verb == "POST":
            start("202 Accepted", [("Location", f"{path}upload-1"), ("Range", "0-0")])
            return [b""]
        start("200 OK", [])
        return [b""]

    return app


def errors(code: str, message: str) -> dict:
    return {"errors": [{"code": code, "message": message, "detail": None}]}


CASES = [
    (
        ("PATCH", 413, errors("SIZE_INVALID", "blob exceeds the 5 GiB layer limit")),
        "layer too large",
        "5 GiB",
    ),
    (
        ("PATCH", 403, errors("DENIED", "storage quota exceeded for project ml")),
        "quota exceeded",
        "project ml",
    ),
    (
        ("POST", 404, errors("NAME_UNKNOWN", "repository name not known to registry")),
        "repository not found",
        "not known",
    ),
    (
        ("POST", 401, errors("UNAUTHORIZED", "authentication required")),
        "unauthorized",
        "authentication required",
    ),
    (("POST", 403, errors("DENIED", "requested access to the resource is denied")), "denied", "access"),
]


@pytest.mark.parametrize(("fail", "kind", "registry_message"), CASES)
def test_registry_errors_name_the_problem(
    fail: tuple, kind: str, registry_message: str, tmp_path: Path
) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * 1000)
    transport = Transport(
        "r.example",
        "r.example",
        scopes=[],
        use_config=False,
        http_transport=httpx.WSGITransport(app=registry_app(fail)),
    )
    pusher = BlobPusher(transport, "ml/model")
    with pytest.raises(RegistryError) as info:
        pusher.push_file(f"sha256:{'0' * 64}", 1000, blob)
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith(kind) and registry_message in first_line and "r.example" in first_line


def test_cli_renders_one_line_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RegistryError("quota exceeded on r.example: storage quota exceeded", hint="free space")

    monkeypatch.setattr("cogkit.registry.push_image", refuse)
    result = CliRunner().invoke(cli, ["push", "--no-build", "r.example/ml/model:v1"])
    assert result.exit_code == 1
    assert "error: quota exceeded on r.example" in result.output
    assert "Traceback" not in result.output


def test_busy_answers_are_retried_honouring_retry_after() -> None:
    """429 with `Retry-After` (which a local Distribution never sends): retried, the wait taken from it."""
    from cogkit.registry import replies, transport

    answers = iter(
        [("429 Too Many Requests", [("Retry-After", "0")]), ("503 Busy", []), ("202 Accepted", [])]
    )

    def app(environ: dict, start: Start) -> Iterable[bytes]:
        status, headers = next(answers)
        start(status, [*headers, ("Location", "/v2/r/blobs/uploads/u1")])
        return [b""]

    client = Transport(
        "r.example", "r.example", scopes=[], use_config=False, http_transport=httpx.WSGITransport(app=app)
    )
    response = client.request("POST", "/v2/r/blobs/uploads/", ok=(202,), what="start an upload")
    assert response.status_code == 202 and client.retries == 2

    def busy(value: str) -> Exception:
        request = httpx.Request("GET", "https://r.example/v2/")
        return transport._TransientStatus(
            httpx.Response(429, headers={"Retry-After": value}, request=request)
        )

    assert transport._backoff(busy("7")) == 7.0
    assert transport._backoff(busy("86400")) == transport.MAX_RETRY_AFTER_S  # capped
    assert transport._backoff(busy("soon")) is True  # unreadable: the jittered backoff
    date = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert replies.retry_after(date) == 0.0  # a date in the past: go now
