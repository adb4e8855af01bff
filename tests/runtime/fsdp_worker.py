"""Run by test_distributed.py in 2 processes: FSDP2 meta init on CPU with gloo."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from initlint import UninitializedWeightsError, verified_empty_init
from tests.distributed import serve_rank


def work(rank: int, world_size: int, reset: str) -> dict:
    mesh = init_device_mesh("cpu", (world_size,))
    with verified_empty_init(torch.device("meta")) as tracker:
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    for module in model.modules():
        if isinstance(module, nn.Linear):
            if reset == "all" or (reset == "weights-only" and rank == 0):
                module.reset_parameters()
            else:
                nn.init.normal_(module.weight)
    try:
        report = tracker.check()
        return {"rank": rank, "ok": True, "counts": report.global_counts}
    except UninitializedWeightsError as error:
        report = error.report
        names = sorted(r.name for r in report.failures)
        return {"rank": rank, "ok": False, "counts": report.global_counts, "names": names, "message": str(error)}


if __name__ == "__main__":
    serve_rank(work)
