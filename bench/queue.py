"""Benchmark queue mode: its latency over HTTP async, its scaling with replicas, its recovery.

Usage (from the repository root; needs `redis-server` on PATH)::

    python bench/queue.py            # the full run, a few minutes on 2 cores
    python bench/queue.py --quick    # a smoke run with small counts
    python bench/queue.py --only latency --only recovery

Everything runs on loopback: one `redis-server` (no persistence), replicas started as
`python -m cogkit.server --queue URL` from the dev venv, and a webhook receiver in this process.

* **Added latency**: one replica, a predictor that returns at once, one prediction at a time.
  HTTP async (`POST /predictions` with `Prefer: respond-async`) and the queue (`XADD`) both
  carry the same request with a `completed`-only webhook, timed from the request until the
  webhook arrives; the queue is also timed until its result is stored (the `NAME:done`
  notification a producer waits on). Sync HTTP is the floor. The modes take turns in rounds.
* **Throughput**: 1, 2 and 4 replicas drain a backlog of predictions that sleep 50 ms, with
  a synchronous predictor (one slot per replica, like most GPU models) and an async one
  (eight slots). Timed from the first XADD to the last result.
* **Recovery**: two one-slot replicas each run a 1 s prediction; one is SIGKILLed; timed
  from the kill until its prediction's result is stored by the other replica, for the
  default claim idle (15 s) and a short one (3 s).

There is no Cog counterpart: Cog removed its Redis queue worker; cogkit's own HTTP async path
is the baseline. Numbers go to stdout and `bench/results/queue-*.json`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file, named after what
# it measures like its neighbours, would shadow the standard library's `queue` (redis imports it).
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "bench" / "fixtures" / "queue"
RESULTS = ROOT / "bench" / "results"
STREAM = "bench"
START_TIMEOUT_S = 120.0
WAIT_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise SystemExit(f"bench: timed out waiting for {what}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class RedisProcess:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("bench: redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(directory), "--logfile", str(directory / "redis.log")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port, decode_responses=True)
        wait_for(self._ping, 20, "redis-server")

    def _ping(self) -> bool:
        with contextlib.suppress(redis.RedisError):
            return bool(self.client.ping())
        return False

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0?stream={STREAM}"

    def reset(self) -> None:
        self.client.flushdb()

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(timeout=15)


class Replica:
    def __init__(self, queue_url: str, log_dir: Path, *, predictor: str, claim_idle: float = 15.0) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COG_", "COGKIT_"))}
        env.update(COGKIT_QUEUE_CLAIM_IDLE=str(claim_idle), COGKIT_ECHO_MODEL_OUTPUT="0")
        self.log_path = log_dir / f"replica-{self.port}.log"
        self._log = self.log_path.open("wb")
        args = [sys.executable, "-m", "cogkit.server", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--cwd", str(FIXTURE), "--predictor", predictor, "--queue", queue_url]
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_consuming(self) -> Replica:
        def consuming() -> bool:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: a replica exited:\n{self.log_path.read_text()[-3000:]}")
            return "consuming from" in self.log_path.read_text(errors="replace")

        wait_for(consuming, START_TIMEOUT_S, f"replica {self.port}")
        return self

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


class Hooks:
    """A webhook receiver: the arrival time of each prediction's `completed` webhook."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self._cond = threading.Condition()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                now = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with hooks._cond:
                    hooks.arrivals[body["id"]] = now
                    hooks._cond.notify_all()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, prediction_id: str) -> float:
        with self._cond:
            if not self._cond.wait_for(lambda: prediction_id in self.arrivals, WAIT_TIMEOUT_S):
                raise SystemExit(f"bench: no webhook for {prediction_id}")
            return self.arrivals.pop(prediction_id)


class DoneWatcher:
    """Follows `NAME:done`: the time each result was stored."""

    def __init__(self, client: redis.Redis) -> None:
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(f"{STREAM}:done")

    def wait(self, prediction_id: str) -> float:
        deadline = time.monotonic() + WAIT_TIMEOUT_S
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=1.0)
            if message is not None and message["data"] == prediction_id:
                return time.perf_counter()
        raise SystemExit(f"bench: no result for {prediction_id}")

    def count(self, ids: set[str]) -> float:
        """Wait until every id in `ids` is stored; the time of the last."""
        left = set(ids)
        deadline = time.monotonic() + WAIT_TIMEOUT_S * 4
        while left and time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=1.0)
            if message is not None:
                left.discard(message["data"])
        if left:
            raise SystemExit(f"bench: {len(left)} results missing")
        return time.perf_counter()

    def close(self) -> None:
        self.pubsub.close()


# ---------------------------------------------------------------------------- added latency


