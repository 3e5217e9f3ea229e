from cog import BasePredictor, Input, Path, Secret


class Predictor(BasePredictor):
    def predict(
        self,
        text: str = Input(description="a string"),
        count: int = Input(default=1, ge=0, le=10),
        ratio: float = Input(default=0.5),
        flag: bool = Input(default=False),
        color: str = Input(default="red", choices=["red", "green"]),
        tags: list[str] = Input(default=None, description="repeat -i tags=… to collect"),
        doc: Path = Input(default=None, description="a file"),
        token: Secret = Input(default=None),
    ) -> dict:
        return {
            "text": text,
            "count": count,
            "ratio": ratio,
            "flag": flag,
            "color": color,
            "tags": tags,
            "doc": None if doc is None else Path(doc).read_text(),
            "token_length": None if token is None else len(token.get_secret_value()),
        }
