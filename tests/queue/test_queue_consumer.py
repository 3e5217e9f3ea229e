"""Queue mode against a real redis-server and real server replicas (`python -m cogkit.server --queue`).

Producers here are plain redis-py XADDs (as any language would send) or `cogkit.queue.Producer`.
The predictor (fixtures/work.py) records every run in a separate Redis, so tests count real runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import redis
from queue_harness import Hooks, Replica, wait_until

from cogkit.queue import Producer

STREAM = "jobs"


def xadd(queue: redis.Redis, body: dict[str, Any] | bytes) -> str:
    """What any producer does: the request JSON in the entry's `value` field."""
    return queue.xadd(STREAM, {"value": body if isinstance(body, bytes) else json.dumps(body)})


def stored(queue: redis.Redis, prediction_id: str) -> dict[str, Any] | None:
    raw = queue.get(f"{STREAM}:result:{prediction_id}")
    return None if raw is None else json.loads(raw)


def wait_result(queue: redis.Redis, prediction_id: str, timeout: float = 30) -> dict[str, Any]:
    return wait_until(
        lambda: stored(queue, prediction_id), timeout=timeout, what=f"result of {prediction_id}"
    )


def pending(queue: redis.Redis) -> int:
    return int(queue.xpending(STREAM, "cogkit")["pending"])


def runs(trace: redis.Redis, n: int) -> list[str]:
    return trace.lrange(f"runs:{n}", 0, -1)


def check_ran(result: dict[str, Any], trace: redis.Redis, n: int) -> None:
    """The stored output names a run the predictor really made."""
    assert result["status"] == "succeeded", result
    number, nonce = result["output"].split(":")
    assert int(number) == n and nonce in runs(trace, n)


def test_a_raw_xadd_runs_and_its_result_and_webhook_arrive(
    replicas: Callable[..., Replica], queue: redis.Redis, trace: redis.Redis, hooks: Hooks
) -> None:
    replica = replicas().wait_consuming()
    xadd(queue, {"id": "p5", "input": {"n": 5}, "webhook": hooks.url})
    result = wait_result(queue, "p5")
    check_ran(result, trace, 5)
    assert result["input"] == {"n": 5}
    wait_until(lambda: hooks.completed()["p5"] == 1, timeout=10, what="the completed webhook")
    assert hooks.last("p5") == result
    assert pending(queue) == 0
    schema = json.loads(queue.get(f"{STREAM}:schema"))
    assert "n" in schema["components"]["schemas"]["Input"]["properties"]
    # HTTP predictions still work beside the queue, on the same slots.
    response = httpx.post(f"{replica.url}/predictions", json={"input": {"n": 6}}, timeout=30)
    check_ran(response.json(), trace, 6)
    metrics = wait_until(
        lambda: (m := replica.metrics()).get("cogkit_queue_messages_total:completed") == 1 and m,
        timeout=10,
        what="the completed counter",
    )
    assert metrics["cogkit_queue_connected"] == 1 and metrics["cogkit_queue_held"] == 0


def test_messages_queued_before_any_replica_starts_are_kept_for_it(
    replicas: Callable[..., Replica], queue_redis: Any, queue: redis.Redis, trace: redis.Redis
) -> None:
    with Producer(queue_redis.url(STREAM)) as producer:
        ids = [producer.submit({"n": n}) for n in range(3)]
        assert producer.status(ids[0]) == {"id": ids[0], "status": "starting"}
        replicas(env={"COG_MAX_CONCURRENCY": "1"}).wait_consuming()
        for n, pid in enumerate(ids):
            result = producer.result(pid, wait=30)
            assert result is not None
            check_ran(result, trace, n)


