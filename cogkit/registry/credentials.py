"""Credentials from (and into) the Docker config, exactly where `docker login` keeps them.

Reading follows docker-py's own resolution (`docker.auth`): `credHelpers[registry]`, then
`credsStore`, then the `auths` entry, with its key forms and base64 decoding. The helper program
(`docker-credential-NAME`, JSON on stdin/stdout) is run here rather than through docker-py, whose
call has no time limit: a helper that hangs must not hang a push. Writing is ours alone, since
docker-py has no writer. Secrets never reach a log line or an exception message.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.auth
import docker.errors

from cogkit.errors import RegistryError
from cogkit.registry.reference import DOCKER_HUB, DOCKER_HUB_CONFIG_KEY

HELPER_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Credentials:
    """A username and secret; `identity_token` is an OAuth2 refresh token (`docker login` with SSO)."""

    username: str = ""
    password: str = ""
    identity_token: str = ""

    def __repr__(self) -> str:  # never print secrets, even in a debug traceback
        return f"Credentials(username={self.username!r}, password=***)"


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def config_path() -> Path:
    return config_dir() / "config.json"


def config_key(registry: str) -> str:
    """The key `docker login` uses in `auths` (Docker Hub keeps its historical v1 URL)."""
    return DOCKER_HUB_CONFIG_KEY if registry == DOCKER_HUB else registry


def load_config() -> dict[str, Any]:
    path = config_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(
            f"cannot read the Docker config {path}: {exc}", hint="fix or remove the file, then retry"
        ) from exc
    if not isinstance(data, dict):
        raise RegistryError(f"the Docker config {path} is not a JSON object", hint="fix or remove the file")
    return data


def _helper_for(config: dict[str, Any], registry: str) -> str | None:
    """The helper docker-py would ask: `credHelpers[registry]`, else `credsStore`."""
    store = docker.auth.AuthConfig(config).get_credential_store(config_key(registry))
    return str(store) if store else None


def get_credentials(registry: str) -> Credentials | None:
    """What the Docker config holds for `registry`, or None for anonymous access."""
    config = load_config()
    helper = _helper_for(config, registry)
    if helper:
        found = _helper_get(helper, config_key(registry))
        if found is not None:
            return found
    try:
        auths = docker.auth.load_config(config_dict={"auths": config.get("auths") or {}})
        entry = auths.resolve_authconfig(registry) or {}
    except (ValueError, docker.errors.InvalidConfigFile) as exc:  # bad base64, no ':', not UTF-8
        raise RegistryError(
            f"the `auths` entry for {registry} in {config_path()} cannot be read ({type(exc).__name__})",
            hint=f"run `cogkit login {registry}` again",
        ) from None
    if entry.get("IdentityToken"):
        return Credentials(identity_token=str(entry["IdentityToken"]))
    if entry.get("username"):
        return Credentials(username=str(entry["username"]), password=str(entry.get("password") or ""))
    return None


def store_credentials(registry: str, credentials: Credentials) -> Path:
    """Save as `docker login` would: in the helper when one is configured, else base64 in `auths`."""
    config = load_config()
    key = config_key(registry)
    helper = _helper_for(config, registry)
    auths = config.setdefault("auths", {})
    if helper:
        payload = {"ServerURL": key, "Username": credentials.username, "Secret": credentials.password}
        _run_helper(helper, "store", json.dumps(payload))
        auths[key] = {}
    else:
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
        auths[key] = {"auth": token}
    _write_config(config)
    return config_path()


def _write_config(config: dict[str, Any]) -> None:
    """Atomic replace with mode 0600, so a crash never leaves half a config and others cannot read it."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.json.")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(config, handle, indent="\t")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _helper_get(helper: str, server: str) -> Credentials | None:
    out = _run_helper(helper, "get", server, missing_ok=True)
    if out is None:
        return None
    try:
        data = json.loads(out)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"docker-credential-{helper} returned something that is not JSON") from exc
    user, secret = str(data.get("Username", "")), str(data.get("Secret", ""))
    if user == "<token>":
        return Credentials(identity_token=secret)
    return Credentials(username=user, password=secret)


def _run_helper(helper: str, action: str, stdin: str, *, missing_ok: bool = False) -> str | None:
    program = f"docker-credential-{helper}"
    try:
        done = subprocess.run(
            [program, action], input=stdin, capture_output=True, text=True, timeout=HELPER_TIMEOUT_S
        )
    except FileNotFoundError as exc:
        raise RegistryError(
            f"the credential helper {program} named in {config_path()} is not installed",
            hint=f"install {program} or remove it from the Docker config",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise RegistryError(
            f"the credential helper {program} did not answer in {HELPER_TIMEOUT_S:.0f}s"
        ) from exc
    if done.returncode != 0:
        message = (done.stdout or done.stderr).strip()
        if missing_ok and "credentials not found" in message.lower():
            return None
        raise RegistryError(f"{program} {action} failed: {message or f'exit {done.returncode}'}")
    return done.stdout
