"""`cogkit serve` as one library call: the project's server until Ctrl-C, optionally reloading.

The process that supervises a server should cost next to nothing while it idles. So for the local
runtime, once the venv is ready, this process is replaced (exec) either by the server itself or,
with `reload`, by the small supervisor in `reload.py`; the CLI's imports (click, rich, pydantic)
go with it. A container needs its attached stdin held by a live process, so for docker this
process stays and supervises.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from cogkit.errors import PredictorError
from cogkit.runtime import local, reload, session
from cogkit.runtime.backend import Notice, Report, RunConfig, Runtime, ServerOptions, Target, ignore
from cogkit.runtime.ports import ensure_free

ALIVE_CHECK_S = 1.0


def serve(
    config: RunConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8393,
    upload_url: str | None = None,
    reload_on_edit: bool = False,
    report: Report = ignore,
) -> None:
    """Serve the project on `host:port` until interrupted; raises when the server dies by itself."""
    ensure_free(host, port)  # before a build or a venv, which can take minutes
    target = session.prepare(config, report=report)
    assert target.project_dir is not None
    options = ServerOptions(
        environment=config.environment,
        gpus=config.gpus,
        host=host,
        port=port,
        upload_url=upload_url,
        mount_source=True,
    )
    if target.runtime is Runtime.LOCAL:
        _exec_local(target, options, reload_on_edit=reload_on_edit, report=report)
    with session.start(target, options, report=report, setup_timeout=None, verbose=True) as running:
        _say_serving(target, running.url, report)
        if reload_on_edit:
            reload.supervise(running.server, target.project_dir, report=report, config=_config_files(target))
        while running.server.alive() is None:
            time.sleep(ALIVE_CHECK_S)
        raise PredictorError(f"the server stopped:\n{running.server.alive()}")


def _exec_local(target: Target, options: ServerOptions, *, reload_on_edit: bool, report: Report) -> None:
    """Become the server (or, with reload, its small supervisor); never returns."""
    assert target.project_dir is not None
    command = local.server_command(target, options)
    _say_serving(target, command.url, report)
    sys.stdout.flush()
    sys.stderr.flush()
    if reload_on_edit:
        spec = reload.spec_for_exec(
            argv=command.argv, url=command.url, project_dir=target.project_dir, config=_config_files(target)
        )
        argv = [sys.executable, "-m", "cogkit.runtime.reload", spec]
        os.execve(sys.executable, argv, command.env)
    os.chdir(command.cwd)
    os.execve(command.argv[0], command.argv, command.env)


def _say_serving(target: Target, url: str, report: Report) -> None:
    assert target.project_dir is not None
    report(Notice(f"serving {target.project_dir.name} at {url} ({target.runtime.value}); Ctrl-C stops"))


def _config_files(target: Target) -> list[Path]:
    """cog.yaml and the requirements file: edits to them need a new image or venv, not a restart."""
    assert target.project_dir is not None
    files = [target.project_dir / "cog.yaml"]
    build = (target.plan.cog_config.get("build") or {}) if target.plan else {}
    requirements = build.get("python_requirements") if isinstance(build, dict) else None
    if isinstance(requirements, str):
        files.append(target.project_dir / requirements)
    return files
