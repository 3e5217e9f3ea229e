"""Parsing Cog's prediction request body, and the 422 `detail` it gives for each bad field."""

from __future__ import annotations

import pytest

from cogkit.server.http_errors import RequestInvalid
from cogkit.server.prediction import REDACTED, PredictionRequest, redact


def test_full_request_is_parsed() -> None:
    req = PredictionRequest.parse(
        b'{"id": "abc", "input": {"x": 1}, "context": {"k": "v"}, "webhook": "http://127.0.0.1/h",'
        b' "webhook_events_filter": ["completed"], "output_file_prefix": "ignored"}'
    )
    assert req == PredictionRequest(
        input={"x": 1},
        id="abc",
        context={"k": "v"},
        webhook="http://127.0.0.1/h",
        webhook_events_filter=("completed",),
    )


def test_empty_body_means_empty_input_and_path_id_wins() -> None:
    req = PredictionRequest.parse(b"", path_id="from-path")
    assert req.input == {}
    assert req.id == "from-path"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b"{not json", ["body"]),
        (b"[1, 2]", ["body"]),
        (b'{"input": [1]}', ["body", "input"]),
        (b'{"id": 5}', ["body", "id"]),
        (b'{"context": {"a": 1}}', ["body", "context"]),
        (b'{"webhook": "ftp://x"}', ["body", "webhook"]),
        (b'{"webhook_events_filter": ["start", "bogus"]}', ["body", "webhook_events_filter"]),
    ],
)
def test_each_bad_field_is_named(body: bytes, loc: list[str]) -> None:
    with pytest.raises(RequestInvalid) as info:
        PredictionRequest.parse(body)
    assert [d["loc"] for d in info.value.detail] == [loc]
    assert all(d["msg"] and d["type"] for d in info.value.detail)


def test_several_bad_fields_are_all_reported() -> None:
    with pytest.raises(RequestInvalid) as info:
        PredictionRequest.parse(b'{"input": 3, "webhook": 7}')
    assert {tuple(d["loc"]) for d in info.value.detail} == {("body", "input"), ("body", "webhook")}


def test_secrets_are_redacted_in_the_echo() -> None:
    assert redact({"token": "abc", "x": 1}, frozenset({"token"})) == {"token": REDACTED, "x": 1}
    assert redact({"token": None}, frozenset({"token"})) == {"token": None}
