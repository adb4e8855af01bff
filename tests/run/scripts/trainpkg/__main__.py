"""`python -m trainpkg [--partial]`: build on the meta device, `to_empty`, load a state dict, train a step.

Prints what `python -m` set, so a test can compare it with `initlint run -m trainpkg`.
"""

import json
import sys

import torch
from torch import nn

print(json.dumps({"argv": sys.argv, "path0": sys.path[0], "name": __name__, "spec": __spec__.name}))
with torch.device("meta"):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
model.to_empty(device="cpu")
state = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).state_dict()
if "--partial" in sys.argv:
    del state["2.weight"]
model.load_state_dict(state, strict=False)
model(torch.ones(1, 4)).sum().backward()
