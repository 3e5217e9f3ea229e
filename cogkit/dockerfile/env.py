"""Where cogkit's templates live, and the Jinja2 environment that renders them.

Templates ship inside the wheel as the package resource `cogkit/_templates` (pyproject's
force-include); a development checkout reads the repository's `templates/` directly, so an
edit to a template is live without reinstalling.
"""

from __future__ import annotations

import json
import shlex
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

from cogkit.errors import CogkitError, PlanError


def templates_dir() -> Path:
    """The installed `_templates` resource, else the checkout's `templates/`."""
    packaged = resources.files("cogkit") / "_templates"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    raise CogkitError(
        "cogkit's templates are missing from this installation",
        hint="reinstall cogkit (`pip install --force-reinstall cogkit`)",
    )


def env_value(value: str) -> str:
    """A Dockerfile `ENV` value, double-quoted so that it means exactly what the user wrote.

    `$` is escaped too: cog.yaml values are literal, as with `docker run -e`.
    """
    if any(ord(ch) < 32 for ch in value):
        raise PlanError(
            f"environment value {value!r} contains a control character",
            key="environment",
            hint="put the value on one line, without tabs or newlines",
        )
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def env_pairs(pairs: tuple[tuple[str, str], ...]) -> str:
    """`NAME="value"` pairs for one `ENV` instruction, one per continued line."""
    return " \\\n    ".join(f"{name}={env_value(value)}" for name, value in pairs)


def json_array(items: list[str] | tuple[str, ...]) -> str:
    """The exec/JSON form of `COPY` and `CMD`, safe for paths with spaces or quotes."""
    return json.dumps(list(items), ensure_ascii=False)


def shell_quote(value: str) -> str:
    """One shell word: package names, URLs and versions pass through unquoted when safe."""
    return shlex.quote(value)


@cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment: strict about undefined names, no HTML autoescaping."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["env_value"] = env_value
    env.filters["env_pairs"] = env_pairs
    env.filters["json_array"] = json_array
    env.filters["sh"] = shell_quote
    return env
