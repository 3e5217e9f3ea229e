"""The torch rules: a pin (or a +cuXYZ label, or build.cuda) picks one CUDA variant of torch,
and torch, torchvision and torchaudio are rewritten to that variant and its index.

The variant that PyPI itself serves (torch 2.7.1's Linux wheel is the CUDA 12.6 build) is installed
from PyPI, without PyTorch's index: one index fewer, and PyPI mirrors are enough. A build.cuda the
pinned release was not built for is a warning, as in Cog: torch's wheels bring their own CUDA, so
the release's own variant (PyPI's when there is one) is installed and build.cuda is not used.
"""

from __future__ import annotations

import re

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from cogkit.errors import PlanError
from cogkit.plan import compat
from cogkit.plan.compat import TorchRelease
from cogkit.plan.frameworks import (
    TORCH_BUNDLES_FROM,
    Decision,
    error_at,
    exact_pin,
    label_cuda,
    local_label,
    pick_variant,
    where,
)
from cogkit.plan.requirements import Line, Parsed
from cogkit.spec.models import Spec


def _versions(rows: list[TorchRelease]) -> str:
    names = [r.version for r in rows]
    return ", ".join(names) if len(names) <= 8 else f"{', '.join(names[:3])}, …, {', '.join(names[-4:])}"


def _matching(line: Line, rows: tuple[TorchRelease, ...]) -> list[TorchRelease]:
    """Rows whose version satisfies the line's specifier (local labels like +cu121 ignored)."""
    spec = line.requirement.specifier if line.requirement else SpecifierSet()
    text = str(spec)
    local = re.search(r"\+[\w.]+", text)
    if local:
        spec = SpecifierSet(text.replace(local.group(0), ""))
    return [r for r in rows if spec.contains(Version(r.version), prereleases=True)]


def torch(spec: Spec, parsed: Parsed, decision: Decision) -> None:
    """Apply the torch rules; rewrite torch/torchvision/torchaudio lines to one matched variant."""
    found = parsed.named("torch")
    gpu, explicit = spec.build.gpu, spec.build.cuda if spec.build.gpu else None
    other = decision.cuda  # what TensorFlow or JAX (resolved first) already needs
    if not found:
        _companions_only(spec, parsed, decision, explicit, other)
        return
    line = found[-1]
    rows = compat.tables().torch
    if line.requirement is None or line.requirement.url:  # a wheel URL or path: only its label tells
        if gpu:
            _torch_wheel(line, explicit or other, decision)
        return
    candidates = _matching(line, rows)
    if exact_pin(line):
        if not candidates and not gpu:  # a CPU build needs no table row: just the CPU index
            decision.extra_index_urls.append(compat.index_url(None))
            decision.warnings.append(
                f"{line.text} is not a torch release cogkit knows; installing it from the CPU index"
            )
            decision.reasons.append(f"{line.text} (unknown release), CPU build → {compat.index_url(None)}")
            return
        if not candidates:
            raise error_at(
                line,
                f"torch {line.requirement.specifier} is not a release cogkit knows",
                f"pin one of: {_versions(list(rows))}",
            )
        row = candidates[-1]
        _check_python(line, row, spec.build.python_version)
        label = local_label(line)
        if label == "cpu" and gpu:
            raise error_at(
                line, f"{line.text} is the CPU build in a GPU build", "drop '+cpu', or set build.gpu: false"
            )
        cuda = _torch_cuda(line, row, label, explicit, other, spec, decision) if gpu else None
        _rewrite_family(parsed, decision, row, cuda, line)
        if gpu:
            decision.consumers.append(f"torch {row.version}")
            decision.system_cuda |= Version(row.version) < TORCH_BUNDLES_FROM
        return
    if not gpu:
        decision.extra_index_urls.append(compat.index_url(None))
        decision.reasons.append(f"{line.text} (not pinned), CPU build → torch from {compat.index_url(None)}")
        return
    wanted = explicit or other
    if wanted is None:
        newest = (candidates or list(rows))[-1]
        raise error_at(
            line,
            f"torch is not pinned ('{line.text}') in a GPU build, so the CUDA cannot be chosen",
            f"pin it, e.g. torch=={newest.version} (CUDA {newest.cuda[-1]}), or set build.cuda "
            "to install torch from that CUDA's index",
        )
    usable = [(r, pick_variant(r.cuda, wanted)) for r in candidates if not r.find_links]
    usable = [(r, v) for r, v in usable if v]
    if not usable:
        place = spec.where("build.cuda") if explicit else where(line)
        raise PlanError(
            f"no torch release matching '{line.text}' was built for CUDA {wanted}",
            **place,
            hint=f"choose a CUDA that torch publishes: {', '.join(_all_variants(candidates))}",
        )
    row, cuda = usable[-1]
    decision.cuda = decision.cuda or cuda
    decision.extra_index_urls.append(compat.index_url(cuda))
    decision.consumers.append("torch (unpinned)")
    decision.system_cuda |= Version(row.version) < TORCH_BUNDLES_FROM
    decision.reasons.append(
        f"{line.text} is not pinned; {'build.cuda' if explicit else 'the other frameworks need CUDA'} {wanted} "
        f"→ torch from {compat.index_url(cuda)} "
        f"(newest there: {row.version})"
    )


