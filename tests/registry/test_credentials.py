"""Docker config credentials: `auths`, `credsStore` and `credHelpers` through real helper programs."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from cogkit.errors import RegistryError
from cogkit.registry import Credentials, get_credentials, store_credentials
from cogkit.registry.credentials import config_path

HELPER = """#!{python}
import json, sys
from pathlib import Path
store = Path({store!r})
data = json.loads(store.read_text()) if store.exists() else {{}}
action = sys.argv[1]
if action == "store":
    entry = json.loads(sys.stdin.read())
    data[entry["ServerURL"]] = entry
    store.write_text(json.dumps(data))
elif action == "get":
    server = sys.stdin.read().strip()
    if server not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps(data[server]))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real `docker-credential-cogtest` on PATH that keeps its secrets in a JSON file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "helper-store.json"
    program = bindir / "docker-credential-cogtest"
    program.write_text(HELPER.format(python=os.path.realpath(sys.executable), store=str(store)))
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return store


def write_config(data: dict) -> None:
    config_path().write_text(json.dumps(data))


def test_no_config_means_anonymous(docker_config: Path) -> None:
    assert get_credentials("ghcr.io") is None


def test_auths_base64_any_key_form(docker_config: Path) -> None:
    token = base64.b64encode(b"bob:pw:with:colons").decode()
    write_config({"auths": {"https://ghcr.io/v1/": {"auth": token}}})
    assert get_credentials("ghcr.io") == Credentials("bob", "pw:with:colons")


def test_docker_hub_uses_the_v1_key(docker_config: Path) -> None:
    store_credentials("docker.io", Credentials("bob", "pw"))
    data = json.loads(config_path().read_text())
    assert list(data["auths"]) == ["https://index.docker.io/v1/"]
    assert get_credentials("docker.io") == Credentials("bob", "pw")


def test_store_keeps_other_settings_and_is_private(docker_config: Path) -> None:
    write_config({"auths": {"other.io": {"auth": "eDp5"}}, "psFormat": "table"})
    store_credentials("ghcr.io", Credentials("bob", "pw"))
    data = json.loads(config_path().read_text())
    assert data["psFormat"] == "table" and "other.io" in data["auths"]
    assert base64.b64decode(data["auths"]["ghcr.io"]["auth"]) == b"bob:pw"
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600


def test_creds_store_helper(docker_config: Path, helper: Path) -> None:
    write_config({"credsStore": "cogtest"})
    store_credentials("ghcr.io", Credentials("bob", "pw"))
    data = json.loads(config_path().read_text())
    assert data["auths"] == {"ghcr.io": {}}  # the secret lives only in the helper
    assert json.loads(helper.read_text())["ghcr.io"]["Secret"] == "pw"
    assert get_credentials("ghcr.io") == Credentials("bob", "pw")
    assert get_credentials("quay.io") is None


def test_cred_helpers_win_over_creds_store(docker_config: Path, helper: Path) -> None:
    helper.write_text(json.dumps({"r.io": {"ServerURL": "r.io", "Username": "<token>", "Secret": "refresh"}}))
    write_config({"credsStore": "missing-helper", "credHelpers": {"r.io": "cogtest"}})
    assert get_credentials("r.io") == Credentials(identity_token="refresh")


def test_missing_helper_is_a_clear_error(docker_config: Path) -> None:
    write_config({"credsStore": "not-installed-anywhere"})
    with pytest.raises(RegistryError, match=r"docker-credential-not-installed-anywhere .* not installed"):
        get_credentials("ghcr.io")


def test_broken_config_is_a_clear_error(docker_config: Path) -> None:
    config_path().write_text("{not json")
    with pytest.raises(RegistryError, match="cannot read the Docker config"):
        get_credentials("ghcr.io")


def test_repr_hides_the_password() -> None:
    assert "hunter2" not in repr(Credentials("bob", "hunter2"))


def test_an_unreadable_auths_entry_is_a_clear_error_without_the_secret(docker_config: Path) -> None:
    secret = base64.b64encode(b"no-colon-here-s3cret").decode()
    write_config({"auths": {"ghcr.io": {"auth": secret}}})
    with pytest.raises(RegistryError, match=r"`auths` entry for ghcr.io .* cannot be read") as caught:
        get_credentials("ghcr.io")
    assert "s3cret" not in str(caught.value) and caught.value.__cause__ is None
