"""What a user chooses for a deployment: one frozen `DeploySettings`, checked once, before rendering.

Each check fails with one line that names the flag, the value and the fix, so a typo such as
`--memory 8GB` never reaches `kubectl apply` (which would answer with a schema error far away).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from cogkit.deploy.queue import QueueSettings
from cogkit.errors import UsageError

# Kubernetes resource.Quantity: a decimal number with an optional binary/decimal SI suffix or exponent.
_QUANTITY = re.compile(r"^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
# Object names: RFC 1035 labels (Services and Knative Services need the stricter 1035 rule).
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
# Namespaces and Secret names: RFC 1123 labels / subdomains.
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_PROMETHEUS = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


class Target(str, enum.Enum):
    """The engine that places and scales the model."""

    KUBERNETES = "kubernetes"  # Deployment + Service + PDB + KEDA ScaledObject
    KNATIVE = "knative"  # a Knative Service (scale to zero on HTTP requests)
    KSERVE = "kserve"  # an InferenceService with cogkit as its custom predictor

    @property
    def scales_on_requests(self) -> bool:
        """Knative and KServe count HTTP requests themselves, through their activator."""
        return self is not Target.KUBERNETES


@dataclass(frozen=True)
class DeploySettings:
    """The flags of `cogkit deploy`, validated; defaults that depend on the image are resolved later."""

    target: Target = Target.KUBERNETES
    name: str | None = None  # default: the image's repository name
    namespace: str | None = None  # default: none written, so kubectl's context decides
    replicas: int | None = None  # a fixed count; no autoscaler at all
    min_replicas: int | None = None  # default: 0 where the mode can scale to zero, else 1
    max_replicas: int = 3
    gpus: int | None = None  # default: 1 on GPU images, 0 otherwise
    cpu: str | None = None  # a Kubernetes quantity: "4", "500m"
    memory: str | None = None  # "16Gi"
    image_pull_secrets: tuple[str, ...] = ()
    queue: QueueSettings | None = None
    prometheus: str | None = None  # the Prometheus server KEDA asks about HTTP load
    target_utilization: float = 0.8  # busy slots / all slots that the autoscaler aims for
    concurrency: int | None = None  # overrides the image's concurrency.max (e.g. for @concurrent)
    max_setup_s: int = 1800
    max_prediction_s: int = 300
    driver_affinity: bool = True

    def __post_init__(self) -> None:
        if self.name is not None:
            check_name(self.name, "--name")
        if self.namespace is not None and not _DNS1123_LABEL.match(self.namespace):
            raise UsageError(
                f"--namespace {self.namespace!r} is not a valid namespace name",
                hint="use lowercase letters, digits and '-', at most 63 characters",
            )
        for secret in self.image_pull_secrets:
            if not _DNS1123_SUBDOMAIN.match(secret):
                raise UsageError(
                    f"--image-pull-secret {secret!r} is not a valid Secret name",
                    hint="use the name of a Secret of type kubernetes.io/dockerconfigjson in the namespace",
                )
        for flag, value in (("--cpu", self.cpu), ("--memory", self.memory)):
            if value is not None and not _QUANTITY.match(value):
                raise UsageError(
                    f"{flag} {value!r} is not a Kubernetes quantity",
                    hint="e.g. --cpu 2 or --cpu 500m; --memory 16Gi (not 16GB) or --memory 512Mi",
                )
        if self.prometheus is not None and not _PROMETHEUS.match(self.prometheus):
            raise UsageError(
                f"--prometheus {self.prometheus!r} is not an http(s) URL",
                hint="e.g. --prometheus http://prometheus-operated.monitoring.svc:9090",
            )
        if not 0 < self.target_utilization <= 1:
            raise UsageError(
                f"--target-utilization {self.target_utilization} must be above 0 and at most 1",
                hint="0.8 adds a replica once 80% of all prediction slots are busy",
            )
        for flag, seconds in (
            ("--max-setup-time", self.max_setup_s),
            ("--max-prediction-time", self.max_prediction_s),
        ):
            if seconds < 1:
                raise UsageError(f"{flag} {seconds} must be at least 1 second", hint=f"e.g. {flag} 600")
        if self.queue is not None and self.target.scales_on_requests:
            raise UsageError(
                f"--queue cannot be used with --target {self.target.value}: it scales on HTTP requests, "
                "and a queue consumer receives none, so it would be scaled away while the queue fills",
                hint="use --target kubernetes, which scales queue consumers on the stream's lag with KEDA",
            )
        self._check_scaling()

    def _check_scaling(self) -> None:
        if self.replicas is not None and self.min_replicas is not None:
            raise UsageError(
                "--replicas and --min-replicas cannot be used together",
                hint="--replicas N runs exactly N (no autoscaler); --min-replicas/--max-replicas autoscale",
            )
        if self.replicas is not None and self.target.scales_on_requests:
            raise UsageError(
                f"--replicas is for --target kubernetes; {self.target.value} always autoscales",
                hint="pass --min-replicas N --max-replicas N for a fixed count",
            )
        minimum = self.min_replicas or 0
        if self.max_replicas < max(1, minimum):
            raise UsageError(
                f"--max-replicas {self.max_replicas} is below --min-replicas {minimum} (or below 1)",
                hint="raise --max-replicas",
            )
        if self.min_replicas == 0 and self.autoscaled and not self.can_scale_to_zero:
            raise UsageError(
                "--min-replicas 0 needs something to wake a replica up, and HTTP mode on plain Kubernetes "
                "has nothing: with no pod, no request is counted and no /metrics is scraped",
                hint="use --queue (KEDA wakes consumers on the stream's lag), or --target knative/kserve "
                "(their activator holds requests while a pod starts)",
            )
        if (
            self.target is Target.KUBERNETES
            and self.autoscaled
            and self.queue is None
            and self.prometheus is None
        ):
            raise UsageError(
                "HTTP-mode autoscaling reads the replicas' /metrics through Prometheus, but no --prometheus was given",
                hint="pass --prometheus http://prometheus.monitoring.svc:9090, or --replicas N for a fixed count, "
                "or --queue URL to scale on a Redis stream instead",
            )

    @property
    def autoscaled(self) -> bool:
        return self.replicas is None

    @property
    def can_scale_to_zero(self) -> bool:
        """Queue mode (KEDA reads Redis, not the pods) and request-driven targets (an activator)."""
        return self.queue is not None or self.target.scales_on_requests

    @property
    def minimum(self) -> int:
        if self.min_replicas is not None:
            return self.min_replicas
        return 0 if self.can_scale_to_zero else 1


def check_name(name: str, what: str) -> str:
    if not _DNS_LABEL.match(name):
        raise UsageError(
            f"{what} {name!r} is not a valid Kubernetes name",
            hint="use lowercase letters, digits and '-', starting with a letter, at most 63 characters",
        )
    return name


def name_from_repository(repository: str) -> str:
    """`me/My_Model.v2` → `my-model-v2`: the last path component as an RFC 1035 label."""
    base = repository.rsplit("/", 1)[-1].lower()
    label = re.sub(r"[^a-z0-9]+", "-", base).strip("-")
    if not label or not label[0].isalpha():
        label = f"model-{label}".strip("-")
    return label[:63].rstrip("-")
