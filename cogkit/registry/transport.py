"""One registry endpoint: scheme and TLS, a pooled httpx client with auth, retries, one error mapping.

Transient failures (a dropped connection, 408/429/5xx) are retried with exponential backoff and
jitter, honouring the registry's `Retry-After` (capped), by `stamina`.

TLS is the default. Plain HTTP is tried only for loopback registries or with `insecure=True`, and
only after HTTPS failed for a reason other than certificate verification (a certificate problem is
always reported, never silently downgraded). CA certificates in `/etc/docker/certs.d/HOST/` are
trusted like the Docker engine trusts them.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import certifi
import httpx
import stamina

from cogkit.errors import RegistryError
from cogkit.registry import replies
from cogkit.registry.auth import RegistryAuth, origin
from cogkit.registry.credentials import Credentials, get_credentials
from cogkit.registry.reference import is_loopback_host

RETRIES = 4
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 5.0
MAX_RETRY_AFTER_S = 30.0  # a registry asking for longer gets this; the push is not held hostage
DOCKER_CERTS_DIR = Path("/etc/docker/certs.d")
TIMEOUT = httpx.Timeout(30.0, read=300.0, write=300.0)


def ssl_context(registry: str, ca_cert: Path | None, *, verify: bool = True) -> ssl.SSLContext:
    """The system bundle, plus `--ca-cert`, plus the engine's per-registry CAs."""
    context = ssl.create_default_context(cafile=certifi.where())
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    extra = [ca_cert] if ca_cert else []
    engine_dir = DOCKER_CERTS_DIR / registry
    if engine_dir.is_dir():
        extra += sorted(engine_dir.glob("*.crt"))
    for path in extra:
        try:
            context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise RegistryError(
                f"cannot load the CA certificate {path}: {exc}", hint="pass a PEM file"
            ) from exc
    return context


