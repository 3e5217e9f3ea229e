"""Output has one place: cogkit/cli/render.py. Text from outside is never read as rich markup, and
the library (cogkit/runtime) reports events instead of printing."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from rich.console import Console

from cogkit.cli import render
from cogkit.runtime.backend import Notice, Progress, ServerLine

RUNTIME = Path(render.__file__).resolve().parent.parent / "runtime"
HOSTILE = "torch[extra] ok and jax[cuda12] [/x] [bold]b[/bold] :smile:"


def console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    sink = io.StringIO()
    return Console(file=sink, force_terminal=terminal, width=200, highlight=False, soft_wrap=True), sink


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out, sink = console(terminal=False)
    monkeypatch.setattr(render, "stderr", out)
    return sink


@pytest.mark.parametrize(
    "event", [Notice(HOSTILE), Notice(HOSTILE, warning=True), ServerLine(HOSTILE)], ids=str
)
def test_outside_text_prints_verbatim(captured: io.StringIO, event: object) -> None:
    render.Reporter()(event)  # type: ignore[arg-type]
    assert HOSTILE in captured.getvalue()


def test_errors_and_their_hints_print_verbatim(captured: io.StringIO) -> None:
    from cogkit.errors import UsageError

    code = render.error(UsageError(f"bad {HOSTILE}", hint=f"try {HOSTILE}"), debug=False)
    assert code == 2
    assert f"error: bad {HOSTILE}" in captured.getvalue() and f"hint: try {HOSTILE}" in captured.getvalue()


def test_a_long_step_shows_a_live_status_on_a_terminal() -> None:
    out, sink = console(terminal=True)
    reporter = render.Reporter(out)
    reporter(Progress("running setup", 3.2, detail="[weights]"))
    reporter(Progress("running setup", 7.0, done=True))
    text = sink.getvalue()
    assert "running setup… 3s  [weights]" in text
    assert "running setup: done in 7.0s" in text


def test_without_a_terminal_a_long_step_prints_a_few_lines(captured: io.StringIO) -> None:
    reporter = render.Reporter()
    for second in range(0, 70):
        reporter(Progress("installing 3 requirement(s) with uv", float(second), detail="downloading torch"))
    reporter(Progress("installing 3 requirement(s) with uv", 70.0, done=True))
    lines = captured.getvalue().splitlines()
    assert lines == [
        "installing 3 requirement(s) with uv… 5s  downloading torch",
        "installing 3 requirement(s) with uv… 35s  downloading torch",
        "installing 3 requirement(s) with uv… 65s  downloading torch",
        "installing 3 requirement(s) with uv: done in 70.0s",
    ]


def test_a_short_step_prints_nothing_without_a_terminal(captured: io.StringIO) -> None:
    reporter = render.Reporter()
    reporter(Progress("running setup", 0.0))
    reporter(Progress("running setup", 0.6, done=True))
    assert captured.getvalue() == ""


@pytest.mark.parametrize("module", sorted(RUNTIME.glob("*.py")), ids=lambda p: p.name)
def test_the_runtime_never_prints(module: Path) -> None:
    """Only cogkit/cli writes to the terminal: the runtime neither imports rich nor calls print().

    reload.py's `main` is the one exception: it is the entry point of its own process.
    """
    tree = ast.parse(module.read_text())
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imports |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.split(".")[0] == "rich" for name in imports)
    prints = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
    ]
    if module.name == "reload.py":
        main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
        prints = [p for p in prints if not any(p is n for n in ast.walk(main))]
    assert prints == []
