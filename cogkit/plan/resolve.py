"""`resolve(spec) -> BuildPlan`: every build decision, made once, in one pure function.

Pure: it reads only the spec and the packaged compatibility tables (no network, no clock),
so the same cog.yaml always gives the same plan.
"""

from __future__ import annotations

from cogkit.errors import UsageError
from cogkit.plan import base, compat, frameworks, pytorch, requirements, tensorflow_jax
from cogkit.plan.models import BuildPlan, RunStep, SecretMount
from cogkit.spec import pythons
from cogkit.spec.models import BASE_IMAGE_CHOICES, Spec

# A GPU build that names no framework and no CUDA gets this: torch's long-lived CUDA 12
# line, whose runtime works from driver 560 on (CUDA 13 needs 580+, still rare in clouds).
DEFAULT_GPU_CUDA = "12.6"


def resolve(spec: Spec, *, base_image_override: str | None = None) -> BuildPlan:
    """Decide the Python, CUDA, base image, indexes and requirement lines for `spec`."""
    if base_image_override is not None and not base_image_override.strip():
        raise UsageError(
            "--base-image needs a value", hint=f"use {', '.join(BASE_IMAGE_CHOICES)} or an image reference"
        )
    build = spec.build
    reasons = [_python_reason(spec)]
    parsed = requirements.parse(spec.requirements, spec.project_dir)
    decision = frameworks.Decision()
    # TensorFlow and JAX first: their CUDA is fixed by the release, torch has several variants.
    tensorflow_jax.tensorflow(spec, parsed, decision)
    tensorflow_jax.jax(spec, parsed, decision)
    pytorch.torch(spec, parsed, decision)
    reasons += decision.reasons
    cuda = _cuda(spec, decision, reasons)
    base.check_pair(spec)
    image_cuda = (
        build.cuda
        if (cuda and build.cuda and compat.minor(build.cuda) == cuda and build.cuda.count(".") == 2)
        else cuda
    )
    chosen = base.choose(
        spec,
        image_cuda,
        decision.cudnn or (build.cudnn if build.gpu else None),
        decision.system_cuda,
        base_image_override,
    )
    reasons.append(chosen.reason)
    driver = compat.min_driver(chosen.cuda_full or cuda) if cuda else None
    if driver:
        reasons.append(f"CUDA {chosen.cuda_full or cuda} needs NVIDIA driver {driver} or newer (Linux)")
    lines = [decision.rewrites.get(index, line.text) for index, line in enumerate(parsed.lines)]
    return BuildPlan(
        python_version=build.python_version,
        gpu=build.gpu,
        cuda=cuda,
        cudnn=(decision.cudnn or build.cudnn or chosen.cudnn) if cuda else None,
        min_nvidia_driver=driver,
        base_image=chosen.image,
        base_kind=chosen.kind,  # type: ignore[arg-type]
        base_has_python=chosen.has_python,
        index_url=parsed.index_url,
        extra_index_urls=_unique(decision.extra_index_urls + parsed.extra_index_urls),
        find_links=_unique(decision.find_links + parsed.find_links),
        requirements=_unique(lines),
        local_requirement_files=_unique([line.local_path for line in parsed.lines if line.local_path]),
        system_packages=_unique(list(build.system_packages)),
        run_steps=tuple(
            RunStep(step.command, tuple(SecretMount(m.id, m.target) for m in step.mounts))
            for step in build.run
        ),
        pre_install=tuple(RunStep(command) for command in build.pre_install),
        environment=tuple(tuple(entry.split("=", 1)) for entry in spec.environment),  # type: ignore[misc]
        predictor=spec.predict,
        trainer=spec.train,
        concurrency_max=spec.concurrency_max,
        image=spec.image,
        reasons=tuple(reasons),
        warnings=tuple(spec.warnings) + tuple(decision.warnings),
        cog_config=dict(spec.raw),
    )


def _python_reason(spec: Spec) -> str:
    version = spec.build.python_version
    if "python_version" in (spec.raw.get("build") or {}):
        return f"Python {version} from build.python_version"
    return f"Python {version}: build.python_version is not set, so cogkit's default {pythons.DEFAULT} is used"


def _cuda(spec: Spec, decision: frameworks.Decision, reasons: list[str]) -> str | None:
    build = spec.build
    if not build.gpu:
        if decision.consumers:
            reasons.append("build.gpu is not true → CPU build")
        return None
    if decision.cuda:
        return decision.cuda
    if build.cuda:
        decision.system_cuda = True
        cuda = compat.minor(build.cuda)
        reasons.append(f"build.cuda {build.cuda} with no framework that bundles CUDA → system CUDA {cuda}")
        return cuda
    decision.system_cuda = True
    reasons.append(
        f"GPU build with no torch, TensorFlow or JAX pin and no build.cuda → default CUDA {DEFAULT_GPU_CUDA}"
    )
    return DEFAULT_GPU_CUDA


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
