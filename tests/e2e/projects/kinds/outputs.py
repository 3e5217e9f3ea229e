import time
from collections.abc import Iterator

from cog import BasePredictor, Path


class OneFile(BasePredictor):
    def predict(self, text: str) -> Path:
        out = Path("/tmp/answer.txt")
        out.write_text(text.upper())
        return out


class ManyFiles(BasePredictor):
    def predict(self, n: int = 2) -> list[Path]:
        paths = []
        for i in range(n):
            path = Path(f"/tmp/part-{i}.txt")
            path.write_text(f"part {i}")
            paths.append(path)
        return paths


class Stream(BasePredictor):
    def predict(self, n: int = 3) -> Iterator[str]:
        for i in range(n):
            yield f"chunk-{i}"
            time.sleep(0.05)


class Fails(BasePredictor):
    def predict(self, text: str = "x") -> str:
        print("about to fail")
        raise ValueError(f"cannot handle {text}")
