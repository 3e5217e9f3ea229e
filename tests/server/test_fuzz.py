"""Fuzz every operation of /openapi.json with schemathesis: no 5xx, no crash, for two predictors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.openapi import from_dict

from tests.server.conftest import EXAMPLES, FIXTURES

PER_OPERATION = 20


@pytest.mark.parametrize(
    ("predictor", "project"),
    [
        (None, EXAMPLES / "hello-world"),  # read from its cog.yaml, as in an image
        ("stream.py:Predictor", FIXTURES),  # an iterator output, bounded so fuzzing stays fast
    ],
    ids=["hello-world", "stream"],
)
def test_no_operation_answers_5xx(server: Any, predictor: str | None, project: Path) -> None:
    s = server(predictor, cwd=project)
    doc = s.client.get("/openapi.json").json()
    # Webhooks to made-up hosts would be retried until shutdown (by design); fuzz the rest.
    doc["components"]["schemas"]["PredictionRequest"]["properties"].pop("webhook")
    schema = from_dict(doc)
    operations = [result.ok() for result in schema.get_all_operations() if result.ok().path != "/shutdown"]
    assert {"/predictions", "/predictions/{prediction_id}", "/health-check"} <= {op.path for op in operations}
    strategy = st.one_of(
        [op.as_strategy(generation_mode=mode) for op in operations for mode in GenerationMode]
    )

    @settings(
        max_examples=PER_OPERATION * len(operations),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(base_url=s.url, timeout=30)
        assert response.status_code < 500, (case.method, case.path, case.body, response.text)

    check()
    assert s.client.get("/health-check").json()["status"] in ("READY", "BUSY")
