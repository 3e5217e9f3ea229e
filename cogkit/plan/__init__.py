"""Spec → BuildPlan: the CUDA-aware decisions, made once by one pure function.

plan = resolve(load_spec())
plan.cuda, plan.base_image, plan.extra_index_urls, plan.reasons
"""

from __future__ import annotations

from cogkit.plan.models import BaseKind, BuildPlan, RunStep, SecretMount
from cogkit.plan.resolve import DEFAULT_GPU_CUDA, resolve

__all__ = ["DEFAULT_GPU_CUDA", "BaseKind", "BuildPlan", "RunStep", "SecretMount", "resolve"]
