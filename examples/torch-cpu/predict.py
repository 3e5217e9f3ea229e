"""A two-layer network that learns XOR on CPU in setup(): a real torch model, with no download."""

import torch
from cog import BasePredictor, Input

INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TARGETS = torch.tensor([[0.0], [1.0], [1.0], [0.0]])


class Predictor(BasePredictor):
    def setup(self) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1), torch.nn.Sigmoid()
        )
        optimizer = torch.optim.Adam(self.model.parameters(), lr=0.05)
        for _ in range(500):
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy(self.model(INPUTS), TARGETS)
            loss.backward()
            optimizer.step()
        self.model.eval()
        print(f"trained XOR, final loss {loss.item():.4f}")

    def predict(
        self,
        a: float = Input(description="First input, 0 to 1", ge=0.0, le=1.0),
        b: float = Input(description="Second input, 0 to 1", ge=0.0, le=1.0),
    ) -> float:
        with torch.no_grad():
            return round(float(self.model(torch.tensor([[a, b]]))[0, 0]), 4)
