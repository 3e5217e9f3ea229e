"""The playground end to end: a real chromium against real cogkit servers on the example models."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.playground.conftest import PlaygroundProxy, free_port, open_playground, run_and_wait, screenshot


def field(page: Any, name: str) -> Any:
    """The control whose accessible label starts with the input's name."""
    return page.get_by_label(re.compile(f"^{re.escape(name)}\\b")).first


def test_text_model_runs_and_shows_its_output(page: Any, model: Any) -> None:
    server = model("hello")
    open_playground(page, server.url)
    text = field(page, "text")
    assert text.input_value() == "world"  # the default is filled in
    assert "Who to greet" in page.locator("[data-field=text] .hint").inner_text()
    text.fill("playground")
    status = run_and_wait(page)
    assert status.startswith("succeeded"), status
    assert page.locator("#output pre.text").inner_text() == "hello playground"
    assert page.locator("#history .run").count() == 1
    assert page.locator("#server-name").inner_text().startswith("Cog cogkit-")
    screenshot(page, "text-model")


def test_the_form_covers_every_input_type(page: Any, model: Any, tmp_path: Path) -> None:
    open_playground(page, model("everything").url)
    form = page.locator("#form-slot form:not([hidden])")
    assert form.locator("[data-field=prompt] textarea").count() == 1
    assert field(page, "steps").get_attribute("type") == "number"
    assert field(page, "steps").get_attribute("min") == "1"
    assert field(page, "temperature").get_attribute("step") == "any"
    assert field(page, "loud").get_attribute("type") == "checkbox"
    assert [o.strip() for o in field(page, "style").locator("option").all_inner_texts()] == [
        "plain",
        "fancy",
        "noir",
    ]
    assert field(page, "api_key").get_attribute("type") == "password"
    assert field(page, "attachment").get_attribute("type") == "file"
    assert "min 1 · max 10 · default 4" in page.locator("[data-field=steps] .constraints").inner_text()
    assert "pattern (?i)^[a-z]+$" in page.locator("[data-field=word] .constraints").inner_text()

    field(page, "prompt").fill("the sea")
    field(page, "steps").fill("7")
    field(page, "loud").check()
    field(page, "style").select_option(label="noir")
    field(page, "tags").fill("one\ntwo")
    field(page, "api_key").fill("hunter22")
    # drag-and-drop: a file dropped on the field's drop zone is read as a data URI
    page.locator("[data-field=attachment] .drop").evaluate(
        """(zone) => {
            const data = new DataTransfer();
            data.items.add(new File(["dropped contents"], "notes.txt", { type: "text/plain" }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
        }"""
    )
    page.locator("[data-field=attachment] .chosen", has_text="notes.txt").wait_for()
    screenshot(page, "every-input-type")
    assert run_and_wait(page).startswith("succeeded")
    output = json.loads(page.locator("#output pre.json").inner_text())
    assert output == {
        "text": "NOIR HELLO: THE SEA",
        "steps": 7,
        "temperature": 0.7,
        "tags": ["one", "two"],
        "attachment": "dropped contents",
        "api_key_length": 8,
    }
    # the secret went to the model but not into the history
    stored = page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert "NOIR HELLO" in stored
    assert "hunter22" not in stored
    assert "api_key (not kept)" in page.locator("#history .run-inputs").inner_text()


def test_validation_errors_show_on_their_field(page: Any, model: Any) -> None:
    open_playground(page, model("everything").url)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "PUT" else None)

    # Checked in the page, before anything is sent: the schema's minimum and maximum.
    field(page, "steps").fill("99")
    page.get_by_role("button", name="Run", exact=True).click()
    error = page.locator("[data-field=steps] .error")
    error.wait_for()
    assert error.inner_text() == "steps: must be at most 10"
    assert field(page, "steps").get_attribute("aria-invalid") == "true"
    assert field(page, "steps").evaluate("el => el === document.activeElement")
    assert sent == []

    # A Python regex JavaScript cannot read is left to the server, whose 422 lands on the field.
    field(page, "steps").fill("3")
    field(page, "word").fill("Not One Word")
    page.get_by_role("button", name="Run", exact=True).click()
    error = page.locator("[data-field=word] .error")
    error.wait_for()
    assert "pattern" in error.inner_text() and error.inner_text().startswith("word: ")
    assert "word: " in page.locator("#error").inner_text()
    assert page.locator("[data-field=steps] .error").is_hidden()
    assert len(sent) == 1
    assert "rejected" in page.locator("#status").inner_text()
    screenshot(page, "validation-error")


