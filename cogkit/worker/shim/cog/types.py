"""`cog.types`: the value types, as Cog code imports them."""

from cogkit.sdk.input import Input as Input
from cogkit.sdk.types import *  # noqa: F403
from cogkit.sdk.types import (  # noqa: F401
    AsyncConcatenateIterator,
    BaseModel,
    ConcatenateIterator,
    File,
    Path,
    Secret,
    URLPath,
)
