"""The build plan: everything the Dockerfile renderer needs, decided once and frozen.

The plan is the contract between `cogkit.plan.resolve` (which decides) and
`cogkit.dockerfile.render` (which only renders). Nothing downstream re-reads cog.yaml.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

BaseKind = Literal["python-slim", "cuda-runtime", "cuda-devel", "custom"]


@dataclass(frozen=True)
class SecretMount:
    id: str
    target: str


@dataclass(frozen=True)
class RunStep:
    command: str
    secrets: tuple[SecretMount, ...] = ()


@dataclass(frozen=True)
class BuildPlan:
    # Interpreter and accelerator stack.
    python_version: str  # "3.11" (minor) or "3.11.9" (patch) as the user asked
    gpu: bool
    cuda: str | None  # "12.1": the CUDA the framework wheels were built for
    cudnn: str | None  # "8.9" / "9": the cuDNN that goes with it
    min_nvidia_driver: str | None  # "530.30.02": the oldest Linux driver that runs `cuda`

    # Base image.
    base_image: str  # "python:3.11-slim", "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04", …
    base_kind: BaseKind
    base_has_python: bool  # False for nvidia/cuda bases: the template installs python_version

    # Python packages.
    index_url: str | None  # replaces PyPI when the user gave --index-url
    extra_index_urls: tuple[str, ...]  # e.g. ("https://download.pytorch.org/whl/cu121",)
    find_links: tuple[str, ...]
    requirements: tuple[str, ...]  # requirement lines, index options removed, torch variants rewritten
    local_requirement_files: tuple[str, ...]  # project-relative wheels/dirs the requirements point at

    # System and build steps.
    system_packages: tuple[str, ...]
    run_steps: tuple[RunStep, ...]
    environment: tuple[tuple[str, str], ...]  # user `environment:` entries, in order

    # Runtime.
    predictor: str | None  # "predict.py:Predictor"
    trainer: str | None
    concurrency_max: int | None  # None when cog.yaml does not set concurrency.max
    image: str | None  # the `image:` key

    # Deprecated `build.pre_install` commands: Cog ran them before the Python packages.
    pre_install: tuple[RunStep, ...] = ()
    # Why each decision was made, in the order they were made ("torch==2.1.0 pinned → CUDA 12.1 (highest variant)").
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # The resolved cog.yaml, as Cog's `run.cog.config` label carries it.
    cog_config: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The shape `cogkit debug --json` prints and the `run.cogkit.plan` label carries."""
        data = asdict(self)
        for key in ("run_steps", "pre_install"):
            data[key] = [
                {"command": step.command, "secrets": [asdict(s) for s in step.secrets]}
                for step in getattr(self, key)
            ]
        data["environment"] = dict(self.environment)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data
