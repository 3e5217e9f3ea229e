"""`cogkit predict` and `cogkit train` as one library call: prepare, check inputs, run once, write.

Inputs are parsed before anything is built (a typo in `-i` should not cost a build), and checked
against the schema before the server starts. The output goes to `write` as it comes (a streamed
iterator) or once at the end; file outputs are written to disk and their paths returned.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cogkit.errors import PredictionFailed
from cogkit.mode import Mode
from cogkit.runtime import client, session
from cogkit.runtime.backend import SETUP_TIMEOUT_S, Report, RunConfig, ServerOptions, ignore
from cogkit.runtime.inputs import parse_inputs, parse_json_input, validate
from cogkit.runtime.outputs import is_data_uri, stream_chunk, write_output

# Where `cogkit train` writes a file output when -o is not given, as `cog train` does.
DEFAULT_TRAIN_OUTPUT = Path("weights")


@dataclass(frozen=True)
class Outcome:
    """Cog's response object, and the files its output was written to."""

    mode: Mode
    response: dict[str, Any]
    written: list[Path] = field(default_factory=list)
    logs_shown: bool = False

    @property
    def succeeded(self) -> bool:
        return self.response.get("status") == "succeeded"

    def raise_for_status(self) -> None:
        """PredictionFailed unless it succeeded; the model's logs are quoted unless already shown."""
        if self.succeeded:
            return
        status = self.response.get("status") or "failed"
        message = f"the {self.mode.noun} {status}: {self.response.get('error') or 'no error message'}"
        logs = str(self.response.get("logs") or "").rstrip()
        if logs and not self.logs_shown:
            message += "\n" + "\n".join(f"    {line}" for line in logs.splitlines())
        raise PredictionFailed(message)


def run_once(
    config: RunConfig,
    *,
    image: str | None = None,
    mode: Mode = Mode.PREDICT,
    inputs: Sequence[str] = (),
    json_input: str | None = None,
    output_path: Path | None = None,
    setup_timeout: float = SETUP_TIMEOUT_S,
    report: Report = ignore,
    write: Callable[[str], None] = sys.stdout.write,
    verbose: bool = False,
) -> Outcome:
    """Run one prediction (or training) on the project, or on `image`, and hand its output to `write`.

    With `json_input` the output is left in the response (the caller prints the whole of it).
    """
    component = mode.input_component
    early = parse_json_input(json_input) if json_input else {}
    parse_inputs(inputs, None)
    target = session.prepare(config, image=image, report=report)

    def checked() -> dict[str, Any]:
        payload = {**early, **parse_inputs(inputs, target.schema, component=component)}
        return validate(payload, target.schema, component=component)

    payload = checked() if target.schema else {}
    streamed: list[Any] = []
    concatenates = False

    def on_output(chunk: Any) -> None:
        streamed.append(chunk)
        if not is_data_uri(chunk):
            write(stream_chunk(chunk) + ("" if isinstance(chunk, str) and concatenates else "\n"))

    options = ServerOptions(environment=config.environment, gpus=config.gpus)
    with session.start(
        target, options, report=report, setup_timeout=setup_timeout, verbose=verbose
    ) as running:
        if not target.schema:
            # An image without our schema label (e.g. built by Cog): its server knows the schema.
            target.schema = client.openapi(running.url)
            payload = checked()
        concatenates = _concatenates(target.schema)
        stream = mode is Mode.PREDICT and json_input is None and client.is_iterator_output(target.schema)
        response = client.run(running.url, {"input": payload}, mode=mode, stream=stream, on_output=on_output)
        outcome = Outcome(mode, response, logs_shown=running.output_shown)

    if json_input is not None or not outcome.succeeded:
        return outcome
    output = response.get("output")
    if streamed and not any(is_data_uri(chunk) for chunk in streamed):
        if concatenates:
            write("\n")
        return outcome
    if output_path is None and mode is Mode.TRAIN and is_data_uri(output):
        output_path = DEFAULT_TRAIN_OUTPUT
    written = write_output(output, output_path=output_path, echo=lambda text: write(text + "\n"))
    return Outcome(mode, response, written, logs_shown=outcome.logs_shown)


def _concatenates(schema: dict[str, Any]) -> bool:
    output = schema.get("components", {}).get("schemas", {}).get("Output", {})
    return output.get("x-cog-array-display") == "concatenate"
