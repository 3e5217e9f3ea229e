"""The CUDA rules of the build plan: which framework pin picks which CUDA, index and base."""

from __future__ import annotations

import pytest

from cogkit.errors import PlanError
from cogkit.plan import resolve
from cogkit.plan.models import BuildPlan
from cogkit.spec import load_spec

from .conftest import MakeProject

CU = "https://download.pytorch.org/whl/cu"


def plan_for(
    make_project: MakeProject, packages: list[str], *, gpu: bool = True, python: str = "3.11", **build: str
) -> BuildPlan:
    lines = [f"  gpu: {'true' if gpu else 'false'}", f'  python_version: "{python}"']
    lines += [f'  {key}: "{value}"' for key, value in build.items()]
    if packages:
        lines.append("  python_packages:")
        lines += [f'    - "{p}"' for p in packages]
    return resolve(
        load_spec(make_project("build:\n" + "\n".join(lines) + '\npredict: "predict.py:Predictor"\n'))
    )


def plan_error(make_project: MakeProject, packages: list[str], **kwargs: str) -> str:
    with pytest.raises(PlanError) as caught:
        plan_for(make_project, packages, **kwargs)
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_acceptance_torch_2_1_0_gives_cuda_12_1_from_pypi(make_project: MakeProject) -> None:
    """CUDA 12.1 is torch 2.1.0's highest variant and the one PyPI serves: no PyTorch index is needed."""
    plan = plan_for(make_project, ["torch==2.1.0"])
    assert (plan.cuda, plan.extra_index_urls) == ("12.1", ())
    assert plan.requirements == ("torch==2.1.0",)
    assert (plan.base_image, plan.base_kind, plan.base_has_python) == (
        "python:3.11-slim",
        "python-slim",
        True,
    )
    assert plan.min_nvidia_driver == "530.30.02"
    assert any(
        "torch==2.1.0 → CUDA 12.1 (highest of 11.8, 12.1), from PyPI (its Linux wheel is the CUDA 12.1 build)"
        in r
        for r in plan.reasons
    )