def test_malformed_messages_are_dead_lettered_and_the_replica_carries_on(
    replicas: Callable[..., Replica], queue: redis.Redis, trace: redis.Redis
) -> None:
    replica = replicas().wait_consuming()
    bad = {
        xadd(queue, b"\xff\xfe not json"): "not valid JSON",
        queue.xadd(STREAM, {"payload": "{}"}): "no 'value' field",
        xadd(queue, b"[" * 50_000 + b"]" * 50_000): "nests deeper than",
        xadd(queue, {"input": {"n": 1}, "webhook": "file:///etc/passwd"}): "webhook",
    }
    xadd(queue, {"id": "after", "input": {"n": 2}})
    check_ran(wait_result(queue, "after"), trace, 2)
    for entry_id, reason in bad.items():
        result = wait_result(queue, entry_id)
        assert result["status"] == "failed" and reason in result["error"], result
    dead = wait_until(
        lambda: len(rows := queue.xrange(f"{STREAM}:dead")) == 4 and rows, timeout=10, what="4 dead"
    )
    by_entry = {fields["entry"]: fields for _, fields in dead}
    assert set(by_entry) == set(bad)
    for entry_id, reason in bad.items():
        assert reason in by_entry[entry_id]["error"]
    assert runs(trace, 1) == [] and pending(queue) == 0 and replica.proc.poll() is None


def test_invalid_input_is_a_failed_prediction_with_its_webhook(
    replicas: Callable[..., Replica], queue: redis.Redis, trace: redis.Redis, hooks: Hooks
) -> None:
    replicas().wait_consuming()
    xadd(queue, {"id": "bad", "input": {"n": "seven"}, "webhook": hooks.url})
    result = wait_result(queue, "bad")
    assert result["status"] == "failed"
    assert result["error"].startswith("invalid input: input.n:"), result["error"]
    wait_until(lambda: hooks.completed()["bad"] == 1, timeout=10, what="the completed webhook")
    assert queue.xlen(f"{STREAM}:dead") == 0 and pending(queue) == 0


def test_an_id_that_has_a_result_is_acknowledged_without_running(
    replicas: Callable[..., Replica], queue: redis.Redis, trace: redis.Redis
) -> None:
    replica = replicas().wait_consuming()
    xadd(queue, {"id": "once", "input": {"n": 1}})
    first = wait_result(queue, "once")
    xadd(queue, {"id": "once", "input": {"n": 2}})
    wait_until(
        lambda: replica.metrics().get("cogkit_queue_messages_total:duplicate") == 1,
        timeout=10,
        what="the duplicate to be acknowledged",
    )
    assert stored(queue, "once") == first and runs(trace, 2) == [] and pending(queue) == 0


def test_cancel_a_queued_prediction_before_it_runs(
    replicas: Callable[..., Replica], queue_redis: Any, queue: redis.Redis, trace: redis.Redis, hooks: Hooks
) -> None:
    with Producer(queue_redis.url(STREAM)) as producer:
        canceled = producer.submit({"n": 1}, webhook=hooks.url)
        kept = producer.submit({"n": 2})
        producer.cancel(canceled)
        replicas().wait_consuming()
        result = producer.result(canceled, wait=30)
        assert result is not None and result["status"] == "canceled", result
        check_ran(producer.result(kept, wait=30) or {}, trace, 2)
    assert trace.lrange("started:1", 0, -1) == []
    wait_until(lambda: hooks.completed()[canceled] == 1, timeout=10, what="the canceled webhook")


def test_cancel_a_running_prediction(
    replicas: Callable[..., Replica], queue_redis: Any, queue: redis.Redis, trace: redis.Redis
) -> None:
    replicas().wait_consuming()
    with Producer(queue_redis.url(STREAM)) as producer:
        pid = producer.submit({"n": 7, "seconds": 60})
        wait_until(lambda: trace.llen("started:7"), timeout=30, what="the prediction to start")
        assert producer.status(pid)["status"] == "processing"
        started = time.monotonic()
        producer.cancel(pid)
        result = producer.result(pid, wait=20)
    assert result is not None and result["status"] == "canceled", result
    assert time.monotonic() - started < 20 and runs(trace, 7) == [] and pending(queue) == 0


