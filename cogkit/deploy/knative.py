"""Knative Serving: one Service that scales on concurrent requests, to zero when idle.

Knative fits Cog's HTTP API well: `containerConcurrency` is a hard per-pod limit, so a pod never
gets more requests than it has slots (the server would answer 409), and the activator holds
requests while a pod is started from zero. What it needs told:

* timeouts: a synchronous prediction sends nothing until it is done, so the request timeout, the
  time to first byte and the idle timeout are all the longest prediction. Knative caps them at its
  `max-revision-timeout-seconds` (600 by default, in the config-defaults ConfigMap).
* progress deadline: a revision that is not ready in 10 minutes fails; setup() may take longer.
* shutdown: Knative gives the pod `timeoutSeconds` of grace and its queue-proxy drains requests
  before the container's SIGTERM, so no preStop is written (Knative refuses `lifecycle`).
* GPU placement uses pod affinity and tolerations, which Knative accepts only with its
  `kubernetes.podspec-affinity` and `kubernetes.podspec-tolerations` features enabled.
"""

from __future__ import annotations

from typing import Any

from cogkit.deploy.plan import DeployPlan

PORT_NAME = "http1"  # Knative's name for an HTTP/1.1 port


def render(plan: DeployPlan) -> list[dict[str, Any]]:
    settings = plan.settings
    timeout = plan.timing.max_prediction_s
    annotations = {
        "autoscaling.knative.dev/min-scale": str(settings.minimum),
        "autoscaling.knative.dev/max-scale": str(settings.max_replicas),
        "autoscaling.knative.dev/target-utilization-percentage": f"{settings.target_utilization * 100:g}",
        "serving.knative.dev/progress-deadline": f"{plan.timing.max_setup_s + 120}s",
    }
    spec: dict[str, Any] = {
        "containerConcurrency": plan.concurrency,
        "timeoutSeconds": timeout,
        "responseStartTimeoutSeconds": timeout,
        "idleTimeoutSeconds": timeout,
        **plan.pod_placement(),
        "containers": [plan.container(port_name=PORT_NAME)],
    }
    return [
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": plan.metadata(),
            "spec": {
                "template": {"metadata": {"labels": plan.labels, "annotations": annotations}, "spec": spec}
            },
        }
    ]
