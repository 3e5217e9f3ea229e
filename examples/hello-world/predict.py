from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, text: str = Input(description="Who to greet", default="world")) -> str:
        """Say hello."""
        return "hello " + text
