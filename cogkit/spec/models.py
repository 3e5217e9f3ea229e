"""The cog.yaml schema as frozen pydantic models.

Shorthands are normalised in `mode="before"` validators (a `build.run` string becomes a
`RunCommand`), so everything downstream sees one shape. Messages list the valid choices;
`cogkit.spec.diagnose` adds the file, line, column and key path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator

from cogkit.spec import pythons

PREDICTOR_REF = re.compile(r"^(?P<file>[^:\s]+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
ENV_ENTRY = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.DOTALL)
RESERVED_ENV = frozenset({"PATH", "LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"})
RESERVED_ENV_PREFIXES = ("CUDA_", "NVIDIA_", "COG_", "COGKIT_", "R8_")
BASE_IMAGE_CHOICES = ("auto", "slim", "cuda-runtime", "cuda-devel")
CUDA_FORMAT = re.compile(r"^\d+\.\d+(\.\d+)?$")
CUDNN_FORMAT = re.compile(r"^\d+(\.\d+){0,2}$")


def display_path(path: Path) -> str:
    """The path relative to the current directory when inside it: what the user would type."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return relative if not relative.startswith("..") else str(path)


def _apt_name(name: str) -> str:
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9+.:~_=-]*", name):
        raise ValueError(f"{name!r} is not an apt package name (one name per list item)")
    return name


def _env_entry(entry: str) -> str:
    match = ENV_ENTRY.match(entry)
    if not match:
        raise ValueError(f"{entry!r} is not NAME=value")
    name = match["name"]
    if name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES):
        raise ValueError(
            f"{name!r} is reserved: cogkit sets it in the image "
            f"(reserved: {', '.join(sorted(RESERVED_ENV))} and {', '.join(p + '*' for p in RESERVED_ENV_PREFIXES)})"
        )
    return entry


AptName = Annotated[str, AfterValidator(_apt_name)]
EnvEntry = Annotated[str, AfterValidator(_env_entry)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretMount(_Frozen):
    """A BuildKit secret made visible to one `build.run` command."""

    type: Literal["secret"]
    id: str = Field(min_length=1)
    target: str = Field(min_length=1)


class RunCommand(_Frozen):
    command: str = Field(min_length=1)
    mounts: tuple[SecretMount, ...] = ()

    @field_validator("command")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # Each command becomes one Dockerfile RUN line; a newline would split it silently.
        if "\n" in value.strip():
            raise ValueError(
                "a build.run command must be one line; split it into several list items, "
                "or use a folded scalar (>-) which joins lines with spaces"
            )
        return value.strip()


def _none_to_empty(value: Any) -> Any:
    # `run:` followed only by comments parses as null: Cog treats it as an empty list.
    return () if value is None else value


class Build(_Frozen):
    gpu: StrictBool = False
    python_version: str = pythons.DEFAULT
    python_requirements: str | None = None
    python_packages: tuple[str, ...] | None = None  # deprecated: use python_requirements
    system_packages: tuple[AptName, ...] = ()
    cuda: str | None = None
    cudnn: str | None = None
    run: tuple[RunCommand, ...] = ()
    pre_install: tuple[str, ...] = ()  # deprecated: use run
    base_image: str = "auto"  # cogkit: auto | slim | cuda-runtime | cuda-devel | <image ref>

    @field_validator("system_packages", "pre_install", mode="before")
    @classmethod
    def _empty_lists(cls, value: Any) -> Any:
        return _none_to_empty(value)

    @field_validator("run", mode="before")
    @classmethod
    def _run_shorthand(cls, value: Any) -> Any:
        value = _none_to_empty(value)
        if isinstance(value, list):
            return [{"command": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("python_version")
    @classmethod
    def _python(cls, value: str) -> str:
        return pythons.check(value)

    @field_validator("cuda")
    @classmethod
    def _cuda(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if re.fullmatch(r"\d+", value):
            raise ValueError(f"CUDA needs a minor version, e.g. '{value}.1' or '{value}.8'")
        if not CUDA_FORMAT.match(value):
            raise ValueError("CUDA must look like '12.1' (major.minor)")
        return value

    @field_validator("cudnn")
    @classmethod
    def _cudnn(cls, value: str | None) -> str | None:
        if value is not None and not CUDNN_FORMAT.match(value):
            raise ValueError("cuDNN must look like '8' or '8.9'")
        return value

    @field_validator("python_packages")
    @classmethod
    def _strip(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else tuple(item.strip() for item in value)

    @field_validator("base_image")
    @classmethod
    def _base(cls, value: str) -> str:
        if value in BASE_IMAGE_CHOICES or re.fullmatch(r"[\w.\-/:@]+", value):
            return value
        raise ValueError(f"use one of {', '.join(BASE_IMAGE_CHOICES)}, or an image reference")


class Concurrency(_Frozen):
    max: int | None = Field(default=None, ge=1, strict=True)


def predictor_ref(value: str | None) -> str | None:
    """Validate `file.py:Name`; the file's existence is checked by the loader."""
    if value is None:
        return None
    if not PREDICTOR_REF.match(value.strip()):
        raise ValueError("a predictor reference looks like 'predict.py:Predictor' (file.py:ClassOrFunction)")
    return value.strip()


class Document(_Frozen):
    """The keys of a cog.yaml file, validated. `Spec` adds where it came from."""

    build: Build = Build()
    predict: str | None = None
    run: str | None = None
    train: str | None = None
    image: str | None = None
    environment: tuple[EnvEntry, ...] = ()
    concurrency: Concurrency = Concurrency()

    @field_validator("predict", "run", "train")
    @classmethod
    def _refs(cls, value: str | None) -> str | None:
        return predictor_ref(value)

    @field_validator("build", "concurrency", mode="before")
    @classmethod
    def _null_section(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("environment", mode="before")
    @classmethod
    def _env_null(cls, value: Any) -> Any:
        return _none_to_empty(value)


class SourceLine(_Frozen):
    """One requirement line and where it was written (cog.yaml or a requirements file)."""

    text: str
    file: str
    line: int | None = None
    column: int | None = None


class Spec(_Frozen):
    """A loaded, validated cog.yaml. Paths are absolute; `project_dir` holds cog.yaml."""

    file: Path
    project_dir: Path
    build: Build
    predict: str | None = None  # also filled from the newer top-level `run:`
    train: str | None = None
    image: str | None = None
    environment: tuple[str, ...] = ()
    concurrency_max: int | None = None  # None: not written; @concurrent or 1 decides
    warnings: tuple[str, ...] = ()
    # Requirement lines from python_packages or python_requirements (with -r expanded).
    requirements: tuple[SourceLine, ...] = ()
    # Where each key was written: dotted key path -> (line, column).
    locations: dict[str, tuple[int, int]] = Field(default_factory=dict, repr=False)
    # The YAML as written, for Cog's `run.cog.config` image label.
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    def where(self, key: str) -> dict[str, Any]:
        """Keyword arguments for a SpecError/PlanError about `key` ("build.cuda")."""
        line, column = self.locations.get(key, (None, None))
        return {"file": display_path(self.file), "line": line, "column": column, "key": key}
