"""The rest of the plan: base image overrides, indexes, local wheels, steps and the JSON shape."""

from __future__ import annotations

import pytest

import cogkit.plan
from cogkit.errors import PlanError, UsageError
from cogkit.plan import RunStep, SecretMount, resolve
from cogkit.spec import load_spec

from .conftest import MakeProject

TORCH_GPU = 'build:\n  gpu: true\n  python_version: "3.11"\n  python_packages: ["torch==2.4.0"]\n'


def test_public_surface_is_complete() -> None:
    for name in cogkit.plan.__all__:
        assert hasattr(cogkit.plan, name), name


@pytest.mark.parametrize(
    ("choice", "image", "kind", "has_python"),
    [
        ("slim", "python:3.11-slim", "python-slim", True),
        ("cuda-runtime", "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", "cuda-runtime", False),
        ("cuda-devel", "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", "cuda-devel", False),
        ("mirror.local:5000/python:3.11-slim", "mirror.local:5000/python:3.11-slim", "custom", True),
        ("mirror.local/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", None, "custom", False),
    ],
)
def test_base_image_key(
    make_project: MakeProject, choice: str, image: str | None, kind: str, has_python: bool
) -> None:
    plan = resolve(load_spec(make_project(TORCH_GPU + f'  base_image: "{choice}"\n')))
    assert (plan.base_image, plan.base_kind, plan.base_has_python) == (image or choice, kind, has_python)
    assert plan.cuda == "12.4"


def test_base_image_flag_wins_over_the_key(make_project: MakeProject) -> None:
    spec = load_spec(make_project(TORCH_GPU + '  base_image: "cuda-devel"\n'))
    plan = resolve(spec, base_image_override="registry.corp/python:3.11-slim")
    assert (plan.base_image, plan.base_kind) == ("registry.corp/python:3.11-slim", "custom")


def test_empty_base_image_flag_is_a_usage_error(make_project: MakeProject) -> None:
    with pytest.raises(UsageError):
        resolve(load_spec(make_project(TORCH_GPU)), base_image_override=" ")


def test_cuda_base_for_a_cpu_build_is_an_error(make_project: MakeProject) -> None:
    spec = load_spec(make_project('build:\n  python_version: "3.11"\n  base_image: cuda-runtime\n'))
    with pytest.raises(PlanError) as caught:
        resolve(spec)
    assert str(caught.value).startswith(
        "cog.yaml:3:15: build.base_image: base image 'cuda-runtime' needs a CUDA version, but this is a CPU build"
    )


def test_run_step_that_compiles_cuda_gets_the_devel_image(make_project: MakeProject) -> None:
    spec = load_spec(
        make_project(
            'build:\n  gpu: true\n  cuda: "12.1"\n  run:\n    - CMAKE_ARGS="-DGGML_CUDA=on" pip install llama-cpp-python\n'
        )
    )
    plan = resolve(spec)
    assert plan.base_image == "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04"
    assert any("build.run compiles CUDA code" in r for r in plan.reasons)


def test_index_options_move_to_the_top(make_project: MakeProject) -> None:
    path = make_project(
        'build:\n  gpu: true\n  python_version: "3.10"\n  python_requirements: requirements.txt\n',
        {
            "requirements.txt": (
                "--index-url https://pypi.corp/simple\n"
                "torch==1.13.1 --extra-index-url https://download.pytorch.org/whl/cu117\n"
                "-f https://data.pyg.org/whl/torch-1.13.1+cu117.html\n"
                "--extra-index-url=https://extra.corp/simple/\n"
                "--pre\n"
                "clip @ git+https://github.com/openai/CLIP.git\n"
                "pillow==10.0.0 --hash=sha256:abc\n"
            )
        },
    )
    plan = resolve(load_spec(path))
    assert plan.index_url == "https://pypi.corp/simple"
    assert plan.extra_index_urls == ("https://download.pytorch.org/whl/cu117", "https://extra.corp/simple")
    assert plan.find_links == ("https://data.pyg.org/whl/torch-1.13.1+cu117.html",)
    assert plan.requirements == (
        "torch==1.13.1+cu117",
        "--pre",
        "clip @ git+https://github.com/openai/CLIP.git",
        "pillow==10.0.0 --hash=sha256:abc",
    )


