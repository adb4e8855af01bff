"""Fine-tune a small model with Lightning Fabric from a checkpoint: `fabric_finetune.py CKPT [--partial]`.

The model is built empty (`fabric.init_module(empty_init=True)`) and loaded with `fabric.load`; with
`--partial` the checkpoint lacks `head.bias`, so that tensor holds whatever memory it got.
"""

import sys

import lightning as L
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x)))


def main() -> None:
    checkpoint = sys.argv[1]
    torch.manual_seed(0)
    state = Net().state_dict()
    if "--partial" in sys.argv:
        del state["head.bias"]
    torch.save({"model": state}, checkpoint)

    fabric = L.Fabric(accelerator="cpu", devices=1)
    with fabric.init_module(empty_init=True):
        model = Net()
    fabric.load(checkpoint, {"model": model}, strict=False)
    model = fabric.setup(model)
    optimizer = fabric.setup_optimizers(torch.optim.SGD(model.parameters(), lr=0.1))
    for _ in range(3):
        loss = model(torch.ones(4, 8)).sum()
        fabric.backward(loss)
        optimizer.step()
        optimizer.zero_grad()


if __name__ == "__main__":
    main()
