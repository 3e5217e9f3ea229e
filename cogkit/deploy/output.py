"""Manifests out: one YAML stream for `kubectl apply -f -`, or a kustomize-ready folder of files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from cogkit.errors import UsageError

KUSTOMIZATION = "kustomization.yaml"


def to_yaml(objects: Sequence[dict[str, Any]]) -> str:
    """`---`-separated documents, keys in the order written (apiVersion, kind, metadata, spec)."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, explicit_start=True)


def file_name(manifest: dict[str, Any]) -> str:
    return f"{str(manifest['kind']).lower()}.yaml"


def write_directory(objects: Sequence[dict[str, Any]], directory: Path) -> list[Path]:
    """One file per object (`deployment.yaml`, …) and a kustomization.yaml listing them, in apply order."""
    names = [file_name(m) for m in objects]
    if len(set(names)) != len(names):
        raise AssertionError(f"two objects of one kind would share a file: {names}")
    if directory.exists() and not directory.is_dir():
        raise UsageError(
            f"-o {directory} exists and is not a folder", hint="name a folder (it is created if missing)"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, manifest in zip(names, objects, strict=True):
            path = directory / name
            path.write_text(to_yaml([manifest]))
            written.append(path)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": names,
        }
        path = directory / KUSTOMIZATION
        path.write_text(yaml.safe_dump(kustomization, sort_keys=False))
    except OSError as exc:
        raise UsageError(
            f"cannot write the manifests to {directory}: {exc.strerror}", hint="pick a writable folder"
        ) from exc
    return [*written, path]
