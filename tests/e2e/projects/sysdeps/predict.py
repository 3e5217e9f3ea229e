import subprocess

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, query: str = ".a") -> str:
        out = subprocess.run(
            ["jq", "-r", query], input='{"a": "from-jq"}', capture_output=True, text=True, check=True
        )
        with open("/etc/cogkit-e2e-run.txt") as f:
            marker = f.read().strip()
        return f"{out.stdout.strip()} {marker}"
