"""Flags shared by predict, serve, exec and train, declared once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cogkit.errors import UsageError

if TYPE_CHECKING:
    from cogkit.runtime.session import Target

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RuntimeFlags:
    """Where and how to run the project: the flags predict, serve, exec and train share."""

    runtime: str = "auto"
    gpus: str | None = None
    env: dict[str, str] | None = None
    config: Path | None = None
    ca_cert: Path | None = None
    base_image: str | None = None

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.env or {})

    def prepare(self, image: str | None) -> Target:
        """Pick the runtime (saying which), then build the image or the venv; nothing starts yet."""
        from cogkit.cli import render
        from cogkit.runtime import session

        chosen = session.choose_runtime(self.runtime, image=image, say=render.info)
        return session.prepare(
            image,
            runtime=chosen,
            config=self.config,
            console=render.stderr,
            ca_cert=self.ca_cert,
            base_image=self.base_image,
        )


def runtime_options(func: F) -> F:
    """--runtime, --gpus, -e, -f, --ca-cert and --base-image, handed to the command as `flags`."""

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
        flags = RuntimeFlags(runtime, gpus, parse_env(env), config, ca_cert, base_image)
        return func(*args, flags=flags, **kwargs)

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
    """-i, --json and -o: how predict and train take inputs and write outputs."""

    def decorate(func: F) -> F:
        decorators = [
            click.option(
                "-i", "--input", "inputs", multiple=True, metavar="NAME=VALUE|NAME=@FILE", help="An input."
            ),
            click.option(
                "--json",
                "json_input",
                metavar="JSON|@FILE|-",
                help="All inputs as JSON; prints the whole response.",
            ),
            click.option("-o", "--output", "output_path", type=click.Path(path_type=Path), help=output_help),
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
