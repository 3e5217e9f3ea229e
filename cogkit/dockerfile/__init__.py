"""BuildPlan → Dockerfile text, with Jinja2 templates from `templates/`."""

from cogkit.dockerfile.render import render

__all__ = ["render"]
