"""Every generated manifest against the schemas a cluster would judge it by, then what each field says.

Core kinds go through `kubernetes-validate` in strict mode (unknown fields are errors) for the
oldest and newest Kubernetes we claim, custom kinds through their projects' published schemas, as
PyPI packages (tests/deploy/crd), just as strictly.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cogkit.deploy import QueueSettings, SecretKey, Target, pod
from tests.deploy import crd
from tests.deploy.conftest import PINNED, applied, by_kind, facts, rendered

KUBERNETES_VERSIONS = ("1.29.0", "1.33.0", kubernetes_validate.latest_version())
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"
QUEUE = "redis://redis.ml.svc:6379/2?stream=sdxl"

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "http-autoscaled-cpu": ({}, {"namespace": "ml", "prometheus": PROMETHEUS}),
    "http-fixed-gpu": (
        {"gpu": True, "min_driver": "530.30.02", "concurrency": 4},
        {"replicas": 2, "cpu": "4", "memory": "16Gi", "image_pull_secrets": ("ghcr", "mirror")},
    ),
    "queue-gpu": (
        {"gpu": True, "min_driver": "570.26"},
        {"queue": QueueSettings.parse(QUEUE), "gpus": 2, "max_replicas": 8, "namespace": "ml"},
    ),
    "queue-password-tls": (
        {"concurrency": 2},
        {
            "queue": QueueSettings.parse(
                "rediss://worker@redis.ml.svc:6380/0?stream=jobs&group=gpu-pool",
                password_secret=SecretKey.parse("redis-auth:token"),
            ),
            "min_replicas": 1,
        },
    ),
    "train-only-http": ({"train": True}, {"prometheus": PROMETHEUS, "min_replicas": 2, "max_replicas": 2}),
    "knative-cpu": ({"concurrency": 8}, {"target": Target.KNATIVE}),
    "knative-gpu": ({"gpu": True, "min_driver": "550.54.15"}, {"target": Target.KNATIVE, "memory": "24Gi"}),
    "kserve-cpu": ({}, {"target": Target.KSERVE, "namespace": "models"}),
    "kserve-gpu": (
        {"gpu": True, "min_driver": "535.104.05", "concurrency": 2},
        {"target": Target.KSERVE, "image_pull_secrets": ("ghcr",), "min_replicas": 1, "max_replicas": 5},
    ),
}


def generated(case: str) -> list[dict[str, Any]]:
    image, settings = CASES[case]
    return applied(rendered(facts(**image), **settings))


def validate(manifest: dict[str, Any], version: str) -> None:
    if crd.is_custom(manifest):
        crd.validate(manifest, version)
    else:
        kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_manifest_passes_its_schema(case: str, version: str) -> None:
    objects = generated(case)
    assert objects
    for manifest in objects:
        validate(manifest, version)
        assert manifest["metadata"]["name"]


def test_a_misspelt_field_fails_each_validator() -> None:
    """The validators can fail: a typo that an API server would prune or reject is caught."""
    http = by_kind(generated("http-autoscaled-cpu"))
    broken = copy.deepcopy(http["Deployment"])
    broken["spec"]["template"]["spec"]["terminationGracePeriod"] = 30
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)

    broken = copy.deepcopy(http["ScaledObject"])
    broken["spec"]["triggers"][0]["metdata"] = broken["spec"]["triggers"][0].pop("metadata")
    with pytest.raises(crd.Invalid, match="metadata"):  # required, and `metdata` is unknown
        crd.validate(broken)
    broken = copy.deepcopy(http["ScaledObject"])
    broken["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behaviour"] = {}
    with pytest.raises(crd.Invalid, match=r"\.spec\.advanced\.horizontalPodAutoscalerConfig\.behaviour"):
        crd.validate(broken)
    auth = by_kind(generated("queue-password-tls"))["TriggerAuthentication"]
    broken = copy.deepcopy(auth)
    broken["spec"]["secretTargetRef"][0]["secret"] = broken["spec"]["secretTargetRef"][0].pop("name")
    with pytest.raises(crd.Invalid, match="secret"):
        crd.validate(broken)

    knative = generated("knative-cpu")[0]
    broken = copy.deepcopy(knative)
    broken["spec"]["template"]["spec"]["containerConcurrency"] = "8"  # the API server takes no string
    with pytest.raises(crd.Invalid, match="containerConcurrency"):
        crd.validate(broken)
    broken = copy.deepcopy(knative)
    broken["spec"]["template"]["spec"]["containers"][0]["lifecycle"] = pod.Timing.pre_stop()
    with pytest.raises(crd.Invalid, match=r"containers\[0\]\.lifecycle"):
        crd.validate(broken)  # Knative refuses preStop hooks: its queue-proxy drains instead

    kserve = generated("kserve-gpu")[0]
    broken = copy.deepcopy(kserve)
    broken["spec"]["predictor"]["minReplica"] = broken["spec"]["predictor"].pop("minReplicas")
    with pytest.raises(crd.Invalid, match=r"\.spec\.predictor\.minReplica:"):
        crd.validate(broken)
    broken = copy.deepcopy(kserve)
    broken["spec"]["predictor"]["containers"][0]["startupProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(crd.Invalid, match="paht"):  # inside a Kubernetes type KServe embeds
        crd.validate(broken)
    broken = copy.deepcopy(kserve)
    broken["spec"]["predictor"]["containers"][0]["env"].append(
        dict(broken["spec"]["predictor"]["containers"][0]["env"][0])
    )
    with pytest.raises(crd.Invalid, match="duplicate"):
        crd.validate(broken)
    broken = copy.deepcopy(kserve)
    broken["spec"]["predictor"]["timeout"] = "300"
    with pytest.raises(crd.Invalid, match="timeout"):
        crd.validate(broken)
    del broken["spec"]["predictor"]
    with pytest.raises(crd.Invalid, match="predictor"):
        crd.validate(broken)


def test_scaled_object_respects_kedas_cel_rule() -> None:
    """KEDA's one CEL rule (min ≤ max) is not in its models, so check it for every case."""
    for case in CASES:
        for manifest in generated(case):
            if manifest["kind"] == "ScaledObject":
                spec = manifest["spec"]
                assert spec["minReplicaCount"] <= spec["maxReplicaCount"]


