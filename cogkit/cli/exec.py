"""`cogkit exec CMD…`: run a command in the project's environment, with the project mounted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cogkit.cli import render
from cogkit.cli.options import RuntimeFlags, runtime_options

if TYPE_CHECKING:
    from cogkit.runtime.session import Target


@click.command(
    name="exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option(
    "-p", "--publish", "ports", multiple=True, type=int, help="Publish this container port on 127.0.0.1."
)
@runtime_options
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED)
def command(
    ports: tuple[int, ...],
    flags: RuntimeFlags,
    cmd: tuple[str, ...],
) -> None:
    """Run CMD in the project's image (or local venv) with the project at /src."""

    target = flags.prepare(None)
    variables = {**target.environment, **flags.environment}
    assert target.project_dir is not None
    if target.runtime == "local":
        assert target.worker_python is not None
        if ports:
            render.warning(
                "-p has no effect with the local runtime: the command already uses the host's ports"
            )
        bin_dir = target.worker_python.parent
        local_env = {
            **os.environ,
            **variables,
            "VIRTUAL_ENV": str(bin_dir.parent),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        code = _run(list(cmd), env=local_env, cwd=target.project_dir)
    else:
        code = _run(
            _docker_args(target, cmd, ports=ports, variables=variables, gpus=flags.gpus), env=None, cwd=None
        )
    sys.exit(code)


def _docker_args(
    target: Target,
    cmd: tuple[str, ...],
    *,
    ports: tuple[int, ...],
    variables: dict[str, str],
    gpus: str | None,
) -> list[str]:
    """`docker run --rm` with a TTY when we have one: the CLI handles terminals and signals for us."""
    from cogkit.image.engine import builder
    from cogkit.runtime.gpu import resolve_gpus

    args = [builder().path, "run", "--rm", "-i", "-v", f"{target.project_dir}:/src", "-w", "/src"]
    if sys.stdin.isatty() and sys.stdout.isatty():
        args.append("-t")
    for port in ports:
        args += ["-p", f"127.0.0.1:{port}:{port}"]
    for key, value in variables.items():
        args += ["-e", f"{key}={value}"]
    gpu = resolve_gpus(gpus, wants_gpu=target.wants_gpu, min_driver=target.min_driver, warn=render.warning)
    if gpu:
        args += ["--gpus", gpu]
    return [*args, str(target.image), *cmd]


def _run(args: list[str], *, env: dict[str, str] | None, cwd: Path | None) -> int:
    try:
        return subprocess.run(args, env=env, cwd=cwd).returncode
    except FileNotFoundError:
        render.warning(f"command not found: {args[0]}")
        return 127
    except KeyboardInterrupt:
        return 130
