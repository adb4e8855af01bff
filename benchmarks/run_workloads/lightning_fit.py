"""Workload of ``run_bench.py``: a Lightning ``Trainer.fit`` of a small MLP built empty and loaded.

``python lightning_fit.py DIR [--prepare]``: ``--prepare`` saves the checkpoint the timed runs load.
"""

import sys
from pathlib import Path

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

STEPS = 200


class Regressor(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 1))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


def main() -> None:
    folder = Path(sys.argv[1])
    if "--prepare" in sys.argv:
        torch.manual_seed(0)
        torch.save(Regressor().state_dict(), folder / "regressor.pt")
        return
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_steps=STEPS, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )
    with trainer.init_module(empty_init=True):
        model = Regressor()
    model.load_state_dict(torch.load(folder / "regressor.pt"))
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(STEPS * 32, 64), torch.randn(STEPS * 32, 1))
    trainer.fit(model, DataLoader(data, batch_size=32))


if __name__ == "__main__":
    main()
