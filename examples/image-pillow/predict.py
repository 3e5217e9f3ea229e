"""Apply a simple Pillow filter to an image and return the result as a PNG."""

import tempfile

from cog import BasePredictor, Input, Path
from PIL import Image, ImageFilter, ImageOps


class Predictor(BasePredictor):
    def predict(
        self,
        image: Path = Input(description="The image to transform"),
        operation: str = Input(default="grayscale", choices=["grayscale", "blur", "rotate", "invert"]),
        size: int = Input(default=256, ge=16, le=2048, description="Longest side of the output, in pixels"),
    ) -> Path:
        with Image.open(image) as source:
            picture = source.convert("RGB")
        picture.thumbnail((size, size))
        if operation == "grayscale":
            picture = ImageOps.grayscale(picture)
        elif operation == "blur":
            picture = picture.filter(ImageFilter.GaussianBlur(radius=2))
        elif operation == "rotate":
            picture = picture.rotate(90, expand=True)
        else:
            picture = ImageOps.invert(picture)
        out = Path(tempfile.mkdtemp()) / f"{operation}.png"
        picture.save(out)
        print(f"{operation}: {picture.size[0]}x{picture.size[1]}")
        return out
