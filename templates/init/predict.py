"""A working starting point. Try it: `cogkit predict -i prompt=hello -i repeat=2`.

Inputs are typed arguments of predict(); cogkit (like Cog) turns them into the HTTP schema.
"""

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def setup(self) -> None:
        """Load the model once, when the container starts: weights, tokenizers and the like."""
        self.greeting = "hello"

    def predict(
        self,
        prompt: str = Input(description="Who or what to greet", default="world"),
        repeat: int = Input(description="How many times to say it", default=1, ge=1, le=10),
        shout: bool = Input(description="Answer in capitals", default=False),
        document: Path = Input(description="An optional file; its size is reported", default=None),
    ) -> str:
        """Run one prediction."""
        answer = " ".join([f"{self.greeting} {prompt}"] * repeat)
        if document is not None:
            answer += f" ({document.stat().st_size} bytes received)"
        return answer.upper() if shout else answer
