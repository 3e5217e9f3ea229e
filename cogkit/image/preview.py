"""What `cogkit build` would do, without building: the spec, the plan and the exact Dockerfile.

`cogkit debug` prints this; it scans the project the same way staging does, so the weight
layers it shows are the ones a build would create.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cogkit.dockerfile import render
from cogkit.image.context import scan
from cogkit.plan.models import BuildPlan
from cogkit.spec.models import Spec


@dataclass(frozen=True)
class Preview:
    spec: Spec
    plan: BuildPlan
    dockerfile: str
    weights: tuple[str, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        """Spec and plan warnings, each once, in the order they arose."""
        return tuple(dict.fromkeys((*self.spec.warnings, *self.plan.warnings)))


def preview(
    config: Path | None = None, *, base_image: str | None = None, buildkit: bool = True, ca_cert: bool = False
) -> Preview:
    """Load cog.yaml (found from the cwd when `config` is None), resolve it and render its Dockerfile."""
    from cogkit.plan import resolve
    from cogkit.spec import load_spec

    spec = load_spec(config)
    plan = resolve(spec, base_image_override=base_image)
    weights = scan(plan, spec.project_dir).weights
    dockerfile = render(plan, weights=weights, buildkit=buildkit, ca_cert=ca_cert)
    return Preview(spec=spec, plan=plan, dockerfile=dockerfile, weights=weights)
