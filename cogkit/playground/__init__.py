"""The playground: a web form for any Cog model, generated from its /openapi.json.

static/     the page: plain HTML, CSS and ES modules, no build step, no CDN (see `assets.BUDGET_GZIP_BYTES`)
assets.py   the shipped files, and the headers every page response carries (a strict CSP, nosniff)
routes.py   the /playground routes, mounted by cogkit's server and by the proxy
proxy.py    `cogkit playground URL`: the same page, forwarding Cog's routes to one fixed server

The page talks to the API of the origin it was loaded from, with relative URLs, so the same files
work inside a cogkit server, behind the proxy, and under a reverse proxy's path prefix.
"""

from __future__ import annotations

PATH = "/playground"

__all__ = ["PATH"]
