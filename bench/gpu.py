"""Build the GPU example and check, without a GPU, that the image holds a complete CUDA stack.

Usage (from the repository root, with a Docker engine; downloads several GB, so not for CI)::

    python bench/gpu.py                 # build examples/gpu-torch, check it, print and save the numbers
    python bench/gpu.py --keep          # keep the image afterwards (it is removed by default)

A slim Python base plus torch's CUDA wheels is cogkit's GPU image. That claim needs no GPU to
check: inside the built image, a script loads the CUDA runtime, cuBLAS and cuDNN shared libraries
from the nvidia-* wheels with ctypes (the dynamic loader resolves every dependency, or fails),
asks torch for its CUDA and cuDNN versions, and the image's minimum-driver label is compared with
the driver NVIDIA requires for that CUDA release. Results print as a table and are saved to
bench/results/gpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "gpu-torch"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_TIMEOUT_S = 3600
CHECK_TIMEOUT_S = 300

# Runs inside the image with the user's Python (/opt/venv). Prints one JSON line.
CHECK = r"""
import ctypes, glob, json, os, sys, sysconfig
import torch

site = sysconfig.get_paths()["purelib"]
wanted = {"cudart": "nvidia/cuda_runtime/lib/libcudart.so.*", "cublas": "nvidia/cublas/lib/libcublas.so.*",
          "cublasLt": "nvidia/cublas/lib/libcublasLt.so.*", "cudnn": "nvidia/cudnn/lib/libcudnn.so.*"}
loaded = {}
for name, pattern in wanted.items():
    paths = sorted(glob.glob(os.path.join(site, pattern)))
    if not paths:
        sys.exit(f"no {pattern} in {site}")
    ctypes.CDLL(paths[0], mode=ctypes.RTLD_GLOBAL)  # raises OSError if any dependency is missing
    loaded[name] = os.path.basename(paths[0])
version = ctypes.c_int()
cudart = ctypes.CDLL(os.path.join(site, "nvidia/cuda_runtime/lib", loaded["cudart"]))
assert cudart.cudaRuntimeGetVersion(ctypes.byref(version)) == 0
print(json.dumps({
    "torch": torch.__version__,
    "torch_cuda": torch.version.cuda,
    "cudnn": torch.backends.cudnn.version(),
    "cudart_version": version.value,
    "libraries": loaded,
    "cuda_available": torch.cuda.is_available(),
}))
"""


def build(project: Path, tag: str) -> float:
    env = {**os.environ, "NO_COLOR": "1"}
    if CA_BUNDLE.is_file():
        env["COGKIT_CA_CERT"] = str(CA_BUNDLE)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cogkit", "build", "-t", tag, "--progress", "plain"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cogkit build failed:\n{done.stderr[-4000:]}")
    return seconds


def check(client: docker.DockerClient, tag: str) -> dict[str, Any]:
    output = client.containers.run(
        tag, ["/opt/venv/bin/python", "-c", CHECK], remove=True, stderr=True, network_disabled=True
    )
    return json.loads(output.decode().strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the image")
    args = parser.parse_args()
    from cogkit.image import labels
    from cogkit.plan import compat

    client = docker.from_env(timeout=CHECK_TIMEOUT_S)
    tag = f"cogkit-bench-gpu:{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="cogkit-bench-gpu-") as tmp:
        project = Path(tmp) / "gpu-torch"
        shutil.copytree(EXAMPLE, project)
        seconds = build(project, tag)
        try:
            image = client.images.get(tag)
            plan = labels.read_json_label(image.labels, labels.PLAN) or {}
            base = client.images.get(plan.get("base_image", "python:3.11-slim"))
            found = check(client, tag)
            label = image.labels.get(labels.MIN_DRIVER)
            expected = compat.min_driver(found["torch_cuda"])
            result = {
                "build_s": round(seconds, 1),
                "image_bytes": image.attrs["Size"],
                "above_base_bytes": image.attrs["Size"] - base.attrs["Size"],
                "min_driver_label": label,
                "min_driver_for_torch_cuda": expected,
                **found,
            }
        finally:
            if not args.keep:
                client.images.remove(tag, force=True)
    out = REPO / "bench" / "results" / "gpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:28} {value}")
    if label != expected:
        print(f"MISMATCH: the image says driver {label}, torch's CUDA {found['torch_cuda']} needs {expected}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
