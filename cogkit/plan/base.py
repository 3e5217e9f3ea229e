"""Choose the base image: the smallest one that is still correct.

* CPU builds, and GPU builds whose every CUDA consumer is a wheel that bundles its CUDA
  libraries (torch >= 1.13, tensorflow[and-cuda] >= 2.15, jax[cuda12]) → `python:X.Y-slim`.
  The NVIDIA container runtime only needs `NVIDIA_VISIBLE_DEVICES`/`NVIDIA_DRIVER_CAPABILITIES`,
  which the Dockerfile template sets.
* Anything that needs the system CUDA → `nvidia/cuda:<cuda>-cudnn[8]-runtime-ubuntu22.04`.
* `-devel` only when asked (`build.base_image: cuda-devel`) or when `build.run` compiles CUDA code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import Version

from cogkit.errors import PlanError
from cogkit.plan import compat
from cogkit.spec import pythons
from cogkit.spec.models import Spec

PREFERRED_UBUNTU = "22.04"
# Signs that a build.run step compiles CUDA code and so needs nvcc and headers.
COMPILES_CUDA = re.compile(
    r"\bnvcc\b|CUDA_HOME|-DGGML_CUDA=on|-DLLAMA_CUBLAS=on|TORCH_CUDA_ARCH_LIST", re.IGNORECASE
)


@dataclass(frozen=True)
class Base:
    image: str
    kind: str  # BaseKind
    has_python: bool
    cudnn: str | None
    cuda_full: str | None  # the exact CUDA of an nvidia/cuda base, for the driver minimum
    reason: str


def slim(python_version: str) -> str:
    return f"python:{pythons.minor(python_version)}-slim"


def choose(spec: Spec, cuda: str | None, cudnn: str | None, system_cuda: bool, override: str | None) -> Base:
    choice = override or spec.build.base_image
    key = "build.base_image"
    if choice == "auto":
        if cuda is None or not system_cuda:
            why = (
                "CPU build"
                if cuda is None
                else "every CUDA consumer bundles its CUDA libraries as pip wheels"
            )
            return Base(
                slim(spec.build.python_version),
                "python-slim",
                True,
                cudnn,
                None,
                f"base: {why} → slim Python image",
            )
        devel = any(COMPILES_CUDA.search(step.command) for step in spec.build.run)
        kind = "cuda-devel" if devel else "cuda-runtime"
        why = "build.run compiles CUDA code" if devel else "a CUDA consumer needs the system CUDA libraries"
        return _cuda_image(spec, cuda, cudnn, kind, why, key)
    if choice == "slim":
        return Base(
            slim(spec.build.python_version),
            "python-slim",
            True,
            cudnn,
            None,
            "base: slim Python image, as asked",
        )
    if choice in ("cuda-runtime", "cuda-devel"):
        if cuda is None:
            raise PlanError(
                f"base image '{choice}' needs a CUDA version, but this is a CPU build",
                **spec.where(key),
                hint='set build.gpu: true (and build.cuda, e.g. "12.6"), or use base_image: slim',
            )
        return _cuda_image(spec, cuda, cudnn, choice, "as asked", key)
    has_python = "python" in choice.rsplit("/", 1)[-1].split(":", 1)[0]
    reason = (
        f"base: {choice}, as asked (" + ("has Python" if has_python else "Python is installed on top") + ")"
    )
    return Base(choice, "custom", has_python, cudnn, None, reason)


def _cuda_image(spec: Spec, cuda: str, cudnn: str | None, kind: str, why: str, key: str) -> Base:
    rows = compat.images_for(cuda)
    if not rows:
        raise PlanError(
            f"there is no nvidia/cuda image for CUDA {cuda}",
            **spec.where("build.cuda" if spec.build.cuda else key),
            hint=f"use one of {', '.join(compat.image_cudas())}, or base_image: slim if the wheels bundle CUDA",
        )
    if cudnn:
        wanted = cudnn.split(".")[0]
        matching = [r for r in rows if r.cudnn_major == wanted]
        if not matching:
            pairs = sorted({r.cudnn_major for r in rows})
            raise PlanError(
                f"CUDA {cuda} with cuDNN {cudnn} does not exist as an nvidia/cuda image",
                **spec.where("build.cudnn" if spec.build.cudnn else "build.cuda"),
                hint=f"CUDA {cuda} comes with cuDNN {', '.join(pairs)}",
            )
        rows = matching
    row = rows[0]
    ubuntu = PREFERRED_UBUNTU if PREFERRED_UBUNTU in row.ubuntus else max(row.ubuntus, key=Version)
    tag_cudnn = "cudnn8" if row.cudnn_major == "8" else "cudnn"
    flavour = "devel" if kind == "cuda-devel" else "runtime"
    image = f"nvidia/cuda:{row.cuda}-{tag_cudnn}-{flavour}-ubuntu{ubuntu}"
    return Base(image, kind, False, cudnn or row.cudnn_major, row.cuda, f"base: {why} → {image}")


def check_pair(spec: Spec) -> None:
    """An explicit cuda + cudnn must be a pair NVIDIA ships (checked whatever the base)."""
    cuda, cudnn = spec.build.cuda, spec.build.cudnn
    if not (spec.build.gpu and cuda and cudnn):
        return
    rows = compat.images_for(compat.minor(cuda))
    majors = sorted({r.cudnn_major for r in rows})
    if rows and cudnn.split(".")[0] not in majors:
        raise PlanError(
            f"CUDA {cuda} with cuDNN {cudnn} is not a pair NVIDIA ships",
            **spec.where("build.cudnn"),
            hint=f"CUDA {compat.minor(cuda)} comes with cuDNN {', '.join(majors)}",
        )
