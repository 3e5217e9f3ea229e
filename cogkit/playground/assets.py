"""The playground's files, read once from the package, and the headers they are served with.

Everything the page runs is in `static/`: the Content-Security-Policy allows scripts, styles and
fetches from this origin only, and no inline code of any kind, so nothing a model or a client
supplies (descriptions, outputs, logs, file names) can become code even if a bug put it in markup.
Output files are shown from `blob:`/`data:` URLs, hence `img-src`/`media-src` allow those two.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

# The whole page, compressed, stays under this: plain HTML, CSS and JS need no more (it is a test).
BUDGET_GZIP_BYTES = 40 * 1024

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob: data:",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)

# Sent with the page and every asset.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str

    @property
    def gzip_size(self) -> int:
        return len(gzip.compress(self.body, compresslevel=9, mtime=0))


@functools.cache
def load() -> dict[str, Asset]:
    """File name → asset, for every file in `static/` (names only: no client path reaches the disk)."""
    files: dict[str, Asset] = {}
    for entry in resources.files("cogkit.playground").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if not entry.is_file() or suffix not in CONTENT_TYPES:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        files[entry.name] = Asset(body, CONTENT_TYPES[suffix], etag)
    return files
