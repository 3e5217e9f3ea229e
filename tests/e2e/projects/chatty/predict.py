import json
import os
import sys
import time
from pathlib import Path

from cog import BasePredictor, Input

# Printed by setup(): the CLI must show it as it is, never as rich markup or emoji codes.
MARKUP = "[bold]weights[/bold] [/x] :smile:"


class Predictor(BasePredictor):
    def setup(self) -> None:
        print(f"setup: loading {MARKUP}", flush=True)
        print("setup: a line on stderr", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("SETUP_SECONDS", "0")))
        self.greeting = "hello"

    def predict(
        self,
        name: str = Input(default="world"),
        seconds: float = Input(default=0.0, ge=0),
        write_files: bool = Input(default=False),
    ) -> str:
        print(f"predict: working for {name}", flush=True)
        if write_files:  # what models do: outputs and caches in their own folder
            Path("output.png").write_bytes(b"\x89PNG\r\n\x1a\n")
            Path("result.json").write_text(json.dumps({"name": name}))
            Path("outputs").mkdir(exist_ok=True)
            (Path("outputs") / f"{time.time_ns()}.txt").write_text(name)
        time.sleep(seconds)
        return f"{self.greeting} {name}"
