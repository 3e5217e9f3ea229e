"""The compatibility tables (torch, TensorFlow, nvidia/cuda images, drivers), loaded once.

The data lives in `plan/data/compat.json` (see `cogkit.plan.data.regenerate`); this module
only reads it and answers questions about it. No network, and cached for the process.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from packaging.version import Version

PYTORCH_INDEX = "https://download.pytorch.org/whl"
PYTORCH_FIND_LINKS = "https://download.pytorch.org/whl/torch_stable.html"


@dataclass(frozen=True)
class TorchRelease:
    version: str
    torchvision: str | None
    torchaudio: str | None
    cuda: tuple[str, ...]  # ascending: ("11.8", "12.1")
    cpu: bool
    pythons: tuple[str, ...]  # 3.10 and newer only (the data does not list older ones)
    find_links: bool  # published on the torch_stable.html page rather than per-CUDA indexes
    pypi_cuda: str | None = None  # the CUDA variant that PyPI itself serves for Linux x86_64


@dataclass(frozen=True)
class TensorflowRelease:
    version: str
    cuda: str
    cudnn: str
    pythons: tuple[str, ...]


@dataclass(frozen=True)
class CudaImage:
    cuda: str  # full: "12.1.1"
    cudnn_major: str
    ubuntus: tuple[str, ...]


@dataclass(frozen=True)
class Tables:
    torch: tuple[TorchRelease, ...]
    tensorflow: tuple[TensorflowRelease, ...]
    cuda_images: tuple[CudaImage, ...]
    drivers: tuple[tuple[str, str], ...]  # (full CUDA version, min Linux driver), ascending


@functools.cache
def tables() -> Tables:
    text = resources.files("cogkit.plan.data").joinpath("compat.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return Tables(
        torch=tuple(
            TorchRelease(
                version=r["version"],
                torchvision=r["torchvision"],
                torchaudio=r["torchaudio"],
                cuda=tuple(r["cuda"]),
                cpu=r["cpu"],
                pythons=tuple(r["pythons"]),
                find_links=r["find_links"],
                pypi_cuda=r.get("pypi_cuda"),
            )
            for r in data["torch"]
        ),
        tensorflow=tuple(
            TensorflowRelease(r["version"], r["cuda"], r["cudnn"], tuple(r["pythons"]))
            for r in data["tensorflow"]
        ),
        cuda_images=tuple(
            CudaImage(r["cuda"], r["cudnn_major"], tuple(r["ubuntus"])) for r in data["cuda_images"]
        ),
        drivers=tuple((r["cuda"], r["min_driver"]) for r in data["drivers"]),
    )


def minor(version: str) -> str:
    """'12.1.1' -> '12.1'."""
    parts = version.split(".")
    return ".".join(parts[:2])


def index_url(cuda: str | None) -> str:
    """The PyTorch wheel index for a CUDA release ('12.1' -> …/cu121) or for CPU (None)."""
    return f"{PYTORCH_INDEX}/cpu" if cuda is None else f"{PYTORCH_INDEX}/cu{cuda.replace('.', '')}"


def local_tag(cuda: str | None) -> str:
    return "cpu" if cuda is None else "cu" + cuda.replace(".", "")


def min_driver(cuda: str) -> str | None:
    """The oldest Linux driver for `cuda`: its own row if a full version, else the GA release's."""
    rows = tables().drivers
    exact = dict(rows)
    if cuda in exact:
        return exact[cuda]
    candidates = [(Version(v), d) for v, d in rows if minor(v) == minor(cuda)]
    return min(candidates)[1] if candidates else None


def images_for(cuda: str) -> list[CudaImage]:
    """nvidia/cuda image rows for a major.minor (or full) CUDA version, newest patch first."""
    exact = [i for i in tables().cuda_images if i.cuda == cuda]
    rows = exact or [i for i in tables().cuda_images if minor(i.cuda) == minor(cuda)]
    return sorted(rows, key=lambda i: Version(i.cuda), reverse=True)


def image_cudas() -> list[str]:
    """Every major.minor CUDA that has an nvidia/cuda cuDNN image, ascending."""
    return sorted({minor(i.cuda) for i in tables().cuda_images}, key=Version)
