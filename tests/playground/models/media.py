"""Sends back the files it is given: a list of images, audio and video comes out as a list of files."""

import shutil
import tempfile

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(self, media: list[Path] = Input(description="Files to send back")) -> list[Path]:
        folder = Path(tempfile.mkdtemp())
        echoed = []
        for i, source in enumerate(media):
            target = folder / f"echo-{i}{Path(source).suffix}"
            shutil.copy(source, target)
            echoed.append(target)
        return echoed