class Transport:
    """HTTP to one registry for one repository scope; every method raises RegistryError, never httpx's."""

    def __init__(
        self,
        registry: str,
        endpoint: str,
        *,
        scopes: list[str],
        credentials: Credentials | None = None,
        use_config: bool = True,
        insecure: bool = False,
        ca_cert: Path | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`http_transport` replaces the network, for tests of registry answers that cannot be caused for real."""
        self.registry = registry
        self.endpoint = endpoint
        self.insecure = insecure
        self.plain_allowed = insecure or is_loopback_host(endpoint)
        if credentials is None and use_config:
            credentials = get_credentials(registry)
        self._context = ssl_context(endpoint, ca_cert, verify=not insecure)
        self.auth = RegistryAuth(
            registry,
            credentials,
            scopes=scopes,
            token_client=lambda: self._token_http,
            is_registry=self.is_registry,
            registry_host=httpx.URL(f"https://{endpoint}").host,
        )
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        self._token_http = httpx.Client(verify=self._context, timeout=TIMEOUT, transport=http_transport)
        self.http = httpx.Client(
            verify=self._context, timeout=TIMEOUT, limits=limits, auth=self.auth, transport=http_transport
        )
        self.base_url = f"https://{endpoint}"
        self.retries = 0  # requests sent again after a transient failure (for reports and tests)

    def close(self) -> None:
        self.http.close()
        self._token_http.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> httpx.Response:
        """`GET /v2/`: picks the scheme, learns the auth challenge and checks the credentials."""
        try:
            response = self.http.get(f"{self.base_url}/v2/")
        except httpx.ConnectError as exc:
            if _is_certificate_error(exc) or not self.plain_allowed:
                raise self._connect_error(exc) from exc
            self.base_url = f"http://{self.endpoint}"
            try:
                response = self.http.get(f"{self.base_url}/v2/")
            except httpx.HTTPError as exc2:
                raise self._connect_error(exc2) from exc2
        except httpx.HTTPError as exc:
            raise self._connect_error(exc) from exc
        if response.status_code != 200:
            raise self.error(response, "GET /v2/")
        return response

    def is_registry(self, url: httpx.URL) -> bool:
        """True for the registry's own origin: the only place its credentials may go."""
        return origin(url) == origin(httpx.URL(self.base_url))

    def url(self, path_or_url: str) -> str:
        """Locations from the registry may be absolute or relative to the endpoint."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}{path_or_url}"

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        ok: tuple[int, ...],
        what: str,
        retries: int = RETRIES,
        on_retry: Callable[[], None] | None = None,
        **kwargs: object,
    ) -> httpx.Response:
        """Send with retries on transient failures; a status outside `ok` becomes a RegistryError.

        Only GETs follow redirects (blob storage behind a CDN); a redirected request carries no
        credentials (httpx drops them across origins, and RegistryAuth never adds them).
        """
        try:
            for attempt in stamina.retry_context(
                on=_backoff,
                attempts=retries + 1,
                timeout=None,
                wait_initial=FIRST_BACKOFF_S,
                wait_max=MAX_BACKOFF_S,
            ):
                with attempt:
                    if attempt.num > 1:
                        self.retries += 1
                        if on_retry:
                            on_retry()
                    response = self.http.request(
                        method,
                        self.url(path_or_url),
                        follow_redirects=method == "GET",
                        **kwargs,  # type: ignore[arg-type]
                    )
                    if response.status_code in RETRY_STATUSES and response.status_code not in ok:
                        raise _TransientStatus(response)
        except _TransientStatus as exc:
            raise self.error(exc.response, what) from None
        except httpx.TransportError as exc:
            raise self._connect_error(exc) from exc
        if response.status_code not in ok:
            raise self.error(response, what)
        return response

    def error(self, response: httpx.Response, what: str) -> RegistryError:
        """The one mapping from a registry's answer to a line a user can act on."""
        status, message, host = response.status_code, replies.message(response), self.registry
        codes = replies.codes(response)
        lowered = f"{message} {' '.join(codes)}".lower()
        if not self.is_registry(response.url):
            return RegistryError(
                f"{response.url.host}:{origin(response.url)[1]}, where {host} sent {what}, answered "
                f"{status} {response.reason_phrase}: {message}",
                hint=f"{host} points at another host, which gets no credentials; ask the registry's admin",
            )
        if status == 401:
            return RegistryError(
                f"unauthorized: {host} refused {what}: {message}", hint=f"run `cogkit login {host}` first"
            )
        if status == 507 or "quota" in lowered:
            return RegistryError(f"quota exceeded on {host}: {message}", hint="free space or raise the quota")
        if status == 413 or "too large" in lowered or "size_invalid" in lowered:
            return RegistryError(
                f"layer too large for {host}: {message}",
                hint="split large files into several layers, or ask the registry admin to raise the limit",
            )
        if status == 404 and "NAME_UNKNOWN" in codes:
            return RegistryError(
                f"repository not found on {host}: {message}", hint="create the repository, or check its name"
            )
        if status == 403 or "DENIED" in codes:
            return RegistryError(
                f"denied: {host} refused {what}: {message}", hint="check that your account may push there"
            )
        return RegistryError(f"{host} answered {status} {response.reason_phrase} to {what}: {message}")

    def _connect_error(self, exc: Exception) -> RegistryError:
        if _is_certificate_error(exc):
            return RegistryError(
                f"TLS failure talking to {self.endpoint}: {_ssl_reason(exc)}",
                hint="pass --ca-cert CA.pem for a private CA (or --insecure to skip verification)",
            )
        return RegistryError(
            f"cannot reach the registry at {self.endpoint}: {exc or type(exc).__name__}",
            hint="check the address and your network; plain HTTP needs --insecure unless it is loopback",
        )


class _TransientStatus(Exception):
    """A retryable answer (408, 429, 5xx), raised so that stamina can retry it."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} {response.reason_phrase}")
        self.response = response


def _backoff(exc: Exception) -> bool | float:
    """stamina's hook: retry transient answers and dropped connections, never certificate errors."""
    if isinstance(exc, _TransientStatus):
        asked = replies.retry_after(exc.response)
        return True if asked is None else min(asked, MAX_RETRY_AFTER_S)
    return isinstance(exc, httpx.TransportError) and not _is_certificate_error(exc)


def _is_certificate_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _ssl_reason(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen)
        seen = seen.__cause__ or seen.__context__
    return str(exc)
