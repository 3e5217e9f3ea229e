"""`cogkit predict` (also `cogkit run`): run one prediction on the project or an image."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from cogkit.cli import render
from cogkit.cli.options import RuntimeFlags, io_options, runtime_options


@click.command(name="predict")
@click.argument("image", required=False)
@io_options("Where to write the output.")
@runtime_options
def command(
    image: str | None,
    inputs: tuple[str, ...],
    json_input: str | None,
    output_path: Path | None,
    flags: RuntimeFlags,
) -> None:
    """Run a prediction and print or save its output.

    Without IMAGE, the project is built first (Docker) or its venv is made ready (local);
    with IMAGE, that image runs and its schema label types the inputs. `--runtime auto`
    uses Docker when an engine answers, else a uv venv in .cogkit/venv that is reused until
    the requirements change.
    """
    run_once(
        image,
        inputs=inputs,
        json_input=json_input,
        output_path=output_path,
        flags=flags,
        endpoint="predictions",
        component="Input",
    )


def run_once(
    image: str | None,
    *,
    inputs: tuple[str, ...],
    json_input: str | None,
    output_path: Path | None,
    flags: RuntimeFlags,
    endpoint: str,
    component: str,
    default_file: Path | None = None,
) -> dict[str, Any]:
    """Shared by predict and train: prepare, validate inputs, start, post, print, stop."""
    from cogkit.errors import PredictionFailed
    from cogkit.runtime import client, session
    from cogkit.runtime.inputs import parse_inputs, parse_json_input, validate
    from cogkit.runtime.outputs import is_data_uri, stream_chunk, write_output

    # Catch malformed flags and missing @files before a build or a venv, which can take minutes.
    early = parse_json_input(json_input) if json_input else {}
    parse_inputs(inputs, None)
    target = flags.prepare(image)

    def checked() -> dict[str, Any]:
        payload = {**early, **parse_inputs(inputs, target.schema, component=component)}
        return validate(payload, target.schema, component=component)

    payload = checked() if target.schema else {}
    streamed: list[Any] = []

    def on_output(chunk: Any) -> None:
        streamed.append(chunk)
        if isinstance(chunk, str) and chunk.startswith("data:"):
            return
        sys.stdout.write(
            stream_chunk(chunk) + ("" if isinstance(chunk, str) and _concatenates(target.schema) else "\n")
        )
        sys.stdout.flush()

    with session.start(
        target, environment=flags.environment, gpus=flags.gpus, console=render.stderr
    ) as handle:
        if not target.schema:
            # An image without our schema label (e.g. built by Cog): its server knows the schema.
            target.schema = client.openapi(handle.url)
            payload = checked()
        streaming = (
            endpoint == "predictions" and json_input is None and client.is_iterator_output(target.schema)
        )
        response = client.run(
            handle.url, {"input": payload}, endpoint=endpoint, stream=streaming, on_output=on_output
        )

    status = response.get("status")
    if json_input is not None:
        render.stdout.print_json(json.dumps(response))
    else:
        if status != "succeeded" and response.get("logs"):
            render.stderr.print(str(response["logs"]).rstrip(), markup=False, highlight=False)
        if status == "succeeded":
            output = response.get("output")
            if streamed and not any(isinstance(c, str) and c.startswith("data:") for c in streamed):
                if _concatenates(target.schema):
                    sys.stdout.write("\n")
            else:
                if output_path is None and default_file is not None and is_data_uri(output):
                    output_path = default_file
                for path in write_output(output, output_path=output_path, echo=click.echo):
                    render.info(f"wrote {path}")
    if status != "succeeded":
        raise PredictionFailed(
            f"the {endpoint[:-1]} {status or 'failed'}: {response.get('error') or 'no error message'}"
        )
    return response


def _concatenates(schema: dict[str, Any]) -> bool:
    output = schema.get("components", {}).get("schemas", {}).get("Output", {})
    return output.get("x-cog-array-display") == "concatenate"
