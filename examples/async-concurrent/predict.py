"""An async predictor: while one prediction awaits I/O, others run in the same process."""

import asyncio

from cog import BasePredictor, Input, concurrent, current_scope


@concurrent(max=8)
class Predictor(BasePredictor):
    async def setup(self) -> None:
        self.lock = asyncio.Lock()
        self.served = 0
        self.active = 0

    async def predict(
        self,
        text: str = Input(description="Text to echo back", default="hello"),
        wait: float = Input(default=0.0, ge=0.0, le=10.0, description="Seconds of simulated I/O"),
    ) -> str:
        self.active += 1
        current_scope().record_metric("active_at_start", self.active)
        try:
            await asyncio.sleep(wait)
        finally:
            self.active -= 1
        async with self.lock:
            self.served += 1
        current_scope().record_metric("served_total", self.served)
        return text[::-1]
