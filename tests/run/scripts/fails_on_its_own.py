"""A script that fails for its own reason after a clean verified load: `fails_on_its_own.py raise|exit`."""

import sys

import torch
from torch import nn

with torch.device("meta"):
    model = nn.Linear(4, 2)
model.to_empty(device="cpu")
model.reset_parameters()
model(torch.ones(1, 4))


def load_data(path: str) -> None:
    raise FileNotFoundError(f"no data at {path}")


if sys.argv[1] == "raise":
    load_data("/nowhere/data.bin")
sys.exit(3)
