"""The local runtime: cogkit's server in this interpreter's environment, the worker in the project venv.

No Docker: the same server and worker as in an image, started as a child process on 127.0.0.1.
The child is always stopped (SIGTERM, then SIGKILL after a grace period), including on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cogkit.runtime.ports import free_port
from cogkit.runtime.signals import sigterm_as_interrupt

STOP_GRACE_S = 10.0


@dataclass
class LocalServer:
    """A server child process and where its output goes."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    log_path: Path | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    def alive(self) -> str | None:
        code = self.process.poll()
        if code is None:
            return None
        return f"server exited ({code}):\n{self.logs()}"

    def logs(self, tail: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:])


def server_command(
    *,
    predictor: str | None,
    trainer: str | None,
    cwd: Path,
    worker_python: Path,
    host: str,
    port: int,
    upload_url: str | None = None,
) -> list[str]:
    """`python -m cogkit.server …` for this project, in cogkit's own interpreter."""
    command = [sys.executable, "-m", "cogkit.server", "--host", host, "--port", str(port), "--cwd", str(cwd)]
    command += ["--worker-python", str(worker_python)]
    if predictor:
        command += ["--predictor", predictor]
    if trainer:
        command += ["--train", trainer]
    if upload_url:
        command += ["--upload-url", upload_url]
    return command


@contextlib.contextmanager
def run_local(
    *,
    predictor: str | None,
    trainer: str | None,
    cwd: Path,
    worker_python: Path,
    environment: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    upload_url: str | None = None,
    capture: bool = True,
) -> Iterator[LocalServer]:
    """Start the server; with `capture`, its output goes to a temp log file we can show on failure."""
    port = port or free_port(host)
    env = {**os.environ, **dict(environment or {}), "PYTHONUNBUFFERED": "1"}
    command = server_command(
        predictor=predictor,
        trainer=trainer,
        cwd=cwd,
        worker_python=worker_python,
        host=host,
        port=port,
        upload_url=upload_url,
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(sigterm_as_interrupt())
        log_path: Path | None = None
        sink: IO[bytes] | int | None = None
        if capture:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cogkit-local-")))
            log_path = tmp / "server.log"
            sink = stack.enter_context(log_path.open("wb"))
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT if capture else None,
            start_new_session=True,
        )
        connect = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        try:
            yield LocalServer(process=process, url=f"http://{connect}:{port}", port=port, log_path=log_path)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait (bounded), then SIGKILL; never leaves the child running."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_GRACE_S)
