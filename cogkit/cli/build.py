"""`cogkit build`: build the project's image with BuildKit, labels and a timing summary."""

from __future__ import annotations

from pathlib import Path

import click

from cogkit.cli import render

EXAMPLES = """\b
Examples:
  cogkit build                                 # tag: `image:` in cog.yaml, else cogkit-<folder>
  cogkit build -t registry.example.com/me/model:v1
  cogkit build --secret id=hf,env=HF_TOKEN     # for a build.run step that asks for it
  cogkit build --ca-cert corp-ca.pem --base-image mirror.example.com/python:3.11-slim
"""


@click.command(name="build", short_help="Build the image from cog.yaml with BuildKit.", epilog=EXAMPLES)
@click.option("-t", "--tag", help="Image name (default: `image:` in cog.yaml, else cogkit-<dir>).")
@click.option("--no-cache", is_flag=True, help="Build every step again.")
@click.option("--secret", "secrets", multiple=True, metavar="id=NAME,src=FILE|env=VAR", help="Build secret.")
@click.option(
    "--progress",
    type=click.Choice(["auto", "plain", "quiet"]),
    default="auto",
    show_default=True,
    help="Output.",
)
@click.option(
    "--base-image", help="Use this base image instead of the plan's (mirrors, air-gapped registries)."
)
@click.option(
    "--ca-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="COGKIT_CA_CERT",
    help="A CA bundle the build trusts for package downloads [env: COGKIT_CA_CERT].",
)
@click.option("-f", "--file", "config", type=click.Path(path_type=Path), help="Path to cog.yaml.")
def command(
    tag: str | None,
    no_cache: bool,
    secrets: tuple[str, ...],
    progress: str,
    base_image: str | None,
    ca_cert: Path | None,
    config: Path | None,
) -> None:
    """Build an image from cog.yaml.

    Project files of 10 MB or more (weights) go to their own layers before the code, so a code
    edit rebuilds and re-pushes only the small code layer. Secrets given with --secret are mounted
    only while the `build.run` step that asks for them runs, and never stored in the image.
    """

    from cogkit.cli.build_display import BuildDisplay, timings_table
    from cogkit.image.build import build_project
    from cogkit.image.builder import Secret

    with BuildDisplay(render.stderr, progress) as display:  # type: ignore[arg-type]
        built = build_project(
            config,
            tag=tag,
            no_cache=no_cache,
            secrets=[Secret.parse(s) for s in secrets],
            base_image=base_image,
            ca_cert=ca_cert,
            on_event=display,
        )
    if progress != "quiet":
        render.stderr.print(timings_table(built.steps, built.seconds))
        render.labelled("built", "green", f"{built.tag} ({built.image_id[:19]}) with {built.backend}")
    else:
        render.plain(built.image_id, render.stdout)
