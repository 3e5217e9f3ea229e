"""The rendered Dockerfile on a real engine, with BuildKit and with the legacy builder: it builds,
the image has the documented layout, and a predict.py edit rebuilds only the final layer.

One build of examples/hello-world (tiny, no requirements) per builder serves every test here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cogkit.image.context import BuildContext, stage
from cogkit.image.engine import builder
from cogkit.plan import resolve
from cogkit.spec import load_spec

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello-world"
BUILD_TIMEOUT_S = 900
RUN_TIMEOUT_S = 120

pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Built:
    project: Path
    tag: str
    base_image: str
    ca_cert: Path | None
    buildkit: bool


def docker_build(context: BuildContext, tag: str) -> str:
    """Build with the docker CLI the build engineer's code picks; return the plain progress log."""
    cli = builder()
    if context.buildkit and cli.kind != "buildkit":
        pytest.fail(f"{cli.path} cannot build with BuildKit: {cli.notice}", pytrace=False)
    args = [cli.path, "build", "-f", str(context.dockerfile), "-t", tag]
    if context.buildkit:
        args += ["--progress=plain"]
    result = subprocess.run(
        [*args, str(context.dir)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        env={**os.environ, "DOCKER_BUILDKIT": "1" if context.buildkit else "0"},
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return log


def docker_run(tag: str, script: str) -> str:
    result = subprocess.run(
        [builder().path, "run", "--rm", "--entrypoint", "/bin/sh", tag, "-c", script],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module", params=[True, False], ids=["buildkit", "legacy"])
def built(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    base_image: str,
    host_ca_cert: Path | None,
) -> Iterator[Built]:
    buildkit: bool = request.param
    project = tmp_path_factory.mktemp("build") / "hello"
    shutil.copytree(HELLO, project)
    plan = resolve(load_spec(project / "cog.yaml"), base_image_override=base_image)
    tag = f"cogkit-tpltest-{uuid.uuid4().hex[:10]}"
    docker_build(stage(plan, project, ca_cert=host_ca_cert, buildkit=buildkit), tag)
    try:
        yield Built(project, tag, base_image, host_ca_cert, buildkit)
    finally:
        subprocess.run([builder().path, "rmi", "-f", tag], capture_output=True, timeout=RUN_TIMEOUT_S)


def test_image_layout(built: Built) -> None:
    out = docker_run(
        built.tag,
        "set -e; cd /src; pwd; ls /src;"
        " test ! -e /usr/local/bin/uv && echo no-uv;"
        " command -v python; command -v pip;"
        " /opt/cogkit/venv/bin/python -c 'import cogkit, starlette, importlib.metadata as m;"
        ' print(cogkit.__file__, m.version("cogkit"))\';'
        " PYTHONPATH=\"$COGKIT_SDK_PATH\" python -c 'import cog; print(cog.BasePredictor.__name__)';"
        ' echo "$COGKIT_PREDICTOR $COGKIT_WORKER_PYTHON"',
    )
    lines = out.splitlines()
    assert lines[0] == "/src"
    assert "predict.py" in lines and "cog.yaml" in lines
    assert "no-uv" in lines  # bind-mounted during the build, never in the image
    assert "/opt/venv/bin/python" in lines and "/opt/venv/bin/pip" in lines
    assert "/opt/cogkit/lib/cogkit/__init__.py 0.1.0" in lines
    assert "BasePredictor" in lines
    assert lines[-1] == "predict.py:Predictor /opt/venv/bin/python"


def test_predict_py_edit_rebuilds_only_the_code_layer(built: Built) -> None:
    plan = resolve(load_spec(built.project / "cog.yaml"), base_image_override=built.base_image)
    predict = built.project / "predict.py"
    # Unique text: an edit this engine has built before would come from its cache, too.
    predict.write_text(predict.read_text() + f"\n# an edit {uuid.uuid4().hex}\n")
    log = docker_build(stage(plan, built.project, ca_cert=built.ca_cert, buildkit=built.buildkit), built.tag)
    parse = _buildkit_executed if built.buildkit else _legacy_executed
    assert parse(log) == ["COPY src/ /src/"], log[-4000:]


def _buildkit_executed(log: str) -> list[str]:
    """Steps of the final stage that BuildKit ran rather than took from its cache (`--progress=plain`)."""
    names: dict[str, str] = {}
    cached: set[str] = set()
    for line in log.splitlines():
        step, _, rest = line.partition(" ")
        if not step.startswith("#"):
            continue
        if rest.startswith("[stage-"):
            names[step] = rest.split("] ", 1)[1]
        elif rest.strip() == "CACHED":
            cached.add(step)
    return [name for step, name in names.items() if step not in cached and not name.startswith("FROM ")]


def _legacy_executed(log: str) -> list[str]:
    """Steps of the last stage that the legacy builder ran: a `Step` not followed by `Using cache`."""
    blocks = log.split("\nStep ")[1:]
    last_from = max(i for i, block in enumerate(blocks) if block.split(" : ", 1)[1].startswith("FROM "))
    executed = []
    for block in blocks[last_from + 1 :]:
        instruction = block.split(" : ", 1)[1].splitlines()[0]
        layerless = instruction.split()[0] in {"ENV", "EXPOSE", "CMD", "ARG", "WORKDIR"}
        if "Using cache" not in block and not layerless:
            executed.append(instruction)
    return executed
