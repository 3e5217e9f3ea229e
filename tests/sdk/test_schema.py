"""The OpenAPI document: Cog's component names, x- extensions, and errors naming the parameter."""

from __future__ import annotations

import pathlib
import sys

import pytest

from cogkit.errors import PredictorError
from cogkit.mode import Mode
from cogkit.sdk.openapi_paths import merge
from cogkit.sdk.schema import base_document, openapi_schema

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


@pytest.fixture
def doc() -> dict:
    return openapi_schema("everything.py:Predictor", cwd=str(FIXTURES))


def test_input_properties(doc: dict) -> None:
    schemas = doc["components"]["schemas"]
    props = schemas["Input"]["properties"]
    assert list(props) == [
        "prompt", "steps", "guidance", "color", "size", "image", "mask", "api_key", "tags", "seed", "extra", "old"
    ]  # fmt: skip
    assert [p["x-order"] for p in props.values()] == list(range(12))
    assert props["prompt"] == {
        "title": "Prompt",
        "type": "string",
        "x-order": 0,
        "description": "What to draw",
        "minLength": 1,
        "maxLength": 50,
        "pattern": "^[a-z ]+$",
    }
    assert props["steps"] == {
        "title": "Steps", "type": "integer", "x-order": 1, "minimum": 1, "maximum": 100, "default": 20
    }  # fmt: skip
    assert props["guidance"]["type"] == "number"
    assert props["color"]["allOf"] == [{"$ref": "#/components/schemas/color"}]
    assert schemas["color"] == {
        "title": "color",
        "description": "An enumeration.",
        "enum": ["red", "green"],
        "type": "string",
    }
    assert schemas["size"]["enum"] == [256, 512] and schemas["size"]["type"] == "integer"
    assert props["image"]["format"] == "uri" and props["mask"]["format"] == "uri"
    assert props["mask"]["nullable"] is True
    assert props["api_key"]["format"] == "password" and props["api_key"]["x-cog-secret"] is True
    assert props["tags"]["type"] == "array" and props["tags"]["items"] == {"type": "string"}
    assert props["extra"]["type"] == "object"
    assert props["old"]["deprecated"] is True
    assert schemas["Input"]["required"] == ["prompt", "image"]


def test_output_and_envelopes(doc: dict) -> None:
    schemas = doc["components"]["schemas"]
    assert schemas["Output"] == {
        "title": "Output",
        "type": "array",
        "items": {"type": "string"},
        "x-cog-array-type": "iterator",
        "x-cog-array-display": "concatenate",
    }
    for name in (
        "PredictionRequest",
        "PredictionResponse",
        "Status",
        "HTTPValidationError",
        "ValidationError",
    ):
        assert name in schemas
    assert schemas["Status"]["enum"] == ["starting", "processing", "succeeded", "canceled", "failed"]
    assert schemas["PredictionRequest"]["properties"]["input"] == {"$ref": "#/components/schemas/Input"}
    assert schemas["PredictionResponse"]["properties"]["output"] == {"$ref": "#/components/schemas/Output"}
    assert doc["openapi"].startswith("3.")
    for path in (
        "/",
        "/health-check",
        "/predictions",
        "/predictions/{prediction_id}",
        "/predictions/{prediction_id}/cancel",
        "/shutdown",
    ):
        assert path in doc["paths"], path


def test_structured_and_iterator_outputs() -> None:
    out = openapi_schema("everything.py:structured", cwd=str(FIXTURES))["components"]["schemas"]["Output"]
    assert out["type"] == "object" and out["required"] == ["caption", "files"]
    assert out["properties"]["files"]["items"] == {"type": "string", "format": "uri"}
    assert out["properties"]["score"]["nullable"] is True
    frames = openapi_schema("everything.py:frames", cwd=str(FIXTURES))["components"]["schemas"]["Output"]
    assert frames["x-cog-array-type"] == "iterator" and "x-cog-array-display" not in frames
    assert frames["items"] == {"type": "string", "format": "uri"}


