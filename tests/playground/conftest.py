"""The playground in a real browser: Debian's chromium driven by Playwright, against real servers.

No browser is downloaded: Playwright launches `/usr/bin/chromium` (installed by `.ci/run`). Under
CI=true a missing browser, Playwright or coglet venv fails the test; locally it skips.

Each test gets a fresh browser context (so an empty localStorage) whose page fails the test if
anything opens a dialog, throws, or violates the Content-Security-Policy. Screenshots of each
state go to `test-artifacts/playground/` (or $COGKIT_TEST_ARTIFACTS) for a person to look at.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, unavailable
from tests.lifetime import popen

MODELS = Path(__file__).parent / "models"
EXAMPLES = REPO / "examples"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 90.0
UI_TIMEOUT_MS = 30_000
ARTIFACTS = Path(os.environ.get("COGKIT_TEST_ARTIFACTS") or REPO / "test-artifacts" / "playground")

# Records CSP violations (the page must cause none) and the type of every blob URL it makes.
WATCH_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
window.__blobTypes = {};
const createObjectURL = URL.createObjectURL;
URL.createObjectURL = (blob) => {
  const url = createObjectURL(blob);
  window.__blobTypes[url] = blob.type;
  return url;
};
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Process:
    """A server subprocess on a free loopback port, its output in a log file, stopped by pid."""

    def __init__(self, args: list[str], *, cwd: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log
        self._log = log.open("wb")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("COG_", "COGKIT_"))}
        self.proc = popen(
            args,
            cwd=cwd,
            env={**base, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_http(self, url: str, *, ready: Any = None, timeout: float = START_TIMEOUT_S) -> None:
        """Poll `url` until it answers 200 (and `ready(json)` holds), bounded."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}:\n{self.log[-4000:]}")
            try:
                response = httpx.get(url, timeout=5)
                last = response.status_code
                if response.status_code == 200 and (ready is None or ready(response.json())):
                    return
            except (httpx.TransportError, ValueError) as e:
                last = e
            time.sleep(0.1)
        raise AssertionError(f"{url} not ready within {timeout}s (last: {last}):\n{self.log[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


class CogkitServer(Process):
    """`python -m cogkit.server` for one predictor (and optional trainer)."""

    def __init__(
        self, log_dir: Path, *, cwd: Path, predictor: str | None, train: str | None = None, **kw: Any
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "cogkit.server", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--cwd", str(cwd)] + (["--predictor", predictor] if predictor else [])
        args += (["--train", train] if train else []) + list(kw.pop("args", ()))
        super().__init__(args, cwd=cwd, log=log_dir / f"cogkit-{self.port}.log", **kw)
        self.wait_http(self.url + "/health-check", ready=lambda body: body.get("status") == "READY")


class PlaygroundProxy(Process):
    """`cogkit playground URL` (the real CLI), serving the page for another server."""

    def __init__(
        self, log_dir: Path, upstream: str, *, host: str = "127.0.0.1", port: int | None = None
    ) -> None:
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        args = [
            sys.executable,
            "-m",
            "cogkit",
            "playground",
            upstream,
            "--host",
            host,
            "--port",
            str(self.port),
        ]
        super().__init__(args, cwd=REPO, log=log_dir / f"proxy-{self.port}.log")
        self.wait_http(self.url + "/playground")
        deadline = time.monotonic() + START_TIMEOUT_S
        while "playground for" not in self.log and time.monotonic() < deadline:  # printed once listening
            time.sleep(0.05)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """`servers(name, cwd=..., predictor=...)`: one shared READY cogkit server per name."""
    started: dict[str, CogkitServer] = {}
    log_dir = tmp_path_factory.mktemp("playground-logs")

    def get(name: str, **kw: Any) -> CogkitServer:
        if name not in started:
            started[name] = CogkitServer(log_dir, **kw)
        return started[name]

    yield get
    for server in started.values():
        server.stop()


@pytest.fixture
def model(servers: Any) -> Any:
    """The shared servers of the example models and of tests/playground/models."""
    known = {
        "hello": {"cwd": EXAMPLES / "hello-world", "predictor": None},
        "image": {"cwd": EXAMPLES / "image-pillow", "predictor": None},
        "streaming": {"cwd": EXAMPLES / "streaming", "predictor": None},
        "train": {"cwd": EXAMPLES / "train", "predictor": None},
        "everything": {"cwd": MODELS, "predictor": "everything.py:Predictor"},
        "slow": {"cwd": MODELS, "predictor": "slow.py:Predictor"},
        "hostile": {"cwd": MODELS, "predictor": "hostile.py:Predictor"},
        "media": {"cwd": MODELS, "predictor": "media.py:Predictor"},
    }
    return lambda name: servers(name, **known[name])


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Playwright's sync API keeps an asyncio loop running in this thread while it is open: stop it
    when the playground tests end, or every later test that calls asyncio.run() would fail."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("playwright is not installed: make install")
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Error as e:
            unavailable(f"cannot start {CHROMIUM}: {e}")
        yield chromium
        chromium.close()


class PageProblems:
    """What the page did that it must never do: dialogs, uncaught errors, CSP violations."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    scheme = getattr(request, "param", "light")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.add_init_script(WATCH_SCRIPT)
    tab = context.new_page()
    problems = PageProblems()
    tab.problems = problems

    def on_dialog(dialog: Any) -> None:
        problems.dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.on("pageerror", lambda error: problems.errors.append(str(error)))
    yield tab
    try:
        violations = tab.evaluate("window.__cspViolations || []")
    except Exception:  # the page is already gone: nothing more to read
        violations = []
    context.close()
    assert not problems.dialogs, f"a dialog opened: {problems.dialogs}"
    assert not problems.errors, f"the page threw: {problems.errors}"
    assert not violations, f"Content-Security-Policy violations: {violations}"


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact, for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def open_playground(page: Any, base_url: str) -> None:
    """Load the page and wait until the form is built from the schema."""
    page.goto(base_url + "/playground")
    page.locator("#run:not([disabled])").wait_for()


def run_and_wait(page: Any) -> str:
    """Press Run and wait for the run to finish; returns the status line."""
    page.get_by_role("button", name="Run", exact=True).click()
    page.locator("#cancel[disabled]").wait_for(state="attached")
    page.wait_for_function("() => !document.querySelector('#results').hasAttribute('aria-busy')")
    return page.locator("#status").inner_text()


# --------------------------------------------------------------------------- Cog's own servers

COG_VERSION = "0.23.1"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cogkit" / "test-venvs"


@pytest.fixture(scope="session")
def coglet_python() -> Path:
    """A venv with `cog==0.23.1` (coglet), created with uv under the user's cache dir once."""
    venv = cache_dir() / f"cog-{COG_VERSION}"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('cog'))"]
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        if (
            python.exists()
            and subprocess.run(probe, capture_output=True, text=True, timeout=60).stdout.strip()
            == COG_VERSION
        ):
            return python
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        unavailable("uv is not installed: make install")
    venv.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [uv, "venv", "-q", "--python", sys.executable, str(venv)],
            check=True,
            timeout=300,
            capture_output=True,
        )
        subprocess.run([uv, "pip", "install", "-q", "--python", str(python), f"cog=={COG_VERSION}"],
                       check=True, timeout=600, capture_output=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        unavailable(f"cannot install cog=={COG_VERSION} from PyPI: {getattr(e, 'stderr', e)!r}"[:2000])
    return python


def write_cog_schema(project: Path, predictor: str, *, streaming: bool = False) -> None:
    """Write `.cog/openapi_schema.json` as `cog build` would: coglet serves the schema it finds there."""
    shim = REPO / "cogkit" / "worker" / "shim"
    script = (
        "import json, sys; from cogkit.sdk.schema import openapi_schema;"
        f"doc = openapi_schema({predictor!r}, cwd='.');"
        f"doc['paths']['/predictions']['post']['x-cog-streaming'] = {streaming!r};"
        "print(json.dumps(doc))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": f"{shim}{os.pathsep}{REPO}"},
    )
    assert out.returncode == 0, out.stderr
    (project / ".cog").mkdir(exist_ok=True)
    (project / ".cog" / "openapi_schema.json").write_text(out.stdout)


class CogletServer(Process):
    """`python -m cog.server.http` from cog 0.23.1, as bench/server.py starts it."""

    def __init__(self, python: Path, project: Path, predictor: str, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PORT": str(self.port),
            "COG_LOG_LEVEL": "warning",
            "COG_PREDICT_TYPE_STUB": predictor,
        }
        args = [str(python), "-m", "cog.server.http", "--host", "127.0.0.1"]
        super().__init__(args, cwd=project, log=log_dir / f"coglet-{self.port}.log", env=env)
        self.wait_http(self.url + "/health-check", ready=lambda body: body.get("status") == "READY")
