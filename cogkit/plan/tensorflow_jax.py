"""The TensorFlow and JAX rules: a pin gives the CUDA (and for TensorFlow the cuDNN)."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from cogkit.errors import PlanError
from cogkit.plan import compat
from cogkit.plan.compat import TensorflowRelease
from cogkit.plan.frameworks import (
    JAX_DEFAULT_CUDA,
    JAX_EXTRA,
    TENSORFLOW_NAMES,
    TF_BUNDLES_FROM,
    Decision,
    error_at,
)
from cogkit.plan.requirements import Parsed
from cogkit.spec import pythons
from cogkit.spec.models import Spec


def _tf_row(version: Version) -> TensorflowRelease | None:
    """The row for the pinned release's major.minor (patch releases share their CUDA)."""
    for row in compat.tables().tensorflow:
        if Version(row.version).release[:2] == version.release[:2]:
            return row
    return None


def tensorflow(spec: Spec, parsed: Parsed, decision: Decision) -> None:
    found = parsed.named(*TENSORFLOW_NAMES)
    if not found or not spec.build.gpu:
        return
    line = found[-1]
    assert line.requirement is not None  # named() only returns named requirements
    rows = compat.tables().tensorflow
    known = ", ".join(r.version for r in rows)
    pins = [s for s in line.requirement.specifier if s.operator in {"==", "==="}]
    if pins:
        version = Version(pins[0].version.rstrip(".*"))
        row = _tf_row(version)
        if row is None:
            raise error_at(
                line, f"tensorflow {version} is not a release cogkit knows", f"pin one of: {known}"
            )
        picked = f"{line.text} → CUDA {row.cuda}, cuDNN {row.cudnn} (its tested build)"
    else:
        spec_set = line.requirement.specifier or SpecifierSet()
        matching = [r for r in rows if spec_set.contains(Version(r.version), prereleases=True)]
        if not matching:
            raise error_at(
                line, f"no tensorflow release cogkit knows matches '{line.text}'", f"pin one of: {known}"
            )
        row = matching[-1]
        picked = f"{line.text} is not pinned → assuming tensorflow {row.version}: CUDA {row.cuda}, cuDNN {row.cudnn}"
        decision.warnings.append(
            f"tensorflow is not pinned; the plan assumes {row.version} (pin it for a stable build)"
        )
    python = pythons.minor(spec.build.python_version)
    if python not in row.pythons:
        raise error_at(
            line,
            f"tensorflow {row.version} has no wheels for Python {python} (it has {', '.join(row.pythons)})",
            "pin another tensorflow, or change build.python_version",
        )
    explicit_cudnn = spec.build.cudnn
    if explicit_cudnn and not _same_cudnn(explicit_cudnn, row.cudnn):
        raise PlanError(
            f"cuDNN {explicit_cudnn} conflicts with tensorflow {row.version}, which was built with cuDNN {row.cudnn}",
            **spec.where("build.cudnn"),
            hint=f'set cudnn: "{row.cudnn.split(".")[0]}" or remove it',
        )
    cuda = row.cuda
    if spec.build.cuda and compat.minor(spec.build.cuda) != row.cuda:
        if Version(spec.build.cuda).major != Version(row.cuda).major:
            raise PlanError(
                f"CUDA {spec.build.cuda} cannot run tensorflow {row.version} (built for CUDA {row.cuda})",
                **spec.where("build.cuda"),
                hint=f'set cuda: "{row.cuda}" or remove it',
            )
        cuda = compat.minor(spec.build.cuda)
        picked += f"; build.cuda {cuda} honoured (same major)"
    decision.cuda = cuda
    decision.cudnn = row.cudnn
    decision.consumers.append(f"tensorflow {row.version}")
    bundled = Version(row.version) >= TF_BUNDLES_FROM and line.name == "tensorflow"
    decision.system_cuda |= not bundled
    decision.reasons.append(picked)
    if bundled and "and-cuda" not in line.requirement.extras:
        # TensorFlow's own Linux GPU install is `tensorflow[and-cuda]`: CUDA and cuDNN as pip
        # wheels, so no CUDA base image is needed (and 2.16/2.17 want a cuDNN 8 that no CUDA 12.3
        # image ships).
        extras = sorted({*line.requirement.extras, "and-cuda"})
        marker = f"; {line.requirement.marker}" if line.requirement.marker else ""
        rewritten = f"tensorflow[{','.join(extras)}]{line.requirement.specifier}{marker}"
        decision.rewrites[parsed.lines.index(line)] = rewritten
        decision.reasons.append(f"{line.text} → {rewritten}: CUDA and cuDNN come as pip wheels")
    if not bundled:
        decision.reasons.append(
            f"tensorflow {row.version} (older than 2.15, or tensorflow-gpu) loads CUDA from the system → CUDA base image"
        )


def _same_cudnn(explicit: str, built: str) -> bool:
    mine, theirs = explicit.split("."), built.split(".")
    return mine == theirs[: len(mine)]


def jax(spec: Spec, parsed: Parsed, decision: Decision) -> None:
    if not spec.build.gpu:
        return
    for line in parsed.named("jax", "jaxlib"):
        assert line.requirement is not None
        for extra in sorted(line.requirement.extras):
            match = JAX_EXTRA.match(extra)
            if not match:
                continue
            major = match["major"]
            cuda = spec.build.cuda if spec.build.cuda and spec.build.cuda.startswith(major + ".") else None
            cuda = compat.minor(cuda) if cuda else JAX_DEFAULT_CUDA.get(major)
            if cuda is None:
                raise error_at(
                    line, f"jax[{extra}] asks for CUDA {major}, which cogkit does not know", "set build.cuda"
                )
            if decision.cuda and Version(decision.cuda).major != int(major):
                raise error_at(
                    line,
                    f"jax[{extra}] needs CUDA {major} but the plan already uses CUDA {decision.cuda}",
                    "make the frameworks agree on one CUDA major",
                )
            decision.cuda = decision.cuda or cuda
            decision.consumers.append(f"jax[{extra}]")
            local = match["rest"] == "_local" or (match["rest"] or "").startswith("_cudnn")
            decision.system_cuda |= local
            decision.reasons.append(
                f"{line.text} → CUDA {major}.x (plan uses {decision.cuda}); "
                + ("uses the system CUDA" if local else "CUDA comes from nvidia-* wheels")
            )
            return
