"""Rebuild `compat.json` from the reference tables and cogkit's own facts files.

    python -m cogkit.plan.data.regenerate                      # from the vendored reference/
    python -m cogkit.plan.data.regenerate ../shared/reference  # from a newer copy (then vendor it)

Inputs: `pytorch-builds.tsv`, `tensorflow-builds.tsv` and `nvidia-cuda-images.tsv` from the
reference folder (a copy lives in `reference/` beside this file), plus `facts/pytorch-extra.tsv` (releases the reference lacks),
`facts/torch-pypi-cuda.tsv` (the CUDA of each release's Linux wheel on PyPI) and
`facts/cuda-drivers.tsv` (NVIDIA's minimum driver per CUDA release) beside this file.
The output is sorted and stable, so a test can check that the shipped file is current.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path
from typing import Any

from packaging.version import Version

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "compat.json"
VENDORED = HERE / "reference"
REFERENCE_FILES = ("pytorch-builds.tsv", "tensorflow-builds.tsv", "nvidia-cuda-images.tsv")
# Before 1.11 torch wheels were published on one find-links page, not per-CUDA indexes.
FIND_LINKS_BEFORE = Version("1.11")


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Rows of a TSV whose `#` lines are comments and whose first other line is the header."""
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")
    ]
    return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(lines, delimiter="\t")]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def torch_rows(reference: Path) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, str]] = {}
    for row in read_tsv(reference / "pytorch-builds.tsv") + read_tsv(HERE / "facts" / "pytorch-extra.tsv"):
        rows[row["torch"]] = row  # the facts file may correct a reference row
    on_pypi = {r["version"]: r["cuda"] for r in read_tsv(HERE / "facts" / "torch-pypi-cuda.tsv")}
    result = []
    for version in sorted(rows, key=Version):
        row = rows[version]
        variants = _split(row["cuda_variants"])
        result.append(
            {
                "version": version,
                "torchvision": row["torchvision"] or None,
                "torchaudio": row["torchaudio"] or None,
                "cuda": sorted((v for v in variants if v != "cpu"), key=Version),
                "cpu": "cpu" in variants,
                "pythons": _split(row["pythons"]),
                "find_links": Version(version) < FIND_LINKS_BEFORE,
                "pypi_cuda": on_pypi.get(version),
            }
        )
    return result


def tensorflow_rows(reference: Path) -> list[dict[str, Any]]:
    rows = read_tsv(reference / "tensorflow-builds.tsv")
    return [
        {"version": r["tensorflow"], "cuda": r["cuda"], "cudnn": r["cudnn"], "pythons": _split(r["pythons"])}
        for r in sorted(rows, key=lambda r: Version(r["tensorflow"]))
    ]


def cuda_image_rows(reference: Path) -> list[dict[str, Any]]:
    rows = read_tsv(reference / "nvidia-cuda-images.tsv")
    return [
        {
            "cuda": r["cuda"],
            "cudnn_major": r["cudnn_major"],
            "ubuntus": sorted(_split(r["ubuntus"]), key=Version),
        }
        for r in sorted(rows, key=lambda r: Version(r["cuda"]))
    ]


def driver_rows() -> list[dict[str, str]]:
    rows = read_tsv(HERE / "facts" / "cuda-drivers.tsv")
    return [
        {"cuda": r["cuda"], "min_driver": r["min_driver"]}
        for r in sorted(rows, key=lambda r: Version(r["cuda"]))
    ]


def build(reference: Path) -> dict[str, Any]:
    return {
        "_generated_by": "python -m cogkit.plan.data.regenerate; do not edit by hand",
        "torch": torch_rows(reference),
        "tensorflow": tensorflow_rows(reference),
        "cuda_images": cuda_image_rows(reference),
        "drivers": driver_rows(),
    }


def render(reference: Path) -> str:
    return json.dumps(build(reference), indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "reference",
        type=Path,
        nargs="?",
        default=VENDORED,
        help="folder holding pytorch-builds.tsv and friends",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if compat.json is out of date")
    args = parser.parse_args(argv)
    if not args.check and args.reference.resolve() != VENDORED:
        for name in REFERENCE_FILES:  # vendor the newer facts so the package stays self-contained
            shutil.copyfile(args.reference / name, VENDORED / name)
        args.reference = VENDORED
    text = render(args.reference)
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        return 0 if current == text else 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
