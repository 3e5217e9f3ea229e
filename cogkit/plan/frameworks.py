"""What the framework rules share: the Decision they fill in, and helpers for requirement pins.

Each rule appends a sentence to `reasons`, so `cogkit debug` can say which rule picked
which version. Errors point at the requirement line (or cog.yaml key) that caused them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from cogkit.errors import PlanError
from cogkit.plan import compat
from cogkit.plan.requirements import Line

TENSORFLOW_NAMES = ("tensorflow", "tensorflow-gpu")
# JAX's pip extras bundle CUDA from nvidia-* wheels; `_local` ones expect a system CUDA.
JAX_EXTRA = re.compile(r"^cuda(?P<major>\d+)(?P<rest>_pip|_local|_cudnn\d+)?$")
JAX_DEFAULT_CUDA = {"11": "11.8", "12": "12.1", "13": "13.0"}
TF_BUNDLES_FROM = Version("2.15")
TORCH_BUNDLES_FROM = Version("1.13")


@dataclass
class Decision:
    """What the frameworks ask for; `resolve` turns it into a BuildPlan."""

    cuda: str | None = None
    cudnn: str | None = None
    consumers: list[str] = field(default_factory=list)  # frameworks that need CUDA
    system_cuda: bool = False  # some consumer needs CUDA libraries from the base image
    rewrites: dict[int, str] = field(default_factory=dict)  # index into Parsed.lines -> new text
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def where(line: Line) -> dict[str, Any]:
    s = line.source
    return {"file": s.file, "line": s.line, "column": s.column}


def error_at(line: Line, message: str, hint: str) -> PlanError:
    return PlanError(message, **where(line), hint=hint)


def exact_pin(line: Line) -> bool:
    spec = line.requirement.specifier if line.requirement else SpecifierSet()
    return any(s.operator in {"==", "==="} for s in spec)


def local_label(line: Line) -> str | None:
    text = str(line.requirement.specifier) if line.requirement else ""
    text = text or line.wheel_version or ""
    match = re.search(r"\+(cu\d+|cpu)\b", text)
    return match.group(1) if match else None


def label_cuda(label: str) -> str:
    digits = label[2:]
    return f"{digits[:-1]}.{digits[-1]}"


def pick_variant(available: tuple[str, ...], wanted: str) -> str | None:
    """`wanted` itself, else the highest variant of the same major with a lower minor."""
    want = Version(compat.minor(wanted))
    if compat.minor(wanted) in available:
        return compat.minor(wanted)
    lower = [v for v in available if Version(v).major == want.major and Version(v) < want]
    return max(lower, key=Version) if lower else None
