"""Pin, plan, draw: the one call behind `cogkit deploy`, and the renderer for each target."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cogkit.deploy import knative, kserve, kubernetes, output
from cogkit.deploy.image import ImageFacts, resolve_image
from cogkit.deploy.plan import DeployPlan, make_plan
from cogkit.deploy.settings import DeploySettings, Target

RENDERERS: dict[Target, Callable[[DeployPlan], list[dict[str, Any]]]] = {
    Target.KUBERNETES: kubernetes.render,
    Target.KNATIVE: knative.render,
    Target.KSERVE: kserve.render,
}


@dataclass(frozen=True)
class Manifests:
    objects: tuple[dict[str, Any], ...]
    plan: DeployPlan

    @property
    def notes(self) -> tuple[str, ...]:
        return self.plan.notes

    def to_yaml(self) -> str:
        return output.to_yaml(self.objects)

    def write(self, directory: Path) -> list[Path]:
        return output.write_directory(self.objects, directory)


def render_manifests(image: ImageFacts, settings: DeploySettings) -> Manifests:
    plan = make_plan(image, settings)
    return Manifests(objects=tuple(RENDERERS[settings.target](plan)), plan=plan)


def deploy(
    image: str, settings: DeploySettings, *, insecure: bool = False, ca_cert: Path | None = None
) -> Manifests:
    """Pin `image` by digest, read its labels, and draw the manifests for `settings.target`."""
    return render_manifests(resolve_image(image, insecure=insecure, ca_cert=ca_cert), settings)
