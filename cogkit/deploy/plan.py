"""Flags plus image facts → one frozen `DeployPlan`: every choice made once, before any manifest is drawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cogkit.deploy import gpu, pod
from cogkit.deploy.image import ImageFacts
from cogkit.deploy.settings import DeploySettings, Target, name_from_repository

MANAGED_BY = "cogkit"


@dataclass(frozen=True)
class DeployPlan:
    image: ImageFacts
    settings: DeploySettings
    name: str
    gpus: int
    concurrency: int  # prediction slots per replica
    timing: pod.Timing
    notes: tuple[str, ...]  # what the user should know before applying

    @property
    def target(self) -> Target:
        return self.settings.target

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name}

    @property
    def labels(self) -> dict[str, str]:
        return {**self.selector, "app.kubernetes.io/managed-by": MANAGED_BY}

    def metadata(self, name: str | None = None, **extra: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name or self.name}
        if self.settings.namespace:
            meta["namespace"] = self.settings.namespace
        meta["labels"] = dict(self.labels)
        meta.update(extra)
        return meta

    def container(
        self, *, port: str | None = pod.PORT_NAME, port_name: str = pod.PORT_NAME
    ) -> dict[str, Any]:
        """The model's container; `port=None` leaves probe ports to the platform (Knative)."""
        container: dict[str, Any] = {
            "name": pod.CONTAINER_NAME,
            "image": self.image.reference,
            "ports": [{"name": port_name, "containerPort": pod.PORT, "protocol": "TCP"}],
            "env": pod.environment(self.timing, self.settings.queue),
            "startupProbe": self.timing.startup_probe(port_name),
            "readinessProbe": self.timing.readiness_probe(port_name),
            "livenessProbe": self.timing.liveness_probe(port_name),
        }
        found = pod.resources(cpu=self.settings.cpu, memory=self.settings.memory, gpus=self.gpus)
        if found:
            container["resources"] = found
        return container

    def pod_placement(self) -> dict[str, Any]:
        """Pull secrets and GPU placement: the pod spec fields every target shares."""
        fields: dict[str, Any] = {}
        if self.settings.image_pull_secrets:
            fields["imagePullSecrets"] = [{"name": s} for s in self.settings.image_pull_secrets]
        fields.update(
            gpu.placement(self.gpus, self.image.min_driver, driver_affinity=self.settings.driver_affinity)
        )
        return fields


def make_plan(image: ImageFacts, settings: DeploySettings) -> DeployPlan:
    gpus = settings.gpus if settings.gpus is not None else (1 if image.gpu else 0)
    notes = list(image.notes)
    if image.gpu and gpus == 0:
        notes.append("the image was built for a GPU but --gpus 0 gives it none: it will run on CPU")
    if gpus and image.min_driver and settings.driver_affinity:
        gpu.parse_driver(image.min_driver)  # a malformed label fails here, with its own hint
        notes.append(
            f"GPU nodes need NVIDIA GPU feature discovery labels; only drivers >= {image.min_driver} qualify"
        )
    elif gpus and not image.min_driver:
        notes.append("the image does not say which NVIDIA driver it needs: no driver affinity was written")
    concurrency = settings.concurrency or image.concurrency or 1
    if settings.concurrency is None and image.concurrency is None:
        notes.append(
            "concurrency.max is not in the image's cog.yaml: assuming 1 prediction at a time "
            "(pass --concurrency N if the predictor uses @concurrent)"
        )
    queue = settings.queue
    if queue is not None and queue.is_loopback:
        notes.append(
            f"the queue host {queue.host} is the pod itself inside the cluster; use the Redis Service's name"
        )
    if (
        settings.target is Target.KUBERNETES
        and settings.autoscaled
        and queue is None
        and not settings.namespace
    ):
        notes.append("without --namespace the autoscaling query matches pods of this name in every namespace")
    return DeployPlan(
        image=image,
        settings=settings,
        name=settings.name or name_from_repository(image.repository),
        gpus=gpus,
        concurrency=concurrency,
        timing=pod.Timing(settings.max_setup_s, settings.max_prediction_s),
        notes=tuple(notes),
    )
