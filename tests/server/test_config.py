"""Resolving the server's settings from flags, the environment and cog.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from cogkit.errors import PredictorError, UsageError
from cogkit.server.config import effective_concurrency, resolve_config
from cogkit.server.lifecycle import EXIT_BOUND
from cogkit.server.limits import Limits, flag_name


def test_flags_beat_environment(tmp_path: Path) -> None:
    env = {
        "COGKIT_PREDICTOR": "env.py:P",
        "COGKIT_TRAIN": "t.py:train",
        "COGKIT_WORKER_PYTHON": "/opt/venv/bin/python",
    }
    config = resolve_config(predictor="flag.py:P", cwd=tmp_path, env=env)
    assert config.predictor == "flag.py:P"
    assert config.train == "t.py:train"
    assert config.worker_python == "/opt/venv/bin/python"


def test_environment_settings(tmp_path: Path) -> None:
    env = {
        "COGKIT_PREDICTOR": "p.py:P",
        "COG_MAX_CONCURRENCY": "8",
        "COGKIT_CONCURRENCY_MAX": "2",
        "COG_SETUP_TIMEOUT": "12.5",
        "WEBHOOK_AUTH_TOKEN": "tok",
    }
    config = resolve_config(cwd=tmp_path, env=env)
    assert (config.concurrency_max, config.setup_timeout, config.webhook_token) == (8, 12.5, "tok")
    assert (
        resolve_config(
            cwd=tmp_path, env={"COGKIT_PREDICTOR": "p.py:P", "COGKIT_CONCURRENCY_MAX": "2"}
        ).concurrency_max
        == 2
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("COG_MAX_CONCURRENCY", "many"), ("COG_MAX_CONCURRENCY", "0"), ("COG_SETUP_TIMEOUT", "soon")],
)
def test_bad_environment_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(UsageError, match=name):
        resolve_config(cwd=tmp_path, env={"COGKIT_PREDICTOR": "p.py:P", name: value})


def test_an_explicit_limit_of_one_is_honoured(tmp_path: Path) -> None:
    env = {"COGKIT_PREDICTOR": "p.py:P", "COGKIT_CONCURRENCY_MAX": "1"}
    assert resolve_config(cwd=tmp_path, env=env).concurrency_max == 1


def test_no_limit_anywhere_leaves_the_decorator_in_charge(tmp_path: Path) -> None:
    assert resolve_config(cwd=tmp_path, env={"COGKIT_PREDICTOR": "p.py:P"}).concurrency_max is None


def test_no_predictor_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PredictorError, match="no predictor") as info:
        resolve_config(cwd=tmp_path, env={})
    assert "--predictor" in (info.value.hint or "")


def test_concurrency_precedence_and_async_rule() -> None:
    assert effective_concurrency(None, None, False) == 1
    assert effective_concurrency(None, 4, True) == 4
    assert effective_concurrency(8, 4, True) == 8
    with pytest.raises(PredictorError, match="async"):
        effective_concurrency(2, None, False)


def test_cog_yaml_supplies_predictor_train_and_concurrency(tmp_path: Path) -> None:
    (tmp_path / "predict.py").write_text(
        "class Predictor:\n    async def predict(self) -> str:\n        return ''\n"
    )
    (tmp_path / "train.py").write_text("def train() -> str:\n    return ''\n")
    (tmp_path / "cog.yaml").write_text(
        'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\ntrain: "train.py:train"\n'
        "concurrency:\n  max: 3\n"
    )
    config = resolve_config(cwd=tmp_path, env={})
    assert (config.predictor, config.train, config.concurrency_max) == (
        "predict.py:Predictor",
        "train.py:train",
        3,
    )
    assert resolve_config(cwd=tmp_path, env={"COG_MAX_CONCURRENCY": "5"}).concurrency_max == 5


def test_limits_come_from_flags_then_environment_then_defaults(tmp_path: Path) -> None:
    env = {"COGKIT_PREDICTOR": "p.py:P", "COGKIT_HEADER_TIMEOUT": "3.5", "COGKIT_MAX_BODY_BYTES": "1000"}
    limits = resolve_config(cwd=tmp_path, env=env, limits={"max_body_bytes": 77, "body_timeout": None}).limits
    assert (limits.header_timeout, limits.max_body_bytes) == (3.5, 77)
    assert limits.body_timeout == Limits().body_timeout


@pytest.mark.parametrize(
    ("name", "value"), [("COGKIT_MAX_CONNECTIONS", "lots"), ("COGKIT_SHUTDOWN_GRACE", "-1")]
)
def test_bad_limits_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(UsageError, match=name):
        resolve_config(cwd=tmp_path, env={"COGKIT_PREDICTOR": "p.py:P", name: value})


def test_exit_on_stdin_eof_from_flag_or_environment(tmp_path: Path) -> None:
    env = {"COGKIT_PREDICTOR": "p.py:P"}
    assert not resolve_config(cwd=tmp_path, env=env).exit_on_stdin_eof
    assert resolve_config(cwd=tmp_path, env=env, exit_on_stdin_eof=True).exit_on_stdin_eof
    assert resolve_config(cwd=tmp_path, env={**env, "COGKIT_EXIT_ON_STDIN_EOF": "1"}).exit_on_stdin_eof
    with pytest.raises(UsageError, match="COGKIT_EXIT_ON_STDIN_EOF"):
        resolve_config(cwd=tmp_path, env={**env, "COGKIT_EXIT_ON_STDIN_EOF": "maybe"})


def test_the_http_api_doc_states_every_limit_and_how_to_change_it() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "http-api.md").read_text()
    for f in Limits.fields():
        assert f"`{f.metadata['env']}`" in doc, f.metadata["env"]
        assert f"`--{flag_name(f)}`" in doc, flag_name(f)
    for name in ("COGKIT_EXIT_ON_STDIN_EOF", "--exit-on-stdin-eof", "SIGHUP", "x-cogkit-loop"):
        assert name in doc, name
    assert f"`COGKIT_SHUTDOWN_GRACE` + {EXIT_BOUND:g}" in doc  # the stated bound is the code's


def test_the_limits_table_shows_the_defaults_the_code_has() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "http-api.md").read_text()
    rows = {
        cells[1].strip("` "): cells[3].split()[0]
        for cells in (line.split("|") for line in doc.splitlines() if line.startswith("| `--"))
        if len(cells) > 4
    }
    for f in Limits.fields():
        assert float(rows[f"--{flag_name(f)}"]) == f.default, f.name
