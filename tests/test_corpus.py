"""Every real cog.yaml in the shared corpus either becomes a plan or fails with the right error.

Only cog.yaml (and sometimes requirements.txt) is stored for each project, so each one is
copied into a temporary project where the files it points at but the corpus lacks (the
predictor file, a requirements file) are created EMPTY. The test records which ones were
stubbed: an empty requirements file means a GPU project without framework pins gets the
default CUDA, which the expectations below take into account.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from cogkit.errors import SpecError
from cogkit.plan import resolve
from cogkit.spec import load_spec

REPO = Path(__file__).resolve().parents[1]


def _corpus() -> Path | None:
    for candidate in (
        os.environ.get("COGKIT_CORPUS"),
        REPO / "shared" / "corpus" / "cog-yaml",
        REPO.parent / "shared" / "corpus" / "cog-yaml",
    ):
        if candidate and (Path(candidate) / "INDEX.tsv").is_file():
            return Path(candidate)
    return None


CORPUS = _corpus()
FOLDERS = sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) if CORPUS else []

# folder -> fragment of str(error): the files that must fail, and why.
EXPECTED_FAILURES = {
    "Alnoman69__datamodell_ai": "cog.yaml:15:3: train: expected a string, got {'script': 'train.py'",
    "ArturoGuerra__media-stack-charts": "cog.yaml:1:1: this does not look like a Cog configuration",
    "Beximus__ResearchPortfolioCode": "cog.yaml:29:5: invalid YAML: did not find expected key",
    "Camb-ai__MARS5-TTS__cog": "torch is not pinned ('torch') in a GPU build",
    "crowsonkb__v-diffusion-pytorch": "torchvision==0.9.0 does not go with torch 1.9.0",
    "eric-culm__memories__src": "build.python_version: '3.7': Python 3.7 is too old",
    "fortrump__mynet": "torch is not pinned ('torch') in a GPU build",
    "Lokinado__asr-inference-service__src": "requirements.txt:144:1: torch is not pinned ('torch>=2.7.1') in a GPU build",
    "mchong6__JoJoGAN": "build.python_version: '3.7.12': Python 3.7.12 is too old",
    "ogulcanaydogan__LowResource-LLM-Forge__deploy": "torch is not pinned ('torch>=2.1.0') in a GPU build",
    "orpatashnik__StyleCLIP": "build.python_version: '3.7': Python 3.7 is too old",
    "replicate__cog-examples__inst-colorization": "cog.yaml:2:1: examples: this is a legacy pre-1.0 cog.yaml",
    "replicate__cog-examples__rife": "cog.yaml:2:1: examples: this is a legacy pre-1.0 cog.yaml",
    "replicate__cog-examples__style-based-gan-pytorch": "cog.yaml:2:1: examples: this is a legacy pre-1.0 cog.yaml",
    "replicate__cog-svd": "torch is not pinned ('torch>=2.0.1') in a GPU build",
    "replicate__cog-vllm": "cog.yaml:19:1: concurrency: expected a mapping, got 32",
    "replicate__cog__python_37": "build.python_version: '3.7': Python 3.7 is too old",
    "slowy07__celestine": "cog.yaml:7:3: build.Python_packages: unknown key 'Python_packages'\n  hint: did you mean 'python_packages'?",
    "taranis-ai__taranis-ai__cog": "cog.yaml:31:1: predictor: unknown key 'predictor'\n  hint: did you mean 'predict'?",
}

CUDA_MISMATCH = {"Booth-AI__lora-training", "nerdyrodent__VQGAN-CLIP"}

# folder -> (cuda, base image) for files whose plan shows a rule at work.
EXPECTED_PLANS = {
    "replicate__cog__torch-271-cuda-128": ("12.8", "python:3.12-slim"),  # +cu128 label
    "jantic__DeOldify": ("11.6", "python:3.8-slim"),  # explicit cuda matching a torch 1.13.1 variant
    "replicate__cog-flux": ("12.1", "python:3.11-slim"),  # torch==2.2 two-part pin
    "lucataco__cog-hunyuanvideo-community": ("12.1", "python:3.11-slim"),  # cuda 12.1 < torch 2.5.1's 12.4
    "replicate__cog__tensorflow-project": (
        "11.8",
        "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04",
    ),  # TF 2.10
    "google-research__frame-interpolation": ("11.2", "nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04"),
    "lucataco__cog-vllm": ("12.1", "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04"),  # run sets CUDA_HOME
    "fofr__cog-cpu-toolkit": (None, "python:3.11-slim"),
    # build.cuda that the torch pin was not built for: a warning, and the wheel's own CUDA (as Cog does).
    "Booth-AI__lora-training": ("11.7", "python:3.10-slim"),  # cuda 11.4, torch 1.13.0 from PyPI
    "nerdyrodent__VQGAN-CLIP": (
        "11.1",
        "nvidia/cuda:11.1.1-cudnn8-runtime-ubuntu20.04",
    ),  # cuda 11.0, torch 1.9
    "replicate__cog-comfyui": (None, "python:3.12-slim"),  # gpu: false, torch from the CPU index
}


# Folders whose python_requirements file is not in the corpus: resolved with an EMPTY file.
STUBBED_REQUIREMENTS = {
    "Audioscrape__paraphrase-multilingual-minilm-l12-v2",
    "lucataco__cog-vllm",
    "replicate__cog-flux-kontext",
}


def _stage(source: Path, target: Path) -> list[str]:
    """Copy a corpus project; create the files it names but the corpus lacks. Returns them."""
    for item in source.iterdir():
        if item.is_file():
            shutil.copy(item, target / item.name)
    try:
        data = yaml.safe_load((target / "cog.yaml").read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return []
    wanted = []
    if isinstance(data, dict):
        wanted += [
            v.split(":", 1)[0] for k in ("predict", "run", "train") if isinstance(v := data.get(k), str)
        ]
        build = data.get("build")
        if isinstance(build, dict) and isinstance(build.get("python_requirements"), str):
            wanted.append(build["python_requirements"])
    stubbed = []
    for name in wanted:
        path = target / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")
            stubbed.append(name)
    return stubbed


# CI always has shared/ beside the checkout: there a missing corpus fails (assert below), never skips.
pytestmark = pytest.mark.skipif(
    CORPUS is None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="the shared cog.yaml corpus (../shared/corpus/cog-yaml) is not here",
)


def test_corpus_index_lists_every_folder() -> None:
    assert CORPUS is not None
    lines = (CORPUS / "INDEX.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(line.split("\t", 1)[0] for line in lines if line) == FOLDERS
    assert len(FOLDERS) >= 80
    assert set(EXPECTED_FAILURES) <= set(FOLDERS) and set(EXPECTED_PLANS) <= set(FOLDERS)


@pytest.mark.parametrize("folder", FOLDERS)
def test_corpus_file(folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert CORPUS is not None
    monkeypatch.chdir(tmp_path)
    stubbed = _stage(CORPUS / folder, tmp_path)
    assert ("requirements.txt" in stubbed) == (folder in STUBBED_REQUIREMENTS), stubbed
    if folder in EXPECTED_FAILURES:
        with pytest.raises(SpecError) as caught:
            resolve(load_spec(tmp_path / "cog.yaml"))
        assert EXPECTED_FAILURES[folder] in str(caught.value)
        assert caught.value.exit_code == 2 and caught.value.line is not None
        return
    plan = resolve(load_spec(tmp_path / "cog.yaml"))
    assert plan.predictor is not None and plan.base_image
    if plan.gpu:
        assert plan.cuda is not None and plan.min_nvidia_driver is not None
    if folder in EXPECTED_PLANS:
        assert (plan.cuda, plan.base_image) == EXPECTED_PLANS[folder]
    mismatch = [w for w in plan.warnings if "was not built for CUDA" in w]
    assert bool(mismatch) == (folder in CUDA_MISMATCH), mismatch
