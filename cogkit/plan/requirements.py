"""Requirement lines: split pip options from requirements, and recognise local files.

Index and find-links options (also those written at the end of a requirement line, as in
`torch==1.13.1 --extra-index-url URL`) are lifted out so the plan can put them at the top.
Everything else is kept in order, so the installed set is what the user wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from cogkit.errors import PlanError
from cogkit.spec.models import SourceLine

INDEX_OPTIONS = {
    "-i": "index",
    "--index-url": "index",
    "--extra-index-url": "extra",
    "-f": "links",
    "--find-links": "links",
}
_OPTION = re.compile(
    r"(?:^|(?<=\s))(?P<option>-i|--index-url|--extra-index-url|-f|--find-links)(?:=|\s+)(?P<value>[^\s-]\S*)"
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_ARCHIVE = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")
_WHEEL_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)-")


@dataclass(frozen=True)
class Line:
    """One requirement line, classified."""

    source: SourceLine
    text: str  # the line without index options
    requirement: Requirement | None = None  # a named requirement (`torch==2.1.0`, `clip @ git+…`)
    local_path: str | None = None  # project-relative file or folder this line installs
    wheel_name: str | None = None  # canonical name read from a wheel URL/path (`torch-2.1.0+cu118-…whl`)
    wheel_version: str | None = None

    @property
    def name(self) -> str | None:
        if self.requirement is not None:
            return canonicalize_name(self.requirement.name)
        return self.wheel_name


@dataclass
class Parsed:
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    def named(self, *names: str) -> list[Line]:
        return [line for line in self.lines if line.name in names]


def _error(source: SourceLine, message: str, hint: str) -> PlanError:
    return PlanError(message, file=source.file, line=source.line, column=source.column, hint=hint)


def _add_unique(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def parse(sources: tuple[SourceLine, ...], project: Path) -> Parsed:
    result = Parsed()
    for source in sources:
        for match in _OPTION.finditer(source.text):
            option, value = match["option"], match["value"].strip("'\"")
            kind = INDEX_OPTIONS[option]
            if kind == "index":
                result.index_url = value.rstrip("/")
            elif kind == "extra":
                _add_unique(result.extra_index_urls, value.rstrip("/"))
            else:
                _add_unique(result.find_links, value)
        text = _OPTION.sub(" ", source.text).strip()
        dangling = text.split()[-1] if text else ""
        if dangling in INDEX_OPTIONS:
            raise _error(source, f"'{dangling}' needs a URL", f"write {dangling} https://…")
        if text:
            result.lines.append(_classify(source, text, project))
    return result


def _classify(source: SourceLine, text: str, project: Path) -> Line:
    tokens = text.split()
    head = tokens[0]
    if head.startswith("-"):
        if head in {"-e", "--editable"} and len(tokens) > 1 and _looks_local(tokens[1]):
            local = _local(source, tokens[1], project)
            return Line(source, f"{head} ./{local}", local_path=local)
        return Line(source, text)  # other pip options (--pre, -c, --no-binary …) stay as written
    if _looks_local(head):
        local = _local(source, head, project)
        name, version = _wheel_parts(local)
        rest = text[len(head) :]
        return Line(source, f"./{local}{rest}", local_path=local, wheel_name=name, wheel_version=version)
    if _URL.match(head):
        name, version = _wheel_parts(head)
        return Line(source, text, wheel_name=name, wheel_version=version)
    # Per-requirement options (`--hash=…`, `--config-settings …`) stay on the line, unparsed.
    spec_text = re.split(r"\s--?[a-z]", " " + text, maxsplit=1)[0].strip()
    try:
        requirement = Requirement(spec_text)
    except InvalidRequirement as exc:
        raise _error(
            source,
            f"'{source.text}' is not a valid requirement: {exc}",
            "write name==version (PEP 508), a URL, or a path such as ./wheels/pkg.whl",
        ) from exc
    if requirement.url and requirement.url.startswith("file:"):
        local = _local(source, requirement.url.removeprefix("file://").removeprefix("file:"), project)
        name, version = _wheel_parts(local)
        return Line(
            source,
            f"{requirement.name} @ file:./{local}",
            requirement=requirement,
            local_path=local,
            wheel_version=version,
        )
    _, version = _wheel_parts(requirement.url or "")
    return Line(source, text, requirement=requirement, wheel_version=version)


def _looks_local(token: str) -> bool:
    if _URL.match(token):
        return False
    return (
        token.startswith((".", "/", "~"))
        or (token.endswith(_ARCHIVE) and "/" in token)
        or token.endswith(".whl")
    )


def _local(source: SourceLine, raw: str, project: Path) -> str:
    path = Path(raw).expanduser()
    absolute = (path if path.is_absolute() else project / path).resolve()
    try:
        relative = absolute.relative_to(project.resolve())
    except ValueError:
        raise _error(
            source,
            f"'{raw}' is outside the project folder {project}",
            "move the file into the project (next to cog.yaml) so the image build can see it",
        ) from None
    if not absolute.exists():
        raise _error(
            source, f"'{raw}' does not exist", f"put the file at {relative} in the project, or fix the path"
        )
    return str(PurePosixPath(*relative.parts)) if relative.parts else "."


def _wheel_parts(location: str) -> tuple[str | None, str | None]:
    filename = location.rsplit("/", 1)[-1].split("#", 1)[0].split("?", 1)[0]
    if not filename.endswith(".whl"):
        return None, None
    match = _WHEEL_NAME.match(filename)
    if not match:
        return None, None
    return canonicalize_name(match["name"]), match["version"].replace("%2B", "+").replace("%2b", "+")
