"""`cogkit playground URL`: a web form for any running Cog server (cogkit, coglet, older Cog)."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from cogkit.cli import render


@click.command(name="playground")
@click.argument("url")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("-p", "--port", type=int, default=8394, show_default=True, help="Port to listen on.")
def command(url: str, host: str, port: int) -> None:
    """Open a playground for the Cog server at URL, proxied so the browser needs no CORS."""
    from cogkit.playground import proxy

    def ready(page_url: str) -> None:
        line = f"playground for {proxy.Upstream.parse(url).display} at {page_url}; Ctrl-C stops"
        render.stdout.print(escape(line))  # an IPv6 host's [brackets] are not markup
        if sys.stdout.isatty():
            import webbrowser

            webbrowser.open(page_url)

    proxy.serve(url, host=host, port=port, on_ready=ready)