def test_image_in_image_out(page: Any, model: Any, tmp_path: Path) -> None:
    picture = tmp_path / "photo.png"
    Image.new("RGB", (64, 32), (220, 40, 40)).save(picture)
    open_playground(page, model("image").url)
    field(page, "image").set_input_files(str(picture))
    page.locator("[data-field=image] .chosen", has_text="photo.png").wait_for()
    field(page, "operation").select_option(label="invert")
    assert run_and_wait(page).startswith("succeeded")
    image = page.locator("#output img")
    image.wait_for()
    assert image.get_attribute("src").startswith("blob:")
    size = image.evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])")
    assert size == [64, 32]
    # the image really is the inverted input: sample its pixels in the page
    red, green, blue = image.evaluate(
        """img => { const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
                    const g = c.getContext('2d'); g.drawImage(img, 0, 0); return Array.from(g.getImageData(5, 5, 1, 1).data.slice(0, 3)); }"""
    )
    assert (red, green, blue) == (35, 215, 215)
    assert page.get_by_role("link", name=re.compile("^Download output.png")).count() == 1
    assert "invert: 64x32" in page.locator("#logs").inner_text()
    screenshot(page, "image-in-image-out")


def test_streamed_tokens_appear_before_the_prediction_ends(page: Any, model: Any) -> None:
    open_playground(page, model("streaming").url)
    field(page, "prompt").fill("Tokens:")
    field(page, "max_tokens").fill("8")
    field(page, "delay").fill("0.4")
    page.get_by_role("button", name="Run", exact=True).click()
    # Some tokens are on the page while the run is still going (Cancel is live, no history yet).
    page.wait_for_function(
        """() => { const text = document.querySelector('#output pre.text')?.textContent ?? '';
                   return text.startsWith('Tokens:') && text.length > 'Tokens:'.length
                       && !document.querySelector('#cancel').disabled; }"""
    )
    assert page.locator("#history .run").count() == 0
    screenshot(page, "streaming-midway")
    page.locator("#cancel[disabled]").wait_for(state="attached")
    page.wait_for_function("() => !document.querySelector('#results').hasAttribute('aria-busy')")
    assert page.locator("#status").inner_text().startswith("succeeded")
    words = page.locator("#output pre.text").inner_text().split()
    assert words[0] == "Tokens:" and len(words) == 9
    screenshot(page, "streaming-done")


def test_cancel_stops_a_running_prediction_and_logs_stream_live(page: Any, model: Any) -> None:
    open_playground(page, model("slow").url)
    field(page, "seconds").fill("120")
    page.get_by_role("button", name="Run", exact=True).click()
    page.locator("#logs", has_text="working: step 1").wait_for()  # logs arrive while it runs
    assert page.locator("#status").inner_text().startswith("Running")
    screenshot(page, "running-with-logs")
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_function("() => !document.querySelector('#results').hasAttribute('aria-busy')")
    assert page.locator("#status").inner_text().startswith("canceled")
    assert page.locator("#history .run .badge").first.inner_text() == "canceled"
    screenshot(page, "canceled")


def test_history_reruns_and_copies_a_run(page: Any, model: Any) -> None:
    server = model("hello")
    open_playground(page, server.url)
    for name in ("first", "second"):
        field(page, "text").fill(name)
        assert run_and_wait(page).startswith("succeeded")
    runs = page.locator("#history .run")
    assert runs.count() == 2
    oldest = runs.nth(1)
    assert 'text="first"' in oldest.locator(".run-inputs").inner_text()

    oldest.get_by_role("button", name="Re-run").click()
    page.wait_for_function("() => document.querySelectorAll('#history .run').length === 3")
    page.wait_for_function("() => !document.querySelector('#results').hasAttribute('aria-busy')")
    assert field(page, "text").input_value() == "first"
    assert page.locator("#output pre.text").inner_text() == "hello first"

    # The history survives a reload (localStorage), and Show brings a run back.
    page.reload()
    page.locator("#run:not([disabled])").wait_for()
    assert page.locator("#history .run").count() == 3
    page.locator("#history .run").nth(1).get_by_role("button", name="Show").click()
    assert field(page, "text").input_value() == "second"
    assert page.locator("#output pre.text").inner_text() == "hello second"
    assert page.locator("#status").inner_text().startswith("From history")

    newest = page.locator("#history .run").first
    newest.get_by_role("button", name="Copy inputs").click()
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == {"text": "first"}

    # The copied commands work: run the curl and the Python ones against the server.
    newest.get_by_role("button", name="Copy as curl").click()
    command = page.evaluate("navigator.clipboard.readText()")
    assert command == newest.locator("pre.snippet").inner_text()
    answer = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert json.loads(answer.stdout)["output"] == "hello first", answer.stderr
    newest.get_by_role("button", name="Copy as Python").click()
    code = page.evaluate("navigator.clipboard.readText()")
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert answer.stdout.strip() == "succeeded hello first", answer.stderr
    newest.get_by_role("button", name="Copy as cogkit predict").click()
    assert page.evaluate("navigator.clipboard.readText()") == "cogkit predict -i text=first"
    screenshot(page, "history")


