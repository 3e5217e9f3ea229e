"""`cogkit build` as a library call: cog.yaml → plan → staged context → image with labels.

The OpenAPI schema label can only be known once the image exists (it imports user code), so the
build runs a second time with that label added: every step is a cache hit, so only the config
changes, and the same inputs give the same image id every time (a separate `FROM image` + LABEL
build would stamp a new creation time on each run).

Nothing here prints: warnings, notices and the builder's output lines go to the caller's
`on_event` callback as typed events, and the CLI decides how to show them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import docker.errors

from cogkit.dockerfile.render import final_stage_steps
from cogkit.image import labels as label_names
from cogkit.image.builder import BuildResult, Secret, build
from cogkit.image.engine import builder, client
from cogkit.image.progress import Step
from cogkit.image.schema import image_schema
from cogkit.plan.models import BuildPlan


class NoteKind(str, Enum):
    WARNING = "warning"  # something in cog.yaml or the plan the user may want to change
    NOTICE = "notice"  # how the build will run (e.g. the legacy builder), nothing to fix


@dataclass(frozen=True)
class BuildNote:
    kind: NoteKind
    text: str  # plain text, never markup


@dataclass(frozen=True)
class BuilderLine:
    """One line of the builder's output (secrets already redacted), and the step it belongs to."""

    text: str
    step: Step | None


BuildEvent = BuildNote | BuilderLine
OnBuildEvent = Callable[[BuildEvent], None]


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
    base_image: str | None = None,
    ca_cert: Path | None = None,
    on_event: OnBuildEvent | None = None,
) -> BuiltImage:
    """Build the project whose cog.yaml is `config` (found from the cwd when None)."""
    from cogkit.image.context import stage
    from cogkit.plan import resolve
    from cogkit.spec import load_spec

    tell = on_event or (lambda event: None)
    spec = load_spec(config.resolve() if config else None)
    plan = resolve(spec, base_image_override=base_image)
    for warning in (*spec.warnings, *plan.warnings):
        tell(BuildNote(NoteKind.WARNING, warning))
    client()  # a clear "no engine" error now, not a builder's error later
    cli = builder()
    if cli.notice:
        tell(BuildNote(NoteKind.NOTICE, cli.notice))
    name = tag or default_tag(spec.project_dir, plan.image)
    context = stage(plan, spec.project_dir, ca_cert=ca_cert, buildkit=cli.kind == "buildkit")
    labels = label_names.build_labels(
        plan,
        spec.project_dir,
        dockerfile_steps=final_stage_steps(Path(context.dockerfile).read_text(encoding="utf-8")),
    )

    def run_build(extra: dict[str, str], *, fresh: bool, show: bool) -> BuildResult:
        return build(
            Path(context.dir),
            dockerfile=Path(context.dockerfile),
            tag=name,
            labels=labels | extra,
            secrets=secrets,
            no_cache=fresh,
            on_line=(lambda text, step: tell(BuilderLine(text, step))) if show else None,
            cli=cli,
        )

    result = run_build({}, fresh=no_cache, show=True)
    schema = image_schema(name, predictor=plan.predictor, trainer=plan.trainer)
    image_id = result.image_id
    if schema:
        image_id = run_build(label_names.schema_label(schema), fresh=False, show=False).image_id
        if image_id != result.image_id:  # the unlabelled image is a dangling copy of the same layers
            with contextlib.suppress(docker.errors.APIError):
                client().images.remove(result.image_id, noprune=True)
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
