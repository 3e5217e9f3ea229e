"""Keep a GPU pod off nodes whose NVIDIA driver is older than the image's CUDA needs.

NVIDIA's GPU feature discovery labels each GPU node with its driver version split in three:
`nvidia.com/cuda.driver.major`, `.minor` and `.rev` (e.g. 530 / 30 / 02 for 530.30.02; newer
releases also write `cuda.driver-version.*`, older ones only these, so these reach every cluster).
Node affinity has no "greater or equal", and no way to compare a version as a whole, so
"driver ≥ M.m.r" is spelled as three alternatives (node selector terms are ORed, the expressions
inside one term ANDed):

    major > M
    major = M  and  minor > m
    major = M  and  minor = m  and  rev ≥ r

Equality is written `Gt x-1` plus `Lt x+1`, never `In [x]`: `In` compares strings, and the labels
keep the driver's own zero padding ("02", and minors like "06"), while `Gt`/`Lt` parse integers.
A node without the labels (no feature discovery, or no GPU) matches no term.
"""

from __future__ import annotations

import re
from typing import Any

from cogkit.errors import UsageError

LABEL_PREFIX = "nvidia.com/cuda.driver"
MAJOR, MINOR, REV = (f"{LABEL_PREFIX}.{part}" for part in ("major", "minor", "rev"))
GPU_RESOURCE = "nvidia.com/gpu"
_VERSION = re.compile(r"^(\d{1,6})\.(\d{1,6})(?:\.(\d{1,6}))?$")


def parse_driver(version: str) -> tuple[int, int, int]:
    """`530.30.02` → (530, 30, 2); `570.26` → (570, 26, 0)."""
    match = _VERSION.match(version.strip())
    if not match:
        raise UsageError(
            f"the image's minimum NVIDIA driver {version!r} is not MAJOR.MINOR[.REV]",
            hint="rebuild the image with cogkit, or pass --no-driver-affinity",
        )
    major, minor, rev = match.groups()
    return int(major), int(minor), int(rev or 0)


def _gt(key: str, value: int) -> dict[str, Any]:
    return {"key": key, "operator": "Gt", "values": [str(value)]}


def _equals(key: str, value: int) -> list[dict[str, Any]]:
    return [_gt(key, value - 1), {"key": key, "operator": "Lt", "values": [str(value + 1)]}]


def _at_least(key: str, value: int) -> list[dict[str, Any]]:
    return [_gt(key, value - 1)] if value > 0 else []  # ≥ 0 holds for every integer label


def driver_terms(min_driver: str) -> list[dict[str, Any]]:
    """Node selector terms that match exactly the nodes whose driver is ≥ `min_driver`."""
    major, minor, rev = parse_driver(min_driver)
    terms = [[_gt(MAJOR, major)]]
    if rev == 0:
        terms.append([*_equals(MAJOR, major), *_at_least(MINOR, minor)])
    else:
        terms.append([*_equals(MAJOR, major), _gt(MINOR, minor)])
        terms.append([*_equals(MAJOR, major), *_equals(MINOR, minor), *_at_least(REV, rev)])
    return [{"matchExpressions": expressions} for expressions in terms]


def placement(gpus: int, min_driver: str | None, *, driver_affinity: bool) -> dict[str, Any]:
    """Pod spec fields for `gpus` GPUs: the driver affinity, and a toleration of GPU node taints."""
    if gpus == 0:
        return {}
    fields: dict[str, Any] = {
        # GPU node pools are commonly tainted so that only pods asking for GPUs land there.
        "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
    }
    if min_driver and driver_affinity:
        fields["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": driver_terms(min_driver)
                }
            }
        }
    return fields
