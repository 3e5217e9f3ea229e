"""`cogkit train` through /trainings, in Docker and locally, on examples/train."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, Build, cogkit, copy_project

TRAIN = EXAMPLES / "train"


@pytest.mark.docker
def test_train_in_docker_writes_weights(build: Build, tmp_path: Path) -> None:
    built = build(TRAIN, tag="cogkit-e2e-train")
    assert "TrainingInput" in built.schema["components"]["schemas"]
    result = cogkit("train", built.tag, "-i", "text=b a b c b a", "-i", "top=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "weights").read_text()) == {"b": 3, "a": 2}

    invalid = cogkit("train", built.tag, "-i", "top=0", "-i", "text=x", cwd=tmp_path)
    assert invalid.returncode == 2 and "top" in invalid.stderr


def test_train_locally_then_predict_with_the_weights(tmp_path: Path) -> None:
    project = copy_project(TRAIN, tmp_path / "train")
    result = cogkit("train", "--runtime", "local", "-i", "text=x y x", "-o", "counts.json", cwd=project)
    assert result.returncode == 0, result.stderr
    assert json.loads((project / "counts.json").read_text()) == {"x": 2, "y": 1}
    weights = str(project / "counts.json")
    predicted = cogkit(
        "predict", "--runtime", "local", "-i", "word=X", "-e", f"COG_WEIGHTS={weights}", cwd=project
    )
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.strip() == "2"