def test_a_variant_pypi_does_not_serve_comes_from_the_pytorch_index(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch==2.7.1"])  # highest 12.8; PyPI serves 12.6
    assert (plan.cuda, plan.extra_index_urls, plan.requirements) == (
        "12.8",
        (f"{CU}128",),
        ("torch==2.7.1+cu128",),
    )
    plan = plan_for(make_project, ["torch==2.7.1"], cuda="12.6")
    assert (plan.cuda, plan.extra_index_urls, plan.requirements) == ("12.6", (), ("torch==2.7.1",))


def test_acceptance_tensorflow_2_15_0_gives_cuda_12_2_and_cudnn_8_9(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["tensorflow==2.15.0"])
    assert (plan.cuda, plan.cudnn) == ("12.2", "8.9")
    # TensorFlow's own GPU install: CUDA and cuDNN as pip wheels, on a slim base.
    assert plan.requirements == ("tensorflow[and-cuda]==2.15.0",)
    assert (plan.base_image, plan.base_kind) == ("python:3.11-slim", "python-slim")
    assert plan.min_nvidia_driver == "535.54.03"


def test_tensorflow_and_cuda_extra_is_kept(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["tensorflow[and-cuda]==2.16.1"])
    assert (plan.cuda, plan.cudnn, plan.base_image) == ("12.3", "8.9", "python:3.11-slim")
    assert plan.requirements == ("tensorflow[and-cuda]==2.16.1",)
    assert plan.min_nvidia_driver == "545.23.06"


def test_older_tensorflow_needs_the_system_cuda(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["tensorflow==2.12.0"])
    assert (plan.cuda, plan.cudnn) == ("11.8", "8.6")
    assert plan.base_image == "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04"
    assert (plan.base_kind, plan.base_has_python) == ("cuda-runtime", False)
    assert plan.min_nvidia_driver == "520.61.05"


def test_tensorflow_with_an_explicit_cuda_base_and_no_matching_image(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["tensorflow==2.16.1"], base_image="cuda-runtime")
    assert "CUDA 12.3 with cuDNN 8.9 does not exist as an nvidia/cuda image" in message
    assert "CUDA 12.3 comes with cuDNN 9" in message


@pytest.mark.parametrize(
    ("pin", "cuda", "image"),
    [
        ("torch==2.4.0", "12.4", "python:3.11-slim"),
        ("torch==2.7.1", "12.8", "python:3.11-slim"),
        ("torch==2.9.0", "13.0", "python:3.11-slim"),
        ("torch==2.12.0", "13.2", "python:3.11-slim"),
        ("torch==2.13.0", "13.2", "python:3.11-slim"),
        ("torch==2.14.0", "13.2", "python:3.11-slim"),
        ("torch==2.2", "12.1", "python:3.11-slim"),
        ("torch==2.2.*", "12.1", "python:3.11-slim"),
    ],
)
def test_pinned_torch_takes_its_highest_cuda(
    make_project: MakeProject, pin: str, cuda: str, image: str
) -> None:
    plan = plan_for(make_project, [pin])
    assert (plan.cuda, plan.base_image) == (cuda, image)
    on_pypi = cuda == "12.1"  # torch 2.2's highest variant is the one PyPI serves
    assert plan.extra_index_urls == (() if on_pypi else (f"{CU}{cuda.replace('.', '')}",))


def test_wildcard_pin_resolves_to_the_newest_matching_release(make_project: MakeProject) -> None:
    assert plan_for(make_project, ["torch==2.2.*"]).requirements == ("torch==2.2.2",)


def test_cu_suffix_selects_the_variant(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch==2.1.0+cu118"])
    assert (plan.cuda, plan.extra_index_urls, plan.requirements) == (
        "11.8",
        (f"{CU}118",),
        ("torch==2.1.0+cu118",),
    )
    assert any("the +cu label selects it" in r for r in plan.reasons)


def test_cu_suffix_that_was_never_built_is_an_error(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["torch==2.1.0+cu117"])
    assert message.startswith("cog.yaml:5:7: torch 2.1.0 has no +cu117 build")
    assert "use one of: +cu118, +cu121" in message


def test_explicit_cuda_with_matching_variant(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch==2.1.0"], cuda="11.8")
    assert (plan.cuda, plan.requirements) == ("11.8", ("torch==2.1.0+cu118",))


def test_explicit_cuda_falls_back_to_a_lower_minor_of_the_same_major(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch==2.1.0"], cuda="12.4")
    assert (plan.cuda, plan.extra_index_urls) == ("12.1", ())


def test_explicit_cuda_the_pin_was_not_built_for_warns_and_builds(make_project: MakeProject) -> None:
    """As in Cog: the wheel brings its own CUDA, so the build goes on with the release's own variant."""
    plan = plan_for(make_project, ["torch==1.13.0"], cuda="11.4", python="3.10")
    assert (plan.cuda, plan.requirements, plan.base_image) == ("11.7", ("torch==1.13.0",), "python:3.10-slim")
    assert plan.min_nvidia_driver == "515.43.04"
    warning = next(w for w in plan.warnings if w.startswith("build.cuda 11.4"))
    assert "torch 1.13.0 was not built for CUDA 11.4 (it was for 11.6, 11.7)" in warning
    assert "wheels bring their own CUDA 11.7, so build.cuda is not used" in warning
    assert "NVIDIA driver 515.43.04 or newer" in warning and 'Set cuda: "11.7"' in warning


def test_torchvision_and_torchaudio_follow_torch(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch==2.1.0", "torchvision", "torchaudio==2.1.0", "numpy<2"])
    assert plan.requirements == ("torch==2.1.0", "torchvision==0.16.0", "torchaudio==2.1.0", "numpy<2")
    plan = plan_for(make_project, ["torch==2.1.0", "torchvision", "torchaudio==2.1.0"], cuda="11.8")
    assert plan.requirements == ("torch==2.1.0+cu118", "torchvision==0.16.0+cu118", "torchaudio==2.1.0+cu118")


def test_torchvision_that_does_not_match_torch_is_an_error(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["torch==2.1.0", "torchvision==0.15.2"])
    assert message.startswith("cog.yaml:6:7: torchvision==0.15.2 does not go with torch 2.1.0")
    assert "use torchvision==0.16.0" in message


def test_gpu_with_unpinned_torch_says_which_pin_to_add(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["torch>=2.0"])
    assert message.startswith("cog.yaml:5:7: torch is not pinned ('torch>=2.0') in a GPU build")
    assert "pin it, e.g. torch==2.14.0 (CUDA 13.2), or set build.cuda" in message


def test_unpinned_torch_with_explicit_cuda_uses_that_index(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch", "torchvision"], cuda="12.1")
    assert (plan.cuda, plan.extra_index_urls) == ("12.1", (f"{CU}121",))
    assert plan.requirements == ("torch", "torchvision")
    assert plan.base_kind == "python-slim"


def test_unknown_torch_version_is_an_error(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["torch==2.99.0"])
    assert message.startswith("cog.yaml:5:7: torch ==2.99.0 is not a release cogkit knows")
    assert "2.14.0" in message


def test_torch_without_wheels_for_the_python(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["torch==2.0.1"], python="3.12")
    assert message.startswith("cog.yaml:5:7: torch 2.0.1 has no wheels for Python 3.12 (it has 3.10, 3.11)")


def test_old_torch_uses_find_links_and_a_cuda_image(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch==1.8.0", "torchvision==0.9.0"], python="3.8")
    assert plan.requirements == ("torch==1.8.0+cu111", "torchvision==0.9.0+cu111")
    assert plan.find_links == ("https://download.pytorch.org/whl/torch_stable.html",)
    assert plan.base_image == "nvidia/cuda:11.1.1-cudnn8-runtime-ubuntu20.04"


def test_cpu_build_takes_torch_from_the_cpu_index(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch==2.1.0", "torchvision"], gpu=False)
    assert plan.requirements == ("torch==2.1.0+cpu", "torchvision==0.16.0+cpu")
    assert (plan.cuda, plan.cudnn, plan.min_nvidia_driver) == (None, None, None)
    assert plan.extra_index_urls == ("https://download.pytorch.org/whl/cpu",)
    assert plan.base_image == "python:3.11-slim"


def test_cpu_build_with_unpinned_torch_still_avoids_the_cuda_wheels(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch"], gpu=False)
    assert plan.extra_index_urls == ("https://download.pytorch.org/whl/cpu",)


def test_tensorflow_conflicting_cudnn_is_an_error(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["tensorflow==2.15.0"], cudnn="9")
    assert message.startswith(
        "cog.yaml:4:10: build.cudnn: cuDNN 9 conflicts with tensorflow 2.15.0, which was built with cuDNN 8.9"
    )


def test_tensorflow_matching_cudnn_major_is_fine(make_project: MakeProject) -> None:
    assert plan_for(make_project, ["tensorflow==2.15.0"], cudnn="8").cudnn == "8.9"


def test_unknown_tensorflow_is_an_error(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["tensorflow==1.15.0"])
    assert message.startswith("cog.yaml:5:7: tensorflow 1.15.0 is not a release cogkit knows")
    assert "2.21.0" in message


def test_jax_cuda12_selects_cuda_12_and_a_slim_base(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["jax[cuda12]==0.4.30"])
    assert plan.cuda is not None and plan.cuda.startswith("12.")
    assert plan.base_kind == "python-slim"
    assert any("jax[cuda12]" in r for r in plan.reasons)


def test_jax_local_cuda_needs_a_cuda_image(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["jax[cuda12_local]==0.4.30"])
    assert plan.base_kind == "cuda-runtime"


def test_gpu_without_any_framework_gets_the_documented_default(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["numpy"])
    assert (plan.cuda, plan.cudnn) == ("12.6", "9")
    assert plan.base_image == "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04"


def test_explicit_cuda_without_framework_uses_the_system_cuda(make_project: MakeProject) -> None:
    plan = plan_for(make_project, [], cuda="11.8")
    assert plan.base_image == "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04"
    assert plan.min_nvidia_driver == "520.61.05"


def test_cuda_cudnn_pair_that_does_not_exist(make_project: MakeProject) -> None:
    message = plan_error(make_project, [], cuda="12.4", cudnn="8")
    assert message == (
        "cog.yaml:5:10: build.cudnn: CUDA 12.4 with cuDNN 8 is not a pair NVIDIA ships\n"
        "  hint: CUDA 12.4 comes with cuDNN 9"
    )


def test_cuda_with_no_image(make_project: MakeProject) -> None:
    message = plan_error(make_project, [], cuda="10.2")
    assert message.startswith("cog.yaml:4:9: build.cuda: there is no nvidia/cuda image for CUDA 10.2")
    assert "11.8" in message


def test_torch_follows_the_cuda_tensorflow_needs(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["tensorflow==2.12.0", "torch==2.1.0"])
    assert (plan.cuda, plan.cudnn) == ("11.8", "8.6")
    assert plan.requirements == ("tensorflow==2.12.0", "torch==2.1.0+cu118")
    assert plan.base_image == "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04"


def test_torch_without_a_variant_for_tensorflows_cuda(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["tensorflow==2.15.0", "torch==2.0.1"], python="3.10")
    assert message.startswith(
        "cog.yaml:6:7: torch 2.0.1 has no build for CUDA 12.2, which TensorFlow/JAX need here"
    )


def test_explicit_cuda_of_another_major_than_tensorflow(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["tensorflow==2.15.0"], cuda="11.8")
    assert message.startswith(
        "cog.yaml:4:9: build.cuda: CUDA 11.8 cannot run tensorflow 2.15.0 (built for CUDA 12.2)"
    )


def test_unpinned_torch_beside_tensorflow_uses_its_cuda_index(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["tensorflow==2.15.0", "torch"])
    assert plan.extra_index_urls == ("https://download.pytorch.org/whl/cu121",)
    assert plan.cuda == "12.2"


def test_tensorflow_without_wheels_for_the_python(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["tensorflow==2.15.0"], python="3.12")
    assert message.startswith(
        "cog.yaml:5:7: tensorflow 2.15.0 has no wheels for Python 3.12 (it has 3.9, 3.10, 3.11)"
    )


def test_cpu_build_with_an_unknown_torch_still_uses_the_cpu_index(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torch==2.99.0"], gpu=False)
    assert plan.requirements == ("torch==2.99.0",)
    assert plan.extra_index_urls == ("https://download.pytorch.org/whl/cpu",)
    assert any("not a torch release cogkit knows" in w for w in plan.warnings)


def test_official_torch_wheel_url_bundles_cuda(make_project: MakeProject) -> None:
    url = "https://download.pytorch.org/whl/cu118/torch-2.1.0%2Bcu118-cp311-cp311-linux_x86_64.whl"
    plan = plan_for(make_project, [f"torch @ {url}"])
    assert (plan.cuda, plan.base_kind) == ("11.8", "python-slim")
    assert plan.requirements == (f"torch @ {url}",)


def test_custom_torch_wheel_needs_build_cuda_and_the_system_cuda(make_project: MakeProject) -> None:
    url = "https://weights.example/torch-2.1.0a0+gitabc-cp311-cp311-linux_x86_64.whl"
    message = plan_error(make_project, [url])
    assert message.startswith("cog.yaml:5:7: torch comes from a wheel (2.1.0a0+gitabc) without a CUDA label")
    plan = plan_for(make_project, [url], cuda="11.8")
    assert (plan.cuda, plan.base_image) == ("11.8", "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04")


def test_torchvision_pinned_alone_brings_its_torch_variant(make_project: MakeProject) -> None:
    plan = plan_for(make_project, ["torchvision==0.16.0"])
    assert (plan.cuda, plan.requirements) == ("12.1", ("torchvision==0.16.0",))
    assert plan.extra_index_urls == ()


def test_cu_label_that_contradicts_build_cuda(make_project: MakeProject) -> None:
    message = plan_error(make_project, ["torch==2.1.0+cu121"], cuda="11.8")
    assert message.startswith("cog.yaml:4:9: build.cuda: build.cuda 11.8 conflicts with torch==2.1.0+cu121")
    assert plan_for(make_project, ["torch==2.1.0+cu121"], cuda="12.4").cuda == "12.1"
