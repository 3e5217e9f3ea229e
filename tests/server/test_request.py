"""Parsing Cog's prediction request body, and the 422 `detail` it gives for each bad field."""

from __future__ import annotations

import pytest

from cogkit.mode import Mode
from cogkit.server.http_errors import BadRequest, RequestInvalid
from cogkit.server.inputs import REDACTED, SchemaFacts
from cogkit.server.prediction import MAX_DEPTH, FinishedCache, PredictionRequest


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


def _facts() -> SchemaFacts:
    props = {
        "token": {"type": "string", "format": "password"},
        "image": {"type": "string", "format": "uri"},
        "frames": {"type": "array", "items": {"type": "string", "format": "uri"}},
        "prompt": {"type": "string"},
    }
    return SchemaFacts({"components": {"schemas": {"Input": {"properties": props}}}}, Mode.PREDICT)


def test_secrets_are_redacted_in_the_echo() -> None:
    facts = _facts()
    assert facts.echo({"token": "abc", "prompt": 1}) == {"token": REDACTED, "prompt": 1}
    assert facts.echo({"token": None}) == {"token": None}


def test_long_data_uris_are_echoed_as_their_header_and_length_only() -> None:
    facts = _facts()
    big = "data:image/png;base64," + "A" * 10_000
    small = "data:image/png;base64,iVBORw0KGgo="
    sent = {"image": big, "frames": [small, big, None], "prompt": big, "token": "t"}
    echoed = facts.echo(sent)
    assert echoed["image"] == f"data:image/png;base64,... ({len(big)} characters)"
    assert echoed["frames"] == [small, echoed["image"], None]
    assert echoed["prompt"] == big  # not a file input: echoed as sent, however long
    assert echoed["token"] == REDACTED
    assert sent["image"] == big  # the prediction's own input is untouched
    url = "https://example.com/" + "a" * 5000
    assert facts.echo({"image": url})["image"] == url  # only data URIs are shortened


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000])
def test_a_body_that_does_not_parse_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        PredictionRequest.parse(body)


def _nested(depth: int, opener: str, closer: str) -> bytes:
    return ('{"input": {"data": ' + opener * depth + '"leaf"' + closer * depth + "}}").encode()


@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ('{"k": ', "}")])
def test_input_nested_past_the_limit_is_refused_in_any_container(opener: str, closer: str) -> None:
    with pytest.raises(RequestInvalid) as info:
        PredictionRequest.parse(_nested(MAX_DEPTH + 10, opener, closer))
    assert info.value.detail[0]["loc"] == ["body", "input"]
    with pytest.raises((RequestInvalid, BadRequest)):  # past the parser's own limit: 400
        PredictionRequest.parse(_nested(5000, opener, closer))
    assert PredictionRequest.parse(_nested(MAX_DEPTH - 2, opener, closer)).input["data"]


def test_put_whose_body_names_another_id_is_refused() -> None:
    with pytest.raises(RequestInvalid, match="must match") as info:
        PredictionRequest.parse(b'{"id": "other", "input": {}}', path_id="mine")
    assert info.value.detail[0]["loc"] == ["body", "id"]
    assert PredictionRequest.parse(b'{"id": "mine", "input": {}}', path_id="mine").id == "mine"


def test_finished_cache_holds_its_byte_cap_for_the_newest_record_too() -> None:
    cache = FinishedCache(max_bytes=10_000, max_count=100)
    assert cache.add("small", b"x" * 1000)
    assert not cache.add("huge", b"x" * 20_000)  # larger than the whole cap: not kept
    assert cache.get("huge") is None and cache.get("small") is not None
    for i in range(50):
        cache.add(f"p{i}", b"y" * 1000)
        assert cache.bytes <= cache.max_bytes
    assert cache.get("small") is None  # the oldest went first
    assert cache.get("p49") is not None


def test_a_kept_prediction_holds_only_its_body() -> None:
    """Everything the record held is in the body; sealing lets go of the rest."""
    from cogkit.server.prediction import Prediction

    pred = Prediction(id="p", input={"x": "y" * 1000}, echo_input={"x": "y" * 1000}, created_at="t")
    pred.output, pred.status, pred.completed_at = ["z" * 1000], "succeeded", "t"
    pred.add_log("a log line\n", 1000)
    body = pred.seal()
    assert (pred.input, pred.echo_input, pred.output, list(pred.logs)) == ({}, {}, None, [])
    assert b"y" * 1000 in body and b"z" * 1000 in body and b"a log line" in body
    cache = FinishedCache(max_bytes=10_000)
    cache.add("p", body)
    assert cache.bytes == len(body) + len("p") + FinishedCache.OVERHEAD


@pytest.mark.anyio
async def test_big_bodies_are_spilled_to_disk_and_counted_the_same() -> None:
    import asyncio

    cache = FinishedCache(max_bytes=10_000, spill_bytes=1000)
    big, small = b"b" * 3000, b"s" * 500
    assert cache.add("big", big) and cache.add("small", small)
    assert cache.get("big") == big  # kept in memory until written
    for _ in range(1000):  # bounded: the default executor writes it
        if cache.spilled:
            break
        await asyncio.sleep(0.01)
    assert cache.spilled == 1
    folder = cache._folder
    assert folder is not None and len(list(folder.iterdir())) == 1
    assert "big" not in {p.name for p in folder.iterdir()}  # random names, never the id
    assert cache.get("big") == big and await cache.read("big") == big
    assert await cache.read("small") == small
    assert cache.bytes == 3000 + 500 + 3 + 5 + 2 * FinishedCache.OVERHEAD
    for i in range(3):  # pushes the oldest (the spilled one) out: its file goes with it
        cache.add(f"n{i}", b"n" * 2000)
        await asyncio.sleep(0)
    assert cache.get("big") is None
    assert cache.bytes <= cache.max_bytes
    await asyncio.sleep(0.2)
    assert len(list(folder.iterdir())) == cache.spilled
    cache.close()
    assert not folder.exists() and len(cache) == 0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
