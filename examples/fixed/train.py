"""Fine-tune TinyGPT with Fabric: set up the model, then create and set up the optimizer."""

import torch
import lightning as L

from tinygpt.model import TinyGPT


def main() -> None:
    fabric = L.Fabric(accelerator="cpu", devices=1)
    with fabric.init_module(empty_init=True):
        model = TinyGPT()
    model.load_state_dict(torch.load("checkpoint.pt"))
    model = fabric.setup(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    optimizer = fabric.setup_optimizers(optimizer)


if __name__ == "__main__":
    main()
