"""The driver affinity admits exactly the nodes whose driver is ≥ the image's minimum.

`node_matches` evaluates node affinity the way the scheduler does (k8s.io/apimachinery's label
requirements): terms are ORed, expressions ANDed; `Gt`/`Lt` need the label present and both sides
parsing as base-10 int64 (Go's strconv.ParseInt: optional sign, leading zeros fine, nothing else);
`In` compares strings.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from cogkit.deploy import gpu
from cogkit.errors import UsageError
from tests.deploy.conftest import applied, by_kind, facts, rendered

INT64 = re.compile(r"^[+-]?[0-9]+$")


def _go_int(text: str) -> int | None:
    if not INT64.match(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def _expression_matches(expression: dict[str, Any], labels: dict[str, str]) -> bool:
    key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
    if operator == "In":
        return key in labels and labels[key] in values
    if operator in ("Gt", "Lt"):
        if key not in labels:
            return False
        have, want = _go_int(labels[key]), _go_int(values[0])
        if have is None or want is None:
            return False
        return have > want if operator == "Gt" else have < want
    raise AssertionError(f"the driver affinity should not use {operator}")


def node_matches(terms: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    return any(all(_expression_matches(e, labels) for e in term["matchExpressions"]) for term in terms)


def gfd_labels(driver: str) -> dict[str, str]:
    """What GPU feature discovery writes for a driver version string (split on dots, kept as text)."""
    parts = driver.split(".")
    return {gpu.MAJOR: parts[0], gpu.MINOR: parts[1], gpu.REV: parts[2] if len(parts) > 2 else ""}


def as_tuple(driver: str) -> tuple[int, int, int]:
    major, minor, *rev = (int(p) for p in driver.split("."))
    return major, minor, rev[0] if rev else 0


@pytest.mark.parametrize(
    ("minimum", "node", "admitted"),
    [
        ("530.30.02", "529.99.99", False),
        ("530.30.02", "530.29.99", False),
        ("530.30.02", "530.30.01", False),
        ("530.30.02", "530.30", False),  # no revision is below any revision
        ("530.30.02", "530.30.02", True),
        ("530.30.02", "530.30.2", True),
        ("530.30.02", "530.30.10", True),
        ("530.30.02", "530.31", True),
        ("530.30.02", "530.100.01", True),  # integers, not strings: "100" < "30" as text
        ("530.30.02", "531.00.00", True),
        ("530.30.02", "1000.1.1", True),  # "1000" < "530" as text
        ("570.26", "570.26", True),
        ("570.26", "570.26.00", True),
        ("570.26", "570.25.99", False),
        ("570.26", "570.124.06", True),
        ("455.06", "455.06", True),  # zero-padded minors: equality through Gt/Lt, not In
        ("455.06", "455.6", True),
        ("455.06", "455.05.99", False),
        ("455.06.01", "455.06.01", True),
        ("455.06.01", "455.06", False),
        ("450.0", "450.0", True),
        ("450.0", "449.999.999", False),
    ],
)
def test_boundaries(minimum: str, node: str, admitted: bool) -> None:
    assert node_matches(gpu.driver_terms(minimum), gfd_labels(node)) is admitted


def test_agrees_with_version_order_on_a_grid() -> None:
    values = ("0", "1", "9", "10", "29", "30", "31", "99", "100")
    minimums = ["30.30.30", "30.30", "30.0", "1.9.10", "10.0.1"]
    for minimum in minimums:
        terms = gpu.driver_terms(minimum)
        for major, minor in itertools.product(("1", "10", "29", "30", "31", "100"), (*values, "09", "030")):
            for rev in (*values, "", "01", "030"):
                node = f"{major}.{minor}" + (f".{rev}" if rev else "")
                labels = gfd_labels(node)
                expected = as_tuple(node) >= as_tuple(minimum)
                assert node_matches(terms, labels) is expected, (minimum, node)


def test_nodes_without_or_with_broken_labels_are_refused() -> None:
    terms = gpu.driver_terms("530.30.02")
    assert not node_matches(terms, {})
    assert not node_matches(terms, {"kubernetes.io/os": "linux"})
    assert not node_matches(terms, {gpu.MAJOR: "abc", gpu.MINOR: "30", gpu.REV: "02"})
    assert not node_matches(terms, {gpu.MAJOR: "530", gpu.MINOR: " 30", gpu.REV: "02"})


@pytest.mark.parametrize("bad", [" ", "530", "530.30.02.1", "v530.30", "530.x", "99999999.1"])
def test_a_malformed_minimum_is_refused_with_a_hint(bad: str) -> None:
    with pytest.raises(UsageError, match=r"MAJOR\.MINOR"):
        gpu.parse_driver(bad)
    with pytest.raises(UsageError, match="--no-driver-affinity"):
        rendered(facts(gpu=True, min_driver=bad), replicas=1)
    assert rendered(facts(gpu=True, min_driver=bad), replicas=1, driver_affinity=False).objects


def test_placement_follows_the_gpu_count_and_the_flag() -> None:
    def pod_spec(**settings: Any) -> dict[str, Any]:
        objects = applied(rendered(facts(gpu=True, min_driver="550.54.15"), replicas=1, **settings))
        return by_kind(objects)["Deployment"]["spec"]["template"]["spec"]

    default = pod_spec()
    assert default["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": 1}
    terms = default["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == gpu.driver_terms("550.54.15")
    assert "affinity" not in pod_spec(driver_affinity=False)
    cpu = pod_spec(gpus=0)
    assert "affinity" not in cpu and "tolerations" not in cpu and "resources" not in cpu["containers"][0]
    notes = rendered(facts(gpu=True, min_driver="550.54.15"), replicas=1, gpus=0).notes
    assert any("run on CPU" in note for note in notes)