@pytest.mark.parametrize("mode", [Mode.TRAIN, "train"])
def test_train_mode_and_merge(doc: dict, mode: Mode | str) -> None:
    train = openapi_schema("everything.py:train", cwd=str(FIXTURES), mode=mode)
    schemas = train["components"]["schemas"]
    assert {"TrainingInput", "TrainingOutput", "TrainingRequest", "TrainingResponse"} <= set(schemas)
    assert "/trainings" in train["paths"] and "/trainings/{training_id}/cancel" in train["paths"]
    merged = merge(doc, train)
    assert {"Input", "TrainingInput"} <= set(merged["components"]["schemas"])
    assert {"/predictions", "/trainings"} <= set(merged["paths"])


def test_an_unknown_mode_is_a_predictor_error() -> None:
    with pytest.raises(PredictorError, match="unknown mode 'serve'; use 'predict' or 'train'"):
        openapi_schema("everything.py:train", cwd=str(FIXTURES), mode="serve")


def test_base_document_for_the_server() -> None:
    built = base_document({"type": "object", "properties": {}}, {"type": "string"})
    assert built["components"]["schemas"]["Input"]["title"] == "Input"
    assert built["components"]["schemas"]["Output"] == {"type": "string", "title": "Output"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("union", "parameter 'x': unsupported union type"),
        ("nested", "parameter 'x': nested lists are not supported"),
        ("unannotated", "parameter 'x' has no type annotation"),
        ("kwargs", "parameter 'kw': *args and **kwargs cannot be served"),
        ("choices_mismatch", "parameter 'x': default 'c' is invalid: Input should be 'a' or 'b'"),
        ("ge_on_string", "parameter 'x': Input(ge=...) does not apply to type str"),
        ("bad_regex", "parameter 'x': Input(regex='(') is not a valid regex"),
        ("model_input", "parameter 'm': a model class cannot be an input type"),
        ("short_default", "parameter 'x': default 'ab' is invalid: String should have at least 3 characters"),
    ],
)
def test_unservable_signatures_name_the_parameter(name: str, message: str) -> None:
    with pytest.raises(PredictorError) as info:
        openapi_schema(f"unservable.py:{name}", cwd=str(FIXTURES))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nofile.py:Predictor", "file nofile.py not found"),
        ("everything.py:Missing", "everything.py defines no 'Missing'"),
        ("everything.py", "must look like 'predict.py:Predictor'"),
    ],
)
def test_bad_references(ref: str, message: str) -> None:
    with pytest.raises(PredictorError) as info:
        openapi_schema(ref, cwd=str(FIXTURES))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("source", "ref", "first"),
    [
        (
            "from cog import BasePredictor\n\nclass Predictor(BasePredictor):\n    def predict(self) -> str:\n"
            "        return 'x'\n",
            "predict.py:Predictr",
            "predict.py:Predictr: predict.py defines no 'Predictr'",
        ),
        (
            "import nonexistent_dependency\n",
            "predict.py:Predictor",
            "importing predict.py failed: ModuleNotFoundError: No module named 'nonexistent_dependency'",
        ),
        (
            "def predict(self) -> str\n    return 'x'\n",
            "predict.py:predict",
            "importing predict.py failed: SyntaxError: expected ':' (predict.py, line 1)",
        ),
    ],
)
def test_loading_errors_read_as_one_useful_line_first(
    tmp_path: pathlib.Path, source: str, ref: str, first: str
) -> None:
    """What `cogkit build` and `cogkit predict` show when the schema probe cannot load the
    predictor: no traceback through cogkit's (temporary) folders before the line that matters."""
    from cogkit.image.schema import local_schema

    (tmp_path / "predict.py").write_text(source)
    with pytest.raises(PredictorError) as caught:
        local_schema(pathlib.Path(sys.executable), tmp_path, predictor=ref, trainer=None)
    shown = str(caught.value).splitlines()
    assert shown[0] == "could not load the predictor:"
    assert shown[1].strip() == first
    assert not any("cogkit" in line or "<frozen" in line for line in shown[2:] if "hint:" not in line)
