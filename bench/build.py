"""Benchmark `cogkit build` and `cogkit predict` on this machine (numbers to read, not a test).

Usage (from the repository root, with a Docker engine and the python:3.11-slim stand-in)::

    python bench/build.py                      # hello-world and image-pillow
    python bench/build.py --repeat 5           # more predict timings

What it measures, on private copies of the examples (so that nothing is shared with a previous
run but the engine's BuildKit cache, which `--no-cache` bypasses):

* cold build: `cogkit build --no-cache` (every step runs again; packages still come from uv's
  cache mount, as on a developer's machine);
* rebuild after a one-line edit of predict.py, and how many layers differ from the previous image;
* image size, and how much it adds to the base image;
* `cogkit predict` wall time from command to printed answer, for the docker runtime (image
  given) and the local runtime (venv already cached), each the median of --repeat runs.

Results print as a table and are saved to bench/results/build.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "hello-world": ["-i", "text=bench"],
    "image-pillow": ["-i", "image=@in.png", "-i", "operation=blur"],
}
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BASE = "python:3.11-slim"


def cogkit(*args: str, cwd: Path) -> float:
    """Run the CLI; return its wall time in seconds. Fails loudly: a benchmark of an error is useless."""
    env = {**os.environ, "NO_COLOR": "1"}
    if CA_BUNDLE.is_file():
        env["COGKIT_CA_CERT"] = str(CA_BUNDLE)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "cogkit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"cogkit {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return seconds


def layers(client: docker.DockerClient, tag: str) -> list[str]:
    return client.images.get(tag).attrs["RootFS"]["Layers"]


def size(client: docker.DockerClient, tag: str) -> int:
    return int(client.images.get(tag).attrs["Size"])


def bench_example(
    name: str, inputs: list[str], *, work: Path, repeat: int, client: docker.DockerClient
) -> dict[str, Any]:
    project = work / name
    shutil.copytree(REPO / "examples" / name, project, ignore=shutil.ignore_patterns(".cogkit", "output*"))
    if name == "image-pillow":
        from PIL import Image

        Image.new("RGB", (64, 48), (10, 120, 200)).save(project / "in.png")
    tag = f"cogkit-bench-{name}"
    cold = cogkit("build", "-t", tag, "--no-cache", "--progress", "quiet", cwd=project)
    before = layers(client, tag)
    with (project / "predict.py").open("a") as f:
        f.write("\n# one-line edit for the rebuild benchmark\n")
    rebuild = cogkit("build", "-t", tag, "--progress", "quiet", cwd=project)
    after = layers(client, tag)
    new_layers = len([layer for layer in after if layer not in set(before)])

    docker_times = [cogkit("predict", tag, *inputs, cwd=project) for _ in range(repeat)]
    cogkit("predict", "--runtime", "local", *inputs, cwd=project)  # creates and caches the venv
    local_times = [cogkit("predict", "--runtime", "local", *inputs, cwd=project) for _ in range(repeat)]
    result = {
        "example": name,
        "cold_build_s": round(cold, 1),
        "rebuild_s": round(rebuild, 1),
        "rebuild_new_layers": new_layers,
        "image_mb": round(size(client, tag) / 1e6, 1),
        "above_base_mb": round((size(client, tag) - size(client, BASE)) / 1e6, 1),
        "predict_docker_s": round(statistics.median(docker_times), 2),
        "predict_local_s": round(statistics.median(local_times), 2),
    }
    client.images.remove(tag, force=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="predict runs per runtime (median reported)")
    parser.add_argument(
        "--only", action="append", choices=sorted(EXAMPLES), help="benchmark only this example"
    )
    args = parser.parse_args()
    client = docker.from_env()
    client.images.get(BASE)  # the stand-in from .ci/base-image must exist
    rows = []
    with tempfile.TemporaryDirectory(prefix="cogkit-bench-") as tmp:
        for name in args.only or sorted(EXAMPLES):
            rows.append(
                bench_example(name, EXAMPLES[name], work=Path(tmp), repeat=args.repeat, client=client)
            )
    base_mb = round(size(client, BASE) / 1e6, 1)
    print(f"base image {BASE}: {base_mb} MB")
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in header) + " |")
    out = REPO / "bench" / "results" / "build.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"base_mb": base_mb, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
