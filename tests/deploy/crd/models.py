"""KEDA and Knative objects against cloudcoil's pydantic models of their CRDs, with unknown keys refused.

The models validate types and required fields, but let unknown keys through (pydantic ignores
extras), where an API server would prune them. So after validating, the manifest is walked against
the models' fields, by their JSON names (aliases), and every key no field names is an error.
Free-form maps (`Dict[str, ...]` fields: labels, annotations, a KEDA trigger's `metadata`) define
no keys, so only their values are walked.

Validation is strict and from JSON, as the API server reads it: `"8"` is not an integer.

One repair: a CRD's int-or-string quantity (`nvidia.com/gpu: 1` or `"24Gi"`) carries a `pattern`,
which OpenAPI applies to strings only; the generator put it on the integer arm too (`RootModel[int]`
with a pattern), and pydantic (2.14 here) raises TypeError on any integer there. So the pattern is
dropped from integer roots, and the module's models rebuilt, before first use.
"""

from __future__ import annotations

import functools
import importlib
import json
import types
import typing
from collections.abc import Iterator
from typing import Any

import pydantic

from tests.conftest import unavailable
from tests.deploy.crd import KEDA, KNATIVE, Invalid

MODELS = {
    (KEDA, "ScaledObject"): ("cloudcoil.models.keda.v1alpha1", "ScaledObject"),
    (KEDA, "TriggerAuthentication"): ("cloudcoil.models.keda.v1alpha1", "TriggerAuthentication"),
    (KNATIVE, "Service"): ("cloudcoil.models.knative_serving.serving.v1", "Service"),
}
PACKAGES = {KEDA: "cloudcoil-models-keda", KNATIVE: "cloudcoil-models-knative-serving"}


def model_for(api_version: str, kind: str) -> type[pydantic.BaseModel]:
    module_name, class_name = MODELS[(api_version, kind)]
    try:
        module = repaired(module_name)
    except ImportError as exc:
        unavailable(f"{PACKAGES[api_version]} is missing ({exc}); run `make install`")
    model: type[pydantic.BaseModel] = getattr(module, class_name)
    fields = model.model_fields
    assert (fields["api_version"].default, fields["kind"].default) == (api_version, kind), model
    return model


@functools.cache
def repaired(module_name: str) -> types.ModuleType:
    """The generated models, with the pattern on integer quantities dropped (see the module docstring)."""
    module = importlib.import_module(module_name)
    models = [
        value
        for value in vars(module).values()  # in definition order: each model after those it uses
        if isinstance(value, type)
        and issubclass(value, pydantic.BaseModel)
        and value.__module__ == module_name
    ]
    for model in models:
        if issubclass(model, pydantic.RootModel) and model.model_fields["root"].annotation is int:
            root = model.model_fields["root"]
            root.metadata = [rule for rule in root.metadata if getattr(rule, "pattern", None) is None]
    for model in models:
        model.model_rebuild(force=True)
    return module


def validate(manifest: dict[str, Any]) -> None:
    model = model_for(manifest["apiVersion"], manifest["kind"])
    try:
        model.model_validate_json(json.dumps(manifest), strict=True)
    except pydantic.ValidationError as exc:
        raise Invalid(str(exc)) from exc
    unknown = list(unknown_keys(model, manifest, ""))
    if unknown:
        raise Invalid(f"fields its CRD does not define (an API server prunes them): {unknown}")


def unknown_keys(annotation: Any, value: Any, path: str) -> Iterator[str]:
    """The paths of the keys in `value` that the type `annotation` has no field for."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        yield from unknown_keys(args[0], value, path)
    elif origin in (typing.Union, types.UnionType):
        # The first arm that fits; if none does, that arm's complaints.
        arms = [arm for arm in args if arm is not type(None)]
        complaints = [list(unknown_keys(arm, value, path)) for arm in arms]
        if complaints and all(complaints):
            yield from complaints[0]
    elif origin is list and isinstance(value, list):
        for index, item in enumerate(value):
            yield from unknown_keys(args[0], item, f"{path}[{index}]")
    elif origin is dict and isinstance(value, dict) and len(args) == 2:
        for key, item in value.items():
            yield from unknown_keys(args[1], item, f"{path}.{key}")
    elif isinstance(annotation, type) and issubclass(annotation, pydantic.RootModel):
        yield from unknown_keys(annotation.model_fields["root"].annotation, value, path)
    elif (
        isinstance(annotation, type)
        and issubclass(annotation, pydantic.BaseModel)
        and isinstance(value, dict)
    ):
        fields = {field.alias or name: field for name, field in annotation.model_fields.items()}
        for key, item in value.items():
            if key in fields:
                yield from unknown_keys(fields[key].annotation, item, f"{path}.{key}")
            else:
                yield f"{path}.{key}"
