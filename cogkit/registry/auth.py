"""Registry authentication: follow `WWW-Authenticate` to anonymous, Basic or Bearer access.

One `RegistryAuth` serves every request of a push, from many threads. Bearer tokens are fetched
from the challenge's realm for the push's scopes, renewed shortly before they expire, and renewed
again on a 401 (a token that expired or was revoked mid-push): the request is replayed once, so a
long upload never has to restart.

Credentials stay with their registry, as in Docker: `Authorization` goes only to the registry's
own origin (never to an upload `Location` or a redirect elsewhere), a challenge is adopted only
from the registry itself (a blob store that answers 401 with its own realm gets nothing), and
Basic credentials never travel over plain HTTP to a host other than the registry's.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx

from cogkit.errors import RegistryError
from cogkit.registry import replies
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


def basic_header(credentials: Credentials) -> str:
    """RFC 7617: `Basic base64(user:password)`."""
    pair = f"{credentials.username}:{credentials.password}".encode()
    return f"Basic {base64.b64encode(pair).decode('ascii')}"


def origin(url: httpx.URL) -> tuple[str, int]:
    """Host and effective port: what Docker compares to decide whose credentials a URL may carry."""
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.host.lower(), port


class RegistryAuth(httpx.Auth):
    """An httpx auth flow for one registry and one set of scopes (e.g. pull,push on the target).

    `is_registry(url)` says whether a URL is the registry's own origin; only those requests are
    authorized, and only their 401s can change how we authenticate.
    """

    requires_request_body = True  # a 401 replays the request, so its body must be replayable

    def __init__(
        self,
        registry: str,
        credentials: Credentials | None,
        *,
        scopes: list[str],
        token_client: Callable[[], httpx.Client],
        is_registry: Callable[[httpx.URL], bool],
        registry_host: str,
    ) -> None:
        self.registry = registry
        self.credentials = credentials
        self.scopes = list(scopes)
        self._token_client = token_client
        self._is_registry = is_registry
        self._registry_host = registry_host.lower()
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self.token_fetches = 0

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._is_registry(request.url):
            yield request  # a foreign upload location: it gets no credentials and teaches us nothing
            return
        used = self._authorize(request)
        response = yield request
        if response.status_code != 401 or not self._is_registry(response.url):
            return  # a redirect's target answering 401 is not the registry asking for credentials
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
        return basic_header(self.credentials)

    def _token_header(self) -> str | None:
        return f"Bearer {self._token}" if self._token else None

    def _check_realm(self, realm: str) -> None:
        """Credentials cross plain HTTP only to the registry's own host."""
        url = httpx.URL(realm)
        host = url.host.lower()
        if url.scheme == "https" or host == self._registry_host:
            return
        raise RegistryError(
            f"{self.registry} asks for your credentials to be sent over plain HTTP to {host}; refusing",
            hint="the token service must use https; check the registry's auth settings",
        )

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
        headers: dict[str, str] = {}
        client = self._token_client()
        try:
            if creds and creds.identity_token:
                self._check_realm(realm)
                form = dict(query[:1]) | {
                    "grant_type": "refresh_token",
                    "refresh_token": creds.identity_token,
                }
                form |= {"client_id": "cogkit", "scope": " ".join(self.scopes)}
                response = client.post(realm, data=form)
            else:
                if creds and creds.username:
                    self._check_realm(realm)
                    query.append(("account", creds.username))
                    headers["Authorization"] = basic_header(creds)
                response = client.get(realm, params=query, headers=headers)
        except httpx.HTTPError as exc:
            raise RegistryError(f"cannot get a token for {self.registry} from {realm}: {exc}") from exc
        self.token_fetches += 1
        if response.status_code in (401, 403):
            raise RegistryError(
                f"unauthorized: {self.registry} rejected the credentials ({replies.message(response)})",
                hint=f"check the username and password, then run `cogkit login {self.registry}`",
            )
        if response.status_code != 200:
            raise RegistryError(
                f"the token service {realm} answered {response.status_code}: {replies.message(response)}"
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not token:
            raise RegistryError(f"the token service {realm} returned no token")
        self._token = str(token)
        try:
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME_S)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME_S
        self._expires_at = time.monotonic() + lifetime
