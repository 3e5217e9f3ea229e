"""Use the trained word counts: say how often the model saw a word."""

import json
import os
from typing import Optional

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self, weights: Optional[str] = None) -> None:
        source = weights or os.environ.get("COG_WEIGHTS")
        self.counts = {}
        if source and os.path.exists(source):
            with open(source) as f:
                self.counts = json.load(f)

    def predict(self, word: str = Input(description="a word")) -> int:
        return int(self.counts.get(word.lower(), 0))
