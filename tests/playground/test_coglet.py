"""The playground works with Cog's own server: coglet (`cog==0.23.1`) behind `cogkit playground URL`.

coglet differs from cogkit where it matters here: it needs `Content-Type: application/json`, has no
GET /predictions/{id}, streams (wrapping each chunk as {chunk, index}) only when the schema marks
`x-cog-streaming`, and sends logs only at the end of a synchronous run.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.playground.conftest import (
    EXAMPLES,
    MODELS,
    CogletServer,
    PlaygroundProxy,
    open_playground,
    run_and_wait,
    screenshot,
    write_cog_schema,
)


@pytest.fixture
def coglet(coglet_python: Path, tmp_path: Path) -> Iterator[Any]:
    """`coglet(source_dir, "predict.py:Predictor")` → a playground proxy in front of a coglet server."""
    started: list[Any] = []

    def start(source: Path, predictor: str, *, streaming: bool = False) -> PlaygroundProxy:
        project = tmp_path / f"project-{len(started)}"
        shutil.copytree(source, project, ignore=shutil.ignore_patterns(".cog", ".cogkit", "__pycache__"))
        write_cog_schema(project, predictor, streaming=streaming)
        server = CogletServer(coglet_python, project, predictor, tmp_path)
        started.append(server)
        front = PlaygroundProxy(tmp_path, server.url)
        started.append(front)
        return front

    yield start
    for process in reversed(started):
        process.stop()


def field(page: Any, name: str) -> Any:
    return page.get_by_label(re.compile(f"^{re.escape(name)}\\b")).first


def test_every_input_type_runs_on_coglet(page: Any, coglet: Any) -> None:
    front = coglet(MODELS, "everything.py:Predictor")
    open_playground(page, front.url)
    assert page.locator("#server-name").inner_text().startswith("Cog 0.23.1 at http://127.0.0.1:")
    field(page, "prompt").fill("coglet")
    field(page, "steps").fill("2")
    field(page, "style").select_option(label="fancy")
    field(page, "tags").fill("x\ny")
    field(page, "api_key").fill("abc")
    field(page, "attachment").set_input_files(
        files=[{"name": "note.txt", "mimeType": "text/plain", "buffer": b"from the browser"}]
    )
    page.locator("[data-field=attachment] .chosen", has_text="note.txt").wait_for()
    assert run_and_wait(page).startswith("succeeded")
    output = json.loads(page.locator("#output pre.json").inner_text())
    assert output == {
        "text": "fancy hello: coglet",
        "steps": 2,
        "temperature": 0.7,
        "tags": ["x", "y"],
        "attachment": "from the browser",
        "api_key_length": 3,
    }
    assert "writing about 'coglet' in 2 steps" in page.locator("#logs").inner_text()
    screenshot(page, "coglet-everything")


def test_streamed_tokens_from_coglet(page: Any, coglet: Any) -> None:
    front = coglet(EXAMPLES / "streaming", "predict.py:Predictor", streaming=True)
    open_playground(page, front.url)
    field(page, "prompt").fill("Coglet:")
    field(page, "delay").fill("0.4")
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_function(
        """() => { const text = document.querySelector('#output pre.text')?.textContent ?? '';
                   return text.startsWith('Coglet:') && text.length > 'Coglet:'.length
                       && !document.querySelector('#cancel').disabled; }"""
    )
    page.wait_for_function("() => !document.querySelector('#results').hasAttribute('aria-busy')")
    assert page.locator("#status").inner_text().startswith("succeeded")
    assert len(page.locator("#output pre.text").inner_text().split()) == 9
    screenshot(page, "coglet-streaming")


def test_a_synchronous_run_on_coglet_can_be_canceled(page: Any, coglet: Any) -> None:
    front = coglet(MODELS, "slow.py:Predictor")
    open_playground(page, front.url)
    field(page, "seconds").fill("120")
    cancels: list[str] = []
    page.on("request", lambda r: cancels.append(r.url) if r.url.endswith("/cancel") else None)
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_timeout(1000)  # let it start working: coglet would otherwise cancel before it begins
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_function("() => !document.querySelector('#results').hasAttribute('aria-busy')")
    assert page.locator("#status").inner_text().startswith("canceled")
    assert len(cancels) == 1
    assert page.locator("#history .run .badge").first.inner_text() == "canceled"
    screenshot(page, "coglet-canceled")


def test_the_server_422_from_coglet_lands_on_its_field(page: Any, coglet: Any) -> None:
    front = coglet(MODELS, "everything.py:Predictor")
    open_playground(page, front.url)
    field(page, "word").fill("Two Words")  # the page cannot check a Python regex; coglet does
    page.get_by_role("button", name="Run", exact=True).click()
    error = page.locator("[data-field=word] .error")
    error.wait_for()
    assert error.inner_text().startswith("word: ")
