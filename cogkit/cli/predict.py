"""`cogkit predict` (also `cogkit run`): one prediction on the project or an image."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cogkit.cli import render
from cogkit.cli.options import io_options, runtime_options
from cogkit.mode import Mode
from cogkit.runtime.backend import RunConfig

EXAMPLES = """\b
Examples:
  cogkit predict -i prompt="a photo of a cat"         # the project in ., built or in its venv
  cogkit predict -i image=@photo.jpg -o out.png       # a file input, and where the output goes
  cogkit predict --runtime local -i text=hi           # never touches Docker
  cogkit predict r8.im/me/model:v1 --json @input.json # an image; inputs from a JSON file
  echo '{"text": "hi"}' | cogkit predict --json @-    # inputs from stdin
"""


@click.command(name="predict", short_help="Run one prediction and print or save its output.", epilog=EXAMPLES)
@click.argument("image", required=False)
@io_options("Where to write the output.")
@runtime_options
def command(
    image: str | None,
    inputs: tuple[str, ...],
    json_input: str | None,
    output_path: Path | None,
    setup_timeout: float,
    run_config: RunConfig,
) -> None:
    """Run a prediction and print or save its output. `cogkit run` is the same command.

    Without IMAGE, the project is built first (Docker) or its venv is made ready (local); with
    IMAGE, that image runs and its schema label types the inputs. `--runtime auto` uses Docker
    when an engine answers, else a uv venv in .cogkit/venv, reused until the requirements change.
    What the model prints in setup() and predict() appears on stderr as it happens; the output
    goes to stdout, or to files for file outputs.
    """
    run_and_print(image, Mode.PREDICT, inputs, json_input, output_path, setup_timeout, run_config)


def run_and_print(
    image: str | None,
    mode: Mode,
    inputs: tuple[str, ...],
    json_input: str | None,
    output_path: Path | None,
    setup_timeout: float,
    run_config: RunConfig,
) -> None:
    """Shared by predict and train: one library call, then print what it returned."""
    from cogkit.runtime import predict

    reporter = render.Reporter()
    try:
        outcome = predict.run_once(
            run_config,
            image=image,
            mode=mode,
            inputs=inputs,
            json_input=json_input,
            output_path=output_path,
            setup_timeout=setup_timeout,
            report=reporter,
            write=_write_stdout,
            verbose=render.debugging(),
        )
    finally:
        reporter.close()
    if json_input is not None:
        render.stdout.print_json(json.dumps(outcome.response))
    for path in outcome.written:
        render.info(f"wrote {path}")
    outcome.raise_for_status()


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
