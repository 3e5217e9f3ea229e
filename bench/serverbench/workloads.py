"""What is measured. Each workload starts every server on one fixture, lets them take turns in
rounds (with a rotating first server, so a burst of load from elsewhere lands on all alike),
records into each server's `Result`, and stops them."""

from __future__ import annotations

import base64
import json
import random
import time
from argparse import Namespace
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .clients import (
    Call,
    ClientError,
    Refused,
    Sample,
    closed_loop,
    output_is,
    percentile_us,
    predict,
    sequential,
    stream_tokens,
)
from .launch import FIXTURES, BenchError, PeakRss, RunningServer, ServerKind
from .report import Result

MiB = 1 << 20
TRIVIAL = predict({"text": "world"})
TRIVIAL_OK = output_is("hello world")
SETTLE_S = 1.0  # before an idle reading
AFTER_BURST_S = 3.0


class Bench:
    """The servers of one run, their results, and the scaffolding every workload shares."""

    def __init__(self, kinds: list[ServerKind], args: Namespace, log_dir: Path) -> None:
        self.kinds = kinds
        self.args = args
        self.log_dir = log_dir
        self.results = {kind.name: Result(kind.name) for kind in kinds}

    @contextmanager
    def servers(
        self, fixture: str, concurrency: int, env: dict[str, str] | None = None
    ) -> Iterator[dict[str, RunningServer]]:
        """Every server that has not failed yet, started on `fixture` and READY; stopped after."""
        started: dict[str, RunningServer] = {}
        try:
            for kind in self.kinds:
                if self.results[kind.name].error:
                    continue
                server = RunningServer(kind, FIXTURES / fixture, concurrency, self.log_dir, env or {})
                started[kind.name] = server
                try:
                    server.wait_ready()
                except BenchError as e:
                    self.results[kind.name].error = str(e)
                    server.stop()
                    del started[kind.name]
            yield started
        finally:
            for server in started.values():
                server.stop()

    def rounds(
        self, servers: dict[str, RunningServer], rounds: int, turn: Callable[[RunningServer, Result], None]
    ) -> None:
        """`rounds` turns per server, round-robin with a rotating first server."""
        names = list(servers)
        for i in range(rounds):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                result = self.results[name]
                if result.error:
                    continue
                try:
                    turn(servers[name], result)
                except (BenchError, ClientError, OSError, ValueError) as e:
                    result.error = f"{type(e).__name__}: {e}"


def timed(server: RunningServer, run: Callable[[], Sample]) -> Sample:
    """`run()`, with the server tree's CPU time over it added to the sample."""
    before = server.cpu_seconds()
    sample = run()
    sample.server_cpu_s += server.cpu_seconds() - before
    return sample


