"""The renderer's contract over hand-built plans: layer order, escaping, builders, CUDA and Python."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import pytest

from cogkit.dockerfile import render
from cogkit.dockerfile.render import MAX_WEIGHT_LAYERS, SERVER_FALLBACK_PYTHON, SHIM_IN_PACKAGE
from cogkit.errors import BuildError, PlanError
from cogkit.plan.models import RunStep, SecretMount
from tests.dockerfile.plans import cpu_plan

FULL = cpu_plan(
    requirements=("requests==2.32.3",),
    extra_index_urls=("https://download.pytorch.org/whl/cpu",),
    system_packages=("ffmpeg",),
    run_steps=(RunStep("echo run"),),
    environment=(("HF_HOME", "/src/.hf"),),
)


def final_stage(text: str) -> list[str]:
    """The instructions of the last stage, continuation lines joined, comments dropped."""
    joined = text[text.rindex("\nFROM ") + 1 :].replace("\\\n", " ")
    return [line for line in joined.splitlines() if line and not line.startswith("#")]


def position(lines: list[str], pattern: str) -> int:
    matches = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert matches, f"no instruction matches {pattern!r}"
    return matches[0]


def test_layers_follow_the_cache_order() -> None:
    lines = final_stage(render(FULL, weights=["model.bin"], ca_cert=True))
    order = [
        r"^FROM ",
        r"^COPY cogkit/ca.crt",
        r"^ENV HF_HOME=",
        r"apt-get|^RUN --mount=type=cache,id=cogkit-apt",
        r"^RUN .*target=/tmp/cogkit-server-requirements.txt",
        r"^ENV VIRTUAL_ENV=",
        r"^RUN .*source=deps,",
        r"^RUN echo run",
        r'^COPY \["weights/model.bin"',
        r"^COPY cogkit/lib/",
        r"^COPY src/ /src/",
    ]
    positions = [position(lines, pattern) for pattern in order]
    assert positions == sorted(positions), list(zip(order, positions, strict=True))
    assert lines[-1] == 'CMD ["/opt/cogkit/venv/bin/python", "-m", "cogkit.server"]'
    # Nothing after the code but metadata, which creates no layer.
    after_code = lines[position(lines, r"^COPY src/") + 1 :]
    assert [line.split()[0] for line in after_code] == ["ENV", "EXPOSE", "CMD"]


def test_render_is_pure() -> None:
    assert render(FULL) == render(FULL)


def test_image_layout_and_runtime_env() -> None:
    text = render(cpu_plan(trainer="train.py:train", concurrency_max=8))
    assert "WORKDIR /src" in text
    assert "EXPOSE 5000" in text
    for expected in (
        'COGKIT_PREDICTOR="predict.py:Predictor"',
        'COGKIT_TRAIN="train.py:train"',
        'COGKIT_CONCURRENCY_MAX="8"',
        'COGKIT_WORKER_PYTHON="/opt/venv/bin/python"',
        'COGKIT_SDK_PATH="/opt/cogkit/sdk"',
        "PATH=/opt/venv/bin:$PATH",
        "uv venv --seed --python 3.11 /opt/venv",
        "uv venv --python 3.11 /opt/cogkit/venv",
    ):
        assert expected in text
    assert "COGKIT_TRAIN" not in render(cpu_plan())


def test_no_labels_and_no_syntax_directive() -> None:
    text = render(FULL)
    assert "LABEL" not in text  # the builder adds labels with --label
    assert "# syntax" not in text  # it would pull docker/dockerfile from Docker Hub


def test_uv_is_never_copied_into_a_buildkit_image() -> None:
    text = render(FULL)
    assert "FROM python:3.11-slim AS uv" in text
    assert "COPY --from=uv" not in text
    assert "--mount=type=bind,from=uv,source=/opt/uv/bin/uv" in text


def test_legacy_builder_has_no_mounts() -> None:
    text = render(FULL, buildkit=False)
    assert "--mount" not in text
    assert "COPY --from=uv /opt/uv/bin/uv /usr/local/bin/uv" in text
    assert "RUN rm /usr/local/bin/uv" in text
    assert "rm -rf /var/lib/apt/lists/*" in text


@pytest.mark.parametrize("field", ["run_steps", "pre_install"])
def test_legacy_builder_refuses_secrets(field: str) -> None:
    step = RunStep("cat /run/secrets/token", (SecretMount("token", "/run/secrets/token"),))
    with pytest.raises(BuildError, match="BuildKit"):
        render(cpu_plan(**{field: (step,)}), buildkit=False)


def test_secret_mounts_go_on_their_run_step() -> None:
    step = RunStep("cat /run/secrets/token", (SecretMount("token", "/run/secrets/token"),))
    text = render(cpu_plan(run_steps=(step,)))
    assert "RUN --mount=type=secret,id=token,target=/run/secrets/token \\\n    cat /run/secrets/token" in text


def test_environment_values_are_literal() -> None:
    text = render(cpu_plan(environment=(("A", 'say "hi" to $USER \\ now'), ("B", ""))))
    assert 'A="say \\"hi\\" to \\$USER \\\\ now"' in text
    assert 'B=""' in text


def test_environment_value_with_a_newline_is_refused() -> None:
    with pytest.raises(PlanError, match="control character"):
        render(cpu_plan(environment=(("A", "two\nlines"),)))


def test_slim_gpu_sets_nvidia_variables_and_cuda_bases_do_not() -> None:
    slim = render(cpu_plan(gpu=True, cuda="12.1"))
    assert 'NVIDIA_VISIBLE_DEVICES="all"' in slim
    assert 'NVIDIA_DRIVER_CAPABILITIES="compute,utility"' in slim
    assert "NVIDIA_" not in render(cpu_plan())
    cuda = render(
        cpu_plan(
            gpu=True,
            cuda="12.1",
            base_image="nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04",
            base_kind="cuda-runtime",
            base_has_python=False,
        )
    )
    assert "NVIDIA_VISIBLE_DEVICES" not in cuda


def test_cuda_base_gets_python_from_uv() -> None:
    text = render(
        cpu_plan(
            python_version="3.12.4",
            base_image="nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
            base_kind="cuda-runtime",
            base_has_python=False,
        )
    )
    assert "uv python install 3.12.4\n" in text
    assert "ARG UV_PYTHON_PREFERENCE=only-managed" in text
    assert "apt-get install -qqy --no-install-recommends python3-venv" in text  # for the uv stage


def test_old_user_python_gets_a_newer_server_python() -> None:
    text = render(cpu_plan(python_version="3.9", base_image="python:3.9-slim"))
    assert f"uv python install {SERVER_FALLBACK_PYTHON}\n" in text
    assert f"uv venv --python {SERVER_FALLBACK_PYTHON} /opt/cogkit/venv" in text
    assert "uv venv --seed --python 3.9 /opt/venv" in text
    assert "ARG UV_PYTHON_PREFERENCE=system" in text


def test_index_options_are_flags_of_the_install() -> None:
    text = render(
        cpu_plan(
            requirements=("torch==2.4.1+cpu",),
            index_url="https://mirror.example/simple",
            extra_index_urls=("https://download.pytorch.org/whl/cpu",),
            find_links=("https://example.com/wheels/",),
        )
    )
    assert (
        "--index-url https://mirror.example/simple --extra-index-url https://download.pytorch.org/whl/cpu"
        " --find-links https://example.com/wheels/ -r requirements.txt"
    ) in text


def test_no_requirements_no_install_step() -> None:
    assert "source=deps" not in render(cpu_plan())
    assert "source=deps" in render(cpu_plan(requirements=("requests",)))


def test_each_weight_file_gets_its_own_layer() -> None:
    text = render(cpu_plan(), weights=["model.bin", "dir with space/w.pt", "model.bin"])
    assert text.count('COPY ["weights/model.bin", "/src/model.bin"]') == 1
    assert 'COPY ["weights/dir with space/w.pt", "/src/dir with space/w.pt"]' in text


def test_many_weight_files_share_one_layer() -> None:
    weights = [f"shard-{i:03}.bin" for i in range(MAX_WEIGHT_LAYERS + 1)]
    text = render(cpu_plan(), weights=weights)
    assert "COPY weights/ /src/" in text
    assert "shard-000" not in text


@pytest.mark.parametrize("buildkit", [True, False], ids=["buildkit", "legacy"])
def test_everything_at_once_passes_hadolint(buildkit: bool, hadolint: str, tmp_path: Path) -> None:
    plan = dataclasses.replace(
        FULL,
        python_version="3.9",
        base_image="nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04",
        base_kind="cuda-runtime",
        base_has_python=False,
        pre_install=(RunStep("echo pre"),),
        trainer="train.py:train",
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(render(plan, weights=["a.bin", "b c/d.pt"], buildkit=buildkit, ca_cert=True))
    out = subprocess.run(
        [hadolint, "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    serious = [f for f in json.loads(out.stdout or "[]") if f["level"] in ("error", "warning")]
    assert not serious, serious


def test_sdk_links_point_at_the_workers_shim() -> None:
    from cogkit import worker

    assert worker.SHIM_DIR.relative_to(worker.PACKAGE_DIR.parent).as_posix() == SHIM_IN_PACKAGE
    assert f"ln -s /opt/cogkit/lib/{SHIM_IN_PACKAGE} /opt/cogkit/sdk/cog" in render(cpu_plan())
