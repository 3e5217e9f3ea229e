"""Flags shared by predict, serve, exec and train, declared once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cogkit.errors import UsageError
from cogkit.runtime.backend import SETUP_TIMEOUT_S, RunConfig

F = TypeVar("F", bound=Callable[..., Any])
PORT = click.IntRange(1, 65535)


def runtime_options(func: F) -> F:
    """--runtime, --gpus, -e, -f, --ca-cert and --base-image, handed to the command as `run_config`."""

    @functools.wraps(func)
    def command(
        *args: Any,
        runtime: str,
        gpus: str | None,
        env: tuple[str, ...],
        config: Path | None,
        ca_cert: Path | None,
        base_image: str | None,
        **kwargs: Any,
    ) -> Any:
        run_config = RunConfig(runtime, config, gpus, parse_env(env), ca_cert, base_image)
        return func(*args, run_config=run_config, **kwargs)

    decorators = [
        click.option(
            "--runtime",
            type=click.Choice(["auto", "docker", "local"]),
            default="auto",
            show_default=True,
            help="Run in Docker, in a local project venv, or Docker when an engine answers.",
        ),
        click.option(
            "--gpus",
            default=None,
            help="GPUs to pass through (all, N, device=0,1); default all on GPU images.",
        ),
        click.option(
            "-e", "--env", "env", multiple=True, metavar="K=V", help="Environment variable for the model."
        ),
        click.option("-f", "--file", "config", type=click.Path(path_type=Path), help="Path to cog.yaml."),
        click.option(
            "--ca-cert",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            envvar="COGKIT_CA_CERT",
            help="A CA bundle the image build trusts for package downloads [env: COGKIT_CA_CERT].",
        ),
        click.option("--base-image", help="Build on this base image instead of the plan's."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command  # type: ignore[return-value]


def io_options(output_help: str) -> Callable[[F], F]:
    """-i, --json, -o and --setup-timeout: how predict and train take inputs and write outputs."""

    def decorate(func: F) -> F:
        decorators = [
            click.option(
                "-i", "--input", "inputs", multiple=True, metavar="NAME=VALUE|NAME=@FILE", help="An input."
            ),
            click.option(
                "--json",
                "json_input",
                metavar="JSON|@FILE|@-",
                help="All inputs as JSON (`@-` or `-` reads stdin); prints the whole response.",
            ),
            click.option("-o", "--output", "output_path", type=click.Path(path_type=Path), help=output_help),
            click.option(
                "--setup-timeout",
                type=click.FloatRange(min=0, min_open=True),
                default=SETUP_TIMEOUT_S,
                show_default=True,
                metavar="SECONDS",
                help="How long setup() may run before cogkit gives up.",
            ),
        ]
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return decorate


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-e {pair!r}: expected KEY=VALUE", hint="e.g. -e HF_HOME=/tmp/hf")
        env[key] = value
    return env