def slices(total: int, rounds: int) -> list[int]:
    return [total // rounds + (1 if i < total % rounds else 0) for i in range(rounds)]


# ---------------------------------------------------------------------------- start-up and latency


def ready(bench: Bench) -> None:
    """Start and stop each server `--starts` times, interleaved so that load drift hits all alike."""
    for i in range(bench.args.starts):
        for kind in bench.kinds[i % len(bench.kinds) :] + bench.kinds[: i % len(bench.kinds)]:
            result = bench.results[kind.name]
            if result.error:
                continue
            server = RunningServer(kind, FIXTURES / "trivial", 1, bench.log_dir)
            try:
                result.record("ready_s", server.wait_ready())
            except BenchError as e:
                result.error = str(e)
            finally:
                server.stop()


def latency(bench: Bench) -> None:
    """Sequential keep-alive latency on the trivial predictor: `--requests` in `--rounds` slices."""
    args = bench.args
    merged: dict[str, Sample] = {}
    with bench.servers("trivial", 1) as servers:
        for server in servers.values():
            sequential(server.port, TRIVIAL, 0, args.warmup, client_kind=args.client)
        parts = iter(slices(args.requests, args.rounds) * len(servers))

        def turn(server: RunningServer, result: Result) -> None:
            n = next(parts)
            sample = timed(
                server, lambda: sequential(server.port, TRIVIAL, n, client_kind=args.client, check=TRIVIAL_OK)
            )
            merged.setdefault(result.server, Sample()).merge(sample)

        bench.rounds(servers, args.rounds, turn)
    for name, sample in merged.items():
        result = bench.results[name]
        result.record("p50_us", percentile_us(sample.latencies_ns, 50))
        result.record("p99_us", percentile_us(sample.latencies_ns, 99))
        result.record("cpu_us", sample.server_cpu_s * 1e6 / max(1, sample.total))
        result.count(
            "latency",
            sample.statuses | ({"wrong output": sample.wrong_output} if sample.wrong_output else {}),
        )


def memory(bench: Bench) -> None:
    """The tree's RSS when idle after READY, and after 2,000 sequential predictions."""
    with bench.servers("trivial", 1) as servers:
        time.sleep(SETTLE_S)
        for name, server in servers.items():
            bench.results[name].record("idle_mib", server.rss_bytes() / MiB)
        parts = iter(slices(2000, bench.args.rounds) * len(servers))
        bench.rounds(servers, bench.args.rounds,
                     lambda server, result: result.count("memory", sequential(server.port, TRIVIAL, next(parts)).statuses))  # fmt: skip
        time.sleep(SETTLE_S)
        for name, server in servers.items():
            bench.results[name].record("after_2000_mib", server.rss_bytes() / MiB)


# ---------------------------------------------------------------------------- many clients


def throughput(bench: Bench) -> None:
    """Requests per second from `--clients` threads against the async predictor with 8 slots."""
    args = bench.args
    merged: dict[str, Sample] = {}
    env = {"BENCH_PREDICT_SLEEP_MS": str(args.sleep_ms)}
    with bench.servers("async8", args.concurrency, env) as servers:
        parts = iter(slices(args.concurrent_requests, args.rounds) * len(servers))

        def turn(server: RunningServer, result: Result) -> None:
            n = next(parts)
            sample = timed(
                server,
                lambda: closed_loop(server.port, TRIVIAL, args.clients, total=n, client_kind=args.client),
            )
            merged.setdefault(result.server, Sample()).merge(sample)
            merged[result.server].wall_s += sample.wall_s

        bench.rounds(servers, args.rounds, turn)
    for name, sample in merged.items():
        result = bench.results[name]
        result.record("tp_rps", sample.ok / sample.wall_s if sample.wall_s else float("nan"))
        result.record("tp_p50_us", percentile_us(sample.latencies_ns, 50))
        result.record("tp_p99_us", percentile_us(sample.latencies_ns, 99))
        result.record("tp_cpu_us", sample.server_cpu_s * 1e6 / max(1, sample.total))
        result.count("throughput", sample.statuses)


def overload(bench: Bench) -> None:
    """32 and 64 closed-loop clients against 32 slots of an async predictor that sleeps
    `--overload-sleep-ms`: 2xx per second, p99 of the 2xx, and the share of 409s."""
    args = bench.args
    env = {"BENCH_PREDICT_SLEEP_MS": str(args.overload_sleep_ms)}
    with bench.servers("async32", 32, env) as servers:
        for clients in (32, 64):
            merged: dict[str, Sample] = {}

            def turn(
                server: RunningServer,
                result: Result,
                clients: int = clients,
                merged: dict[str, Sample] = merged,
            ) -> None:
                sample = closed_loop(server.port, TRIVIAL, clients, seconds=args.overload_seconds)
                merged.setdefault(result.server, Sample()).merge(sample)
                merged[result.server].wall_s += sample.wall_s

            bench.rounds(servers, args.rounds, turn)
            for name, sample in merged.items():
                result = bench.results[name]
                result.record(
                    f"ol{clients}_rps", sample.ok / sample.wall_s if sample.wall_s else float("nan")
                )
                result.record(f"ol{clients}_p99_ms", percentile_us(sample.latencies_ns, 99) / 1000)
                result.record(
                    f"ol{clients}_409_pct", 100 * sample.statuses.get("409", 0) / max(1, sample.total)
                )
                result.count("overload", {f"{clients} cl. {k}": v for k, v in sample.statuses.items()})


def refusals(bench: Bench) -> None:
    """Server CPU per 409: one slot, held by a long asynchronous prediction, while
    `--refusals` requests are refused one after another."""
    args = bench.args
    hold = Call("PUT", "/predictions/bench-hold", json.dumps({"input": {}}).encode(),
                (("Content-Type", "application/json"), ("Prefer", "respond-async")))  # fmt: skip
    with bench.servers("async32", 1, {"BENCH_PREDICT_SLEEP_MS": "600000"}) as servers:
        for name, server in servers.items():
            status = sequential(server.port, hold, 1).statuses
            if "202" not in status:
                bench.results[name].error = f"could not occupy the slot: {status}"
        time.sleep(0.5)  # every server has started the held prediction
        parts = iter(slices(args.refusals, args.rounds) * len(servers))

        def turn(server: RunningServer, result: Result) -> None:
            n = next(parts)
            sample = timed(server, lambda: sequential(server.port, TRIVIAL, n, client_kind=args.client))
            result.count("refusals", sample.statuses)
            result.record("refusal_cpu_us", sample.server_cpu_s * 1e6 / max(1, sample.total))

        bench.rounds(servers, args.rounds, turn)
        for server in servers.values():  # a canceled prediction lets the server stop at once
            sequential(server.port, Call("POST", "/predictions/bench-hold/cancel"), 1)


# ---------------------------------------------------------------------------- streams


STREAM_RETRIES = 50
STREAM_PATTERNS = {"burst": {"tokens": 2000, "pause_ms": 0}, "paced": {"tokens": 200, "pause_ms": 5}}


def streams(bench: Bench) -> None:
    """Server-sent events of `fixtures/tokens`: a 2,000-token burst and 200 tokens 5 ms apart,
    each read by a quick-ACK client and by an ordinary one (Cog 0.14 has no SSE)."""
    with bench.servers("tokens", 1) as all_servers:
        servers = {name: s for name, s in all_servers.items() if s.kind.streams}
        for server in servers.values():  # warm up each path once
            stream_tokens(
                server.port, predict({"tokens": 10}, ("Accept", "text/event-stream")), quickack=True
            )
        for pattern, inputs in STREAM_PATTERNS.items():
            call = predict(inputs, ("Accept", "text/event-stream"))
            for ack, quickack in (("ack", True), ("plain", False)):

                def turn(server: RunningServer, result: Result, call: Call = call, quickack: bool = quickack,
                         key: str = f"{pattern}_{ack}", expected: int = inputs["tokens"]) -> None:  # fmt: skip
                    for _ in range(STREAM_RETRIES):
                        try:
                            got = stream_tokens(server.port, call, quickack=quickack)
                            break
                        except Refused:
                            result.count("streams", {"409 (retried)": 1})
                            time.sleep(0.005)
                    else:
                        raise ClientError(f"{key}: {STREAM_RETRIES} answers in a row were 409")
                    if len(got.tokens) != expected or not got.completed:
                        raise ClientError(
                            f"{key}: {len(got.tokens)} of {expected} tokens, completed={got.completed}"
                        )
                    result.record(f"{key}_first_ms", got.first_token_ms)
                    result.record(f"{key}_lag_ms", got.last_token_lag_ms)
                    result.record(f"{key}_tps", got.tokens_per_s)

                bench.rounds(servers, bench.args.stream_rounds, turn)


# ---------------------------------------------------------------------------- big files


def files(bench: Bench) -> None:
    """5 MiB in and out as data URIs: p50 and server CPU per request one at a time, then the
    peak RSS of the tree while 4 clients send at once (4 slots), and its RSS after the bursts."""
    args = bench.args
    data = random.Random(10).randbytes(args.file_mib * MiB)
    call = predict({"file": "data:application/octet-stream;base64," + base64.b64encode(data).decode()})
    expected = b'"data:application/octet-stream;base64,' + base64.b64encode(data[::-1]) + b'"'

    def check(body: bytes) -> bool:
        return expected in body

    merged: dict[str, Sample] = {}
    with bench.servers("files", 4) as servers:
        time.sleep(SETTLE_S)
        for name, server in servers.items():
            bench.results[name].record("file_idle_mib", server.rss_bytes() / MiB)

        def turn(server: RunningServer, result: Result) -> None:
            sample = timed(server, lambda: sequential(server.port, call, args.file_requests, check=check))
            merged.setdefault(result.server, Sample()).merge(sample)
            with PeakRss(server) as peak:
                burst = closed_loop(server.port, call, 4, total=4 * args.file_burst, check=check)
            result.record("file_peak_mib", peak.peak / MiB)
            result.count("files", {f"burst {k}": v for k, v in burst.statuses.items()})
            if burst.wrong_output:
                result.count("files", {"burst wrong output": burst.wrong_output})

        bench.rounds(servers, args.rounds, turn)
        time.sleep(AFTER_BURST_S)
        for name, server in servers.items():
            bench.results[name].record("file_after_mib", server.rss_bytes() / MiB)
    for name, sample in merged.items():
        result = bench.results[name]
        result.record("file_p50_ms", percentile_us(sample.latencies_ns, 50) / 1000)
        result.record("file_cpu_ms", sample.server_cpu_s * 1e3 / max(1, sample.total))
        result.count(
            "files", sample.statuses | ({"wrong output": sample.wrong_output} if sample.wrong_output else {})
        )


WORKLOADS: dict[str, Callable[[Bench], None]] = {
    "ready": ready,
    "latency": latency,
    "memory": memory,
    "throughput": throughput,
    "overload": overload,
    "refusals": refusals,
    "streams": streams,
    "files": files,
}
