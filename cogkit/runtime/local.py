"""The local runtime: cogkit's server in this interpreter's environment, the worker in the project venv.

No Docker: the same server and worker as in an image, started as a child process on 127.0.0.1.
The child's stdin is a pipe whose other end we hold, and it runs with COGKIT_EXIT_ON_STDIN_EOF=1,
so it shuts down when we die, however we die (SIGKILL included): the kernel closes our end. It
runs in a session of its own so a Ctrl-C reaches only us, and we stop it (SIGTERM, grace, SIGKILL).

Importing this module is cheap (standard library only): the reload supervisor uses it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cogkit.runtime.backend import (
    EXIT_ON_STDIN_EOF,
    Notice,
    Report,
    RunConfig,
    Runtime,
    ServerLine,
    ServerOptions,
    Target,
    ignore,
)
from cogkit.runtime.logs import LinePump
from cogkit.runtime.ports import free_port

if TYPE_CHECKING:
    from cogkit.plan.models import BuildPlan

STOP_GRACE_S = 10.0
# Never looked at for the schema cache key: caches, environments, and what Git keeps.
SKIP_DIRS = {".cogkit", ".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".ruff_cache"}
SOURCE_SUFFIXES = {".py", ".yaml", ".yml", ".json", ".txt", ".toml"}


@dataclass(frozen=True)
class ServerCommand:
    """The server's argv, environment and working folder; `start` runs it as a child, serve can exec it."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    url: str


def server_command(target: Target, options: ServerOptions) -> ServerCommand:
    """`python -m cogkit.server …` for this project, in cogkit's own interpreter."""
    assert target.plan is not None and target.project_dir is not None and target.worker_python is not None
    port = options.port or free_port(options.host)
    argv = [sys.executable, "-m", "cogkit.server", "--host", options.host, "--port", str(port)]
    argv += ["--cwd", str(target.project_dir), "--worker-python", str(target.worker_python)]
    if target.plan.predictor:
        argv += ["--predictor", target.plan.predictor]
    if target.plan.trainer:
        argv += ["--train", target.plan.trainer]
    if options.upload_url:
        argv += ["--upload-url", options.upload_url]
    env = {**os.environ, **target.environment, **options.environment, "PYTHONUNBUFFERED": "1"}
    env.pop(EXIT_ON_STDIN_EOF, None)
    connect = "127.0.0.1" if options.host in ("0.0.0.0", "::") else options.host
    return ServerCommand(argv=argv, env=env, cwd=target.project_dir, url=f"http://{connect}:{port}")


