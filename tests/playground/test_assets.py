"""What ships: the size budget, no HTML parsing of data, every asset referenced, the wheel and the switch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from cogkit.errors import UsageError
from cogkit.playground import assets
from cogkit.server.config import resolve_config
from tests.conftest import REPO
from tests.playground.conftest import MODELS, CogkitServer

STATIC = REPO / "cogkit" / "playground" / "static"


def test_the_shipped_files_keep_to_the_size_budget() -> None:
    files = assets.load()
    assert {path.name for path in STATIC.iterdir()} == set(files), "every file in static/ is served"
    total = sum(asset.gzip_size for asset in files.values())
    assert total <= assets.BUDGET_GZIP_BYTES, (
        f"{total} bytes gzipped, over the {assets.BUDGET_GZIP_BYTES} budget"
    )


def test_no_script_parses_html_or_evaluates_strings() -> None:
    """The page builds every element with createElement/textContent; these would undo that."""
    forbidden = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(\s*[\"'`]"
    )
    for script in STATIC.glob("*.js"):
        assert not forbidden.search(script.read_text()), (
            f"{script.name}: {forbidden.search(script.read_text())}"
        )


def test_every_reference_resolves_to_a_shipped_asset() -> None:
    files = assets.load()
    html = (STATIC / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="playground/assets/([^"]+)"', html))
    for script in STATIC.glob("*.js"):
        referenced |= set(re.findall(r'from "\./([^"]+)"', script.read_text()))
    assert referenced <= set(files)
    assert set(files) - referenced == {"index.html"}, "no file ships unused"
    # nothing from another origin, and no inline code the CSP would refuse
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    assert "<script>" not in html and "<style" not in html and "style=" not in html
    assert not re.search(r"<[^>]+\son\w+=", html)


def test_the_wheel_carries_the_playground(tmp_path: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv comes with the dev install"
    result = subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("cogkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in assets.load():
        assert f"cogkit/playground/static/{name}" in names


def test_the_image_payload_carries_the_playground() -> None:
    from cogkit.image.runtime_payload import package_files

    shipped = package_files()
    for name in assets.load():
        assert f"cogkit/playground/static/{name}" in shipped


@pytest.mark.parametrize(
    ("env", "flag", "expected"),
    [({}, True, True), ({"COGKIT_PLAYGROUND": "0"}, True, False), ({"COGKIT_PLAYGROUND": "off"}, True, False),
     ({"COGKIT_PLAYGROUND": "1"}, False, False), ({"COGKIT_PLAYGROUND": "yes"}, True, True)],
)  # fmt: skip
def test_the_switch_resolves_from_flag_and_environment(
    env: dict[str, str], flag: bool, expected: bool
) -> None:
    config = resolve_config(predictor="p.py:P", cwd=REPO, playground=flag, env=env)
    assert config.playground is expected


def test_a_bad_switch_value_is_one_clear_error() -> None:
    with pytest.raises(UsageError, match=r"COGKIT_PLAYGROUND='maybe' is not 1 or 0"):
        resolve_config(predictor="p.py:P", cwd=REPO, env={"COGKIT_PLAYGROUND": "maybe"})


@pytest.mark.parametrize("how", ["flag", "env"])
def test_the_playground_can_be_turned_off(how: str, tmp_path: Path) -> None:
    kw: dict[str, Any] = (
        {"args": ["--no-playground"]} if how == "flag" else {"env": {"COGKIT_PLAYGROUND": "0"}}
    )
    server = CogkitServer(tmp_path, cwd=MODELS, predictor="slow.py:Predictor", **kw)
    try:
        assert httpx.get(server.url + "/playground").status_code == 404
        assert httpx.get(server.url + "/playground/assets/app.js").status_code == 404
        assert httpx.get(server.url + "/").json()["openapi_url"] == "/openapi.json"
    finally:
        server.stop()


def test_the_server_serves_the_page_and_keeps_its_json_root(model: Any) -> None:
    server = model("slow")
    root = httpx.get(server.url + "/")
    assert root.headers["content-type"] == "application/json" and "predictions_url" in root.json()
    page = httpx.get(server.url + "/playground")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == assets.CONTENT_SECURITY_POLICY
    assert httpx.get(server.url + "/playground/", follow_redirects=True).url.path == "/playground"
    script = httpx.get(server.url + "/playground/assets/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    cached = httpx.get(
        server.url + "/playground/assets/app.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert cached.status_code == 304
    # names are looked up in the asset table: nothing else on disk is reachable
    for name in ("..%2Fproxy.py", "%2e%2e%2f__init__.py", "index.html", "nope.js", "..\\proxy.py"):
        assert httpx.get(server.url + "/playground/assets/" + name).status_code == 404, name