def _companions_only(
    spec: Spec, parsed: Parsed, decision: Decision, explicit: str | None, other: str | None
) -> None:
    """torchvision/torchaudio pinned without torch: torch comes with them, so pick its variant."""
    for line in parsed.named("torchvision", "torchaudio"):
        if line.requirement is None or not exact_pin(line):
            continue
        pinned = re.sub(r"\+.*$", "", next(iter(line.requirement.specifier)).version)
        rows = [r for r in compat.tables().torch if pinned in (r.torchvision, r.torchaudio)]
        if not rows:
            continue
        row = rows[-1]
        cuda = (
            _torch_cuda(line, row, local_label(line), explicit, other, spec, decision)
            if spec.build.gpu
            else None
        )
        decision.reasons.append(f"{line.text} comes with torch {row.version}")
        _rewrite_family(parsed, decision, row, cuda, line)
        if spec.build.gpu:
            decision.consumers.append(f"torch {row.version} (via {line.name})")
            decision.system_cuda |= Version(row.version) < TORCH_BUNDLES_FROM
        return


def _torch_wheel(line: Line, wanted: str | None, decision: Decision) -> None:
    """torch from a wheel file: an official `+cuXYZ` wheel bundles CUDA; a custom build does not."""
    label = local_label(line)
    labelled = bool(label and label != "cpu")
    cuda = label_cuda(label) if labelled and label else (compat.minor(wanted) if wanted else None)
    if cuda is None:
        raise error_at(
            line,
            f"torch comes from a wheel ({line.wheel_version or 'unknown version'}) without a CUDA label",
            'set build.cuda to the CUDA it was built for, e.g. cuda: "12.1"',
        )
    decision.cuda = decision.cuda or cuda
    decision.consumers.append(f"torch wheel {line.wheel_version}")
    decision.system_cuda |= not labelled  # a custom build links against the system CUDA
    how = f"its +{label} label" if labelled else "build.cuda (a custom build: system CUDA)"
    decision.reasons.append(f"torch from a wheel ({line.wheel_version}) → CUDA {cuda}, from {how}")


def _all_variants(rows: list[TorchRelease]) -> list[str]:
    return sorted({v for r in rows for v in r.cuda}, key=Version)


def _check_python(line: Line, row: TorchRelease, python: str) -> None:
    version = compat.minor(python)
    if Version(version) >= Version("3.10") and version not in row.pythons:
        have = ", ".join(row.pythons) if row.pythons else "only Python 3.9 and older"
        raise error_at(
            line,
            f"torch {row.version} has no wheels for Python {version} (it has {have})",
            "pin a newer torch, or change build.python_version",
        )


