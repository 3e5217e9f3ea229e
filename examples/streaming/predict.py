"""Stream words one at a time, like a language model streams tokens."""

import time

from cog import BasePredictor, ConcatenateIterator, Input


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.vocabulary = "the quick brown fox jumps over the lazy dog".split()

    def predict(
        self,
        prompt: str = Input(description="Text to continue", default="Once upon a time"),
        max_tokens: int = Input(default=8, ge=1, le=256),
        delay: float = Input(default=0.0, ge=0.0, le=1.0, description="Seconds between tokens"),
    ) -> ConcatenateIterator[str]:
        yield prompt
        for i in range(max_tokens):
            time.sleep(delay)
            yield " " + self.vocabulary[(len(prompt) + i) % len(self.vocabulary)]
