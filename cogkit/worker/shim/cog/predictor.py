"""`cog.predictor`: the predictor base classes, as Cog code imports them."""

from cogkit.sdk.predictor import BasePredictor, BaseRunner, concurrent, streaming  # noqa: F401
