"""`cogkit build` as a library call: cog.yaml → plan → staged context → image with labels.

The OpenAPI schema label can only be known once the image exists (it imports user code), so it
is added by a second, layer-less step that only rewrites the image config.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
from rich.console import Console
from rich.text import Text

from cogkit.errors import BuildError
from cogkit.image import labels as label_names
from cogkit.image.builder import BuildResult, Secret, build
from cogkit.image.display import BuildDisplay, Progress
from cogkit.image.engine import builder, client
from cogkit.image.progress import Step
from cogkit.image.schema import image_schema
from cogkit.plan.models import BuildPlan


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    image_id: str
    plan: BuildPlan
    project_dir: Path
    schema: dict[str, Any]
    steps: list[Step]
    seconds: float
    backend: str


def default_tag(project_dir: Path, image: str | None) -> str:
    """`-t`, else `image:` from cog.yaml, else `cogkit-<dir>` (Cog says `cog-<dir>`)."""
    if image:
        return image
    slug = re.sub(r"[^a-z0-9_.-]+", "-", project_dir.resolve().name.lower()).strip("-._") or "project"
    return f"cogkit-{slug}"


def build_project(
    config: Path | None = None,
    *,
    tag: str | None = None,
    no_cache: bool = False,
    secrets: Sequence[Secret] = (),
    progress: Progress = "auto",
    base_image: str | None = None,
    ca_cert: Path | None = None,
    console: Console | None = None,
) -> BuiltImage:
    """Build the project whose cog.yaml is `config` (found from the cwd when None)."""
    from cogkit.image.context import stage
    from cogkit.plan import resolve
    from cogkit.spec import load_spec

    console = console or Console(stderr=True)
    spec = load_spec(config.resolve() if config else None)
    plan = resolve(spec, base_image_override=base_image)
    for warning in (*spec.warnings, *plan.warnings):
        console.print(Text.assemble(("warning:", "yellow"), " ", warning))  # never read as markup
    client()  # a clear "no engine" error now, not a builder's error later
    cli = builder()
    if cli.notice:
        console.print(Text.assemble(("notice:", "yellow"), " ", cli.notice))
    name = tag or default_tag(spec.project_dir, plan.image)
    context = stage(plan, spec.project_dir, ca_cert=ca_cert, buildkit=cli.kind == "buildkit")
    with BuildDisplay(console, progress) as display:
        result: BuildResult = build(
            Path(context.dir),
            dockerfile=Path(context.dockerfile),
            tag=name,
            labels=label_names.build_labels(plan, spec.project_dir),
            secrets=secrets,
            no_cache=no_cache,
            on_line=display.line,
            cli=cli,
        )
    schema = image_schema(name, predictor=plan.predictor, trainer=plan.trainer)
    image_id = (
        add_labels(result.image_id, name, label_names.schema_label(schema)) if schema else result.image_id
    )
    return BuiltImage(
        tag=name,
        image_id=image_id,
        plan=plan,
        project_dir=spec.project_dir,
        schema=schema,
        steps=result.steps,
        seconds=result.seconds,
        backend=result.backend,
    )


def add_labels(image_id: str, tag: str, extra: dict[str, str]) -> str:
    """Re-tag `image_id` with extra labels; only the config changes, no layer is added."""
    api = client().api
    dockerfile = io.BytesIO(f"FROM {image_id}\n".encode())
    new_id = None
    try:
        for chunk in api.build(fileobj=dockerfile, tag=tag, labels=extra, rm=True, decode=True, pull=False):
            if "error" in chunk:
                raise BuildError(f"could not label the image: {chunk['error']}")
            aux = chunk.get("aux") or {}
            new_id = aux.get("ID", new_id)
    except docker.errors.APIError as exc:
        raise BuildError(f"could not label the image: {exc.explanation or exc}") from exc
    return new_id or client().images.get(tag).id
