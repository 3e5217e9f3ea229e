"""The server's shared outbound HTTP client, created on first use.

Importing httpx costs 70-100 ms, a sizeable share of the time to READY, yet only file inputs,
uploads and webhooks need it; most models never touch it. `LazyClient` stands in for an
`httpx.AsyncClient` and imports httpx when one of those first makes a request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


class LazyClient:
    """Looks like an `httpx.AsyncClient`; builds the real one when a method is first used."""

    def __init__(self, *, timeout: float = 60.0, connect: float = 10.0, max_connections: int = 100) -> None:
        self._settings = (timeout, connect, max_connections)
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
