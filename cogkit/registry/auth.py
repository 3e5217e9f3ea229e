"""Registry authentication: follow `WWW-Authenticate` to anonymous, Basic or Bearer access.

One `RegistryAuth` serves every request of a push, from many threads. Bearer tokens are fetched
from the challenge's realm for the push's scopes, renewed shortly before they expire, and renewed
again on a 401 (a token that expired or was revoked mid-push): the request is replayed once, so a
long upload never has to restart.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx

from cogkit.errors import RegistryError
from cogkit.registry.credentials import Credentials

# Renew when less than this much of a token's life is left, so a request never starts on a dying token.
RENEW_MARGIN_S = 5.0
DEFAULT_TOKEN_LIFETIME_S = 60.0
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str]


def parse_challenge(header: str | None) -> Challenge | None:
    """`Bearer realm="https://auth/token",service="registry",scope="..."` → Challenge."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(rest)
    }
    return Challenge(scheme=scheme.lower(), params=params)


class RegistryAuth(httpx.Auth):
    """An httpx auth flow for one registry and one set of scopes (e.g. pull,push on the target)."""

    requires_request_body = True  # a 401 replays the request, so its body must be replayable

    def __init__(
        self,
        registry: str,
        credentials: Credentials | None,
        *,
        scopes: list[str],
        token_client: Callable[[], httpx.Client],
    ) -> None:
        self.registry = registry
        self.credentials = credentials
        self.scopes = list(scopes)
        self._token_client = token_client
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self.token_fetches = 0

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        used = self._authorize(request)
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("www-authenticate"))
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            return
        if challenge.scheme == "basic" and (self.credentials is None or used == self._basic_header()):
            return  # the same credentials again would only fail again
        with self._lock:
            self._challenge = challenge
            if challenge.scheme == "bearer" and self._token_header() == used:
                self._fetch_token()  # nobody else renewed it meanwhile
        self._authorize(request)
        yield request

    def _authorize(self, request: httpx.Request) -> str | None:
        with self._lock:
            if self._challenge is None:
                return None
            if self._challenge.scheme == "basic":
                header = self._basic_header()
            else:
                if self._token is None or time.monotonic() > self._expires_at - RENEW_MARGIN_S:
                    self._fetch_token()
                header = self._token_header()
        if header:
            request.headers["Authorization"] = header
        return header

    def _basic_header(self) -> str | None:
        if self.credentials is None or not self.credentials.username:
            return None
        return httpx.BasicAuth(self.credentials.username, self.credentials.password)._auth_header

    def _token_header(self) -> str | None:
        return f"Bearer {self._token}" if self._token else None

    def _fetch_token(self) -> None:
        """Ask the challenge's realm for a token (caller holds the lock)."""
        assert self._challenge is not None
        params = self._challenge.params
        realm = params.get("realm")
        if not realm:
            raise RegistryError(f"{self.registry} asked for a Bearer token but named no realm to get it from")
        query: list[tuple[str, str]] = [("service", params["service"])] if "service" in params else []
        query += [("scope", scope) for scope in self.scopes]
        creds = self.credentials
        client = self._token_client()
        try:
            if creds and creds.identity_token:
                form = dict(query[:1]) | {
                    "grant_type": "refresh_token",
                    "refresh_token": creds.identity_token,
                }
                form |= {"client_id": "cogkit", "scope": " ".join(self.scopes)}
                response = client.post(realm, data=form)
            else:
                basic = httpx.BasicAuth(creds.username, creds.password) if creds and creds.username else None
                if creds and creds.username:
                    query.append(("account", creds.username))
                response = client.get(realm, params=query, auth=basic)
        except httpx.HTTPError as exc:
            raise RegistryError(f"cannot get a token for {self.registry} from {realm}: {exc}") from exc
        self.token_fetches += 1
        if response.status_code in (401, 403):
            raise RegistryError(
                f"unauthorized: {self.registry} rejected the credentials ({_message(response)})",
                hint=f"check the username and password, then run `cogkit login {self.registry}`",
            )
        if response.status_code != 200:
            raise RegistryError(
                f"the token service {realm} answered {response.status_code}: {_message(response)}"
            )
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"the token service {realm} returned no token")
        self._token = str(token)
        lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME_S)
        self._expires_at = time.monotonic() + lifetime


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return "; ".join(str(e.get("message") or e.get("code")) for e in errors)
    return (
        str(body.get("details") or body.get("error") or body)[:200] if isinstance(body, dict) else str(body)
    )