def latency(redis_server: RedisProcess, log_dir: Path, *, count: int, rounds: int) -> dict[str, Any]:
    redis_server.reset()
    replica = Replica(redis_server.url(), log_dir, predictor="predict.py:Predictor").wait_consuming()
    hooks = Hooks()
    done = DoneWatcher(redis_server.client)
    conn = http.client.HTTPConnection("127.0.0.1", replica.port, timeout=30)

    def post(body: dict[str, Any], headers: dict[str, str]) -> None:
        conn.request(
            "POST", "/predictions", json.dumps(body), {"Content-Type": "application/json", **headers}
        )
        response = conn.getresponse()
        response.read()
        if response.status >= 300:
            raise SystemExit(f"bench: HTTP {response.status}")

    def http_sync(pid: str) -> float:
        started = time.perf_counter()
        post({"id": pid, "input": {}}, {})
        return time.perf_counter() - started

    def http_async(pid: str) -> float:
        started = time.perf_counter()
        post(
            {"id": pid, "input": {}, "webhook": hooks.url, "webhook_events_filter": ["completed"]},
            {"Prefer": "respond-async"},
        )
        return hooks.wait(pid) - started

    def queue_webhook(pid: str) -> float:
        body = {"id": pid, "input": {}, "webhook": hooks.url, "webhook_events_filter": ["completed"]}
        started = time.perf_counter()
        redis_server.client.xadd(STREAM, {"value": json.dumps(body)})
        return hooks.wait(pid) - started

    def queue_result(pid: str) -> float:
        started = time.perf_counter()
        redis_server.client.xadd(STREAM, {"value": json.dumps({"id": pid, "input": {}})})
        return done.wait(pid) - started

    modes: dict[str, Callable[[str], float]] = {
        "http sync (floor)": http_sync,
        "http async + webhook": http_async,
        "queue + webhook": queue_webhook,
        "queue + stored result": queue_result,
    }
    samples: dict[str, list[float]] = {name: [] for name in modes}
    for measure in modes.values():  # warm-up, unrecorded
        for _ in range(20):
            measure(uuid.uuid4().hex)
    order = list(modes)
    for r in range(rounds):
        for name in order[r % len(order) :] + order[: r % len(order)]:
            for _ in range(count // rounds):
                samples[name].append(measure_ms(modes[name]))
    conn.close()
    done.close()
    hooks.server.shutdown()
    replica.stop()
    table = {
        name: {"p50_ms": statistics.median(v), "p99_ms": percentile(v, 0.99), "n": len(v)}
        for name, v in samples.items()
    }
    base = table["http async + webhook"]
    for name in ("queue + webhook", "queue + stored result"):
        table[name]["added_p50_ms"] = table[name]["p50_ms"] - base["p50_ms"]
        table[name]["added_p99_ms"] = table[name]["p99_ms"] - base["p99_ms"]
    return table


def measure_ms(measure: Callable[[str], float]) -> float:
    return measure(uuid.uuid4().hex) * 1000


# ---------------------------------------------------------------------------- throughput


def throughput(
    redis_server: RedisProcess, log_dir: Path, *, replicas: int, predictor: str, per_replica: int, ms: float
) -> dict[str, Any]:
    redis_server.reset()
    group = [Replica(redis_server.url(), log_dir, predictor=predictor) for _ in range(replicas)]
    for replica in group:
        replica.wait_consuming()
    done = DoneWatcher(redis_server.client)
    total = per_replica * replicas
    ids = [uuid.uuid4().hex for _ in range(total)]
    started = time.perf_counter()
    pipe = redis_server.client.pipeline(transaction=False)
    for pid in ids:
        pipe.xadd(STREAM, {"value": json.dumps({"id": pid, "input": {"ms": ms}})})
    pipe.execute()
    finished = done.count(set(ids))
    done.close()
    for replica in group:
        replica.stop()
    seconds = finished - started
    return {"replicas": replicas, "predictions": total, "seconds": seconds, "per_second": total / seconds}


def http_throughput(
    redis_server: RedisProcess, log_dir: Path, *, predictor: str, clients: int, total: int, ms: float
) -> dict[str, Any]:
    """The same replica over HTTP: `clients` threads, one per slot, each posting sync predictions."""
    redis_server.reset()
    replica = Replica(redis_server.url(), log_dir, predictor=predictor).wait_consuming()
    body = json.dumps({"input": {"ms": ms}})
    failures: list[int] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", replica.port, timeout=60)
        for _ in range(total // clients):
            conn.request("POST", "/predictions", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    replica.stop()
    if failures:
        raise SystemExit(f"bench: {len(failures)} HTTP predictions failed: {failures[:5]}")
    done = total // clients * clients
    return {"replicas": 1, "predictions": done, "seconds": seconds, "per_second": done / seconds}


# ---------------------------------------------------------------------------- recovery


def recovery(redis_server: RedisProcess, log_dir: Path, *, claim_idle: float, trials: int) -> dict[str, Any]:
    times = []
    for _ in range(trials):
        redis_server.reset()
        group = [
            Replica(redis_server.url(), log_dir, predictor="predict.py:Predictor", claim_idle=claim_idle)
            for _ in range(2)
        ]
        for replica in group:
            replica.wait_consuming()
        done = DoneWatcher(redis_server.client)
        ids = [uuid.uuid4().hex for _ in range(2)]
        for pid in ids:
            redis_server.client.xadd(STREAM, {"value": json.dumps({"id": pid, "input": {"ms": 1000}})})
        running = wait_for(
            lambda: len(r := redis_server.client.hgetall(f"{STREAM}:running")) == 2 and r, 30, "two running"
        )
        victim_pid, consumer = next(iter(running.items()))
        victim = next(r for r in group if f"-{r.proc.pid}-" in consumer)
        victim.proc.kill()
        killed = time.perf_counter()
        stored = done.count({victim_pid})
        times.append(stored - killed)
        done.close()
        for replica in group:
            replica.stop()
    return {
        "claim_idle_s": claim_idle,
        "trials": trials,
        "seconds": times,
        "median_s": statistics.median(times),
        "prediction_s": 1.0,
    }


# ---------------------------------------------------------------------------- main


PARTS = ["latency", "throughput", "recovery"]
PREDICTORS = (
    ("1 slot (sync)", "predict.py:Predictor", 1),
    ("8 slots (async)", "predict.py:AsyncPredictor", 8),
)


def report_latency(redis_server: RedisProcess, log_dir: Path, *, count: int, rounds: int) -> dict[str, Any]:
    print(f"added latency: {count} sequential predictions per mode, {rounds} rounds")
    table = latency(redis_server, log_dir, count=count, rounds=rounds)
    for name, row in table.items():
        added = ""
        if "added_p50_ms" in row:
            added = f"  (+{row['added_p50_ms']:.2f} / +{row['added_p99_ms']:.2f} over http async)"
        print(f"  {name:24} p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms{added}")
    return table


def report_throughput(redis_server: RedisProcess, log_dir: Path, *, per_replica: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for label, predictor, slots in PREDICTORS:
        print(f"throughput, 50 ms predictions, {label} per replica:")
        http_row = http_throughput(
            redis_server, log_dir, predictor=predictor, clients=slots, total=per_replica, ms=50
        )
        print(f"  1 replica over HTTP, {slots} client(s): {http_row['per_second']:7.1f}/s")
        rows: list[dict[str, Any]] = []
        for count in (1, 2, 4):
            row = throughput(
                redis_server, log_dir, replicas=count, predictor=predictor, per_replica=per_replica, ms=50
            )
            row["speedup"] = row["per_second"] / rows[0]["per_second"] if rows else 1.0
            rows.append(row)
            print(f"  {count} replica(s) over the queue: {row['per_second']:7.1f}/s  ({row['speedup']:.2f}x)")
        results[label] = {"http": http_row, "queue": rows}
    return results


def report_recovery(redis_server: RedisProcess, log_dir: Path, *, trials: int) -> list[dict[str, Any]]:
    rows = []
    for claim_idle in (15.0, 3.0):
        row = recovery(redis_server, log_dir, claim_idle=claim_idle, trials=trials)
        rows.append(row)
        print(
            f"recovery, claim idle {claim_idle:g} s: SIGKILL to its prediction's result from the other "
            f"replica, median {row['median_s']:.2f} s (the prediction itself takes 1 s): "
            + ", ".join(f"{t:.2f}" for t in row["seconds"])
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument(
        "--only", action="append", choices=PARTS, help="run only this part (repeatable; default all)"
    )
    args = parser.parse_args()
    parts = args.only or PARTS
    latency_count, rounds, per_replica, trials = (100, 2, 24, 1) if args.quick else (1000, 5, 160, 3)
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory(prefix="cogkit-bench-queue-") as tmp:
        log_dir = Path(tmp)
        redis_server = RedisProcess(log_dir)
        try:
            if "latency" in parts:
                results["latency"] = report_latency(redis_server, log_dir, count=latency_count, rounds=rounds)
            if "throughput" in parts:
                results["throughput"] = report_throughput(redis_server, log_dir, per_replica=per_replica)
            if "recovery" in parts:
                results["recovery"] = report_recovery(redis_server, log_dir, trials=trials)
        finally:
            redis_server.stop()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"queue-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
