"""The worker round trip without HTTP, for this tree and, optionally, a baseline git ref in turns.

    python bench/worker.py                        # this tree
    python bench/worker.py --baseline main        # this tree against main, taking turns
    python bench/worker.py --rounds 8 --requests 3000

Two workloads, each run through `fixtures/probes/worker_roundtrip.py` (`WorkerClient.predict`):

* `trivial`: one short string in and out, the server's hot path (`fixtures/trivial`);
* `stream`: an iterator of 1,000 small chunks per prediction (`fixtures/stream`).

For each it prints the median over rounds of the p50 and p99 latency and of the CPU time per
prediction of the client (the server's side) and of the worker child. CPU time moves much less
than latency when other jobs load the machine. A JSON copy goes to `bench/results/`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PROBE = BENCH / "fixtures" / "probes" / "worker_roundtrip.py"
WORKLOADS = {
    "trivial": (BENCH / "fixtures" / "trivial", {"text": "world"}, 1.0),
    "stream": (BENCH / "fixtures" / "stream", {"chunks": 1000}, 0.1),  # 1/10 the predictions
}


def baseline_tree(ref: str, into: Path) -> Path:
    """`cogkit/` as it is at git `ref`, extracted under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "cogkit"], capture_output=True, check=True
    ).stdout
    target = into / ref.replace("/", "_")
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target)
    return target


def probe(tree: Path, workload: str, requests: int, warmup: int, scratch: Path) -> dict:
    fixture, inputs, share = WORKLOADS[workload]
    count = max(10, int(requests * share))
    env = {**os.environ, "PYTHONPATH": str(tree), "COGKIT_ECHO_MODEL_OUTPUT": "0"}
    got = subprocess.run(
        [sys.executable, str(PROBE), str(fixture), str(count), str(max(1, int(warmup * share))), json.dumps(inputs)],
        capture_output=True, text=True, timeout=600, env=env, cwd=scratch,
    )  # fmt: skip
    if got.returncode != 0:
        raise SystemExit(f"the probe failed for {tree}:\n{got.stderr[-2000:]}")
    report = json.loads(got.stdout.strip().splitlines()[-1])
    latencies = sorted(report["latencies_ns"])
    return {
        "p50_us": latencies[len(latencies) // 2] / 1000,
        "p99_us": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000,
        "client_cpu_us": report.get("client_cpu_s", 0.0) / count * 1e6,
        "worker_cpu_us": report.get("worker_cpu_s", 0.0) / count * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="a git ref to compare with (e.g. main)")
    parser.add_argument("--rounds", type=int, default=5, help="turns each tree takes per workload")
    parser.add_argument("--requests", type=int, default=3000, help="predictions per trivial round")
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cogkit-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        trees = {"this tree": ROOT}
        if args.baseline:
            trees[args.baseline] = baseline_tree(args.baseline, scratch)
        samples: dict[str, dict[str, list[dict]]] = {w: {name: [] for name in trees} for w in WORKLOADS}
        for round_ in range(args.rounds):
            for workload in WORKLOADS:
                order = list(trees.items())
                for name, tree in order[round_ % len(order) :] + order[: round_ % len(order)]:
                    samples[workload][name].append(probe(tree, workload, args.requests, args.warmup, scratch))
    medians = {
        workload: {
            name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
            for name, runs in by_tree.items()
        }
        for workload, by_tree in samples.items()
    }
    print(
        f"{'workload':<9} {'tree':<12} {'p50 µs':>8} {'p99 µs':>8} {'client CPU µs':>14} {'worker CPU µs':>14}"
    )
    for workload, by_tree in medians.items():
        for name, m in by_tree.items():
            print(f"{workload:<9} {name:<12} {m['p50_us']:8.1f} {m['p99_us']:8.1f} "
                  f"{m['client_cpu_us']:14.1f} {m['worker_cpu_us']:14.1f}")  # fmt: skip
    print("(medians over rounds; per prediction; a stream prediction is 1,000 chunks)")
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    out = results / f"worker-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "medians": medians, "samples": samples}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
