"""Loading valid cog.yaml files: the values others read, and the warnings users see."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

import cogkit.spec
from cogkit.errors import SpecError
from cogkit.spec import DEFAULT_PYTHON, RunCommand, SecretMount, find_config, load_spec

from .conftest import MakeProject


def test_public_surface_is_complete() -> None:
    for name in cogkit.spec.__all__:
        assert hasattr(cogkit.spec, name), name
    assert {"find_config", "load_spec", "Spec", "Build"} <= set(cogkit.spec.__all__)


def test_find_config_walks_up_from_a_subfolder(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_project('build:\n  python_version: "3.11"\n')
    deep = path.parent / "src" / "models"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_config() == path.resolve()
    assert load_spec().file == path.resolve()


def test_find_config_error_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        find_config(tmp_path)
    assert "no cog.yaml in" in caught.value.message
    assert "cogkit init" in (caught.value.hint or "")


def test_load_spec_accepts_a_folder_and_walks_up_from_it(make_project: MakeProject) -> None:
    path = make_project('build:\n  python_version: "3.11"\n')
    (path.parent / "sub").mkdir()
    assert load_spec(path.parent).file == path.resolve()
    assert load_spec(path.parent / "sub").file == path.resolve()


def test_minimal_spec_fields_and_defaults(make_project: MakeProject) -> None:
    path = make_project('build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    spec = load_spec(path)
    assert spec.file.is_absolute() and spec.project_dir == path.parent.resolve()
    assert spec.build.python_version == "3.11"
    assert spec.build.gpu is False
    assert spec.predict == "predict.py:Predictor"
    assert (spec.train, spec.image, spec.environment, spec.concurrency_max) == (None, None, (), None)
    assert spec.warnings == ()
    with pytest.raises(pydantic.ValidationError):
        spec.predict = "other.py:X"  # type: ignore[misc]


def test_missing_python_version_is_a_warning_with_the_default(make_project: MakeProject) -> None:
    spec = load_spec(make_project('predict: "predict.py:Predictor"\n'))
    assert spec.build.python_version == DEFAULT_PYTHON == "3.12"
    assert any("python_version is not set; using Python 3.12" in w for w in spec.warnings)


def test_newer_run_key_fills_predict(make_project: MakeProject) -> None:
    spec = load_spec(make_project('run: "run.py:Runner"\n', {"run.py": ""}))
    assert spec.predict == "run.py:Runner"


def test_unquoted_versions_keep_their_digits(make_project: MakeProject) -> None:
    spec = load_spec(make_project("build:\n  gpu: true\n  python_version: 3.10\n  cuda: 11.0\n  cudnn: 8\n"))
    assert (spec.build.python_version, spec.build.cuda, spec.build.cudnn) == ("3.10", "11.0", "8")


@pytest.mark.parametrize(
    ("cog_yaml", "fragment"),
    [
        (
            'build:\n  python_version: "3.11"\n  python_packages: ["numpy==1.26.4"]\n',
            "python_packages is deprecated",
        ),
        (
            'build:\n  python_version: "3.11"\n  pre_install: ["echo hi"]\n',
            "pre_install is deprecated; use build.run",
        ),
        ('build:\n  python_version: "3.8"\n', "Python 3.8 is past its end of life"),
        ('build:\n  python_version: "3.9.13"\n', "Python 3.9 is past its end of life"),
        (
            'build:\n  python_version: "3.11"\n  fast: true\n',
            "build.fast: accepted for Cog compatibility but ignored",
        ),
        (
            'build:\n  python_version: "3.11"\n  python_overrides: o.txt\n',
            "build.python_overrides: accepted for Cog compatibility but ignored",
        ),
        (
            'build:\n  python_version: "3.11"\nweights:\n  - name: w\n',
            "weights: accepted for Cog compatibility",
        ),
        ('build:\n  python_version: "3.11"\nobservability:\n  traces: {}\n', "observability: accepted"),
        ('model: my-model\nbuild:\n  python_version: "3.11"\n', "model: accepted for Cog compatibility"),
        (
            'build:\n  python_version: "3.11"\n  cuda: "12.1"\n',
            "build.cuda/cudnn are ignored because build.gpu",
        ),
    ],
)
def test_warnings(make_project: MakeProject, cog_yaml: str, fragment: str) -> None:
    warnings = load_spec(make_project(cog_yaml)).warnings
    assert sum(fragment in w for w in warnings) == 1, warnings  # warned exactly once


def test_run_shorthand_and_secret_mounts(make_project: MakeProject) -> None:
    spec = load_spec(
        make_project(
            """
            build:
              python_version: "3.11"
              run:
                - "echo one"
                - command: >-
                    echo two
                    and more
                  mounts:
                    - type: secret
                      id: hf
                      target: /run/secrets/hf
            """
        )
    )
    assert spec.build.run == (
        RunCommand(command="echo one"),
        RunCommand(
            command="echo two and more",
            mounts=(SecretMount(type="secret", id="hf", target="/run/secrets/hf"),),
        ),
    )


def test_comment_only_lists_are_empty(make_project: MakeProject) -> None:
    spec = load_spec(
        make_project('build:\n  python_version: "3.11"\n  run:\n    # nothing yet\n  system_packages:\n')
    )
    assert spec.build.run == () and spec.build.system_packages == ()


def test_environment_and_concurrency(make_project: MakeProject) -> None:
    spec = load_spec(
        make_project('environment:\n  - "HF_HOME=/src/.cache"\n  - "A=b=c"\nconcurrency:\n  max: 8\n')
    )
    assert spec.environment == ("HF_HOME=/src/.cache", "A=b=c")
    assert spec.concurrency_max == 8


def test_requirement_lines_keep_their_origin(make_project: MakeProject) -> None:
    path = make_project(
        'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\n',
        {
            "requirements.txt": "# pinned\nnumpy==1.26.4  # comment\n\ntorch==2.1.0 \\\n  --extra-index-url https://x\n-r more.txt\n",
            "more.txt": "pillow\n",
        },
    )
    lines = load_spec(path).requirements
    assert [(line.text, line.file, line.line) for line in lines] == [
        ("numpy==1.26.4", "requirements.txt", 2),
        ("torch==2.1.0    --extra-index-url https://x", "requirements.txt", 4),
        ("pillow", "more.txt", 1),
    ]


def test_python_packages_lines_point_into_cog_yaml(make_project: MakeProject) -> None:
    spec = load_spec(
        make_project('build:\n  python_version: "3.11"\n  python_packages:\n    - "torch==2.1.0"\n')
    )
    line = spec.requirements[0]
    assert (line.text, line.file, line.line, line.column) == ("torch==2.1.0", "cog.yaml", 4, 7)


def test_crlf_bom_and_no_trailing_newline(make_project: MakeProject) -> None:
    path = make_project("")
    path.write_bytes(b'\xef\xbb\xbfbuild:\r\n  python_version: "3.11"\r\npredict: "predict.py:Predictor"')
    assert load_spec(path).predict == "predict.py:Predictor"


def test_locations_and_where_for_plan_errors(make_project: MakeProject) -> None:
    spec = load_spec(make_project('build:\n  gpu: true\n  cuda: "12.1"\n'))
    assert spec.where("build.cuda") == {"file": "cog.yaml", "line": 3, "column": 9, "key": "build.cuda"}
    assert spec.raw["build"]["cuda"] == "12.1"


def test_anchors_and_merge_keys(make_project: MakeProject) -> None:
    spec = load_spec(
        make_project(
            """
            build:
              python_version: "3.11"
              run:
                - &step {command: "echo a", mounts: [{type: secret, id: s, target: /s}]}
                - <<: *step
                  command: "echo b"
            """
        )
    )
    assert [r.command for r in spec.build.run] == ["echo a", "echo b"]
    assert spec.build.run[1].mounts == spec.build.run[0].mounts


def test_every_key_is_documented() -> None:
    from pathlib import Path

    from cogkit.spec.models import Build, Document

    docs = (Path(__file__).resolve().parents[2] / "docs" / "cog-yaml.md").read_text(encoding="utf-8")
    for name in [*Build.model_fields, *Document.model_fields]:
        assert f"`{name}`" in docs, name
