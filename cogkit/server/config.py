"""Server settings: one frozen object resolved from flags, environment and cog.yaml.

Precedence is explicit flags, then environment variables, then `cog.yaml` in the working
directory. The concurrency limit is resolved later, once the worker has imported the
predictor and knows its `@concurrent(max=N)` and whether it is async.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cogkit.errors import PredictorError, UsageError
from cogkit.server.limits import Limits

if TYPE_CHECKING:
    from cogkit.queue.settings import QueueSettings


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs to start; built once, never mutated."""

    predictor: str | None
    cwd: Path
    train: str | None = None
    host: str = "0.0.0.0"
    port: int = 5000
    worker_python: str | None = None
    upload_url: str | None = None
    await_explicit_shutdown: bool = False
    exit_on_stdin_eof: bool = False
    concurrency_max: int | None = None
    setup_timeout: float | None = None
    webhook_token: str | None = None
    worker_env: Mapping[str, str] | None = None
    playground: bool = True
    queue: QueueSettings | None = None  # queue mode: also consume predictions from Redis
    limits: Limits = field(default_factory=Limits)


def _int_env(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(
            f"environment variable {name}={raw!r} is not an integer",
            hint=f"set {name} to a positive whole number, e.g. {name}=4",
        ) from None
    if value < 1:
        raise UsageError(f"environment variable {name}={raw!r} must be at least 1", hint=f"unset {name}")
    return value


def _float_env(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise UsageError(
            f"environment variable {name}={raw!r} is not a number of seconds",
            hint=f"set {name} to seconds, e.g. {name}=300",
        ) from None


def _switch_env(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"environment variable {name}={raw!r} is not 1 or 0", hint=f"set {name}=0 or {name}=1")


def _from_cog_yaml(cwd: Path) -> tuple[str | None, str | None, int | None]:
    """Read predict/run, train and concurrency.max from cog.yaml, if there is one."""
    if not (cwd / "cog.yaml").is_file():
        return None, None, None
    from cogkit.spec import load_spec  # only needed when no predictor was given

    spec = load_spec(cwd)
    return spec.predict, spec.train, spec.concurrency_max


def resolve_config(
    *,
    predictor: str | None = None,
    train: str | None = None,
    cwd: Path | None = None,
    host: str = "0.0.0.0",
    port: int = 5000,
    worker_python: str | None = None,
    upload_url: str | None = None,
    await_explicit_shutdown: bool = False,
    playground: bool = True,
    queue_url: str | None = None,
    exit_on_stdin_eof: bool = False,
    limits: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerConfig:
    """Merge flags, the environment and cog.yaml into one `ServerConfig`.

    `limits` holds the flags of `Limits` fields by name (None where not given).
    """
    env = os.environ if env is None else env
    cwd = (cwd or Path.cwd()).resolve()
    predictor = predictor or env.get("COGKIT_PREDICTOR") or None
    train = train or env.get("COGKIT_TRAIN") or None
    yaml_limit: int | None = None
    if predictor is None and train is None:
        predictor, train, yaml_limit = _from_cog_yaml(cwd)
    if predictor is None and train is None:
        raise PredictorError(
            f"no predictor to serve in {cwd}",
            hint="pass --predictor predict.py:Predictor, set COGKIT_PREDICTOR, "
            "or add `predict: predict.py:Predictor` to cog.yaml",
        )
    # Images set COGKIT_CONCURRENCY_MAX only when cog.yaml writes concurrency.max.
    limit = _int_env(env, "COG_MAX_CONCURRENCY") or _int_env(env, "COGKIT_CONCURRENCY_MAX") or yaml_limit
    return ServerConfig(
        predictor=predictor,
        train=train,
        cwd=cwd,
        host=host,
        port=port,
        worker_python=worker_python or env.get("COGKIT_WORKER_PYTHON") or None,
        upload_url=upload_url,
        await_explicit_shutdown=await_explicit_shutdown,
        exit_on_stdin_eof=exit_on_stdin_eof or _switch_env(env, "COGKIT_EXIT_ON_STDIN_EOF", False),
        concurrency_max=limit,
        setup_timeout=_float_env(env, "COG_SETUP_TIMEOUT"),
        webhook_token=env.get("WEBHOOK_AUTH_TOKEN") or None,
        playground=playground and _switch_env(env, "COGKIT_PLAYGROUND", True),
        queue=_queue(queue_url, env, serves_predictions=predictor is not None),
        limits=Limits.resolve(limits, env),
    )


def _queue(flag: str | None, env: Mapping[str, str], *, serves_predictions: bool) -> QueueSettings | None:
    """--queue, else COGKIT_QUEUE_URL; parsed here so that a bad URL stops the server at once."""
    url = flag or env.get("COGKIT_QUEUE_URL") or None
    if url is None:
        return None
    source = "--queue" if flag else "COGKIT_QUEUE_URL"
    if not serves_predictions:
        raise UsageError(f"{source} needs a predictor: the queue carries predictions, not trainings")
    from cogkit.queue.settings import queue_settings  # standard library only, like this module

    return queue_settings(url, env, source=source)


def effective_concurrency(config_max: int | None, decorator_max: int | None, is_async: bool) -> int:
    """COG_MAX_CONCURRENCY / concurrency.max, then @concurrent, then 1; above 1 needs async."""
    limit = config_max or decorator_max or 1
    if limit > 1 and not is_async:
        raise PredictorError(
            f"a concurrency of {limit} needs an async predictor, but predict() is synchronous",
            hint="make predict() `async def`, or set concurrency.max to 1 in cog.yaml",
        )
    return limit
