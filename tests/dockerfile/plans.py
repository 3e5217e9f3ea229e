"""Plain helpers for the Dockerfile tests (fixtures live in conftest.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from cogkit.plan.models import BuildPlan

HERE = Path(__file__).resolve().parent
SPECS = HERE / "specs"
GOLDEN = HERE / "golden"


def cpu_plan(**overrides: Any) -> BuildPlan:
    """A hand-built plan: the renderer's contract, independent of the resolver's decisions."""
    plan = BuildPlan(
        python_version="3.11",
        gpu=False,
        cuda=None,
        cudnn=None,
        min_nvidia_driver=None,
        base_image="python:3.11-slim",
        base_kind="python-slim",
        base_has_python=True,
        index_url=None,
        extra_index_urls=(),
        find_links=(),
        requirements=(),
        local_requirement_files=(),
        system_packages=(),
        run_steps=(),
        environment=(),
        predictor="predict.py:Predictor",
        trainer=None,
        concurrency_max=None,
        image=None,
    )
    return dataclasses.replace(plan, **overrides)
