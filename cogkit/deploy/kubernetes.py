"""Plain Kubernetes: Deployment, Service, PodDisruptionBudget, and KEDA to scale it.

How it scales, by mode:

* queue mode: KEDA's Redis Streams scaler, twice over the consumer group. One trigger on its lag
  (messages no consumer has read yet) adds replicas while work waits; one on its pending entries
  (read but not acknowledged: running now, or left by a replica that died) keeps replicas alive
  until that work is done or reclaimed. Lag alone would scale to zero under running predictions,
  and would never wake a replica for messages that a killed one left pending. Both targets are the
  replica's slots, so replicas ≈ max(lag, pending) / slots. With no lag and nothing pending, the
  deployment scales to zero; the first XADD wakes it.
* HTTP mode: KEDA's Prometheus scaler over the replicas' own /metrics: busy slots / all slots
  (`cogkit_predictions_in_flight` / `cogkit_prediction_slots`), as a Value metric, so the HPA asks
  for replicas * utilisation / target. It cannot scale to zero: at zero there is no pod to count
  requests or to scrape, and nothing holds a request while one starts (Knative's activator does:
  use --target knative for that).
"""

from __future__ import annotations

from typing import Any

from cogkit.deploy import pod
from cogkit.deploy.plan import DeployPlan

KEDA_API = "keda.sh/v1alpha1"
POLLING_INTERVAL_S = 15
COOLDOWN_S = 300  # idle this long before scaling to zero: a burst's stragglers do not pay a cold start
# Scale down one replica a minute: each removal drains predictions, and GPU cold starts are slow.
SCALE_DOWN = {
    "stabilizationWindowSeconds": 300,
    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
}


def render(plan: DeployPlan) -> list[dict[str, Any]]:
    objects = [deployment(plan), service(plan), disruption_budget(plan)]
    if plan.settings.autoscaled:
        if plan.settings.queue is not None and plan.settings.queue.password_secret is not None:
            objects.append(trigger_authentication(plan))
        objects.append(scaled_object(plan))
    return objects


def deployment(plan: DeployPlan) -> dict[str, Any]:
    container = plan.container()
    container["lifecycle"] = plan.timing.pre_stop()
    spec: dict[str, Any] = {}
    if not plan.settings.autoscaled:  # with an autoscaler, `replicas` in the manifest would fight it on apply
        spec["replicas"] = plan.settings.replicas
    spec.update(
        {
            "selector": {"matchLabels": plan.selector},
            # A new replica takes traffic only once ready (setup done), and no old one leaves before.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            # Kubernetes reports a rollout stuck after 600 s by default; setup() may take longer.
            "progressDeadlineSeconds": max(600, plan.timing.max_setup_s + 120),
            "template": {
                "metadata": {
                    "labels": plan.labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(pod.PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "terminationGracePeriodSeconds": plan.timing.termination_grace_s,
                    **plan.pod_placement(),
                    "containers": [container],
                },
            },
        }
    )
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": plan.metadata(), "spec": spec}


def service(plan: DeployPlan) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": plan.metadata(),
        "spec": {
            "type": "ClusterIP",
            "selector": plan.selector,
            "ports": [{"name": pod.PORT_NAME, "port": 80, "targetPort": pod.PORT_NAME, "protocol": "TCP"}],
        },
    }


def disruption_budget(plan: DeployPlan) -> dict[str, Any]:
    """Node drains take one replica at a time; a replica that is not ready may always go."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": plan.metadata(),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": plan.selector},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def scaled_object(plan: DeployPlan) -> dict[str, Any]:
    settings = plan.settings
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": plan.name},
        "pollingInterval": POLLING_INTERVAL_S,
        "minReplicaCount": settings.minimum,
        "maxReplicaCount": settings.max_replicas,
    }
    if settings.minimum == 0:
        spec["cooldownPeriod"] = COOLDOWN_S
    spec["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": SCALE_DOWN}}}
    spec["triggers"] = _queue_triggers(plan) if settings.queue is not None else [_prometheus_trigger(plan)]
    return {"apiVersion": KEDA_API, "kind": "ScaledObject", "metadata": plan.metadata(), "spec": spec}


def _queue_triggers(plan: DeployPlan) -> list[dict[str, Any]]:
    queue = plan.settings.queue
    assert queue is not None
    common: dict[str, str] = {
        "address": queue.address,
        "databaseIndex": str(queue.database),
        "stream": queue.stream,
        "consumerGroup": queue.group,
    }
    if queue.username:
        common["username"] = queue.username
    if queue.tls:
        common["enableTLS"] = "true"
    slots = str(plan.concurrency)
    triggers = [
        # XINFO GROUPS lag: needs Redis 7; before the group exists, the stream's length stands in.
        {
            "type": "redis-streams",
            "name": "lag",
            "metadata": {**common, "lagCount": slots, "activationLagCount": "0"},
        },
        {"type": "redis-streams", "name": "pending", "metadata": {**common, "pendingEntriesCount": slots}},
    ]
    if queue.password_secret is not None:
        for trigger in triggers:
            trigger["authenticationRef"] = {"name": _auth_name(plan)}
    return triggers


def _prometheus_trigger(plan: DeployPlan) -> dict[str, Any]:
    settings = plan.settings
    assert settings.prometheus is not None
    matchers = [f'kind="{plan.image.mode.noun}"']
    if settings.namespace:
        matchers.append(f'namespace="{settings.namespace}"')
    # Deployment pods are named NAME-<template hash>-<suffix>; the anchored regex excludes NAME-other-….
    matchers.append(f'pod=~"{plan.name}-[a-z0-9]+-[a-z0-9]+"')
    selector = ",".join(matchers)
    query = f"sum(cogkit_predictions_in_flight{{{selector}}}) / sum(cogkit_prediction_slots{{{selector}}})"
    return {
        "type": "prometheus",
        "name": "busy-slots",
        "metricType": "Value",
        "metadata": {
            "serverAddress": settings.prometheus,
            "query": query,
            "threshold": f"{settings.target_utilization:g}",
        },
    }


def _auth_name(plan: DeployPlan) -> str:
    return f"{plan.name}-queue"


def trigger_authentication(plan: DeployPlan) -> dict[str, Any]:
    """KEDA reads the Redis password from the same Secret key the container does."""
    queue = plan.settings.queue
    assert queue is not None and queue.password_secret is not None
    secret = queue.password_secret
    return {
        "apiVersion": KEDA_API,
        "kind": "TriggerAuthentication",
        "metadata": plan.metadata(_auth_name(plan)),
        "spec": {"secretTargetRef": [{"parameter": "password", "name": secret.name, "key": secret.key}]},
    }
