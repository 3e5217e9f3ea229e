"""`cog.input`: `Input` and its `FieldInfo`, as Cog code imports them."""

from cogkit.sdk.input import FieldInfo, Input  # noqa: F401
