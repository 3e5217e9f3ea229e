"""`cogkit serve --reload`: watch the project (inotify, through watchfiles) and restart only the worker.

What counts as an edit: a Python file that `.dockerignore` lets into the image. Everything else is
left alone: files the model writes while it runs (images, JSON, weights…), caches, virtualenvs and
ignored folders, so serving a model never restarts it. A change to cog.yaml or the requirements
needs a new image or venv; that is said, not acted on. A restart is one SIGHUP to the server: the
HTTP server stays up, a fresh worker runs setup() again, and predictions in flight end `failed`.

For the local runtime this module also runs as its own small process (`python -m
cogkit.runtime.reload`), which `cogkit serve` replaces itself with once the venv is ready: the
process that supervises the server then imports only the standard library and watchfiles.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from cogkit.errors import PredictorError
from cogkit.runtime.backend import Notice, Report, Server, Target

WATCHED_SUFFIXES = (".py",)
SKIP_DIRS = {".cogkit", ".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".ruff_cache"}
ALIVE_CHECK_MS = 1000  # how often the server's health is checked while nothing changes
DEBOUNCE_MS = 400  # an editor's save (write, rename, chmod) arrives as one batch


class IgnoreRules:
    """`.dockerignore` matching (Docker's rules: `*`, `?`, `[…]`, `**`, `!` exceptions, last match
    wins, a matched folder takes its contents) without importing the docker SDK, which would cost
    the supervising process 20 MiB. tests/runtime checks it against docker-py's matcher.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self._rules: list[tuple[re.Pattern[str], bool, int]] = []
        for raw in patterns:
            negative = raw.startswith("!")
            parts = [p for p in raw.removeprefix("!").strip().split("/") if p not in ("", ".")]
            if parts:
                self._rules.append((_compile("/".join(parts)), negative, len(parts)))

    @classmethod
    def of(cls, project_dir: Path) -> IgnoreRules:
        try:
            text = (project_dir / ".dockerignore").read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        return cls(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))

    def ignored(self, relative: str) -> bool:
        parts = relative.split("/")
        ignored = False
        for pattern, negative, depth in self._rules:
            # A pattern matches the path itself or the folder of the same depth that holds it.
            if pattern.match(relative) or (depth < len(parts) and pattern.match("/".join(parts[:depth]))):
                ignored = not negative
        return ignored


def _compile(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body[:1] in "!^" else body).replace("\\", "\\\\") + "]")
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


class SourceFilter:
    """watchfiles' filter: the project's Python sources, and the config files named in `config`."""

    def __init__(self, project_dir: Path, config: Iterable[Path] = ()) -> None:
        self.root = project_dir.resolve()
        self.rules = IgnoreRules.of(self.root)
        self.config = {path.resolve() for path in config}

    def __call__(self, change: object, path: str) -> bool:
        resolved = Path(path)
        if resolved in self.config:
            return True
        try:
            relative = resolved.relative_to(self.root).as_posix()
        except ValueError:
            return False
        folders = relative.split("/")[:-1]
        if any(part in SKIP_DIRS or part.startswith(".") for part in folders):
            return False
        return relative.endswith(WATCHED_SUFFIXES) and not self.rules.ignored(relative)


def supervise(server: Server, project_dir: Path, *, report: Report, config: Iterable[Path] = ()) -> None:
    """Restart the worker after each batch of source edits; return never, raise when the server dies."""
    import watchfiles

    source = SourceFilter(project_dir, config)
    for changes in watchfiles.watch(
        project_dir,
        watch_filter=source,
        debounce=DEBOUNCE_MS,
        rust_timeout=ALIVE_CHECK_MS,
        yield_on_timeout=True,
        raise_interrupt=True,
    ):
        death = server.alive()
        if death is not None:
            raise PredictorError(f"the server stopped:\n{death}")
        paths = sorted({Path(path) for _, path in changes})
        edited_config = [p for p in paths if p.resolve() in source.config]
        if edited_config:
            names = ", ".join(p.name for p in edited_config)
            report(Notice(f"{names} changed: stop and start `cogkit serve` to apply it", warning=True))
        edited = [p for p in paths if p not in edited_config]
        if edited:
            shown = ", ".join(p.relative_to(source.root).as_posix() for p in edited[:3])
            more = f" and {len(edited) - 3} more" if len(edited) > 3 else ""
            report(Notice(f"{shown}{more} changed; restarting the worker"))
            server.reload()


def config_files(target: Target) -> list[Path]:
    """cog.yaml and the requirements file: edits to them need a new image or venv, not a restart."""
    assert target.project_dir is not None
    files = [target.project_dir / "cog.yaml"]
    build = (target.plan.cog_config.get("build") or {}) if target.plan else {}
    requirements = build.get("python_requirements") if isinstance(build, dict) else None
    if isinstance(requirements, str):
        files.append(target.project_dir / requirements)
    return files


def spec_for_exec(*, argv: list[str], url: str, project_dir: Path, config: Iterable[Path]) -> str:
    """The one argument `python -m cogkit.runtime.reload` takes: what to run and what to watch."""
    payload = {"argv": argv, "url": url, "project": str(project_dir), "config": [str(p) for p in config]}
    return json.dumps(payload)


def main(argv: list[str]) -> int:
    """Start the local server and supervise it; output goes straight to our stdout and stderr."""
    from cogkit.runtime.local import LocalServer, ServerCommand
    from cogkit.runtime.signals import sigterm_as_interrupt

    spec = json.loads(argv[0])
    project = Path(spec["project"])
    command = ServerCommand(argv=spec["argv"], env=dict(os.environ), cwd=project, url=spec["url"])

    def say(event: object) -> None:
        if isinstance(event, Notice):
            print(("warning: " if event.warning else "") + event.text, file=sys.stderr, flush=True)

    with sigterm_as_interrupt():
        server = LocalServer(command, capture=False)
        try:
            supervise(server, project, report=say, config=[Path(p) for p in spec["config"]])
        except PredictorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            return 130
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
