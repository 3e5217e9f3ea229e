"""`cogkit deploy [IMAGE]`: Kubernetes, Knative or KServe manifests for a pushed image, pinned by digest."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cogkit.cli import render
from cogkit.deploy.settings import Target
from cogkit.errors import SpecError, UsageError

SECONDS = click.IntRange(1, 7 * 24 * 3600)


def default_image(config: Path | None) -> str:
    """The `image:` of the project's cog.yaml, for `cogkit deploy` with no IMAGE."""
    from cogkit.spec import load_spec
    from cogkit.spec.load import find_config

    try:
        config_file = config or find_config()
    except SpecError:
        config_file = None
    spec = load_spec(config_file) if config_file is not None else None
    if spec is None or not spec.image:
        raise UsageError(
            "no image to deploy: pass IMAGE, or run in a project whose cog.yaml sets `image:`",
            hint="push it first (`cogkit push REGISTRY/NAME:TAG`), then `cogkit deploy REGISTRY/NAME:TAG`",
        )
    return spec.image


EXAMPLES = """\b
Examples:
  cogkit deploy registry.example.com/me/model:1 --replicas 2 | kubectl apply -f -
  cogkit deploy registry.example.com/me/model:1 --gpus 1 --max-replicas 4 \\
      --prometheus http://prometheus.monitoring:9090 -o k8s/
  cogkit deploy registry.example.com/me/model:1 --queue redis://redis:6379/0?stream=jobs
  cogkit deploy registry.example.com/me/model:1 --target knative
"""


@click.command(
    name="deploy", short_help="Write Kubernetes, Knative or KServe manifests for IMAGE.", epilog=EXAMPLES
)
@click.argument("image", required=False)
@click.option(
    "--target",
    type=click.Choice([t.value for t in Target]),
    default=Target.KUBERNETES.value,
    show_default=True,
    help="kubernetes: Deployment, Service, PDB and KEDA; knative: a Knative Service; kserve: an InferenceService.",
)
@click.option("--name", help="Name of every object (default: the image's repository name).")
@click.option("-n", "--namespace", help="Namespace written into every object (default: kubectl's context).")
@click.option("--replicas", type=click.IntRange(1), help="Run exactly N replicas, with no autoscaler.")
@click.option(
    "--min-replicas",
    type=click.IntRange(0),
    help="Autoscale from this many (default: 0 where allowed, else 1).",
)
@click.option(
    "--max-replicas", type=click.IntRange(1), default=3, show_default=True, help="Autoscale up to this many."
)
@click.option("--gpus", type=click.IntRange(0), help="GPUs per replica (default: 1 for GPU images, else 0).")
@click.option("--cpu", help="CPU to request per replica, e.g. 2 or 500m.")
@click.option("--memory", help="Memory to request and cap per replica, e.g. 16Gi.")
@click.option(
    "--image-pull-secret", "pull_secrets", multiple=True, metavar="SECRET", help="A registry Secret."
)
@click.option(
    "--queue", "queue_url", metavar="URL", help="Consume redis://HOST:PORT/DB?stream=NAME and scale on it."
)
@click.option(
    "--queue-password-secret",
    metavar="SECRET[:KEY]",
    help="The Secret key (default `password`) holding the queue's Redis password.",
)
@click.option("--prometheus", metavar="URL", help="Prometheus server that KEDA asks about HTTP load.")
@click.option(
    "--target-utilization",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.8,
    show_default=True,
    help="Share of prediction slots busy that autoscaling aims for (HTTP mode, Knative, KServe).",
)
@click.option(
    "--concurrency", type=click.IntRange(1), help="Predictions per replica (default: concurrency.max)."
)
@click.option(
    "--max-setup-time", type=SECONDS, default=1800, show_default=True, help="Seconds setup() may take."
)
@click.option(
    "--max-prediction-time",
    type=SECONDS,
    default=300,
    show_default=True,
    help="Seconds a prediction may take: request timeouts, and the drain on shutdown.",
)
@click.option(
    "--driver-affinity/--no-driver-affinity",
    default=True,
    show_default=True,
    help="Keep GPU pods off nodes whose NVIDIA driver is older than the image needs.",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, file_okay=False), help="Write one file per object here."
)
@click.option(
    "-f",
    "--file",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The cog.yaml to read `image:` from.",
)
@click.option("--insecure", is_flag=True, help="Allow plain HTTP and unverified TLS to the registry.")
@click.option(
    "--ca-cert",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Trust this PEM CA for the registry.",
)
def command(
    image: str | None,
    target: str,
    name: str | None,
    namespace: str | None,
    replicas: int | None,
    min_replicas: int | None,
    max_replicas: int,
    gpus: int | None,
    cpu: str | None,
    memory: str | None,
    pull_secrets: tuple[str, ...],
    queue_url: str | None,
    queue_password_secret: str | None,
    prometheus: str | None,
    target_utilization: float,
    concurrency: int | None,
    max_setup_time: int,
    max_prediction_time: int,
    driver_affinity: bool,
    output: Path | None,
    config: Path | None,
    insecure: bool,
    ca_cert: Path | None,
) -> None:
    """Print manifests for IMAGE (default: `image:` in cog.yaml) for `kubectl apply -f -`."""
    from cogkit.deploy import DeploySettings, QueueSettings, SecretKey, deploy

    if queue_password_secret and not queue_url:
        raise UsageError(
            "--queue-password-secret needs --queue", hint="pass --queue redis://HOST:6379/0?stream=NAME"
        )
    secret = SecretKey.parse(queue_password_secret) if queue_password_secret else None
    settings = DeploySettings(
        target=Target(target),
        name=name,
        namespace=namespace,
        replicas=replicas,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        gpus=gpus,
        cpu=cpu,
        memory=memory,
        image_pull_secrets=pull_secrets,
        queue=QueueSettings.parse(queue_url, password_secret=secret) if queue_url else None,
        prometheus=prometheus,
        target_utilization=target_utilization,
        concurrency=concurrency,
        max_setup_s=max_setup_time,
        max_prediction_s=max_prediction_time,
        driver_affinity=driver_affinity,
    )
    manifests = deploy(image or default_image(config), settings, insecure=insecure, ca_cert=ca_cert)
    for note in manifests.notes:
        render.info(note)
    if output is None:
        sys.stdout.write(manifests.to_yaml())
        return
    written = manifests.write(output)
    for path in written:
        click.echo(str(path))
    render.info(f"apply with: kubectl apply -k {output}")