def test_trainings_get_the_same_form(page: Any, model: Any) -> None:
    open_playground(page, model("train").url)
    modes = page.get_by_role("navigation", name="Entry point")
    assert modes.is_visible()
    modes.get_by_role("button", name="Train").click()
    assert page.locator("#inputs-title").inner_text() == "Training input"
    field(page, "text").fill("the cat and the hat and the bat")
    field(page, "top").fill("2")
    assert run_and_wait(page).startswith("succeeded")
    figure = page.locator("#output figure.file")
    assert json.loads(figure.locator("pre").inner_text()) == {"the": 3, "and": 2}
    assert figure.get_by_role("link", name=re.compile("^Download output.json")).count() == 1
    run = page.locator("#history .run").first
    assert run.get_by_role("button", name="Copy as cogkit train").count() == 1
    screenshot(page, "training")
    modes.get_by_role("button", name="Predict").click()
    assert field(page, "word").is_visible()


def test_a_hostile_model_cannot_run_script_in_the_page(page: Any, model: Any) -> None:
    from tests.playground.models.payloads import PAYLOAD

    open_playground(page, model("hostile").url)
    # descriptions, defaults and choices come through as text
    assert page.locator("[data-field=text] .hint").inner_text().startswith(PAYLOAD)
    assert field(page, "text").input_value() == PAYLOAD
    assert run_and_wait(page).startswith("succeeded")
    output = page.locator("#output")
    assert json.loads(output.locator("pre.json").inner_text())["text"] == PAYLOAD
    assert PAYLOAD in page.locator("#logs").inner_text()
    # the SVG output is an <img> from a blob URL, never inline SVG; the HTML one is a download only
    svg = output.locator("img[alt^='output 1']")
    assert svg.get_attribute("src").startswith("blob:")
    assert svg.evaluate("img => img.decode().then(() => img.naturalWidth)") == 120
    types = page.evaluate(
        "[...document.querySelectorAll('#output a[download]')].map((a) => window.__blobTypes[a.href])"
    )
    assert types == ["image/svg+xml", "application/octet-stream"]
    # the failure path shows the payload as the error text
    field(page, "fail").check()
    assert run_and_wait(page).startswith("failed")
    assert PAYLOAD in page.locator("#error").inner_text()
    # click every link on the page that points anywhere but a blob: none may run code
    for link in page.locator("a[href]").all():
        assert not link.get_attribute("href").lower().startswith("javascript:")
    assert page.locator("#output svg, #output script, #output iframe, #output object").count() == 0
    assert page.evaluate("document.querySelectorAll('[onerror],[onload],[onclick]').length") == 0
    page.locator("#history .run").first.get_by_role("button", name="Show").click()
    page.wait_for_timeout(300)  # give any injected handler the chance to fire before we look
    assert page.evaluate("window.__pwned") is None
    assert page.problems.dialogs == []
    screenshot(page, "hostile-model")


