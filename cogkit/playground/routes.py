"""The /playground routes: the page, its assets and its settings, for any Starlette app.

`GET /playground` is the page (`/playground/` redirects there, so its relative URLs resolve
against the API's root); `GET /playground/assets/NAME` serves one file by a name looked up in
the asset table; `GET /playground/settings.json` tells the page what it cannot see for itself.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cogkit.playground import PATH, assets

INDEX = "index.html"


def _asset_response(request: Request, asset: assets.Asset) -> Response:
    headers = {**assets.SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


async def page(request: Request) -> Response:
    return _asset_response(request, assets.load()[INDEX])


async def trailing_slash(request: Request) -> Response:
    return RedirectResponse("../playground", status_code=308)


async def asset(request: Request) -> Response:
    found = assets.load().get(request.path_params["name"])
    if found is None or request.path_params["name"] == INDEX:
        return Response(
            b"not found", status_code=404, media_type="text/plain", headers=assets.SECURITY_HEADERS
        )
    return _asset_response(request, found)


def routes(settings: dict[str, Any] | None = None) -> list[BaseRoute]:
    """The routes to add to an app; `settings` is served to the page (e.g. the proxy's upstream)."""
    body = json.dumps(settings or {}).encode()

    async def page_settings(request: Request) -> Response:
        return Response(body, media_type="application/json", headers=assets.SECURITY_HEADERS)

    return [
        Route(PATH, page, methods=["GET"]),
        Route(PATH + "/", trailing_slash, methods=["GET"]),
        Route(PATH + "/settings.json", page_settings, methods=["GET"]),
        Route(PATH + "/assets/{name}", asset, methods=["GET"]),
    ]