def test_a_prediction_longer_than_the_claim_idle_is_not_taken_over(
    replicas: Callable[..., Replica], queue: redis.Redis, trace: redis.Redis
) -> None:
    group = [replicas(claim_idle=1.0).wait_consuming() for _ in range(2)]
    xadd(queue, {"id": "long", "input": {"n": 4, "seconds": 4}})
    check_ran(wait_result(queue, "long"), trace, 4)
    assert trace.llen("started:4") == 1  # renewed every third of a second: never claimed
    assert all(replica.proc.poll() is None for replica in group)


def test_sigterm_finishes_what_it_holds_takes_nothing_new_and_exits(
    replicas: Callable[..., Replica], queue: redis.Redis, trace: redis.Redis
) -> None:
    first = replicas().wait_consuming()
    xadd(queue, {"id": "held", "input": {"n": 1, "seconds": 2}})
    wait_until(lambda: trace.llen("started:1"), timeout=30, what="the prediction to start")
    first.terminate()
    time.sleep(0.2)
    xadd(queue, {"id": "later", "input": {"n": 2}})
    assert first.proc.wait(timeout=20) == 0, first.log
    check_ran(wait_result(queue, "held", timeout=1), trace, 1)
    assert stored(queue, "later") is None and trace.llen("started:2") == 0
    replicas().wait_consuming()
    check_ran(wait_result(queue, "later"), trace, 2)
    assert pending(queue) == 0


def test_sigterm_past_the_grace_cancels_and_stores_canceled(
    replicas: Callable[..., Replica], queue: redis.Redis, trace: redis.Redis, hooks: Hooks
) -> None:
    replica = replicas().wait_consuming()
    xadd(queue, {"id": "long", "input": {"n": 3, "seconds": 90}, "webhook": hooks.url})
    wait_until(lambda: trace.llen("started:3"), timeout=30, what="the prediction to start")
    replica.terminate()
    replica.proc.wait(timeout=40)  # the grace (10 s) and the cancel, well within this
    result = stored(queue, "long")
    assert result is not None and result["status"] == "canceled", replica.log
    assert pending(queue) == 0 and runs(trace, 3) == []
    wait_until(lambda: hooks.completed()["long"] == 1, timeout=10, what="the canceled webhook")


def test_a_message_that_kills_its_replicas_is_dead_lettered(
    replicas: Callable[..., Replica], queue: redis.Redis, trace: redis.Redis, hooks: Hooks
) -> None:
    group = [replicas(claim_idle=1.0, max_deliveries=2).wait_consuming() for _ in range(3)]
    xadd(queue, {"id": "poison", "input": {"kill_server": True}, "webhook": hooks.url})
    for n in range(6):
        xadd(queue, {"id": f"ok{n}", "input": {"n": n, "seconds": 0.2}})
    result = wait_result(queue, "poison", timeout=60)
    assert result["status"] == "failed" and "dead-lettered after 2 deliveries" in result["error"], result
    dead = queue.xrange(f"{STREAM}:dead")
    assert len(dead) == 1 and json.loads(dead[0][1]["value"])["id"] == "poison"
    assert sum(r.proc.poll() is not None for r in group) == 2
    for n in range(6):
        check_ran(wait_result(queue, f"ok{n}"), trace, n)
    wait_until(lambda: hooks.completed()["poison"] == 1, timeout=10, what="the failed webhook")
    wait_until(lambda: pending(queue) == 0, timeout=10, what="nothing pending")


def test_lag_and_pending_are_on_metrics(
    replicas: Callable[..., Replica], queue: redis.Redis, trace: redis.Redis
) -> None:
    replica = replicas(claim_idle=1.0, env={"COG_MAX_CONCURRENCY": "2"}).wait_consuming()
    for n in range(6):
        xadd(queue, {"input": {"n": n, "seconds": 3}})
    metrics = wait_until(
        lambda: (
            (m := replica.metrics()).get("cogkit_queue_pending") == 2 and m.get("cogkit_queue_lag") == 4 and m
        ),
        timeout=10,
        what="lag 4 and pending 2",
    )
    assert metrics["cogkit_queue_held"] == 2
