"""`cogkit deploy`: manifests for a pushed image on Kubernetes (with KEDA), Knative or KServe.

    image reference ─▶ resolve_image ─▶ ImageFacts ─┐
                                                    ├─▶ make_plan ─▶ DeployPlan ─▶ render ─▶ Manifests
    flags ───────────▶ DeploySettings ──────────────┘

Manifests are Python data, dumped with PyYAML; nothing is templated as text. The names below load
on first use (PEP 562): every `cogkit` command imports the CLI's deploy module, and only
`cogkit deploy` should pay for the registry client and YAML.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "DeployPlan": "cogkit.deploy.plan",
    "DeploySettings": "cogkit.deploy.settings",
    "ImageFacts": "cogkit.deploy.image",
    "Manifests": "cogkit.deploy.render",
    "QueueSettings": "cogkit.deploy.queue",
    "SecretKey": "cogkit.deploy.queue",
    "Target": "cogkit.deploy.settings",
    "deploy": "cogkit.deploy.render",
    "render_manifests": "cogkit.deploy.render",
    "resolve_image": "cogkit.deploy.image",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cogkit.deploy' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
