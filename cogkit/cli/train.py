"""`cogkit train`: run the project's `train` reference once through /trainings and write its output."""

from __future__ import annotations

from pathlib import Path

import click

from cogkit.cli.options import io_options, runtime_options
from cogkit.cli.predict import run_and_print
from cogkit.mode import Mode
from cogkit.runtime.backend import RunConfig

EXAMPLES = """\b
Examples:
  cogkit train -i data=@train.zip                  # writes the output file to ./weights
  cogkit train -i data=@train.zip -o lora.safetensors
  cogkit train --runtime local -i steps=10
"""


@click.command(
    name="train", short_help="Run a training and write its output (default: weights).", epilog=EXAMPLES
)
@click.argument("image", required=False)
@io_options("Where to write a file output (default: weights).")
@runtime_options
def command(
    image: str | None,
    inputs: tuple[str, ...],
    json_input: str | None,
    output_path: Path | None,
    setup_timeout: float,
    run_config: RunConfig,
) -> None:
    """Run the `train:` reference of cog.yaml once, through /trainings, as `cog train` does.

    Without IMAGE, the project is built first (Docker) or its venv is made ready (local). A file
    output is written to `weights` unless -o says where.
    """
    run_and_print(image, Mode.TRAIN, inputs, json_input, output_path, setup_timeout, run_config)
