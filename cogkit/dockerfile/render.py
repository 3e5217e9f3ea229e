"""BuildPlan → Dockerfile text. Every decision is made here, in Python; the template only lays it out.

The layer order is chosen for cache hits, most stable first: base, CA certificate,
environment, apt packages, Python, cogkit's server dependencies, the user's venv and
requirements, `build.run` steps, weights, cogkit's own package, and the code last. Editing
`predict.py` therefore invalidates only the final `COPY`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cogkit.dockerfile.env import environment
from cogkit.errors import BuildError
from cogkit.plan.models import BuildPlan

# uv is pip-installed into a throwaway stage and bind-mounted into each RUN that needs it,
# so it never lands in the image. Pinned for reproducible builds; bump deliberately.
UV_VERSION = "0.13.9"
# The server needs Python >= 3.10 (cogkit's own floor). Older user Pythons get this one beside them.
SERVER_FALLBACK_PYTHON = "3.12"
# Reproducible layers: during the build, SOURCE_DATE_EPOCH makes Python's py_compile (uv, pip,
# compileall) write hash-checked .pyc files, which stay valid whatever the files' timestamps, and a
# fixed PYTHONHASHSEED fixes the order of sets in them. cogkit push then sets every timestamp in the
# layers it pushes to this date (cogkit.registry.normalise). 1980-01-01, the oldest time a zip holds.
SOURCE_DATE_EPOCH = 315532800
# Docker allows 127 layers; past this many weight files they share one `COPY`.
MAX_WEIGHT_LAYERS = 32

# In the image, the worker imports `cog` and `cogkit` from this folder (COGKIT_SDK_PATH), made at build time.
SDK_PATH = "/opt/cogkit/sdk"
# Where the worker keeps the `cog` shim inside the package (tests check it against cogkit.worker.SHIM_DIR).
SHIM_IN_PACKAGE = "cogkit/worker/shim/cog"

# Context layout: stage() writes these folders; the template copies from them.
CONTEXT_CA_CERT = "cogkit/ca.crt"
CONTEXT_SERVER_REQUIREMENTS = "cogkit/server-requirements.txt"
CONTEXT_RUNTIME_LIB = "cogkit/lib"
CONTEXT_DEPS = "deps"
CONTEXT_REQUIREMENTS = "deps/requirements.txt"
CONTEXT_WEIGHTS = "weights"
CONTEXT_CODE = "src"


@dataclass(frozen=True)
class DockerfileView:
    """What the template sees: every value already decided and normalised."""

    plan: BuildPlan
    buildkit: bool
    ca_cert: bool
    python: str  # what the user asked for: "3.11" or "3.11.9"
    server_python: str
    managed_pythons: tuple[str, ...]  # versions uv installs because the base lacks them
    python_preference: str  # UV_PYTHON_PREFERENCE
    apt_cache_id: str
    index_flags: tuple[str, ...]
    weights: tuple[str, ...]
    weights_grouped: bool
    base_env: tuple[tuple[str, str], ...]
    runtime_env: tuple[tuple[str, str], ...]
    sdk_path: str = SDK_PATH
    shim: str = SHIM_IN_PACKAGE
    source_date_epoch: int = SOURCE_DATE_EPOCH
    uv_version: str = UV_VERSION


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _index_flags(plan: BuildPlan) -> tuple[str, ...]:
    flags: list[str] = []
    if plan.index_url:
        flags += ["--index-url", plan.index_url]
    for url in plan.extra_index_urls:
        flags += ["--extra-index-url", url]
    for link in plan.find_links:
        flags += ["--find-links", link]
    return tuple(flags)


def _base_env(plan: BuildPlan) -> tuple[tuple[str, str], ...]:
    env = [("PYTHONUNBUFFERED", "1"), ("LANG", "C.UTF-8")]
    if plan.gpu and plan.base_kind == "python-slim":
        # CUDA comes from the framework's pip wheels; the NVIDIA container runtime still needs these
        # to mount the driver (nvidia/cuda bases set them already).
        env += [("NVIDIA_VISIBLE_DEVICES", "all"), ("NVIDIA_DRIVER_CAPABILITIES", "compute,utility")]
    return tuple(env)


def _runtime_env(plan: BuildPlan) -> tuple[tuple[str, str], ...]:
    env: list[tuple[str, str]] = []
    if plan.predictor:
        env.append(("COGKIT_PREDICTOR", plan.predictor))
    if plan.trainer:
        env.append(("COGKIT_TRAIN", plan.trainer))
    if plan.concurrency_max is not None:
        env.append(("COGKIT_CONCURRENCY_MAX", str(plan.concurrency_max)))
    env.append(("COGKIT_WORKER_PYTHON", "/opt/venv/bin/python"))
    env.append(("COGKIT_SDK_PATH", SDK_PATH))
    return tuple(env)


def view(
    plan: BuildPlan, *, weights: Sequence[str] = (), buildkit: bool = True, ca_cert: bool = False
) -> DockerfileView:
    """Decide everything the template needs; raise for plans this builder cannot express."""
    if not buildkit and any(step.secrets for step in (*plan.pre_install, *plan.run_steps)):
        raise BuildError(
            "build secrets need BuildKit, and this engine only offers the legacy builder",
            hint="enable BuildKit (Docker 18.09+ with DOCKER_BUILDKIT=1), or remove `mounts:` from build.run",
        )
    server_python = plan.python_version if _minor(plan.python_version) >= (3, 10) else SERVER_FALLBACK_PYTHON
    managed: list[str] = []
    if not plan.base_has_python:
        managed.append(plan.python_version)
    if server_python != plan.python_version:
        managed.append(server_python)
    if not managed:
        preference = "only-system"
    elif plan.base_has_python:
        preference = "system"  # the base's Python for the user, a managed one for the server
    else:
        preference = "only-managed"
    unique_weights = tuple(dict.fromkeys(weights))
    return DockerfileView(
        plan=plan,
        buildkit=buildkit,
        ca_cert=ca_cert,
        python=plan.python_version,
        server_python=server_python,
        managed_pythons=tuple(managed),
        python_preference=preference,
        apt_cache_id=f"cogkit-apt-{_slug(plan.base_image)}",
        index_flags=_index_flags(plan),
        weights=unique_weights,
        weights_grouped=len(unique_weights) > MAX_WEIGHT_LAYERS,
        base_env=_base_env(plan),
        runtime_env=_runtime_env(plan),
    )


def final_stage_steps(dockerfile: str) -> int:
    """How many instructions follow the last FROM: each adds one history entry to the image, so
    the entries before them (and their layers) are the base image's."""
    logical = re.sub(r"\\\n", " ", dockerfile)
    instructions = [
        line.split(None, 1)[0].upper()
        for line in logical.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    last_from = max(i for i, word in enumerate(instructions) if word == "FROM")
    return len(instructions) - last_from - 1


def render(
    plan: BuildPlan, *, weights: Sequence[str] = (), buildkit: bool = True, ca_cert: bool = False
) -> str:
    """The Dockerfile for `plan`. Pure: the same arguments always give the same text.

    `weights` are project-relative paths that stage() put under `weights/` in the context;
    each gets its own layer before the code. `ca_cert` expects `cogkit/ca.crt` in the context.
    """
    template = environment().get_template("Dockerfile.j2")
    return template.render(
        v=view(plan, weights=weights, buildkit=buildkit, ca_cert=ca_cert),
        ctx={
            "ca_cert": CONTEXT_CA_CERT,
            "server_requirements": CONTEXT_SERVER_REQUIREMENTS,
            "runtime_lib": CONTEXT_RUNTIME_LIB,
            "deps": CONTEXT_DEPS,
            "weights": CONTEXT_WEIGHTS,
            "code": CONTEXT_CODE,
        },
    )
