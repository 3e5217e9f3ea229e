"""Every cog.yaml mistake the issue lists, with the exact place and words of the message."""

from __future__ import annotations

import pytest

from cogkit.errors import SpecError
from cogkit.spec import load_spec

from .conftest import MakeProject

# (id, cog.yaml, extra files, expected start of str(err), expected hint fragment)
CASES = [
    (
        "unknown-top-level-key",
        'build:\n  python_version: "3.11"\npredcit: "predict.py:Predictor"\n',
        {},
        "cog.yaml:3:1: predcit: unknown key 'predcit'",
        "did you mean 'predict'?",
    ),
    (
        "misspelt-build-key",
        'build:\n  python_verison: "3.11"\npredict: "predict.py:Predictor"\n',
        {},
        "cog.yaml:2:3: build.python_verison: unknown key 'python_verison'",
        "did you mean 'python_version'?",
    ),
    (
        "capitalised-key",
        'build:\n  Python_packages: ["numpy"]\n',
        {},
        "cog.yaml:2:3: build.Python_packages: unknown key 'Python_packages'",
        "did you mean 'python_packages'?",
    ),
    (
        "predict-indented-under-build",
        'build:\n  python_version: "3.11"\n  predict: "predict.py:Predictor"\n',
        {},
        "cog.yaml:3:3: build.predict: unknown key 'predict'",
        "'predict' belongs at the top level: un-indent it out of build:",
    ),
    (
        "build-key-at-top-level",
        'gpu: true\npredict: "predict.py:Predictor"\n',
        {},
        "cog.yaml:1:1: gpu: unknown key 'gpu'",
        "'gpu' belongs under build: indent it below build:",
    ),
    (
        "unknown-key-no-close-match",
        "build:\n  gpu: true\n  zzz: 1\n",
        {},
        "cog.yaml:3:3: build.zzz: unknown key 'zzz'",
        "valid keys here: gpu, python_version",
    ),
    (
        "python-too-old",
        'build:\n  python_version: "3.7"\n',
        {},
        "cog.yaml:2:19: build.python_version: '3.7': Python 3.7 is too old",
        'python_version: "3.12"',
    ),
    (
        "python-2",
        'build:\n  python_version: "2.7"\n',
        {},
        "cog.yaml:2:19: build.python_version: '2.7': Python 2.7 is too old",
        "quote it",
    ),
    (
        "python-unknown-3.15",
        'build:\n  python_version: "3.15"\n',
        {},
        "cog.yaml:2:19: build.python_version: '3.15': Python 3.15 is not a version cogkit knows; use one of 3.8,",
        "quote it",
    ),
    (
        "python-unknown-4.0",
        "build:\n  python_version: 4.0\n",
        {},
        "cog.yaml:2:19: build.python_version: '4.0': Python 4.0 is not a version cogkit knows",
        "quote it",
    ),
    (
        "python-not-a-version",
        "build:\n  python_version: three\n",
        {},
        "cog.yaml:2:19: build.python_version: 'three' is not a Python version; use one of 3.8, 3.9,",
        "quote it",
    ),
    (
        "packages-and-requirements",
        'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\n  python_packages: ["numpy"]\n',
        {"requirements.txt": "numpy\n"},
        "cog.yaml:4:3: build.python_packages: python_packages and python_requirements are both set",
        "move the packages into requirements.txt",
    ),
    (
        "missing-requirements-file",
        'build:\n  python_version: "3.11"\n  python_requirements: reqs/requirements.txt\n',
        {},
        "cog.yaml:3:24: build.python_requirements: 'reqs/requirements.txt' does not exist",
        "create reqs/requirements.txt next to cog.yaml",
    ),
    (
        "missing-included-requirements-file",
        'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\n',
        {"requirements.txt": "numpy\n-r other.txt\n"},
        "requirements.txt:2:1: included file 'other.txt' does not exist",
        "fix the -r path",
    ),
    (
        "predict-and-run",
        'predict: "predict.py:Predictor"\nrun: "predict.py:Predictor"\n',
        {},
        "cog.yaml:2:1: run: predict and run are both set",
        "run is the newer name of predict",
    ),
    (
        "predictor-without-class",
        'predict: "predict.py"\n',
        {},
        "cog.yaml:1:10: predict: 'predict.py': a predictor reference looks like 'predict.py:Predictor'",
        'predict: "predict.py:Predictor"',
    ),
    (
        "predictor-not-python-file",
        'predict: "predict:Predictor"\n',
        {},
        "cog.yaml:1:10: predict: 'predict:Predictor': a predictor reference looks like",
        "predict.py:Predictor",
    ),
    (
        "predictor-bad-name",
        'predict: "predict.py:my-predictor"\n',
        {},
        "cog.yaml:1:10: predict: 'predict.py:my-predictor': a predictor reference",
        "predict.py:Predictor",
    ),
    (
        "predictor-file-missing",
        'predict: "src/model.py:Predictor"\n',
        {},
        "cog.yaml:1:1: predict: 'src/model.py:Predictor': src/model.py does not exist",
        "relative to the folder that holds cog.yaml",
    ),
    (
        "train-file-missing",
        'train: "train.py:train"\n',
        {},
        "cog.yaml:1:1: train: 'train.py:train': train.py does not exist",
        "check the file name",
    ),
    (
        "train-as-mapping",
        "train:\n  script: train.py\n",
        {},
        "cog.yaml:2:3: train: expected a string, got {'script': 'train.py'}",
        'train: "train.py:train"',
    ),
    (
        "cuda-without-minor",
        'build:\n  gpu: true\n  cuda: "12"\n',
        {},
        "cog.yaml:3:9: build.cuda: '12': CUDA needs a minor version, e.g. '12.1'",
        'cuda: "12.1"',
    ),
    (
        "cuda-unquoted-integer",
        "build:\n  gpu: true\n  cuda: 11\n",
        {},
        "cog.yaml:3:9: build.cuda: '11': CUDA needs a minor version",
        "major.minor",
    ),
    (
        "cuda-garbage",
        'build:\n  gpu: true\n  cuda: "latest"\n',
        {},
        "cog.yaml:3:9: build.cuda: 'latest': CUDA must look like '12.1'",
        "major.minor",
    ),
    (
        "env-malformed",
        'environment:\n  - "HF_HOME"\n',
        {},
        "cog.yaml:2:5: environment.0: 'HF_HOME' is not NAME=value",
        "NAME=value",
    ),
    (
        "env-bad-name",
        'environment:\n  - "1ST=x"\n',
        {},
        "cog.yaml:2:5: environment.0: '1ST=x' is not NAME=value",
        "NAME=value",
    ),
    (
        "env-duplicate",
        'environment:\n  - "A=1"\n  - "A=2"\n',
        {},
        "cog.yaml:3:5: environment.1: 'A=2': A is already set by item 1",
        "one entry per name",
    ),
    (
        "env-reserved-path",
        'environment:\n  - "PATH=/opt/bin"\n',
        {},
        "cog.yaml:2:5: environment.0: 'PATH=/opt/bin': 'PATH' is reserved: cogkit sets it in the image",
        "NAME=value",
    ),
    (
        "env-reserved-cuda-prefix",
        'environment:\n  - "CUDA_VISIBLE_DEVICES=0"\n',
        {},
        "cog.yaml:2:5: environment.0: 'CUDA_VISIBLE_DEVICES=0': 'CUDA_VISIBLE_DEVICES' is reserved",
        "NAME=value",
    ),
    (
        "env-reserved-nvidia-prefix",
        'environment:\n  - "NVIDIA_DRIVER_CAPABILITIES=all"\n',
        {},
        "cog.yaml:2:5: environment.0: 'NVIDIA_DRIVER_CAPABILITIES=all': 'NVIDIA_DRIVER_CAPABILITIES' is reserved",
        "NAME=value",
    ),
    (
        "env-reserved-ld-library-path",
        'environment:\n  - "LD_LIBRARY_PATH=/x"\n',
        {},
        "cog.yaml:2:5: environment.0: 'LD_LIBRARY_PATH=/x': 'LD_LIBRARY_PATH' is reserved",
        "NAME=value",
    ),
    (
        "env-reserved-pythonpath",
        'environment:\n  - "PYTHONPATH=/x"\n',
        {},
        "cog.yaml:2:5: environment.0: 'PYTHONPATH=/x': 'PYTHONPATH' is reserved",
        "NAME=value",
    ),
    (
        "concurrency-zero",
        "concurrency:\n  max: 0\n",
        {},
        "cog.yaml:2:8: concurrency.max: input should be greater than or equal to 1 (got 0)",
        "at least 1",
    ),
    (
        "concurrency-negative",
        "concurrency:\n  max: -3\n",
        {},
        "cog.yaml:2:8: concurrency.max: input should be greater than or equal to 1 (got -3)",
        "at least 1",
    ),
    (
        "concurrency-scalar",
        "concurrency: 32\n",
        {},
        "cog.yaml:1:1: concurrency: expected a mapping, got 32",
        "concurrency: {max: 32}",
    ),
    (
        "concurrency-string",
        'concurrency:\n  max: "4"\n',
        {},
        "cog.yaml:2:8: concurrency.max: expected a whole number, got '4'",
        "at least 1",
    ),
    (
        "run-command-with-newline",
        "build:\n  run:\n    - |\n      apt-get update\n      apt-get install -y ffmpeg\n",
        {},
        "cog.yaml:3:7: build.run.0.command: 'apt-get update\\napt-get install -y ffmpeg\\n': a build.run command must be one line",
        "each item is a command string",
    ),
    (
        "run-mount-not-secret",
        "build:\n  run:\n    - command: echo hi\n      mounts:\n        - type: cache\n          id: x\n          target: /x\n",
        {},
        "cog.yaml:5:17: build.run.0.mounts.0.type: 'cache' is not allowed; expected 'secret'",
        "only secret mounts",
    ),
    (
        "run-mount-missing-target",
        "build:\n  run:\n    - command: echo hi\n      mounts:\n        - type: secret\n          id: x\n",
        {},
        "cog.yaml:5:11: build.run.0.mounts.0.target: is required",
        "each item is a command string",
    ),
    (
        "unknown-key-in-a-mount",
        "build:\n  run:\n    - command: echo hi\n      mounts:\n        - type: secret\n          id: x\n          target: /x\n          taget: /y\n",
        {},
        "cog.yaml:8:11: build.run.0.mounts.0.taget: unknown key 'taget'",
        "did you mean 'target'?",
    ),
    (
        "gpu-not-bool",
        'build:\n  gpu: "true"\n',
        {},
        "cog.yaml:2:8: build.gpu: expected true or false, got 'true'",
        "gpu: true",
    ),
    (
        "empty-list-item",
        'build:\n  python_packages:\n    - "numpy"\n    -\n',
        {},
        "cog.yaml:4:6: build.python_packages.1: expected a string, got None",
        "one requirement per list item",
    ),
    (
        "apt-package-with-shell",
        'build:\n  system_packages:\n    - "ffmpeg && rm -rf /"\n',
        {},
        "cog.yaml:3:7: build.system_packages.0: 'ffmpeg && rm -rf /' is not an apt package name",
        "one apt package per list item",
    ),
    (
        "yaml-syntax-error",
        'build:\n  python_version: "3.11"\n  python_packages:\n    "numpy"\n    "torch"\n',
        {},
        "cog.yaml:5:5: invalid YAML:",
        "indentation",
    ),
    (
        "yaml-tab-indent",
        "build:\n\tgpu: true\n",
        {},
        "cog.yaml:2:1: invalid YAML: found character that cannot start any token",
        "spaces, not tabs",
    ),
    (
        "duplicate-key",
        "build:\n  gpu: true\n  gpu: false\n",
        {},
        "cog.yaml:3:3: build.gpu: duplicate key",
        "remove one",
    ),
    (
        "legacy-schema",
        "model: infer.py:Model\nexamples:\n  - input: {}\nenvironment:\n  python_version: 3.8\n",
        {},
        "cog.yaml:2:1: examples: this is a legacy pre-1.0 cog.yaml",
        "rewrite it in the current schema",
    ),
    (
        "legacy-environment-mapping",
        "model: infer.py:Model\nenvironment:\n  python_version: 3.8\n",
        {},
        "cog.yaml:2:1: environment: this is a legacy pre-1.0 cog.yaml",
        "rewrite it in the current schema",
    ),
    (
        "not-a-cog-config",
        "from_latest_tag: true\nchangelog:\n  path: CHANGELOG.md\n",
        {},
        "cog.yaml:1:1: this does not look like a Cog configuration (keys: from_latest_tag, changelog)",
        "predict: 'predict.py:Predictor'",
    ),
    (
        "python-tag",
        "build: !!python/object/apply:os.system ['true']\n",
        {},
        "cog.yaml:1:8: invalid YAML: the tag tag:yaml.org,2002:python/object/apply:os.system is not allowed",
        "remove the !! tag",
    ),
    (
        "build-not-a-mapping",
        "build: gpu\n",
        {},
        "cog.yaml:1:8: build: expected a mapping, got 'gpu'",
        "build is a mapping",
    ),
    (
        "python-scalar-tag",
        "image: !!python/name:os.system\n",
        {},
        "cog.yaml:1:8: invalid YAML: could not determine a constructor for the tag",
        "remove the !! tag",
    ),
    ("empty-file", "", {}, "cog.yaml: the file is empty", "cogkit init"),
    ("list-document", "- a\n- b\n", {}, "cog.yaml:1:1: expected a mapping of keys", "docs/cog-yaml.md"),
]


