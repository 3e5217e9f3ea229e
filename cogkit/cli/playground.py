"""`cogkit playground URL`: a web form for any running Cog server (cogkit, coglet, older Cog)."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from cogkit.cli import render
from cogkit.cli.options import PORT

EXAMPLES = """\b
Examples:
  cogkit playground http://127.0.0.1:5000          # any Cog server: cogkit, coglet, older Cog
  cogkit playground http://gpu-box:5000 -p 9000    # then open http://127.0.0.1:9000/playground
"""


@click.command(
    name="playground", short_help="Open a web playground for any running Cog server.", epilog=EXAMPLES
)
@click.argument("url")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("-p", "--port", type=PORT, default=8394, show_default=True, help="Port to listen on.")
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
