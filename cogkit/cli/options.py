"""Flags shared by predict, serve, exec and train, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cogkit.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


def runtime_options(func: F) -> F:
    """--runtime, --gpus, -e, -f, --ca-cert and --base-image."""
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
        func = decorator(func)
    return func


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-e {pair!r}: expected KEY=VALUE", hint="e.g. -e HF_HOME=/tmp/hf")
        env[key] = value
    return env
