"""Reports the CUDA stack torch brought, and multiplies two matrices on the GPU when there is one."""

import torch
from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")

    def predict(self, size: int = Input(description="Matrix side", default=256, ge=1, le=4096)) -> str:
        a = torch.randn(size, size, device=self.device)
        product = a @ a.T  # cuBLAS on a GPU
        return f"{self.device}: trace {float(product.trace()):.1f} (CUDA {torch.version.cuda})"
