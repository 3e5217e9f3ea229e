"""Queue mode under faults: replicas killed at random, Redis killed and restarted mid-run.

The predictor (fixtures/work.py) appends a nonce to `runs:<n>` in a separate Redis for every
run that completes; each stored result must name one of those runs, so no result is invented,
and the number of runs shows how much work was done twice.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import redis
from queue_harness import RedisServer, Replica, wait_until

from cogkit.queue import Producer

STREAM = "jobs"
SLOTS = 4  # fixtures/work.py: @concurrent(max=4)


def results(queue: redis.Redis, ids: list[str]) -> list[dict[str, Any] | None]:
    raws = queue.mget([f"{STREAM}:result:{pid}" for pid in ids])
    return [None if raw is None else json.loads(raw) for raw in raws]


def wait_all(queue: redis.Redis, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        found = results(queue, ids)
        return found if all(r is not None for r in found) else None  # type: ignore[return-value]

    def progress() -> str:
        return f"all {len(ids)} results; {sum(r is not None for r in results(queue, ids))} stored"

    try:
        return wait_until(done, timeout=timeout, what="results", every=0.2)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {progress()}") from None


def check_exactly_once(queue: redis.Redis, trace: redis.Redis, found: list[dict[str, Any]]) -> int:
    """Every result succeeded and names a real run; one result key per id, nothing pending or dead.
    Returns the number of runs beyond one per prediction."""
    for n, result in enumerate(found):
        assert result["status"] == "succeeded", result
        number, nonce = result["output"].split(":")
        assert int(number) == n and nonce in trace.lrange(f"runs:{n}", 0, -1), result
    assert sum(1 for _ in queue.scan_iter(f"{STREAM}:result:*", count=1000)) == len(found)
    wait_until(lambda: queue.xpending(STREAM, "cogkit")["pending"] == 0, timeout=10, what="nothing pending")
    group = queue.xinfo_groups(STREAM)[0]
    assert group["lag"] == 0 and group["entries-read"] == len(found)
    assert queue.xlen(f"{STREAM}:dead") == 0
    total_runs = sum(trace.llen(f"runs:{n}") for n in range(len(found)))
    return total_runs - len(found)


def test_1000_predictions_with_replicas_killed_at_random(
    replicas: Callable[..., Replica], queue_redis: RedisServer, queue: redis.Redis, trace: redis.Redis
) -> None:
    rng = random.Random(11)
    live = [replicas(claim_idle=2.0) for _ in range(3)]
    for replica in live:
        replica.wait_consuming()
    with Producer(queue_redis.url(STREAM)) as producer:
        ids = [producer.submit({"n": n, "seconds": 0.1}, prediction_id=f"p{n}") for n in range(1000)]
    killed: list[Replica] = []
    for _ in range(5):  # while work remains, kill a random replica and start a replacement
        time.sleep(rng.uniform(0.5, 1.5))
        if all(r is not None for r in results(queue, ids)):
            break
        victim = live.pop(rng.randrange(len(live)))
        victim.kill()
        killed.append(victim)
        live.append(replicas(claim_idle=2.0))
    found = wait_all(queue, ids, timeout=240)
    assert len(killed) >= 3, "the predictions finished before the replicas could be killed"
    extra = check_exactly_once(queue, trace, found)
    # Only what a killed replica was running may run twice: at most its slots, per kill.
    assert extra <= SLOTS * len(killed), extra
    for replica in killed:  # a SIGKILLed server takes its worker with it
        wait_until(
            lambda r=replica: not r.leftovers(), timeout=15, what=f"replica {replica.port}'s worker to exit"
        )


def test_redis_restarting_mid_run_loses_and_duplicates_nothing(
    replicas: Callable[..., Replica], queue_redis: RedisServer, queue: redis.Redis, trace: redis.Redis
) -> None:
    # The claim idle outlasts the outage, so no replica takes over another's work: every id must
    # run exactly once, and every result made while Redis was down must be stored after.
    group = [replicas(claim_idle=10.0).wait_consuming() for _ in range(2)]
    with Producer(queue_redis.url(STREAM)) as producer:
        ids = [producer.submit({"n": n, "seconds": 0.05}, prediction_id=f"p{n}") for n in range(200)]
    wait_until(lambda: sum(r is not None for r in results(queue, ids)) >= 40, timeout=60, what="40 results")
    queue_redis.kill()
    time.sleep(2)
    queue_redis.start()
    found = wait_all(queue, ids, timeout=120)
    assert check_exactly_once(queue, trace, found) == 0
    for replica in group:
        assert "is unreachable" in replica.log and "answers again" in replica.log, replica.log
        assert replica.proc.poll() is None
