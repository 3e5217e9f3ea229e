"""Train a toy "model": count the words of a text and save the counts as the weights."""

import json
from collections import Counter

from cog import Input, Path


def train(
    text: str = Input(description="training text"),
    top: int = Input(default=3, ge=1, description="how many words to keep"),
) -> Path:
    counts = Counter(text.lower().split()).most_common(top)
    out = Path("/tmp/weights.json")
    out.write_text(json.dumps(dict(counts)))
    return out
