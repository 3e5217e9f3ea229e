from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, x: str) -> str:
        return undefined_name_in_module_scope  # noqa: F821


raise RuntimeError("this predictor fails when it is imported")
