"""Read a built image's OpenAPI schema by importing its predictor once, without running setup().

The schema is computed by the SDK inside the image's user environment (`/opt/venv`), with
`cogkit` and the `cog` shim put first on sys.path the same way the worker does it, so the user's
own packages (any pydantic, any fastapi) never see cogkit's server dependencies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker.errors

from cogkit.errors import PredictorError
from cogkit.image.engine import client

USER_PYTHON = "/opt/venv/bin/python"
SERVER_PYTHON = "/opt/cogkit/venv/bin/python"
MARKER = "COGKIT-SCHEMA:"

# Runs in the user's interpreter; stdlib only. argv: predictor ref, train ref ("" when none).
_SCRIPT = r"""
import os, subprocess, sys, tempfile
pkg = subprocess.run([sys.argv[1], "-c", "import cogkit, os; print(os.path.dirname(cogkit.__file__))"],
                     capture_output=True, text=True, check=True).stdout.strip()
private = tempfile.mkdtemp()
os.symlink(pkg, os.path.join(private, "cogkit"))
shim = os.path.join(pkg, "worker", "shim")
sys.path[:0] = [private] + ([shim] if os.path.isdir(shim) else [])
from cogkit.sdk.schema import print_document
sys.exit(print_document(sys.argv[2], sys.argv[3], marker="COGKIT-SCHEMA:"))
"""


def image_schema(image: str, *, predictor: str | None, trainer: str | None) -> dict[str, Any]:
    """The OpenAPI document of `image`'s predictor (and trainer), merged as the server serves it."""
    if not predictor and not trainer:
        return {}
    engine = client()
    env = engine.images.get(image).attrs.get("Config", {}).get("Env") or []
    settings = dict(item.split("=", 1) for item in env if "=" in item)
    user_python = settings.get("COGKIT_WORKER_PYTHON", USER_PYTHON)
    try:
        output = engine.containers.run(
            image,
            entrypoint=[user_python, "-c", _SCRIPT, SERVER_PYTHON, predictor or "", trainer or ""],
            command=[],
            working_dir="/src",
            remove=True,
            stdout=True,
            stderr=True,
            network_disabled=True,
        )
    except docker.errors.ContainerError as exc:
        logs = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        tail = "\n".join(f"    {line}" for line in logs[-15:])
        raise PredictorError(
            f"could not load the predictor in the built image to read its schema:\n{tail}",
            hint="fix the error above in your predictor (run `cogkit predict` to see it in context)",
        ) from exc
    return _parse(output.decode(errors="replace"))


def _parse(output: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise PredictorError("the predictor's environment printed no schema")


def local_schema(python: Path, cwd: Path, *, predictor: str | None, trainer: str | None) -> dict[str, Any]:
    """The same schema as `image_schema`, computed in a local project venv (`python`)."""
    if not predictor and not trainer:
        return {}
    try:
        out = subprocess.run(
            [str(python), "-c", _SCRIPT, sys.executable, predictor or "", trainer or ""],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise PredictorError("importing the predictor took more than 600s") from exc
    if out.returncode != 0:
        tail = "\n".join(f"    {line}" for line in out.stderr.strip().splitlines()[-15:])
        raise PredictorError(
            f"could not load the predictor:\n{tail}", hint="fix the error above in your predictor"
        )
    return _parse(out.stdout)