def test_local_wheels_stay_usable(make_project: MakeProject) -> None:
    path = make_project(
        'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\n',
        {
            "requirements.txt": "wheels/mylib-1.0-py3-none-any.whl\n-e ./pkg\nother @ file:./vendor/other-2.0.tar.gz\n",
            "wheels/mylib-1.0-py3-none-any.whl": "",
            "pkg/pyproject.toml": "",
            "vendor/other-2.0.tar.gz": "",
        },
    )
    plan = resolve(load_spec(path))
    assert plan.requirements == (
        "./wheels/mylib-1.0-py3-none-any.whl",
        "-e ./pkg",
        "other @ file:./vendor/other-2.0.tar.gz",
    )
    assert plan.local_requirement_files == (
        "wheels/mylib-1.0-py3-none-any.whl",
        "pkg",
        "vendor/other-2.0.tar.gz",
    )


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("../outside-1.0-py3-none-any.whl", "is outside the project folder"),
        ("./missing-1.0-py3-none-any.whl", "does not exist"),
        ("numpy===", "is not a valid requirement"),
        ("--extra-index-url", "'--extra-index-url' needs a URL"),
    ],
)
def test_bad_requirement_lines_point_at_their_line(
    make_project: MakeProject, line: str, fragment: str
) -> None:
    path = make_project(
        'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\n',
        {"requirements.txt": f"numpy\n{line}\n"},
    )
    with pytest.raises(PlanError) as caught:
        resolve(load_spec(path))
    assert str(caught.value).startswith("requirements.txt:2:1: ")
    assert fragment in str(caught.value)


def test_steps_environment_and_runtime_fields(make_project: MakeProject) -> None:
    spec = load_spec(
        make_project(
            """
            build:
              python_version: "3.12"
              system_packages: ["ffmpeg", "libgl1", "ffmpeg"]
              pre_install: ["echo early"]
              run:
                - echo hi
                - command: cat /run/secrets/token
                  mounts: [{type: secret, id: token, target: /run/secrets/token}]
            predict: "predict.py:Predictor"
            train: "train.py:train"
            image: "r8.im/me/model"
            environment: ["HF_HOME=/src/.cache", "MODE=a=b"]
            concurrency: {max: 4}
            """,
            {"train.py": ""},
        )
    )
    plan = resolve(spec)
    assert plan.system_packages == ("ffmpeg", "libgl1")
    assert plan.run_steps == (
        RunStep("echo hi"),
        RunStep("cat /run/secrets/token", (SecretMount("token", "/run/secrets/token"),)),
    )
    assert plan.pre_install == (RunStep("echo early"),)
    assert plan.environment == (("HF_HOME", "/src/.cache"), ("MODE", "a=b"))
    assert (plan.predictor, plan.trainer, plan.image, plan.concurrency_max) == (
        "predict.py:Predictor",
        "train.py:train",
        "r8.im/me/model",
        4,
    )
    assert plan.cog_config["image"] == "r8.im/me/model"
    assert any("pre_install is deprecated" in w for w in plan.warnings)


def test_json_shape_for_cogkit_debug(make_project: MakeProject) -> None:
    data = resolve(load_spec(make_project(TORCH_GPU + 'predict: "predict.py:Predictor"\n'))).to_json()
    for key in (
        "python_version",
        "gpu",
        "cuda",
        "cudnn",
        "base_image",
        "extra_index_urls",
        "system_packages",
    ):
        assert key in data
    assert data["min_nvidia_driver"] == "550.54.14"
    assert data["predictor"] == "predict.py:Predictor"
    assert isinstance(data["extra_index_urls"], list) and isinstance(data["reasons"], list)


def test_reasons_name_each_rule(make_project: MakeProject) -> None:
    reasons = resolve(load_spec(make_project(TORCH_GPU))).reasons
    assert reasons[0] == "Python 3.11 from build.python_version"
    assert any(r.startswith("torch==2.4.0 → CUDA 12.4") for r in reasons)
    assert any(r.startswith("base: every CUDA consumer bundles") for r in reasons)
    assert any("needs NVIDIA driver 550.54.14 or newer" in r for r in reasons)


def test_resolve_is_pure(make_project: MakeProject) -> None:
    spec = load_spec(make_project(TORCH_GPU))
    assert resolve(spec) == resolve(spec)


@pytest.mark.parametrize(
    ("cuda", "image"),
    [
        ("12.1.0", "nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04"),  # that exact release exists
        ("12.1.5", "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04"),  # no such patch: newest 12.1
        ("11.3", "nvidia/cuda:11.3.1-cudnn8-runtime-ubuntu20.04"),  # no 22.04 image: newest Ubuntu listed
        ("13.0", "nvidia/cuda:13.0.3-cudnn-runtime-ubuntu22.04"),  # cuDNN 9+: the plain 'cudnn' tag
    ],
)
def test_cuda_image_tag(make_project: MakeProject, cuda: str, image: str) -> None:
    plan = resolve(
        load_spec(make_project(f'build:\n  gpu: true\n  python_version: "3.11"\n  cuda: "{cuda}"\n'))
    )
    assert plan.base_image == image


def test_cog_config_is_the_file_as_written(make_project: MakeProject) -> None:
    spec = load_spec(make_project('build:\n  python_version: "3.11"\n  fast: true\nweights: []\n'))
    assert resolve(spec).cog_config == {"build": {"python_version": "3.11", "fast": True}, "weights": []}


def test_resolve_needs_no_network(make_project: MakeProject, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("resolve() tried to open a socket")

    spec = load_spec(make_project(TORCH_GPU))
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert resolve(spec).cuda == "12.4"
