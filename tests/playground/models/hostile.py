"""A model that tries to run script in the playground through everything it controls (see payloads.py)."""

import tempfile

from cog import BasePredictor, Input, Path
from payloads import HTML, PAYLOAD, SVG


class Predictor(BasePredictor):
    def predict(
        self,
        text: str = Input(description=PAYLOAD, default=PAYLOAD),
        mood: str = Input(description=PAYLOAD, default=PAYLOAD, choices=[PAYLOAD, "calm"]),
        fail: bool = Input(description="Fail with the payload as the error", default=False),
    ) -> dict:
        print(PAYLOAD)
        print("javascript:alert(9)")
        if fail:
            raise ValueError(PAYLOAD)
        folder = Path(tempfile.mkdtemp())
        svg, html = folder / "hostile.svg", folder / "hostile.html"
        svg.write_text(SVG)
        html.write_text(HTML)
        return {"text": text, "link": "javascript:alert(10)", "svg": svg, "page": html}
