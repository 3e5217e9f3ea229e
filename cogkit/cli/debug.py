"""`cogkit debug`: show the Dockerfile (or, with --json, the resolved plan) without building."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cogkit.cli import render

EXAMPLES = """\b
Examples:
  cogkit debug                  # the Dockerfile
  cogkit debug --json | jq .cuda
  cogkit debug -f cog.gpu.yaml
"""


@click.command(
    name="debug", short_help="Print the Dockerfile (or the plan, --json) without building.", epilog=EXAMPLES
)
@click.option(
    "-f",
    "--file",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The cog.yaml to read (default: the nearest one, walking up from here).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the resolved build plan as one JSON object.")
@click.option("--base-image", default=None, metavar="IMAGE", help="Build FROM this image (a mirror, say).")
def command(config: Path | None, as_json: bool, base_image: str | None) -> None:
    """Print the Dockerfile cogkit would build, or the plan behind it with --json."""
    from cogkit.image.preview import preview

    result = preview(config, base_image=base_image)
    for warning in result.warnings:
        render.warning(warning)
    if as_json:
        data = result.plan.to_json()
        data["weights"] = list(result.weights)
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(result.dockerfile, nl=False)
