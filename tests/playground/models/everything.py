"""Every input type Cog has, for the form: each value comes back so the test can see what arrived."""

from typing import Optional

from cog import BasePredictor, Input, Path, Secret


class Predictor(BasePredictor):
    def predict(
        self,
        prompt: str = Input(description="What to write about", default="a lighthouse at dusk"),
        # (?i) is Python and Rust regex syntax, not JavaScript: the page leaves this check to the server.
        word: str = Input(description="One word, letters only", default="hello", regex=r"(?i)^[a-z]+$"),
        steps: int = Input(description="How many steps", default=4, ge=1, le=10),
        temperature: float = Input(description="Randomness", default=0.7, ge=0.0, le=2.0),
        loud: bool = Input(description="Shout the answer", default=False),
        style: str = Input(description="How it looks", default="plain", choices=["plain", "fancy", "noir"]),
        tags: list[str] = Input(description="Tags, one per line", default=None),
        attachment: Optional[Path] = Input(description="Any file", default=None),  # noqa: UP045 (as Cog users write it)
        api_key: Secret = Input(description="Sent to the model, never stored", default=None),
    ) -> dict:
        print(f"writing about {prompt!r} in {steps} steps")
        text = f"{style} {word}: {prompt}"
        return {
            "text": text.upper() if loud else text,
            "steps": steps,
            "temperature": temperature,
            "tags": tags,
            "attachment": None if attachment is None else Path(attachment).read_text(errors="replace"),
            "api_key_length": None if api_key is None else len(api_key.get_secret_value()),
        }
