"""KServe: an InferenceService whose predictor is the cogkit image itself (a custom container).

The container keeps Cog's HTTP API (`POST /predictions`), not KServe's v1/v2 inference
protocols, so clients call it as they would call the image anywhere else. KServe's default
(serverless) mode runs it on Knative: it scales on concurrent requests, to zero, with the same
timeouts as `--target knative` and for the same reasons; the container is named
`kserve-container`, which KServe requires of a custom predictor.
"""

from __future__ import annotations

import math
from typing import Any

from cogkit.deploy import knative
from cogkit.deploy.plan import DeployPlan

CONTAINER_NAME = "kserve-container"


def render(plan: DeployPlan) -> list[dict[str, Any]]:
    settings = plan.settings
    container = plan.container(port_name=knative.PORT_NAME)
    container["name"] = CONTAINER_NAME
    predictor: dict[str, Any] = {
        "minReplicas": settings.minimum,
        "maxReplicas": settings.max_replicas,
        "containerConcurrency": plan.concurrency,
        "timeout": plan.timing.max_prediction_s,
        # Concurrent requests per replica that the autoscaler aims for: a share of the hard limit.
        "scaleMetric": "concurrency",
        "scaleTarget": max(1, math.floor(plan.concurrency * settings.target_utilization)),
        **plan.pod_placement(),
        "containers": [container],
    }
    annotations = {"serving.knative.dev/progress-deadline": f"{plan.timing.max_setup_s + 120}s"}
    return [
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": plan.metadata(annotations=annotations),
            "spec": {"predictor": predictor},
        }
    ]
