"""Works for a long time, printing as it goes: for live logs and cancel."""

import time

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self, seconds: float = Input(description="How long to work", default=60.0, ge=0, le=600)
    ) -> str:
        for step in range(int(seconds * 10)):
            if step % 5 == 0:
                print(f"working: step {step // 5}", flush=True)
            time.sleep(0.1)
        return "finished"
