import asyncio
import os
import time
from pathlib import Path

from cog import BasePredictor, Input

# Survives a worker restart (same container), so a second setup() can tell it is the second.
SETUP_MARKER = Path("/tmp/cogkit-probe-setup-ran")


class Predictor(BasePredictor):
    def setup(self) -> None:
        if SETUP_MARKER.exists() and os.environ.get("FAIL_SECOND_SETUP") == "1":
            raise RuntimeError("setup cannot run a second time: the device state it needs is gone")
        SETUP_MARKER.write_text("ran")
        time.sleep(float(os.environ.get("SETUP_SECONDS", "0")))

    async def predict(
        self,
        seconds: float = Input(description="How long to work", default=0.0),
        crash: bool = Input(description="Kill the worker process", default=False),
    ) -> str:
        if crash:
            os._exit(17)
        await asyncio.sleep(seconds)
        return f"worked {seconds}s"
