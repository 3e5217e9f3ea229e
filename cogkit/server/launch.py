"""Start a server: spawn the worker(s) first, then import and run the HTTP stack.

Standard library plus cogkit's light modules only at import time, so that the worker child
is already loading the model while uvicorn, Starlette and httpx are being imported.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from cogkit.mode import Mode
from cogkit.server import memory, redact
from cogkit.server.config import ServerConfig, resolve_config
from cogkit.server.supervisor import WorkerSupervisor


def _supervisor(config: ServerConfig, ref: str, mode: Mode) -> WorkerSupervisor:
    return WorkerSupervisor(
        ref,
        cwd=config.cwd,
        mode=mode,
        python=config.worker_python,
        env=config.worker_env,
        setup_timeout=config.setup_timeout,
        concurrency_max=config.concurrency_max if mode is Mode.PREDICT else None,
        weights=os.environ.get("COG_WEIGHTS") or None,
    )


async def main(config: ServerConfig) -> None:
    """Spawn the workers, then import the server and serve until shutdown."""
    refs = {Mode.PREDICT: config.predictor, Mode.TRAIN: config.train}
    supervisors = {mode: _supervisor(config, ref, mode) for mode, ref in refs.items() if ref}
    for supervisor in supervisors.values():
        await supervisor.start()
    try:
        from cogkit.server.lifecycle import serve_forever  # heavy imports, overlapping model setup
    except BaseException:
        for supervisor in supervisors.values():
            await supervisor.stop()
        raise
    await serve_forever(config, supervisors)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(config: ServerConfig) -> None:
    """Block running the server described by `config` (on uvloop when it is installed)."""
    configure_logging()
    memory.unmap_big_buffers()
    _run(main(config))


def configure_logging() -> None:
    """One stderr handler on the root logger (unless the host program has its own), and the
    redacting filter on every root handler: no log line shows a credential or a signed URL."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    redact.install()


def _run(coro: Coroutine[Any, Any, None]) -> None:
    loop = _loop_factory()()
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(coro)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def serve(
    *,
    predictor: str | None,
    cwd: Path,
    host: str = "127.0.0.1",
    port: int = 5000,
    worker_python: str | None = None,
    train: str | None = None,
    upload_url: str | None = None,
    await_explicit_shutdown: bool = False,
    exit_on_stdin_eof: bool = False,
    env: Mapping[str, str] | None = None,
) -> None:
    """Serve `predictor` (e.g. "predict.py:Predictor") from `cwd` until shut down; for `cogkit serve`.

    `env` replaces os.environ when reading COG_* settings; the worker inherits the real environment.
    """
    run(
        resolve_config(
            predictor=predictor,
            train=train,
            cwd=cwd,
            host=host,
            port=port,
            worker_python=worker_python,
            upload_url=upload_url,
            await_explicit_shutdown=await_explicit_shutdown,
            exit_on_stdin_eof=exit_on_stdin_eof,
            env=env,
        )
    )
