"""`cogkit serve` as one library call: the project's server until Ctrl-C, optionally reloading.

The process that supervises a server should cost next to nothing while it idles. So a backend that
can (local) replaces this process, once the venv is ready, with the server itself or, with
`reload_on_edit`, with the small supervisor in `reload.py`; the CLI's imports (click, rich,
pydantic) go with it. A container needs its attached stdin held by a live process, so for docker
this process stays and supervises.
"""

from __future__ import annotations

import time

from cogkit.errors import PredictorError
from cogkit.runtime import reload, session
from cogkit.runtime.backend import Notice, Report, RunConfig, ServerOptions, backend_for, ignore
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
    connect = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    where = f"http://{connect}:{port} ({target.runtime.value})"
    report(Notice(f"serving {target.project_dir.name} at {where}; Ctrl-C stops"))
    report(Notice(f"playground: http://{connect}:{port}/playground"))
    backend_for(target.runtime).become_server(target, options, reload_on_edit=reload_on_edit)
    with session.start(target, options, report=report, setup_timeout=None, verbose=True) as running:
        if reload_on_edit:
            reload.supervise(
                running.server, target.project_dir, report=report, config=reload.config_files(target)
            )
        while running.server.alive() is None:
            time.sleep(ALIVE_CHECK_S)
        raise PredictorError(f"the server stopped:\n{running.server.alive()}")