def test_the_page_sends_a_strict_content_security_policy(page: Any, model: Any) -> None:
    server = model("hello")
    response = page.goto(server.url + "/playground")
    headers = response.headers
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    # and the browser enforces it: an inline script added to the page does not run
    page.locator("#run:not([disabled])").wait_for()
    page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.body.append(s); }"""
    )
    assert page.evaluate("window.__inline") is None
    assert page.evaluate("window.__cspViolations.length") == 1
    page.evaluate("window.__cspViolations.length = 0")  # that violation was this test's own doing


def test_a_large_output_is_shown_but_not_kept(page: Any, model: Any, tmp_path: Path) -> None:
    picture = tmp_path / "noise.png"
    Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3)).save(picture)  # noise: PNG cannot shrink it
    assert len(base64.b64encode(picture.read_bytes())) > 512 * 1024
    open_playground(page, model("image").url)
    field(page, "image").set_input_files(str(picture))
    page.locator("[data-field=image] .chosen", has_text="noise.png").wait_for()
    field(page, "size").fill("700")
    field(page, "operation").select_option(label="rotate")
    assert run_and_wait(page).startswith("succeeded")
    assert page.locator("#output img").count() == 1
    assert "image (not kept)" in page.locator("#history .run-inputs").inner_text()
    page.locator("#history .run").first.get_by_role("button", name="Show").click()
    assert "too large to keep" in page.locator("#output").inner_text()


def test_lists_of_images_audio_and_video_are_shown_and_playable(
    page: Any, model: Any, tmp_path: Path
) -> None:
    for name, color in (("red.png", (200, 30, 30)), ("blue.png", (30, 30, 200))):
        Image.new("RGB", (48, 24), color).save(tmp_path / name)
    with wave.open(str(tmp_path / "tone.wav"), "wb") as audio:  # half a second of a 440 Hz tone
        audio.setnchannels(1), audio.setsampwidth(2), audio.setframerate(8000)
        audio.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(i * 2 * math.pi * 440 / 8000))) for i in range(4000)
            )
        )
    open_playground(page, model("media").url)
    files = field(page, "media")
    # audio/x-wav, not the browser's audio/wav: Python's mimetypes knows no extension for the
    # latter, so the server would save the upload without its .wav suffix (reported to the server's owner).
    wav = {"name": "tone.wav", "mimeType": "audio/x-wav", "buffer": (tmp_path / "tone.wav").read_bytes()}
    files.set_input_files([tmp_path / "red.png", tmp_path / "blue.png"])
    page.locator("[data-field=media] .chosen li").nth(1).wait_for()
    files.set_input_files(files=[wav])
    page.locator("[data-field=media] .chosen li").nth(2).wait_for()
    # a short WebM recorded by the browser itself (no video encoder on this machine), dropped on the field
    page.locator("[data-field=media] .drop").evaluate(
        """async (zone) => {
            const canvas = document.createElement("canvas");
            canvas.width = 64; canvas.height = 48;
            const paint = canvas.getContext("2d");
            const recorder = new MediaRecorder(canvas.captureStream(10), { mimeType: "video/webm" });
            const parts = [];
            recorder.ondataavailable = (e) => parts.push(e.data);
            const stopped = new Promise((resolve) => (recorder.onstop = resolve));
            recorder.start();
            for (let i = 0; i < 6; i++) {
                paint.fillStyle = i % 2 ? "#2a6" : "#c33";
                paint.fillRect(0, 0, 64, 48);
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
            recorder.stop();
            await stopped;
            const data = new DataTransfer();
            data.items.add(new File(parts, "clip.webm", { type: "video/webm" }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
        }"""
    )
    page.locator("[data-field=media] .chosen li", has_text="clip.webm").wait_for()
    assert run_and_wait(page).startswith("succeeded")
    gallery = page.locator("#output .gallery")
    sizes = gallery.locator("img").evaluate_all(
        "imgs => Promise.all(imgs.map((img) => img.decode().then(() => [img.naturalWidth, img.naturalHeight])))"
    )
    assert sizes == [[48, 24], [48, 24]]
    ready = "el => el.readyState >= 1 ? el.duration : new Promise((r) => (el.onloadedmetadata = () => r(el.duration)))"
    assert gallery.locator("audio[controls]").evaluate(ready) == pytest.approx(0.5, abs=0.05)
    video = gallery.locator("video[controls]")
    video.evaluate(ready)
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [64, 48]
    assert gallery.get_by_role("link", name=re.compile("^Download output-")).count() == 4
    assert page.locator("#history .run-inputs").inner_text() == "media=red.png, blue.png, tone.wav, clip.webm"
    screenshot(page, "media-gallery")


def test_each_model_keeps_its_own_history(page: Any, model: Any, tmp_path: Path) -> None:
    """One origin (a proxy on a fixed port) in front of two models in turn: histories do not mix."""
    port = free_port()
    for name, value in (("hello", "one"), ("streaming", "two")):
        front = PlaygroundProxy(tmp_path, model(name).url, port=port)
        try:
            open_playground(page, front.url)
            assert page.locator("#history .run").count() == 0
            field(page, "text" if name == "hello" else "prompt").fill(value)
            assert run_and_wait(page).startswith("succeeded")
        finally:
            front.stop()
    front = PlaygroundProxy(tmp_path, model("hello").url, port=port)
    try:
        open_playground(page, front.url)
        assert page.locator("#history .run-inputs").all_inner_texts() == ['text="one"']
    finally:
        front.stop()
