"""Validate custom resources against their projects' own published schemas, as strictly as an API server.

An API server silently *prunes* a field its CRD does not define, so a misspelt field would vanish
without an error; here every key the schema does not define is an error. Each schema comes from a
package that `make install` brings from PyPI (the dev extra, or `kserve-sdk.txt` beside this file),
never from a copied file:

| kind | package (version on Python 3.11) | what it is |
|---|---|---|
| KEDA `ScaledObject`, `TriggerAuthentication` | `cloudcoil-models-keda` 2.16.1.0 (KEDA 2.16.1) | pydantic models |
| Knative `serving.knative.dev/v1` `Service` | `cloudcoil-models-knative-serving` 1.17.0.1 (Knative Serving 1.17.0) | pydantic models |
| KServe `serving.kserve.io/v1beta1` `InferenceService` | `kserve` 0.21.0, the SDK wheel, hash-pinned | openapi-generator models |
| the Kubernetes types inside KServe's (`V1Container`, …) | `kubernetes-validate` | strict JSON schemas |

Why they can be trusted: the cloudcoil packages are generated, by `cloudcoil-model-codegen`, from
the CRD file each upstream release publishes (`keda-X-crds.yaml`, Knative's `serving-crds.yaml`);
the package version is the release's, plus a build number. The KServe SDK is published by the KServe
project, its models generated from the OpenAPI spec KServe builds from the same Go types as its CRD.
kubernetes-validate ships the schemas of Kubernetes' own OpenAPI, per Kubernetes version. Releases
of the cloudcoil models newer than those above (KEDA 2.20.2, Knative 1.23.0) require Python 3.14;
on 3.11 pip resolves the versions above.

The KServe SDK is not imported (that needs pandas, grpc and more): kserve.py reads its generated
class dicts as data. CEL rules (`x-kubernetes-validations`) are not in any of these; the tests check
the few that apply.
"""

from __future__ import annotations

from typing import Any

from kubernetes_validate import latest_version

KEDA = "keda.sh/v1alpha1"
KNATIVE = "serving.knative.dev/v1"
KSERVE = "serving.kserve.io/v1beta1"
CUSTOM_KINDS = {
    (KEDA, "ScaledObject"),
    (KEDA, "TriggerAuthentication"),
    (KNATIVE, "Service"),
    (KSERVE, "InferenceService"),
}


class Invalid(AssertionError):
    """A manifest its schema would refuse (or whose unknown field a server would prune); says where."""


def is_custom(manifest: dict[str, Any]) -> bool:
    return (manifest["apiVersion"], manifest["kind"]) in CUSTOM_KINDS


def validate(manifest: dict[str, Any], kubernetes_version: str | None = None) -> None:
    """Raise Invalid if `manifest` breaks its schema; core types inside KServe's against `kubernetes_version`."""
    from tests.deploy.crd import kserve, models  # here, not at the top: they import Invalid from here

    try:
        if manifest["apiVersion"] == KSERVE:
            kserve.validate(manifest, kubernetes_version or latest_version())
        else:
            models.validate(manifest)
    except Invalid as exc:
        raise Invalid(f"{manifest['kind']} {manifest['metadata']['name']!r}: {exc}") from exc.__cause__