def test_kubernetes_objects_and_their_links() -> None:
    objects = generated("http-fixed-gpu")
    assert [o["kind"] for o in objects] == ["Deployment", "Service", "PodDisruptionBudget"]
    kinds = by_kind(objects)
    deployment, service, budget = kinds["Deployment"], kinds["Service"], kinds["PodDisruptionBudget"]
    template = deployment["spec"]["template"]
    labels = template["metadata"]["labels"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        service["spec"]["selector"],
        budget["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    container = template["spec"]["containers"][0]
    assert container["image"] == PINNED
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
    assert container["ports"][0]["containerPort"] == pod.PORT
    assert deployment["spec"]["replicas"] == 2
    assert container["resources"] == {
        "requests": {"cpu": "4", "memory": "16Gi"},
        "limits": {"memory": "16Gi", "nvidia.com/gpu": 1},
    }
    assert template["spec"]["imagePullSecrets"] == [{"name": "ghcr"}, {"name": "mirror"}]
    assert template["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert budget["spec"]["maxUnavailable"] == 1


def test_probes_and_shutdown_are_one_consistent_timeline() -> None:
    image, settings = CASES["http-autoscaled-cpu"]
    for max_setup, max_prediction in ((1800, 300), (20, 7), (7200, 3600)):
        objects = applied(
            rendered(facts(**image), **settings, max_setup_s=max_setup, max_prediction_s=max_prediction)
        )
        spec = by_kind(objects)["Deployment"]["spec"]
        container = spec["template"]["spec"]["containers"][0]
        startup = container["startupProbe"]
        assert startup["httpGet"] == {"path": "/readyz", "port": "http"}
        # The first probe may come as early as the container's start: the last failure is then
        # (failureThreshold - 1) periods later, and that, at least, is what setup() is sure to get.
        guaranteed = startup["periodSeconds"] * (startup["failureThreshold"] - 1)
        assert max_setup <= guaranteed < max_setup + startup["periodSeconds"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        # The kubelet must wait at least as long as the server does for the user's healthcheck().
        assert container["readinessProbe"]["timeoutSeconds"] > pod.HEALTHCHECK_TIMEOUT
        env = {e["name"]: e.get("value") for e in container["env"]}
        grace = int(env[pod.GRACE_ENV])
        assert grace == max_prediction
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        # preStop, then SIGTERM and the server's drain, then its exit: all inside the kubelet's grace.
        assert spec["template"]["spec"]["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + grace + 5
        assert spec["progressDeadlineSeconds"] > max_setup


def test_http_mode_scales_on_busy_slots_through_prometheus() -> None:
    kinds = by_kind(generated("http-autoscaled-cpu"))
    assert "replicas" not in kinds["Deployment"]["spec"]  # the autoscaler owns it; apply must not reset it
    spec = kinds["ScaledObject"]["spec"]
    assert spec["scaleTargetRef"]["name"] == kinds["Deployment"]["metadata"]["name"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 3)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "Value"
    query = trigger["metadata"]["query"]
    selector = 'kind="prediction",namespace="ml",pod=~"sdxl-turbo-[a-z0-9]+-[a-z0-9]+"'
    assert (
        query
        == f"sum(cogkit_predictions_in_flight{{{selector}}}) / sum(cogkit_prediction_slots{{{selector}}})"
    )
    assert trigger["metadata"]["serverAddress"] == PROMETHEUS
    assert trigger["metadata"]["threshold"] == "0.8"
    train = by_kind(generated("train-only-http"))["ScaledObject"]["spec"]["triggers"][0]
    assert 'kind="training"' in train["metadata"]["query"]


def test_metric_names_in_the_query_are_the_servers() -> None:
    from cogkit.server.metrics import ServerMetrics

    exposed = ServerMetrics().render().decode()
    query = by_kind(generated("http-autoscaled-cpu"))["ScaledObject"]["spec"]["triggers"][0]["metadata"][
        "query"
    ]
    for name in ("cogkit_predictions_in_flight", "cogkit_prediction_slots"):
        assert name in query and f"# TYPE {name} gauge" in exposed


def test_queue_mode_scales_on_lag_and_pending_down_to_zero() -> None:
    kinds = by_kind(generated("queue-gpu"))
    spec = kinds["ScaledObject"]["spec"]
    assert spec["minReplicaCount"] == 0 and spec["cooldownPeriod"] > 0
    lag, pending = spec["triggers"]
    common = {
        "address": "redis.ml.svc:6379",
        "databaseIndex": "2",
        "stream": "sdxl",
        "consumerGroup": "cogkit",
    }
    assert lag["type"] == pending["type"] == "redis-streams"
    assert lag["metadata"] == {**common, "lagCount": "1", "activationLagCount": "0"}
    assert pending["metadata"] == {**common, "pendingEntriesCount": "1"}
    env = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "COGKIT_QUEUE_URL", "value": "redis://redis.ml.svc:6379/2?stream=sdxl"} in env
    assert kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "nvidia.com/gpu": 2
    }


def test_queue_password_comes_from_a_secret_for_container_and_keda() -> None:
    kinds = by_kind(generated("queue-password-tls"))
    env = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    names = [e["name"] for e in env]
    assert names.index("COGKIT_QUEUE_PASSWORD") < names.index(
        "COGKIT_QUEUE_URL"
    )  # $(…) expands earlier vars only
    password = next(e for e in env if e["name"] == "COGKIT_QUEUE_PASSWORD")
    assert password == {
        "name": "COGKIT_QUEUE_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "token"}},
    }
    url = next(e for e in env if e["name"] == "COGKIT_QUEUE_URL")["value"]
    assert url == "rediss://worker:$(COGKIT_QUEUE_PASSWORD)@redis.ml.svc:6380/0?stream=jobs&group=gpu-pool"
    auth = kinds["TriggerAuthentication"]
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "redis-auth", "key": "token"}
    ]
    for trigger in kinds["ScaledObject"]["spec"]["triggers"]:
        assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
        assert trigger["metadata"]["enableTLS"] == "true"
        assert trigger["metadata"]["username"] == "worker"
        assert trigger["metadata"]["consumerGroup"] == "gpu-pool"
        assert "lagCount" in trigger["metadata"] or trigger["metadata"]["pendingEntriesCount"] == "2"


def test_knative_service() -> None:
    (service,) = generated("knative-cpu")
    template = service["spec"]["template"]
    spec = template["spec"]
    assert spec["containerConcurrency"] == 8
    assert spec["timeoutSeconds"] == spec["responseStartTimeoutSeconds"] == spec["idleTimeoutSeconds"] == 300
    annotations = template["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == "0"
    assert annotations["autoscaling.knative.dev/max-scale"] == "3"
    assert annotations["autoscaling.knative.dev/target-utilization-percentage"] == "80"
    assert annotations["serving.knative.dev/progress-deadline"] == "1920s"
    (container,) = spec["containers"]
    assert container["ports"] == [{"name": "http1", "containerPort": pod.PORT, "protocol": "TCP"}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "http1"  # Knative refuses any port but the serving one
    assert "lifecycle" not in container
    gpu = generated("knative-gpu")[0]["spec"]["template"]["spec"]
    assert gpu["containers"][0]["resources"]["limits"] == {"memory": "24Gi", "nvidia.com/gpu": 1}
    assert gpu["affinity"]["nodeAffinity"]


def test_kserve_inference_service() -> None:
    (service,) = generated("kserve-gpu")
    predictor = service["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container" and container["image"] == PINNED
    assert (predictor["minReplicas"], predictor["maxReplicas"], predictor["containerConcurrency"]) == (
        1,
        5,
        2,
    )
    assert predictor["scaleMetric"] == "concurrency" and predictor["scaleTarget"] == math.floor(2 * 0.8)
    assert predictor["timeout"] == 300
    assert predictor["imagePullSecrets"] == [{"name": "ghcr"}]
    assert predictor["affinity"]["nodeAffinity"]
    assert generated("kserve-cpu")[0]["spec"]["predictor"]["minReplicas"] == 0


def test_output_directory_is_a_kustomization(tmp_path: Path) -> None:
    image, settings = CASES["queue-password-tls"]
    manifests = rendered(facts(**image), **settings)
    written = manifests.write(tmp_path / "k8s")
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "deployment.yaml",
            "service.yaml",
            "poddisruptionbudget.yaml",
            "triggerauthentication.yaml",
            "scaledobject.yaml",
            "kustomization.yaml",
        ]
    )
    kustomization = yaml.safe_load((tmp_path / "k8s" / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    from_files = [
        yaml.safe_load((tmp_path / "k8s" / name).read_text()) for name in kustomization["resources"]
    ]
    assert from_files == applied(manifests)


def test_printed_stream_round_trips() -> None:
    image, settings = CASES["http-fixed-gpu"]
    manifests = rendered(facts(**image), **settings)
    text = manifests.to_yaml()
    assert text.startswith("---\n") and text.count("\n---\n") == len(manifests.objects) - 1
    assert applied(manifests) == [dict(o) for o in manifests.objects]
