"""`cogkit login [REGISTRY]`: verify credentials with the registry and store them as `docker login` does."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cogkit.cli import render
from cogkit.errors import UsageError

EXAMPLES = """\b
Examples:
  cogkit login                                  # Docker Hub, asks for the password
  echo "$TOKEN" | cogkit login ghcr.io -u me --password-stdin
"""


@click.command(
    name="login", short_help="Check credentials and store them as docker login does.", epilog=EXAMPLES
)
@click.argument("registry", required=False)
@click.option("-u", "--username", help="The account name (asked for when missing).")
@click.option("--password-stdin", is_flag=True, help="Read the password (or token) from standard input.")
@click.option("--insecure", is_flag=True, help="Allow plain HTTP and unverified TLS to this registry.")
@click.option(
    "--ca-cert",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Trust this PEM CA for the registry's TLS certificate.",
)
def command(
    registry: str | None, username: str | None, password_stdin: bool, insecure: bool, ca_cert: Path | None
) -> None:
    """Log in to REGISTRY (default: Docker Hub). The password is never echoed or logged."""
    from cogkit.registry import login

    if password_stdin:
        if not username:
            raise UsageError(
                "--password-stdin needs --username", hint="cogkit login -u USER --password-stdin"
            )
        password = sys.stdin.read().rstrip("\r\n")
    else:
        username = username or click.prompt("Username")
        password = click.prompt("Password", hide_input=True)
    saved = login(registry, username=username or "", password=password, insecure=insecure, ca_cert=ca_cert)
    render.info(f"credentials saved in {saved}")
    render.stdout.print("Login Succeeded")
