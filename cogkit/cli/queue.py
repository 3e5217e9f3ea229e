"""`cogkit queue`: put predictions on a Redis queue that cogkit servers consume, and read results."""

from __future__ import annotations

import json
import sys

import click

URL_HELP = "URL is the queue: redis://[USER:PASSWORD@]HOST:PORT/DB?stream=NAME[&group=GROUP]."
EXAMPLES = """\b
Examples:
  cogkit serve --queue 'redis://127.0.0.1:6379/0?stream=jobs'          # a consumer
  cogkit queue submit 'redis://127.0.0.1:6379/0?stream=jobs' -i text=hi  # prints the new id
  cogkit queue result 'redis://127.0.0.1:6379/0?stream=jobs' ID --wait 60
  cogkit queue cancel 'redis://127.0.0.1:6379/0?stream=jobs' ID
"""


@click.group(name="queue", short_help="Submit to and read from a Redis prediction queue.", epilog=EXAMPLES)
def command() -> None:
    """Queue predictions for servers started with --queue (or COGKIT_QUEUE_URL)."""


@command.command(name="submit", epilog=URL_HELP)
@click.argument("url")
@click.option("-i", "--input", "inputs", multiple=True, metavar="NAME=VALUE|NAME=@FILE", help="An input.")
@click.option("--json", "json_input", metavar="JSON|@FILE|-", help="All inputs as JSON.")
@click.option("--id", "prediction_id", help="The prediction's id (default: a new random one).")
@click.option("--webhook", help="POST the prediction here as it runs and when it completes.")
@click.option(
    "--webhook-events-filter",
    "events",
    multiple=True,
    type=click.Choice(["start", "output", "logs", "completed"]),
    help="Which webhook events to send (repeatable; default all).",
)
def submit(
    url: str,
    inputs: tuple[str, ...],
    json_input: str | None,
    prediction_id: str | None,
    webhook: str | None,
    events: tuple[str, ...],
) -> None:
    """Queue a prediction and print its id.

    Inputs are typed and checked with the model's schema, which each server publishes to
    Redis as it starts; before any has, values are sent as strings (JSON for [ and {).
    """
    from cogkit.queue import Producer
    from cogkit.runtime.inputs import parse_inputs, parse_json_input, validate

    with Producer(url) as producer:
        schema = producer.schema()
        payload = {**(parse_json_input(json_input) if json_input else {}), **parse_inputs(inputs, schema)}
        validate(payload, schema)
        click.echo(
            producer.submit(
                payload,
                prediction_id=prediction_id,
                webhook=webhook,
                webhook_events_filter=events or None,
            )
        )


@command.command(name="result", epilog=URL_HELP)
@click.argument("url")
@click.argument("prediction_id", metavar="ID")
@click.option(
    "--wait", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS", help="Wait this long for the end."
)
def result(url: str, prediction_id: str, wait: float) -> None:
    """Print a prediction as JSON: the final one, or its state now (starting or processing)
    when it has not finished within --wait seconds."""
    from cogkit.queue import Producer

    with Producer(url) as producer:
        found = producer.result(prediction_id, wait=wait) or producer.status(prediction_id)
    json.dump(found, sys.stdout, indent=2)
    sys.stdout.write("\n")


@command.command(name="cancel", epilog=URL_HELP)
@click.argument("url")
@click.argument("prediction_id", metavar="ID")
def cancel(url: str, prediction_id: str) -> None:
    """Cancel a queued or running prediction (nothing happens if it already finished)."""
    from cogkit.queue import cancel as cancel_prediction

    cancel_prediction(url, prediction_id)
