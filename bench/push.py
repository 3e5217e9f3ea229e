"""Push benchmark: cogkit's native push against `docker push`, side by side, on one local registry.

    python bench/push.py              # ~600 MB image: 5 random 110 MB layers + a code layer
    python bench/push.py --layer-mb 20 --layers 2   # a quick smoke run

Both clients push through the same counting TCP proxy in front of one CNCF Distribution
(`docker-registry`) on 127.0.0.1, so "bytes uploaded" is measured on the wire, registry side.
Runs: cold push of v1 (cogkit starts with an empty blob cache), then a one-line code edit (v2)
pushed by each. Then examples/hello-world is built by cogkit with `--no-cache`, pushed by each,
edited by one line, built with `--no-cache` again and pushed again: the engine's layers all differ
between such builds (their files carry the build's time), so `docker push` sends every layer
cogkit's Dockerfile made, while cogkit push sends their reproducible form, and only the changed
one. Not a test: prints tables and writes bench/results/push.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docker  # noqa: E402

from cogkit.registry import BlobCache, push_image  # noqa: E402
from tests.registry.servers import Proxy, Registry  # noqa: E402

PREFIX = "cogkitpush-bench"
BASE = "python:3.11-slim"
HELLO = REPO / "examples" / "hello-world"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def build(context: Path, tag: str) -> None:
    env = os.environ | {"DOCKER_BUILDKIT": "1"}
    subprocess.run(
        ["/usr/bin/docker", "build", "-q", "-t", tag, str(context)], env=env, check=True, timeout=1800
    )


def make_images(context: Path, layers: int, layer_mb: int, base: str) -> tuple[str, str]:
    lines = [f"FROM {base}"]
    for i in range(layers):
        with (context / f"w{i}.bin").open("wb") as out:
            for _ in range(layer_mb):
                out.write(os.urandom(1 << 20))
        lines.append(f"COPY w{i}.bin /weights/")
    lines.append("COPY predict.py /src/")
    (context / "Dockerfile").write_text("\n".join(lines) + "\n")
    (context / "predict.py").write_text("print('v1')\n")
    build(context, f"{PREFIX}:v1")
    (context / "predict.py").write_text("print('v2')\n")
    build(context, f"{PREFIX}:v2")
    return f"{PREFIX}:v1", f"{PREFIX}:v2"


def docker_push(client: docker.DockerClient, local: str, target: str) -> None:
    repository, tag = target.rsplit(":", 1)
    client.images.get(local).tag(repository, tag)
    try:
        for event in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise RuntimeError(event["error"])
    finally:
        client.images.remove(target)


def rebuild_after_edit(client: docker.DockerClient, proxy: Proxy, root: Path) -> dict[str, dict[str, float]]:
    """`cogkit build --no-cache`, push; a one-line edit, `--no-cache` again, push: bytes and layers sent."""
    from cogkit.image.build import build_project

    project = root / "hello"
    shutil.copytree(HELLO, project)
    ca = CA_BUNDLE if CA_BUNDLE.is_file() else None
    cache = BlobCache(root / "rebuild-cache")
    results: dict[str, dict[str, float]] = {}
    try:
        for label, text in (("v1", "hello "), ("v2", "hello again ")):
            predict = project / "predict.py"
            predict.write_text(predict.read_text().replace('"hello " + text', f'"{text}" + text'))
            tag = f"{PREFIX}-hello:{label}"
            started = time.perf_counter()
            build_project(project / "cog.yaml", tag=tag, no_cache=True, ca_cert=ca)
            built_s = time.perf_counter() - started
            d_s, d_b = measure(
                proxy, lambda t=tag, v=label: docker_push(client, t, f"{proxy.host}/bench/hello-docker:{v}")
            )
            pushed: list[object] = []
            c_s, c_b = measure(
                proxy,
                lambda t=tag, v=label, into=pushed: into.append(
                    push_image(
                        f"{proxy.host}/bench/hello-cogkit:{v}",
                        source=t,
                        cache=cache,
                        client=client,
                        show_progress=False,
                    )
                ),
            )
            layers = len(client.images.get(tag).attrs["RootFS"]["Layers"])
            results[f"--no-cache {label}"] = {
                "build_s": built_s,
                "layers": layers,
                "docker_s": d_s,
                "docker_bytes": d_b,
                "cogkit_s": c_s,
                "cogkit_bytes": c_b,
                "cogkit_layers_uploaded": pushed[0].uploaded,  # type: ignore[attr-defined]
            }
    finally:
        for label in ("v1", "v2"):
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(f"{PREFIX}-hello:{label}", force=True)
    return results


def measure(proxy: Proxy, run: Callable[[], object]) -> tuple[float, int]:
    proxy.reset()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started, proxy.sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--layer-mb", type=int, default=110)
    args = parser.parse_args()
    client = docker.from_env(timeout=1800)
    try:
        client.images.get(BASE)
        base = BASE
    except docker.errors.ImageNotFound:
        sys.exit(f"{BASE} is missing: build the stand-in with .ci/base-image first")
    with tempfile.TemporaryDirectory(prefix="cogkit-bench-push-") as tmp:
        root = Path(tmp)
        (root / "ctx").mkdir()
        v1, v2 = make_images(root / "ctx", args.layers, args.layer_mb, base)
        size = client.images.get(v1).attrs["Size"]
        (root / "registry").mkdir()
        registry = Registry(root / "registry").start()
        proxy = Proxy(registry.port)
        cache = BlobCache(root / "cache")
        export_cache = BlobCache(root / "export-cache")
        host = proxy.host
        results: dict[str, dict[str, float]] = {}
        try:
            for name, image in (("cold", v1), ("code edit", v2)):
                tag = "v1" if image == v1 else "v2"
                d_s, d_b = measure(
                    proxy, lambda i=image, t=tag: docker_push(client, i, f"{host}/bench/docker:{t}")
                )
                c_s, c_b = measure(
                    proxy,
                    lambda i=image, t=tag: push_image(
                        f"{host}/bench/cogkit:{t}", source=i, cache=cache, client=client, show_progress=False
                    ),
                )
                os.environ["COGKIT_NO_LAYER_STORE"] = "1"  # what a user without access to the store gets
                try:
                    e_s, e_b = measure(
                        proxy,
                        lambda i=image, t=tag: push_image(
                            f"{host}/bench/export:{t}",
                            source=i,
                            cache=export_cache,
                            client=client,
                            show_progress=False,
                        ),
                    )
                finally:
                    del os.environ["COGKIT_NO_LAYER_STORE"]
                results[name] = {
                    "docker_s": d_s,
                    "docker_bytes": d_b,
                    "cogkit_s": c_s,
                    "cogkit_bytes": c_b,
                    "cogkit_export_s": e_s,
                    "cogkit_export_bytes": e_b,
                }
            rebuilt = rebuild_after_edit(
                client, proxy, root
            )  # after: its base layer must not help the cold run
        finally:
            proxy.stop()
            registry.stop()
            for tag in (v1, v2):
                client.images.remove(tag, force=True)
    print(
        f"image: {size / 1e6:.0f} MB, {args.layers} random layers of {args.layer_mb} MB + a code layer, base {base}"
    )
    columns = {"docker push": "docker", "cogkit push": "cogkit", "cogkit (export path)": "cogkit_export"}
    print(f"{'run':<10}" + "".join(f"{title:>26}" for title in columns))
    for name, r in results.items():
        cells = [f"{r[f'{key}_s']:.2f}s {r[f'{key}_bytes'] / 1e6:.2f} MB" for key in columns.values()]
        print(f"{name:<10}" + "".join(f"{cell:>26}" for cell in cells))
    print("\nexamples/hello-world, each version built with --no-cache (v2: a one-line edit of predict.py)")
    print(f"{'run':<14}{'layers':>8}{'docker push':>24}{'cogkit push':>24}{'layers sent':>13}")
    for name, r in rebuilt.items():
        print(
            f"{name:<14}{r['layers']:>8}{r['docker_s']:>14.2f}s {r['docker_bytes'] / 1e6:>6.2f} MB"
            f"{r['cogkit_s']:>14.2f}s {r['cogkit_bytes'] / 1e6:>6.3f} MB{r['cogkit_layers_uploaded']:>13}"
        )
    cold = results["cold"]
    rates = ", ".join(f"{key} {size / cold[f'{key}_s'] / 1e6:.0f} MB/s" for key in columns.values())
    print(f"cold throughput: {rates}")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "push.json").write_text(
        json.dumps({"image_bytes": size, "runs": results, "rebuild_after_edit": rebuilt}, indent=2)
    )


if __name__ == "__main__":
    main()
