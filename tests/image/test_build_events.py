"""`build_project` reports through its callback and prints nothing; the CLI's display escapes what it shows."""

from __future__ import annotations

import contextlib
import io
import shutil
import uuid
from pathlib import Path

import docker
import pytest
from rich.console import Console

from cogkit.cli.build_display import BuildDisplay
from cogkit.image.build import BuilderLine, BuildEvent, BuildNote, NoteKind, build_project

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello-world"


@pytest.mark.docker
def test_build_project_reports_events_and_prints_nothing(
    tmp_path: Path,
    base_image: str,
    host_ca_cert: Path | None,
    docker_client: docker.DockerClient,
    capfd: pytest.CaptureFixture[str],
) -> None:
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    config = project / "cog.yaml"  # build.fast: accepted for Cog compatibility, with a warning
    config.write_text(config.read_text().replace("build:\n", "build:\n  fast: true\n"))
    events: list[BuildEvent] = []
    tag = f"cogkit-test-events-{uuid.uuid4().hex[:8]}"
    try:
        build_project(project / "cog.yaml", tag=tag, ca_cert=host_ca_cert, on_event=events.append)
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)
    notes = [e for e in events if isinstance(e, BuildNote)]
    assert any(n.kind is NoteKind.WARNING and n.text.startswith("build.fast: accepted") for n in notes)
    assert any(isinstance(e, BuilderLine) and e.step is not None for e in events)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""


@pytest.mark.parametrize("mode", ["steps", "plain", "quiet"])
def test_the_display_shows_user_text_as_written(mode: str) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    text = "torch[extra] ok and jax[cuda12], then [/x] and [bold]"
    with BuildDisplay(console, mode) as display:  # type: ignore[arg-type]
        display(BuildNote(NoteKind.WARNING, text))
        display(BuilderLine(f"#5 0.1 {text}", None))
    shown = out.getvalue()
    assert f"warning: {text}" in shown  # warnings show in every mode
    assert (f"#5 0.1 {text}" in shown) == (mode == "plain")
