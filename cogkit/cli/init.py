"""`cogkit init [DIR]`: scaffold a working project, never overwriting a file."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import click

from cogkit.cli import render
from cogkit.errors import UsageError

# Scaffold file in templates/init → name in the project. Dotfiles are stored without the dot so
# that no packaging step can drop them as hidden files.
SCAFFOLD = {
    "cog.yaml": "cog.yaml",
    "predict.py": "predict.py",
    "requirements.txt": "requirements.txt",
    "dockerignore": ".dockerignore",
}


@dataclass(frozen=True)
class Scaffolded:
    directory: Path
    created: tuple[str, ...]
    skipped: tuple[str, ...]


def scaffold(directory: Path) -> Scaffolded:
    """Copy the starter files into `directory` (created if missing); existing files are kept."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a directory", hint="pass a directory to `cogkit init`")
    from cogkit.dockerfile.env import templates_dir  # jinja2 and the plan are heavy: load on use

    source = templates_dir() / "init"
    directory.mkdir(parents=True, exist_ok=True)
    created: list[str] = []
    skipped: list[str] = []
    for template, name in SCAFFOLD.items():
        target = directory / name
        try:
            # "x" mode: the check and the create are one step, so a file appearing meanwhile is kept too.
            with (source / template).open("rb") as src, target.open("xb") as dst:
                shutil.copyfileobj(src, dst)
        except FileExistsError:
            skipped.append(name)
        else:
            created.append(name)
    return Scaffolded(directory=directory, created=tuple(created), skipped=tuple(skipped))


EXAMPLES = """\b
Examples:
  cogkit init                 # here
  cogkit init my-model && cd my-model && cogkit predict -i text=hi
"""


@click.command(
    name="init", short_help="Scaffold cog.yaml, predict.py and friends; never overwrites.", epilog=EXAMPLES
)
@click.argument("directory", type=click.Path(path_type=Path, file_okay=True), default=".")
def command(directory: Path) -> None:
    """Create cog.yaml, predict.py, requirements.txt and .dockerignore in DIRECTORY (default: here)."""
    result = scaffold(directory)
    for name in result.created:
        render.labelled("created", "green", str(result.directory / name), render.stdout)
    for name in result.skipped:
        render.labelled(
            "skipped", "yellow", f"{result.directory / name} (exists, left unchanged)", render.stdout
        )
    if result.created:
        where = "" if result.directory.resolve() == Path.cwd() else f"cd {result.directory} && "
        render.info(f"next: {where}cogkit predict -i prompt=hello")
