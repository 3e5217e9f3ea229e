"""--reload's watcher: which files count as edits, and one SIGHUP per batch of edits.

The server here is a real process that counts the SIGHUPs it receives; the end-to-end tests in
tests/e2e/test_serve_exec.py do the same against cogkit's real server in both runtimes.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docker.utils.build import PatternMatcher

from cogkit.errors import PredictorError
from cogkit.runtime.backend import Event, Notice
from cogkit.runtime.local import LocalServer, ServerCommand
from cogkit.runtime.reload import IgnoreRules, SourceFilter, supervise

SETTLE_S = 2.0  # well past the watcher's debounce: a restart that was coming has been sent by then
PATTERNS = [
    ["*.png"],
    ["data", "!data/keep.py"],
    ["**/*.tmp.py"],
    ["build/", "docs/**/*.py"],
    ["/weights/*", "!weights/small.py"],
    ["scripts/gen_?.py"],
    ["[a-c]*.py"],
    ["*", "!predict.py", "!lib"],
    ["lib/**", "!lib/core/**"],
    ["./cache", "nested/*/out"],
]
PATHS = [
    "predict.py", "a.py", "b.png", "data", "data/x.py", "data/keep.py", "x.tmp.py", "deep/er/y.tmp.py",
    "build/z.py", "docs/a/b/c.py", "docs/readme.md", "weights/big.bin", "weights/small.py",
    "scripts/gen_1.py", "scripts/gen_10.py", "lib/core/m.py", "lib/util.py", "cache/x.py",
    "nested/a/out/f.py", "nested/a/b/out/f.py", "d.py",
]  # fmt: skip


@pytest.mark.parametrize("patterns", PATTERNS, ids=" ".join)
def test_ignore_rules_agree_with_docker(patterns: list[str]) -> None:
    docker_rules, ours = PatternMatcher(patterns), IgnoreRules(patterns)
    for path in PATHS:
        assert ours.ignored(path) == docker_rules.matches(path), (patterns, path)


def test_source_filter_takes_only_python_sources_the_image_would_get(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("scratch/\n*.gen.py\n")
    (tmp_path / "cog.yaml").write_text("predict: predict.py:Predictor\n")
    keep = SourceFilter(tmp_path, config=[tmp_path / "cog.yaml"])
    edits = ["predict.py", "lib/model.py", "cog.yaml"]
    written_by_the_model = [
        "output.png", "result.json", "notes.txt", "out/1.webp", "scratch/a.py", "x.gen.py",
        "__pycache__/predict.cpython-311.pyc", ".cogkit/venv/lib/site.py", ".git/HEAD", "venv/lib/x.py",
    ]  # fmt: skip
    assert [p for p in edits if keep(None, str(tmp_path / p))] == edits
    assert [p for p in written_by_the_model if keep(None, str(tmp_path / p))] == []


COUNTING_SERVER = """
import signal, sys, time
count = 0
def hup(signum, frame):
    global count
    count += 1
    open(sys.argv[1], "w").write(str(count))
signal.signal(signal.SIGHUP, hup)
open(sys.argv[1], "w").write("0")
while True:
    time.sleep(0.05)
"""


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], int], list[Event], LocalServer]]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "predict.py").write_text("GREETING = 'hello'\n")
    (project / "cog.yaml").write_text("predict: predict.py:Predictor\n")
    (project / ".dockerignore").write_text("ignored/\n")
    counter = tmp_path / "sighups"
    argv = [sys.executable, "-c", COUNTING_SERVER, str(counter)]
    server = LocalServer(ServerCommand(argv, dict(os.environ), project, "http://127.0.0.1:1"))
    events: list[Event] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            supervise(server, project, report=events.append, config=[project / "cog.yaml"])
        except BaseException as exc:
            errors.append(exc)

    def count() -> int:
        text = counter.read_text() if counter.exists() else ""
        return int(text) if text else -1

    assert wait_for(lambda: count() == 0)
    watcher = threading.Thread(target=run, daemon=True)
    watcher.start()
    try:
        # The watcher is ready once an edit gets through. Touch once a second (longer than the
        # debounce) until one does, let any batch still pending drain, and count from there.
        for _ in range(20):
            (project / "predict.py").touch()
            if wait_for(lambda: count() >= 1, timeout=1.0):
                break
        time.sleep(SETTLE_S)
        baseline = count()
        assert baseline >= 1
        yield project, lambda: count() - baseline, events, server
    finally:
        server.stop()
        watcher.join(10)
    assert not watcher.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], PredictorError)


def test_files_the_model_writes_never_restart_it(supervised: tuple) -> None:
    project, count, _, _ = supervised
    for name in ("output.png", "result.json", "notes.txt", "out/1.webp", "ignored/helper.py", "x.txt"):
        path = project / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"model output")
    time.sleep(SETTLE_S)
    assert count() == 0


def test_one_edit_is_exactly_one_worker_restart(supervised: tuple) -> None:
    project, count, events, _ = supervised
    source = project / "predict.py"
    source.write_text("GREETING = 'reloaded'\n")  # an editor's save: write, then touch again
    source.touch()
    assert wait_for(lambda: count() == 1)
    time.sleep(SETTLE_S)
    assert count() == 1
    assert Notice("predict.py changed; restarting the worker") in events


def test_a_cog_yaml_edit_is_said_not_acted_on(supervised: tuple) -> None:
    project, count, events, _ = supervised
    (project / "cog.yaml").write_text("predict: predict.py:Other\n")
    assert wait_for(lambda: any(isinstance(e, Notice) and "cog.yaml changed" in e.text for e in events))
    assert count() == 0


def test_the_watcher_ends_when_the_server_dies(supervised: tuple) -> None:
    _, _, _, server = supervised
    server.process.send_signal(signal.SIGKILL)
    # The fixture's teardown checks that supervise() raised PredictorError and returned.
