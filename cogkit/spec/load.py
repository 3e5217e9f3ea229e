"""Find cog.yaml, read it, validate it, and check the files it points at."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from cogkit.errors import SpecError
from cogkit.spec import diagnose, pythons, requirements
from cogkit.spec.models import Document, Spec, display_path
from cogkit.spec.yamlmarks import Document as YamlDocument
from cogkit.spec.yamlmarks import parse

CONFIG_NAME = "cog.yaml"
# Keys Cog knows that cogkit accepts but does not act on (yet).
IGNORED_TOP = {
    "weights": "managed weights are not supported; copy weight files into the project instead",
    "observability": "OpenTelemetry settings are not read; cogkit exports Prometheus metrics at /metrics",
    "model": "the model name is not used; pass the image name to `cogkit push`",
    "tests": "Cog's test cases are not run",
}
IGNORED_BUILD = {
    "fast": "cogkit builds are already layered for cache hits",
    "python_overrides": "the overrides file is not applied; pin versions in python_requirements",
    "cog_runtime": "cogkit ships its own runtime",
    "sdk_version": "cogkit ships its own SDK",
}
LEGACY_KEYS = ("examples",)


def find_config(start: Path | None = None) -> Path:
    """Walk up from `start` (default: the current directory) to the nearest cog.yaml."""
    here = (start or Path.cwd()).resolve()
    if here.is_file():
        return here
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    raise SpecError(
        f"no {CONFIG_NAME} in {here} or any folder above it",
        hint="run `cogkit init` to create one, or pass -f path/to/cog.yaml",
    )


def load_spec(path: Path | None = None) -> Spec:
    """Read and validate a cog.yaml: `path` itself, or found by walking up from `path` (a folder)
    or from the current directory (None)."""
    file = find_config() if path is None else Path(path).resolve()
    if file.is_dir():  # a project folder: its cog.yaml, or the nearest one above it
        file = find_config(file)
    shown = display_path(file)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError(f"{CONFIG_NAME} not found", file=shown, hint="check the -f path") from None
    except UnicodeDecodeError as exc:
        raise SpecError("the file is not UTF-8 text", file=shown, hint="save it as UTF-8") from exc
    doc = parse(text, shown)
    original = _top_level(doc, shown)
    warnings: list[str] = []
    data = _drop_ignored(doc, original, shown, warnings)
    try:
        document = Document.model_validate(data)
    except ValidationError as exc:
        raise diagnose.to_spec_error(exc, doc, shown) from exc
    return _spec(file, shown, doc, original, document, warnings)


def _error(doc: YamlDocument, file: str, path: tuple[str | int, ...], message: str, hint: str) -> SpecError:
    mark = doc.key_mark(path)
    return SpecError(
        message,
        file=file,
        line=mark.line if mark else None,
        column=mark.column if mark else None,
        key=".".join(str(p) for p in path),
        hint=hint,
    )


def _top_level(doc: YamlDocument, file: str) -> dict[str, Any]:
    data = doc.data
    if data is None:
        raise SpecError("the file is empty", file=file, hint="run `cogkit init` to write a starter cog.yaml")
    if not isinstance(data, dict):
        raise SpecError(
            f"expected a mapping of keys (build, predict, ...), got {type(data).__name__}",
            file=file,
            line=1,
            column=1,
            hint="see docs/cog-yaml.md",
        )
    legacy = [k for k in LEGACY_KEYS if k in data]
    if isinstance(data.get("environment"), dict):
        legacy.append("environment")
    if legacy or (
        "model" in data and "build" not in data and isinstance(data["model"], str) and ".py" in data["model"]
    ):
        key = legacy[0] if legacy else "model"
        raise _error(
            doc,
            file,
            (key,),
            "this is a legacy pre-1.0 cog.yaml (model:/examples:/environment: mapping)",
            "rewrite it in the current schema: build: {python_version, python_packages, system_packages, gpu} "
            "and predict: 'file.py:Class'",
        )
    known = set(Document.model_fields) | set(IGNORED_TOP)
    if data and not known.intersection(data):
        raise SpecError(
            f"this does not look like a Cog configuration (keys: {', '.join(map(str, list(data)[:4]))})",
            file=file,
            line=1,
            column=1,
            hint="a cog.yaml has a build: section and predict: 'predict.py:Predictor'",
        )
    return data


def _drop_ignored(doc: YamlDocument, data: dict[str, Any], file: str, warnings: list[str]) -> dict[str, Any]:
    data = dict(data)
    for key, why in IGNORED_TOP.items():
        if key in data:
            del data[key]
            warnings.append(f"{key}: accepted for Cog compatibility but ignored ({why})")
    build = data.get("build")
    if isinstance(build, dict):
        build = dict(build)
        for key, why in IGNORED_BUILD.items():
            if key in build:
                del build[key]
                warnings.append(f"build.{key}: accepted for Cog compatibility but ignored ({why})")
        data["build"] = build
    concurrency = data.get("concurrency")
    if isinstance(concurrency, int) and not isinstance(concurrency, bool):
        raise _error(
            doc,
            file,
            ("concurrency",),
            f"expected a mapping, got {concurrency}",
            f"write the limit under max: `concurrency: {{max: {concurrency}}}`",
        )
    return data


def _inside(project: Path, relative: str) -> bool:
    """True when `relative` names a path inside `project`, symlinks resolved."""
    if PurePosixPath(relative).is_absolute() or Path(relative).is_absolute():
        return False
    return (project / relative).resolve().is_relative_to(project.resolve())


def _spec(
    file: Path, shown: str, doc: YamlDocument, data: dict[str, Any], document: Document, warnings: list[str]
) -> Spec:
    project = file.parent
    build = document.build
    raw_build = data.get("build") or {}
    if document.predict and document.run:
        raise _error(
            doc, shown, ("run",), "predict and run are both set", "keep one: run is the newer name of predict"
        )
    names: dict[str, int] = {}
    for index, entry in enumerate(document.environment):
        name = entry.split("=", 1)[0]
        if name in names:
            mark = doc.mark(("environment", index))
            raise SpecError(
                f"{entry!r}: {name} is already set by item {names[name] + 1}",
                file=shown,
                line=mark.line if mark else None,
                column=mark.column if mark else None,
                key=f"environment.{index}",
                hint="keep one entry per name",
            )
        names[name] = index
    if build.python_packages is not None and build.python_requirements:
        raise _error(
            doc,
            shown,
            ("build", "python_packages"),
            "python_packages and python_requirements are both set",
            f"move the packages into {build.python_requirements} and delete python_packages",
        )
    if "python_version" not in raw_build:
        warnings.append(
            f"build.python_version is not set; using Python {pythons.DEFAULT} "
            f'(add python_version: "{pythons.DEFAULT}" to pin it)'
        )
    elif note := pythons.warning_for(build.python_version):
        warnings.append(note)
    if build.python_packages is not None:
        warnings.append(
            "build.python_packages is deprecated; list the packages in a requirements.txt "
            "and set build.python_requirements: requirements.txt"
        )
    if build.pre_install:
        warnings.append("build.pre_install is deprecated; use build.run (its commands run in the same place)")
    if not build.gpu and (build.cuda or build.cudnn):
        warnings.append("build.cuda/cudnn are ignored because build.gpu is not true")
    locations = {".".join(str(p) for p in path): (m.line, m.column) for path, m in doc.values.items() if path}
    for name in ("predict", "run", "train"):
        ref = getattr(document, name)
        if ref:
            relative = ref.split(":", 1)[0]
            target = project / relative
            if not _inside(project, relative):
                raise _error(
                    doc,
                    shown,
                    (name,),
                    f"'{ref}': {relative} is outside the project folder {display_path(project)}",
                    "only the folder that holds cog.yaml goes into the image: move the file into it "
                    "and give its path relative to cog.yaml",
                )
            if not target.is_file():
                raise _error(
                    doc,
                    shown,
                    (name,),
                    f"'{ref}': {target.relative_to(project)} does not exist in {display_path(project)}",
                    "paths are relative to the folder that holds cog.yaml; check the file name",
                )
    lines = requirements.collect(build, project, shown, doc)
    return Spec(
        file=file,
        project_dir=project,
        build=build,
        predict=document.predict or document.run,
        train=document.train,
        image=document.image,
        environment=document.environment,
        concurrency_max=document.concurrency.max,
        warnings=tuple(warnings),
        requirements=lines,
        locations=locations,
        raw=data,
    )
