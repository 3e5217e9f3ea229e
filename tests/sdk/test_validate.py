"""validate_input: pydantic-style errors and coercion against the generated Input component."""

from __future__ import annotations

import pathlib

import pytest

from cogkit.sdk.schema import openapi_schema, validate_input

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


@pytest.fixture
def doc() -> dict:
    return openapi_schema("everything.py:Predictor", cwd=str(FIXTURES))


def test_defaults_applied_and_unknown_keys_dropped(doc: dict) -> None:
    coerced, errors = validate_input(doc, {"prompt": "a cat", "image": "/tmp/x.png", "unknown": 1})
    assert errors == []
    assert coerced == {
        "prompt": "a cat",
        "steps": 20,
        "guidance": 7.5,
        "color": "red",
        "size": 512,
        "image": "/tmp/x.png",
        "mask": None,
        "api_key": None,
        "tags": [],
        "seed": None,
        "extra": {},
        "old": False,
    }


def test_json_schema_numbers(doc: dict) -> None:
    """As coglet (JSON Schema): an integer is a number, and a float without a fraction an integer."""
    payload = {"prompt": "a", "image": "u", "steps": 5.0, "guidance": 3, "old": True, "seed": 7}
    coerced, errors = validate_input(doc, payload)
    assert errors == []
    assert (coerced["steps"], coerced["guidance"], coerced["old"], coerced["seed"]) == (5, 3.0, True, 7)
    assert isinstance(coerced["steps"], int) and isinstance(coerced["guidance"], float)


@pytest.mark.parametrize(
    ("field", "value", "kind", "msg"),
    [
        ("steps", "5", "int_type", "Input should be a valid integer"),
        ("seed", " 7", "int_type", "Input should be a valid integer"),
        ("size", "512", "int_type", "Input should be a valid integer"),  # an int with choices
        ("guidance", "3.5", "float_type", "Input should be a valid number"),
        ("guidance", True, "float_type", "Input should be a valid number"),
        ("guidance", 10**400, "finite_number", "Input should be a finite number"),
        ("old", "true", "bool_type", "Input should be a valid boolean"),
        ("old", 1, "bool_type", "Input should be a valid boolean"),
        ("old", 0, "bool_type", "Input should be a valid boolean"),
    ],
)
def test_strings_are_not_numbers_or_booleans(
    doc: dict, field: str, value: object, kind: str, msg: str
) -> None:
    """coglet 0.23.1 answers 422 for each of these, naming the input."""
    _, errors = validate_input(doc, {"prompt": "a", "image": "u", field: value})
    assert errors == [{"loc": ["body", "input", field], "msg": msg, "type": kind}]


@pytest.mark.parametrize(
    ("field", "value", "loc_tail", "kind", "msg"),
    [
        ("prompt", "", (), "string_too_short", "String should have at least 1 character"),
        ("prompt", "x" * 51, (), "string_too_long", "String should have at most 50 characters"),
        ("prompt", "ABC", (), "string_pattern_mismatch", "String should match pattern '^[a-z ]+$'"),
        ("prompt", 5, (), "string_type", "Input should be a valid string"),
        ("steps", 0, (), "greater_than_equal", "Input should be greater than or equal to 1"),
        ("steps", 101, (), "less_than_equal", "Input should be less than or equal to 100"),
        (
            "steps",
            1.5,
            (),
            "int_from_float",
            "Input should be a valid integer, got a number with a fractional part",
        ),
        ("steps", True, (), "int_type", "Input should be a valid integer"),
        ("color", "blue", (), "enum", "Input should be 'red' or 'green'"),
        ("size", 128, (), "enum", "Input should be 256 or 512"),
        ("tags", ["ok", 3], (1,), "string_type", "Input should be a valid string"),
        ("tags", "a", (), "list_type", "Input should be a valid list"),
        ("extra", [], (), "dict_type", "Input should be a valid dictionary"),
        ("old", "maybe", (), "bool_type", "Input should be a valid boolean"),
        ("steps", None, (), "int_type", "Input should be a valid integer"),
    ],
)
def test_errors(doc: dict, field: str, value: object, loc_tail: tuple, kind: str, msg: str) -> None:
    payload = {"prompt": "a", "image": "u", field: value}
    _, errors = validate_input(doc, payload)
    assert errors == [{"loc": ["body", "input", field, *loc_tail], "msg": msg, "type": kind}]


def test_missing_required_and_nullable(doc: dict) -> None:
    coerced, errors = validate_input(doc, {"seed": None, "mask": None})
    assert errors == [
        {"loc": ["body", "input", "prompt"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "input", "image"], "msg": "Field required", "type": "missing"},
    ]
    assert coerced["seed"] is None and coerced["mask"] is None


def test_non_object_payload(doc: dict) -> None:
    assert validate_input(doc, [1]) == (
        {},
        [{"loc": ["body", "input"], "msg": "Input should be a valid dictionary", "type": "dict_type"}],
    )
    _, errors = validate_input(doc, None)
    assert [e["type"] for e in errors] == ["missing", "missing"]


def test_training_component(doc: dict) -> None:
    train = openapi_schema("everything.py:train", cwd=str(FIXTURES), mode="train")
    coerced, errors = validate_input(train, {"data": "/d"}, component="TrainingInput")
    assert errors == [] and coerced == {"data": "/d", "epochs": 3}
