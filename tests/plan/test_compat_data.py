"""The compatibility data: current with its sources, and internally consistent."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from packaging.version import Version

from cogkit.plan import compat
from cogkit.plan.data import regenerate

REPO = Path(__file__).resolve().parents[2]


def _shared_reference() -> Path | None:
    for candidate in (
        os.environ.get("COGKIT_SHARED_REFERENCE"),
        REPO / "shared" / "reference",
        REPO.parent / "shared" / "reference",
    ):
        if candidate and (Path(candidate) / "pytorch-builds.tsv").is_file():
            return Path(candidate)
    return None


def test_shipped_data_equals_what_regeneration_produces() -> None:
    assert regenerate.OUTPUT.read_text(encoding="utf-8") == regenerate.render(regenerate.VENDORED), (
        "compat.json is stale: run `python -m cogkit.plan.data.regenerate`"
    )
    assert regenerate.main(["--check"]) == 0


@pytest.mark.skipif(
    _shared_reference() is None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="the team's shared/reference folder is not checked out here (CI has it: there this fails)",
)
def test_vendored_reference_matches_the_shared_one() -> None:
    shared = _shared_reference()
    assert shared is not None
    for name in ("pytorch-builds.tsv", "tensorflow-builds.tsv", "nvidia-cuda-images.tsv"):
        assert (regenerate.VENDORED / name).read_text() == (shared / name).read_text(), (
            f"copy {shared / name} into {regenerate.VENDORED} and regenerate"
        )


def test_check_flag_notices_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "compat.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(regenerate, "OUTPUT", stale)
    assert regenerate.main(["--check"]) == 1


def test_torch_table_reaches_2_14_and_keeps_the_reference_rows() -> None:
    versions = [row.version for row in compat.tables().torch]
    assert versions == sorted(versions, key=Version)
    assert {"1.8.0", "2.1.0", "2.11.0", "2.12.0", "2.13.0", "2.14.0"} <= set(versions)
    row = {r.version: r for r in compat.tables().torch}["2.1.0"]
    assert (row.torchvision, row.torchaudio, row.cuda, row.cpu) == ("0.16.0", "2.1.0", ("11.8", "12.1"), True)


def test_every_cuda_the_tables_can_pick_has_a_minimum_driver() -> None:
    tables = compat.tables()
    cudas = {c for r in tables.torch for c in r.cuda} | {r.cuda for r in tables.tensorflow}
    cudas |= {image.cuda for image in tables.cuda_images}
    missing = sorted(c for c in cudas if compat.min_driver(c) is None)
    assert missing == []


def test_driver_minimums_rise_with_cuda() -> None:
    drivers = compat.tables().drivers
    for (older, older_driver), (newer, newer_driver) in itertools.pairwise(drivers):
        assert Version(older) < Version(newer)
        assert Version(older_driver) <= Version(newer_driver), (older, newer)


def test_ga_driver_is_used_for_a_minor_version() -> None:
    assert compat.min_driver("12.1") == "530.30.02"
    assert compat.min_driver("12.2") == "535.54.03"
    assert compat.min_driver("12.2.2") == "535.104.05"
    assert compat.min_driver("13.0") == "580.65.06"


def test_every_tensorflow_that_needs_system_cuda_has_an_image() -> None:
    for row in compat.tables().tensorflow:
        if Version(row.version) >= Version("2.15"):
            continue  # installed as tensorflow[and-cuda]: CUDA comes from pip wheels
        images = compat.images_for(row.cuda)
        assert images, row.version
        assert any(i.cudnn_major == row.cudnn.split(".")[0] for i in images), row.version


def test_tables_are_loaded_once() -> None:
    assert compat.tables() is compat.tables()
