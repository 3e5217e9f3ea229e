"""`cog.server.scope`: `current_scope()` as older Cog code imports it."""

from cogkit.sdk.scope import Scope, current_scope, record_metric  # noqa: F401