class LocalServer:
    """A server child process tied to us by its stdin, and the reader of its output."""

    def __init__(self, command: ServerCommand, *, report: Report = ignore, capture: bool = True) -> None:
        """With `capture`, its output goes line by line to `report`; without, to our own stdout/stderr."""
        self.url = command.url
        self._pump = LinePump(lambda line: report(ServerLine(line)))
        self.process = subprocess.Popen(
            command.argv,
            cwd=command.cwd,
            env={**command.env, EXIT_ON_STDIN_EOF: "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            start_new_session=True,
        )
        if capture:
            assert self.process.stdout is not None
            self._pump.follow(iter(lambda: self.process.stdout.read1(65536), b""))  # type: ignore[union-attr]

    def alive(self) -> str | None:
        code = self.process.poll()
        if code is None:
            return None
        self._pump.wait(2.0)
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited ({code})"
        return f"the server {how}:\n{self.logs()}"

    def logs(self, tail: int = 40) -> str:
        return self._pump.tail(tail)

    def reload(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        """SIGTERM, wait (bounded), then SIGKILL; never leaves the child running."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_GRACE_S)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        self._pump.wait(2.0)


class LocalBackend:
    runtime = Runtime.LOCAL

    def prepare(self, config: RunConfig, *, image: str | None, report: Report) -> Target:
        from cogkit.plan import resolve
        from cogkit.runtime.venv import ensure_venv, missing_system_packages
        from cogkit.spec import load_spec

        spec = load_spec(config.config.resolve() if config.config else None)
        plan = resolve(spec, base_image_override=config.base_image)
        for warning in (*spec.warnings, *plan.warnings):
            report(Notice(warning, warning=True))
        missing = missing_system_packages(plan.system_packages)
        if missing:
            report(
                Notice(
                    f"system_packages missing on this host: {', '.join(missing)} (install them, or use Docker)",
                    warning=True,
                )
            )
        venv = ensure_venv(plan, spec.project_dir, report=report)
        return Target(
            runtime=Runtime.LOCAL,
            schema=_cached_schema(venv.python, spec.project_dir, plan),
            plan=plan,
            project_dir=spec.project_dir,
            worker_python=venv.python,
            environment=dict(plan.environment),
        )

    def start(self, target: Target, options: ServerOptions, *, report: Report) -> LocalServer:
        return LocalServer(server_command(target, options), report=report)

    def exec(
        self,
        target: Target,
        command: Sequence[str],
        *,
        environment: Mapping[str, str],
        gpus: str | None,
        ports: Sequence[int],
        report: Report,
    ) -> int:
        """Run `command` with the venv first on PATH and `cog`, `cogkit` and the project importable."""
        assert target.worker_python is not None and target.project_dir is not None
        if ports:
            report(
                Notice("-p has no effect with the local runtime: commands use the host's ports", warning=True)
            )
        bin_dir = target.worker_python.parent
        env = {**os.environ, **target.environment, **environment}
        env["VIRTUAL_ENV"] = str(bin_dir.parent)
        env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        env["PYTHONPATH"] = import_path(target.project_dir, env.get("PYTHONPATH"))
        try:
            return subprocess.run(list(command), env=env, cwd=target.project_dir).returncode
        except FileNotFoundError:
            report(Notice(f"command not found: {command[0]}", warning=True))
            return 127
        except KeyboardInterrupt:
            return 130

    def become_server(self, target: Target, options: ServerOptions, *, reload_on_edit: bool) -> None:
        """exec the server, or with `reload_on_edit` the small supervisor of reload.py; never returns."""
        assert target.project_dir is not None
        command = server_command(target, options)
        sys.stdout.flush()
        sys.stderr.flush()
        if reload_on_edit:
            from cogkit.runtime import reload

            spec = reload.spec_for_exec(
                argv=command.argv,
                url=command.url,
                project_dir=target.project_dir,
                config=reload.config_files(target),
            )
            os.execve(sys.executable, [sys.executable, "-m", "cogkit.runtime.reload", spec], command.env)
        os.chdir(command.cwd)
        os.execve(command.argv[0], command.argv, command.env)


def import_path(project_dir: Path, existing: str | None) -> str:
    """The worker's import path: cogkit's SDK folder (`cog`, `cogkit`), then the project."""
    from cogkit.worker import sdk_path

    parts = [str(sdk_path()), str(project_dir), *([existing] if existing else [])]
    return os.pathsep.join(parts)


def source_snapshot(root: Path) -> dict[str, int]:
    """Modification times of the project's source files: the schema cache's key."""
    found: dict[str, int] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if Path(name).suffix in SOURCE_SUFFIXES:
                path = os.path.join(directory, name)
                with contextlib.suppress(FileNotFoundError):
                    found[path] = os.stat(path).st_mtime_ns
    return found


def _cached_schema(python: Path, project_dir: Path, plan: BuildPlan) -> dict[str, Any]:
    """The predictor's schema, recomputed only when the project's files or the venv change."""
    import hashlib  # OpenSSL's libcrypto: 4 MiB that the reload supervisor, which imports us, need not hold
    import json

    from cogkit.image.schema import local_schema
    from cogkit.runtime.venv import STAMP

    stamp = python.parent.parent / STAMP
    key_data = [
        plan.predictor,
        plan.trainer,
        stamp.read_text() if stamp.exists() else "",
        source_snapshot(project_dir),
    ]
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()
    cache = project_dir / ".cogkit" / "schema.json"
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached["schema"]
    schema = local_schema(python, project_dir, predictor=plan.predictor, trainer=plan.trainer)
    with contextlib.suppress(OSError):
        cache.write_text(json.dumps({"key": key, "schema": schema}))
    return schema


BACKEND = LocalBackend()
