"""Benchmark cogkit's prediction server against Cog's own servers, side by side in one run.

Usage (from the repository root; the Cog venvs are created on first use)::

    python bench/server.py                 # every workload
    python bench/server.py --quick         # a smoke run with small counts
    python bench/server.py --workload streams --workload files --baseline main
    python bench/server.py --only cogkit --only coglet
    python bench/server.py --decompose --profile cogkit --profile-workload files
    python bench/server.py --cogkit-env COG_LOG_LEVEL=debug   # extra environment for cogkit

The same predictor files (``bench/fixtures/``) run under three servers:

* ``cogkit``: ``python -m cogkit.server`` in the dev venv (``.venv``);
* ``coglet``: ``python -m cog.server.http`` from ``cog==0.23.1`` (the Rust coglet server);
* ``cog-0.14``: ``python -m cog.server.http`` from ``cog==0.14.12`` (Cog's FastAPI server);
* with ``--baseline REF``, also ``cogkit-before``: cogkit's code at git REF, in the same venv.

The harness lives in ``bench/serverbench/`` (launch, clients, workloads, report, profiling);
this file parses the flags and runs the workloads in order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

# bench/ holds scripts named like standard modules (queue.py): import the harness as a package
# from the repository root rather than with bench/ first on sys.path.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.serverbench.clients import CLIENTS, measure_floor, percentile_us  # noqa: E402
from bench.serverbench.launch import NAMES, RESULTS, ROOT, BenchError, baseline_tree, server_kinds  # noqa: E402
from bench.serverbench.profiling import decompose, profile  # noqa: E402
from bench.serverbench.report import render, verdict  # noqa: E402
from bench.serverbench.workloads import TRIVIAL, WORKLOADS, Bench  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--only", action="append", default=[], choices=NAMES, help="run only this server (repeatable)")
    add("--workload", action="append", default=[], choices=list(WORKLOADS),
        help="run only this workload (repeatable; default: all)")  # fmt: skip
    add("--baseline", metavar="REF", help="also run cogkit as it is at this git ref (e.g. main)")
    add("--rounds", type=int, default=5, help="turns each server takes per workload")
    add("--requests", type=int, default=5000, help="sequential requests per server (latency)")
    add("--warmup", type=int, default=200, help="unrecorded requests first (latency)")
    add("--clients", type=int, default=8, help="concurrent client threads (throughput)")
    add("--concurrency", type=int, default=8, help="COG_MAX_CONCURRENCY (throughput)")
    add("--concurrent-requests", type=int, default=4000, help="requests (throughput)")
    add("--sleep-ms", type=float, default=10.0, help="the async predictor's sleep (throughput)")
    add("--overload-sleep-ms", type=float, default=100.0, help="the async predictor's sleep (overload)")
    add("--overload-seconds", type=float, default=3.0, help="seconds per turn (overload)")
    add("--refusals", type=int, default=3000, help="refused requests per server (refusals)")
    add("--stream-rounds", type=int, default=9, help="streams per server and kind (streams)")
    add("--file-mib", type=int, default=5, help="size of the file in and out (files)")
    add("--file-requests", type=int, default=6, help="sequential requests per turn (files)")
    add("--file-burst", type=int, default=3, help="requests per client per turn, 4 clients (files)")
    add("--starts", type=int, default=5, help="starts for the median time to READY")
    add("--cogkit-python", type=Path, default=ROOT / ".venv" / "bin" / "python")
    add("--cogkit-env", action="append", default=[], metavar="KEY=VALUE",
        help="extra environment for the cogkit server (repeatable)")  # fmt: skip
    add("--client", choices=sorted(CLIENTS), default="raw",
        help="raw: pre-built bytes on a socket (default); http.client: the stdlib client")  # fmt: skip
    add("--profile", action="append", default=[], choices=[*NAMES, "cogkit-before"],
        help="after the measured runs, profile this server with py-spy")  # fmt: skip
    add("--profile-workload", choices=["latency", "files", "streams"], default="latency")
    add(
        "--decompose",
        action="store_true",
        help="also time a bare ASGI and Starlette route and cogkit's worker alone",
    )
    add("--quick", action="store_true", help="small counts, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.warmup, args.concurrent_requests, args.starts = 300, 20, 400, 2
        args.rounds, args.refusals, args.stream_rounds, args.overload_seconds = 2, 300, 2, 1.0
        args.file_requests, args.file_burst = 2, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bad = [item for item in args.cogkit_env if "=" not in item]
    if bad:
        raise SystemExit(f"--cogkit-env wants KEY=VALUE, got {bad[0]!r}")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    log_dir = RESULTS / f"logs-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cogkit-bench-") as scratch:
        baseline = baseline_tree(args.baseline, Path(scratch)) if args.baseline else None
        kinds = server_kinds(args.only, args.cogkit_python, args.cogkit_env, baseline)
        load_before = os.getloadavg()
        print(f"server bench {stamp}: {os.cpu_count()} CPUs, load {load_before[0]:.2f} {load_before[1]:.2f}, "
              f"servers {', '.join(k.name for k in kinds)}", flush=True)  # fmt: skip
        floor = measure_floor(TRIVIAL, min(args.requests, 2000), args.warmup, args.client)
        bench = Bench(kinds, args, log_dir)
        for name, run in WORKLOADS.items():
            if args.workload and name not in args.workload:
                continue
            print(f"  {name} ...", flush=True)
            run(bench)
        results = list(bench.results.values())
        print(render(results))
        checks = verdict(results)
        if checks:
            print("\ntargets for cogkit:\n" + "\n".join(checks))
        floor_cpu = floor.client_cpu_ns / 1000 / max(1, len(floor.latencies_ns))
        print(f"\nclient floor (same loop, minimal asyncio responder): p50 {percentile_us(floor.latencies_ns, 50):.0f} µs, "
              f"client CPU {floor_cpu:.0f} µs/req")  # fmt: skip
        extras: list[str] = []
        try:
            extras += decompose(args) if args.decompose else []
            extras += [profile(kind, args, log_dir) for kind in kinds if kind.name in args.profile]
        except (BenchError, subprocess.SubprocessError) as e:
            extras.append(f"decompose/profile failed: {e}")
        for text in extras:
            print("\n" + text)
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    out = RESULTS / f"server-{stamp}.json"
    git = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    document = {
        "date": stamp, "git": git.stdout.strip(), "baseline": args.baseline, "cpus": os.cpu_count(),
        "platform": platform.platform(), "load_before": load_before, "load_after": load_after,
        "servers": {kind.name: " ".join(kind.command(0)) for kind in kinds},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "client_floor": {"p50_us": percentile_us(floor.latencies_ns, 50), "client_cpu_us": floor_cpu},
        "results": [asdict(r) | {"medians": {k: r.value(k) for k in r.samples}} for r in results],
        "targets": checks,
        "extras": extras,
    }  # fmt: skip
    out.write_text(json.dumps(document, indent=1))
    print(f"results: {out.relative_to(ROOT)}  logs: {log_dir.relative_to(ROOT)}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
