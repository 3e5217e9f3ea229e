"""`-i`/`--json` parsing against a real schema from the SDK, and output writing."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from cogkit.errors import UsageError
from cogkit.image.schema import local_schema
from cogkit.runtime import inputs, outputs

KINDS = Path(__file__).resolve().parent.parent / "e2e" / "projects" / "kinds"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    # In a child interpreter with the `cog` shim first on sys.path, as the worker would import it.
    return local_schema(Path(sys.executable), KINDS, predictor="inputs.py:Predictor", trainer=None)


def test_values_are_coerced_by_schema_type(schema: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("hi there")
    got = inputs.parse_inputs(
        ["text=42", "count=3", "ratio=2.5", "flag=true", "tags=a", "tags=b", "doc=@note.txt"],
        schema,
        cwd=tmp_path,
    )
    assert got["text"] == "42"
    assert got["count"] == 3 and got["ratio"] == 2.5 and got["flag"] is True
    assert got["tags"] == ["a", "b"]
    assert got["doc"].startswith("data:text/plain;base64,")
    assert base64.b64decode(got["doc"].split(",", 1)[1]) == b"hi there"
    assert inputs.validate(got, schema) == got


def test_unknown_and_invalid_inputs_name_the_problem(schema: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown input 'txt'") as err:
        inputs.parse_inputs(["txt=hello"], schema)
    assert "text" in str(err.value.hint)
    with pytest.raises(UsageError, match="count='many' is not a valid integer"):
        inputs.parse_inputs(["count=many"], schema)
    with pytest.raises(UsageError, match="given twice"):
        inputs.parse_inputs(["text=a", "text=b"], schema)
    with pytest.raises(UsageError, match="does not exist"):
        inputs.parse_inputs(["doc=@missing.txt"], schema, cwd=tmp_path)
    with pytest.raises(UsageError, match="invalid input") as err:
        inputs.validate({"text": "x", "count": 99, "color": "blue"}, schema)
    assert "count" in str(err.value) and "color" in str(err.value)
    with pytest.raises(UsageError, match="Field required"):
        inputs.validate({}, schema)
    with pytest.raises(UsageError, match="nope: unknown input"):
        inputs.validate({"text": "x", "nope": 1}, schema)


def test_json_input_forms(tmp_path: Path) -> None:
    assert inputs.parse_json_input('{"text": "a"}') == {"text": "a"}
    assert inputs.parse_json_input('{"input": {"text": "a"}}') == {"text": "a"}
    (tmp_path / "in.json").write_text(json.dumps({"count": 2}))
    assert inputs.parse_json_input(f"@{tmp_path / 'in.json'}") == {"count": 2}
    with pytest.raises(UsageError, match="not valid JSON"):
        inputs.parse_json_input("{nope")


@pytest.mark.parametrize("form", ["@-", "-"])
def test_json_from_stdin_in_cogs_form_and_ours(form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"input": {"text": "piped"}}'))
    assert inputs.parse_json_input(form) == {"text": "piped"}


def test_outputs_written_as_users_expect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    printed: list[str] = []
    png = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
    assert outputs.write_output(png, output_path=None, echo=printed.append) == [Path("output.png")]
    assert Path("output.png").read_bytes() == b"\x89PNG fake"
    txt = "data:text/plain;base64," + base64.b64encode(b"one").decode()
    written = outputs.write_output([txt, txt], output_path=None, echo=printed.append)
    assert written == [Path("output.0.txt"), Path("output.1.txt")]
    assert outputs.write_output([txt], output_path=Path("out.txt"), echo=printed.append) == [
        Path("out.0.txt")
    ]
    outputs.write_output("plain words", output_path=None, echo=printed.append)
    outputs.write_output({"a": [1, 2]}, output_path=None, echo=printed.append)
    assert printed[0] == "plain words"
    assert json.loads(printed[1]) == {"a": [1, 2]} and "\n" in printed[1]
    assert printed == ["plain words", printed[1]]
