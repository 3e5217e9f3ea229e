"""`cogkit train`: run the project's `train` reference once through /trainings and write its output."""

from __future__ import annotations

from pathlib import Path

import click

from cogkit.cli.options import RuntimeFlags, io_options, runtime_options


@click.command(name="train")
@click.argument("image", required=False)
@io_options("Where to write a file output (default: weights).")
@runtime_options
def command(
    image: str | None,
    inputs: tuple[str, ...],
    json_input: str | None,
    output_path: Path | None,
    flags: RuntimeFlags,
) -> None:
    """Run a training. Without IMAGE, builds the project first."""
    from cogkit.cli.predict import run_once

    run_once(
        image,
        inputs=inputs,
        json_input=json_input,
        output_path=output_path,
        flags=flags,
        endpoint="trainings",
        component="TrainingInput",
        default_file=Path("weights"),  # as `cog train`
    )
