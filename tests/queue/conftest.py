"""Fixtures for queue mode: a real redis-server per test, server replicas, a webhook receiver.

Redis missing is a failure under CI=true (`.ci/run` installs Debian's redis-server), a skip locally.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from queue_harness import Hooks, RedisServer, Replica

from tests.conftest import unavailable

STREAM = "jobs"


@pytest.fixture(scope="session")
def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed; `apt-get install redis-server` (or run `.ci/run`)")
    return binary


@pytest.fixture
def queue_redis(redis_binary: str, tmp_path: Path) -> Iterator[RedisServer]:
    """The queue's Redis: fresh for each test, so restarts and kills stay inside it."""
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _trace_server(redis_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("trace-redis"))
    yield server
    server.stop()


@pytest.fixture
def trace(_trace_server: RedisServer) -> Iterator[redis.Redis]:
    """Where the predictor records its runs (`runs:<n>`, `started:<n>`): a Redis the tests never restart."""
    client = _trace_server.client()
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def queue(queue_redis: RedisServer) -> Iterator[redis.Redis]:
    client = queue_redis.client()
    yield client
    client.close()


@pytest.fixture
def replicas(
    queue_redis: RedisServer, _trace_server: RedisServer, trace: redis.Redis, tmp_path: Path
) -> Iterator[Callable[..., Replica]]:
    """`replicas(**options)` starts one replica on the test's queue; all are killed at the end."""
    started: list[Replica] = []
    trace_url = f"redis://127.0.0.1:{_trace_server.port}/0"

    def start(*, stream: str = STREAM, url: str | None = None, **options: Any) -> Replica:
        replica = Replica(tmp_path, url or queue_redis.url(stream), trace_url=trace_url, **options)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.close()


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    receiver = Hooks()
    yield receiver
    receiver.close()
