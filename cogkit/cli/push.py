"""`cogkit push [IMAGE]`: build the release image when there is a project, then push it natively."""

from __future__ import annotations

from pathlib import Path

import click

from cogkit.cli import render
from cogkit.errors import SpecError, UsageError


def resolve_target(image: str | None, config: Path | None) -> tuple[str, Path | None]:
    """The reference to push and the cog.yaml to build it from (None: push an existing local image)."""
    from cogkit.spec import load_spec
    from cogkit.spec.load import find_config

    try:
        config_file = config or find_config()
    except SpecError:
        config_file = None
    if image:
        return image, config_file
    if config_file is None:
        raise UsageError(
            "no image to push: pass IMAGE, or run in a project whose cog.yaml sets `image:`",
            hint="e.g. `cogkit push registry.example.com/me/model:v1`",
        )
    spec = load_spec(config_file)
    if not spec.image:
        raise UsageError(
            f"no image to push: {config_file} has no `image:` and no IMAGE was given",
            hint="add `image: registry.example.com/me/model` to cog.yaml, or run `cogkit push IMAGE`",
        )
    return spec.image, config_file


EXAMPLES = """\b
Examples:
  cogkit push                                   # build, then push to `image:` in cog.yaml
  cogkit push registry.example.com/me/model:v1
  cogkit push --no-build ghcr.io/me/model:v1    # an image that is already built
"""


@click.command(
    name="push", short_help="Build if needed, then push the image to its registry.", epilog=EXAMPLES
)
@click.argument("image", required=False)
@click.option(
    "-f", "--file", "config", type=click.Path(path_type=Path, dir_okay=False), help="The cog.yaml to build."
)
@click.option("--no-build", is_flag=True, help="Push the image already in the engine; do not build.")
@click.option(
    "--via",
    type=click.Choice(["native", "docker"]),
    default="native",
    show_default=True,
    help="`docker` delegates to the engine's own push (for parity checks).",
)
@click.option("--oci", is_flag=True, help="Push an OCI image manifest instead of Docker v2 schema 2.")
@click.option("--insecure", is_flag=True, help="Allow plain HTTP and unverified TLS to this registry.")
@click.option(
    "--ca-cert",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Trust this PEM CA (for the registry's TLS, and inside the build).",
)
@click.option(
    "-j", "--jobs", type=click.IntRange(1, 32), default=4, show_default=True, help="Parallel uploads."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars; print only the pushed reference.")
def command(
    image: str | None,
    config: Path | None,
    no_build: bool,
    via: str,
    oci: bool,
    insecure: bool,
    ca_cert: Path | None,
    jobs: int,
    quiet: bool,
) -> None:
    """Push IMAGE (default: `image:` in cog.yaml) to its registry; prints REF@sha256:DIGEST."""
    from cogkit.registry import ManifestFormat, push_image, push_with_engine

    target, config_file = resolve_target(image, config)
    if config_file is not None and not no_build:
        from cogkit.cli.build_display import BuildDisplay
        from cogkit.image.build import build_project

        # One CA file serves both: a corporate CA that the build needs for PyPI usually signs the
        # private registry too, and trusting it adds to (never replaces) the system's roots.
        with BuildDisplay(render.stderr, "quiet" if quiet else "auto") as display:
            build_project(config_file, tag=target, ca_cert=ca_cert, on_event=display)
    if via == "docker":
        result = push_with_engine(target)
    else:
        result = push_image(
            target,
            insecure=insecure,
            ca_cert=ca_cert,
            manifest_format=ManifestFormat.OCI if oci else ManifestFormat.DOCKER,
            jobs=jobs,
            show_progress=not quiet,
        )
        if not quiet:
            render.info(
                f"{result.uploaded} uploaded, {result.mounted} mounted, {result.skipped} skipped; "
                f"{result.bytes_uploaded / 1e6:.1f} MB sent in {result.seconds:.1f}s"
            )
    render.plain(result.reference, render.stdout)
