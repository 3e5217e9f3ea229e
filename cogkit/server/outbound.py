"""The server's outbound HTTP: one client per job, and the guard against calling itself.

Webhooks, input downloads and output uploads each get their own connection pool, so a
receiver that never answers cannot take the connections a download needs, and the other
way round. Each client is created on first use: importing httpx costs 70-100 ms, a sizeable
share of the time to READY, and most models never need it.

A prediction names URLs the server then fetches or posts to, so a client could aim them at
the server's own control endpoints (`POST /shutdown`). Every outbound request carries a
random per-process marker header, and the server refuses any request that carries its own
marker (see `connections.py`): that holds through redirects, DNS names, `0.0.0.0` and every
other spelling of "this host". URLs that plainly name the listen address are refused up
front, with a clearer error.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

LOOP_HEADER = "x-cogkit-loop"


class LazyClient:
    """Looks like an `httpx.AsyncClient`; builds the real one when a method is first used."""

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        connect: float = 10.0,
        max_connections: int | None = 100,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._settings = (timeout, connect, max_connections)
        self._headers = dict(headers or {})
        self._client: httpx.AsyncClient | None = None

    @property
    def started(self) -> bool:
        return self._client is not None

    def get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            timeout, connect, max_connections = self._settings
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout, connect=connect),
                limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
                headers=self._headers,
            )
        return self._client

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this class lacks: `post`, `put`, `stream`, ... of the real client.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.get_client(), name)

    async def aclose(self) -> None:
        """Close the real client if one was ever made; never imports httpx just to close it."""
        if self._client is not None:
            await self._client.aclose()


class Outbound:
    """The three pools, the loop marker they all send, and the listen address they must avoid."""

    def __init__(self, *, host: str, port: int) -> None:
        self.marker = secrets.token_hex(16)
        self.marker_header = (LOOP_HEADER.encode(), self.marker.encode())
        headers = {LOOP_HEADER: self.marker, "User-Agent": "cogkit"}
        # Webhook deliveries bound themselves (per host and in all, see webhooks.py); downloads
        # are bounded by the prediction slots and a per-prediction concurrency.
        self.webhooks = LazyClient(timeout=10.0, connect=5.0, max_connections=None, headers=headers)
        self.downloads = LazyClient(timeout=60.0, connect=10.0, max_connections=None, headers=headers)
        self.uploads = LazyClient(timeout=120.0, connect=10.0, max_connections=100, headers=headers)
        self._port = port
        self._own_hosts = _own_hosts(host)

    def aims_at_self(self, url: str) -> bool:
        """True when `url` plainly names this server (any loopback or local address, our port)."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        if port != self._port:
            return False
        host = (parts.hostname or "").lower().rstrip(".")
        if host in self._own_hosts:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        mapped = getattr(address, "ipv4_mapped", None)
        address = mapped or address
        return address.is_loopback or address.is_unspecified or str(address) in self._own_hosts

    async def aclose(self) -> None:
        for client in (self.webhooks, self.downloads, self.uploads):
            await client.aclose()


def _own_hosts(listen_host: str) -> frozenset[str]:
    names = {"localhost", "localhost.localdomain", listen_host.lower().strip("[]")}
    with contextlib.suppress(OSError):
        names.add(socket.gethostname().lower())
    return frozenset(names)