@pytest.mark.parametrize(
    ("cog_yaml", "files", "expected", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_spec_error_names_place_value_and_fix(
    make_project: MakeProject, cog_yaml: str, files: dict[str, str], expected: str, hint: str
) -> None:
    path = make_project(cog_yaml, files)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    err = caught.value
    assert err.exit_code == 2
    message, _, hint_line = str(err).partition("\n  hint: ")
    assert message.startswith(expected), message
    assert hint in hint_line
    assert "\n" not in message  # one line, then the hint


def test_misspelt_key_is_one_line_naming_the_line(make_project: MakeProject) -> None:
    """The acceptance check from the issue, in the exact form the CLI prints."""
    path = make_project('build:\n  gpu: true\n  pyton_version: "3.11"\n')
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == (
        "cog.yaml:3:3: build.pyton_version: unknown key 'pyton_version'\n  hint: did you mean 'python_version'?"
    )
    assert (caught.value.line, caught.value.column, caught.value.key) == (3, 3, "build.pyton_version")


def alias_bomb(levels: int = 9, fanout: int = 9) -> str:
    """The 500-byte file of the issue: each anchor aliases the previous one `fanout` times."""
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*a{level - 1}"] * fanout)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "build:\n  gpu: false\npredict: predict.py:Predictor\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("merge", [False, True], ids=["sequences", "merge-keys"])
def test_an_alias_bomb_is_refused_after_visiting_each_node_once(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, merge: bool
) -> None:
    """9 levels of 9 aliases would be 9**9 values; the check must visit each written node once."""
    from cogkit.spec import yamlmarks

    text = alias_bomb()
    if merge:  # the same bomb through `<<:` merge keys, which PyYAML expands by copying
        text = "build:\n  gpu: false\na0: &a0 {k: v}\n" + "".join(
            f"a{n}: &a{n} {{<<: [{', '.join([f'*a{n - 1}'] * 9)}]}}\n" for n in range(1, 10)
        )
    visited: list[object] = []
    children = yamlmarks._children
    monkeypatch.setattr(yamlmarks, "_children", lambda node: visited.append(node) or children(node))
    path = make_project(text, {"predict.py": ""})
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value).partition("\n")[0]
    assert message.startswith("cog.yaml:") and "alias bomb" in message, message
    assert len(visited) < 200  # each distinct node once (the file has about a hundred), never 9**9


def test_a_circular_alias_is_refused(make_project: MakeProject) -> None:
    path = make_project("build: &loop\n  gpu: false\n  run: [*loop]\npredict: predict.py:Predictor\n")
    with pytest.raises(SpecError, match=r"^cog.yaml:\d+:\d+: invalid YAML: an alias refers to"):
        load_spec(path)


def test_ordinary_aliases_still_load(make_project: MakeProject) -> None:
    text = alias_bomb(levels=2, fanout=3).replace("predict: predict.py:Predictor\n", "")
    path = make_project(text + "predict: predict.py:Predictor\n", {"predict.py": ""})
    with pytest.raises(SpecError, match="unknown key 'a0'"):  # loads, then fails on the unknown key
        load_spec(path)


@pytest.mark.parametrize("key", ["predict", "train"])
@pytest.mark.parametrize(
    "where", ["../other/predict.py", "/srv/models/predict.py", "sub/../../predict.py", "link.py"]
)
def test_a_predictor_outside_the_project_is_refused(
    make_project: MakeProject, tmp_path_factory: pytest.TempPathFactory, key: str, where: str
) -> None:
    outside = tmp_path_factory.mktemp("other")
    (outside / "predict.py").write_text("class Predictor: pass\n")
    path = make_project(f'build:\n  python_version: "3.11"\n{key}: "{where}:Predictor"\n', {"sub/x.py": ""})
    (path.parent / "link.py").symlink_to(outside / "predict.py")  # a link out of the project
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value).partition("\n")[0]
    assert message.startswith(f"cog.yaml:3:1: {key}: '{where}:Predictor': "), message
    assert "is outside the project folder" in message