def _torch_cuda(
    line: Line,
    row: TorchRelease,
    label: str | None,
    explicit: str | None,
    other: str | None,
    spec: Spec,
    decision: Decision,
) -> str:
    if label:
        cuda = label_cuda(label)
        if cuda not in row.cuda:
            raise error_at(
                line,
                f"torch {row.version} has no +{label} build",
                f"use one of: {', '.join('+' + compat.local_tag(c) for c in row.cuda)}",
            )
        if explicit and pick_variant((cuda,), explicit) is None:
            raise PlanError(
                f"build.cuda {explicit} conflicts with {line.text} (built for CUDA {cuda})",
                **spec.where("build.cuda"),
                hint=f'set cuda: "{cuda}", or drop the +{label} label',
            )
        return cuda
    if explicit:
        cuda = pick_variant(row.cuda, explicit)
        if cuda is None:
            cuda = row.pypi_cuda if row.pypi_cuda in row.cuda else row.cuda[-1]
            driver = compat.min_driver(cuda)
            needs = f"; the image needs NVIDIA driver {driver} or newer" if driver else ""
            decision.warnings.append(
                f"build.cuda {explicit}: torch {row.version} was not built for CUDA {explicit} "
                f"(it was for {', '.join(row.cuda)}); installing its CUDA {cuda} build, whose wheels "
                f"bring their own CUDA {cuda}, so build.cuda is not used{needs}. "
                f'Set cuda: "{cuda}" to silence this'
            )
        return cuda
    if other:
        cuda = pick_variant(row.cuda, other)
        if cuda is None:
            raise error_at(
                line,
                f"torch {row.version} has no build for CUDA {other}, which TensorFlow/JAX need here",
                f"pin a torch with a CUDA {Version(other).major}.x variant, or set build.cuda",
            )
        return cuda
    return row.cuda[-1]


def _rewrite_family(
    parsed: Parsed, decision: Decision, row: TorchRelease, cuda: str | None, torch_line: Line
) -> None:
    tag = compat.local_tag(cuda)
    if cuda is None and not row.cpu:
        decision.reasons.append(f"torch {row.version} has no CPU build; kept as written")
        return
    from_pypi = cuda is not None and cuda == row.pypi_cuda and not row.find_links and _pypi_will_do(parsed)
    if from_pypi:
        where = f"PyPI (its Linux wheel is the CUDA {cuda} build)"
    elif row.find_links:
        decision.find_links.append(compat.PYTORCH_FIND_LINKS)
        where = compat.PYTORCH_FIND_LINKS
    else:
        decision.extra_index_urls.append(compat.index_url(cuda))
        where = compat.index_url(cuda)
    if cuda:
        decision.cuda = decision.cuda or cuda
        decision.reasons.append(
            f"{torch_line.text} → CUDA {cuda} ({_why(torch_line, row, cuda)}), from {where}"
        )
    else:
        decision.reasons.append(f"{torch_line.text}, CPU build → torch {row.version}+cpu from {where}")
    versions = {"torch": row.version, "torchvision": row.torchvision, "torchaudio": row.torchaudio}
    for index, line in enumerate(parsed.lines):
        if line.name not in versions or line.requirement is None:
            continue
        want = versions[line.name]
        if want is None:
            decision.reasons.append(
                f"no {line.name} release is known to match torch {row.version}; kept as written"
            )
            continue
        if line.requirement.specifier and not _matching_version(line, want):
            raise error_at(
                line, f"{line.text} does not go with torch {row.version}", f"use {line.name}=={want}"
            )
        labelled = not from_pypi and (line.name != "torchaudio" or Version(want) >= Version("2.0"))
        suffix = f"+{tag}" if labelled else ""
        extras = f"[{','.join(sorted(line.requirement.extras))}]" if line.requirement.extras else ""
        marker = f"; {line.requirement.marker}" if line.requirement.marker else ""
        decision.rewrites[index] = f"{line.name}{extras}=={want}{suffix}{marker}"


def _pypi_will_do(parsed: Parsed) -> bool:
    """PyPI's wheel serves unless the user named PyTorch's index or pinned a torch wheel's hash."""
    named_index = any(url.startswith(compat.PYTORCH_INDEX) for url in parsed.extra_index_urls)
    hashed = any("--hash" in line.text for line in parsed.named("torch", "torchvision", "torchaudio"))
    return not (named_index or hashed)


def _matching_version(line: Line, want: str) -> bool:
    spec = str(line.requirement.specifier) if line.requirement else ""
    spec = re.sub(r"\+[\w.]+", "", spec)
    try:
        return SpecifierSet(spec).contains(Version(want), prereleases=True)
    except InvalidVersion:
        return False


def _why(line: Line, row: TorchRelease, cuda: str) -> str:
    if local_label(line):
        return "the +cu label selects it"
    if cuda == row.cuda[-1]:
        return f"highest of {', '.join(row.cuda)}"
    return "the variant that goes with the requested CUDA"
