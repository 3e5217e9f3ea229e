"""The SDK, the worker and the `cog` shim import nothing but the standard library, on Python 3.8+."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import cogkit
from cogkit.worker import sdk_path

PACKAGE = pathlib.Path(cogkit.__file__).parent
THIRD_PARTY = [
    "pydantic",
    "fastapi",
    "starlette",
    "httpx",
    "yaml",
    "rich",
    "click",
    "jinja2",
    "uvicorn",
    "docker",
]

PROBE = """
import json, sys
import cog, cog.types, cog.predictor
from cog import BasePredictor, Input, Path, Secret, ConcatenateIterator
import cogkit, cogkit.mode, cogkit.sdk, cogkit.sdk.schema, cogkit.worker, cogkit.worker.client, cogkit.worker.child
print(json.dumps({"mods": sorted(sys.modules), "cog": cog.__file__, "same": cog.BasePredictor is cogkit.BasePredictor}))
"""


def test_imports_pull_in_no_third_party_module(tmp_path: pathlib.Path) -> None:
    # A decoy `cog` later on the path stands in for the real, installed Cog package: the shim must win.
    decoy = tmp_path / "cog"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the real cog package was imported')\n")
    env = {"PYTHONPATH": f"{sdk_path()}:{tmp_path}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path[:0] = {[str(sdk_path()), str(tmp_path)]!r}\n" + PROBE,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    leaked = [m for m in report["mods"] if m.split(".")[0] in THIRD_PARTY]
    assert leaked == []
    assert report["same"] is True
    assert str(sdk_path()) in report["cog"]


BUILTIN_GENERICS = {"list", "dict", "tuple", "set", "frozenset", "type"}


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of every node inside an annotation (postponed, so never evaluated at runtime)."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            every = (
                args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
            )
            roots += [a.annotation for a in every if a.annotation] + ([node.returns] if node.returns else [])
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(n) for root in roots for n in ast.walk(root)}


def _py38_problems(file: pathlib.Path) -> list[str]:
    tree = ast.parse(file.read_text(), filename=str(file), feature_version=(3, 8))
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in tree.body)
    skip = _annotation_nodes(tree) if future else set()
    problems = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id in BUILTIN_GENERICS
        ):
            problems.append(f"{file.name}:{node.lineno}: {node.value.id}[...] evaluated at runtime")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            keywords = {k.arg for k in node.keywords}
            if node.func.id == "zip" and "strict" in keywords:
                problems.append(f"{file.name}:{node.lineno}: zip(strict=)")
            if node.func.id == "dataclass" and keywords & {"slots", "kw_only"}:
                problems.append(f"{file.name}:{node.lineno}: dataclass(slots/kw_only)")
    return problems


def test_sources_run_on_python_3_8() -> None:
    files = [PACKAGE / "errors.py", PACKAGE / "__init__.py", PACKAGE / "mode.py"]
    files += sorted((PACKAGE / "sdk").rglob("*.py")) + sorted((PACKAGE / "worker").rglob("*.py"))
    problems = [p for f in files for p in _py38_problems(f)]
    assert problems == []


def test_the_py38_check_catches_problems(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("x = list[int]\nzip([], [], strict=True)\n")
    assert len(_py38_problems(bad)) == 2
    match_stmt = tmp_path / "match.py"
    match_stmt.write_text("match x:\n    case 1:\n        pass\n")
    try:
        _py38_problems(match_stmt)
    except SyntaxError:
        return
    raise AssertionError("a match statement parsed as Python 3.8")


def test_sdk_path_is_reused() -> None:
    first = sdk_path()
    assert sdk_path() == first
    assert (first / "cogkit").resolve() == PACKAGE
    assert (first / "cog" / "__init__.py").exists()
