"""`cog.exceptions`: the cancellation exception, where Cog defines it."""

from cogkit.sdk.scope import CancelationException  # noqa: F401
