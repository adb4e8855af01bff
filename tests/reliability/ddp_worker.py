"""Run by test_distributed_ddp.py in 2 processes: DDP on gloo after a verified empty init."""

from __future__ import annotations

import torch
from torch import nn

from initlint import UninitializedWeightsError, verified_empty_init
from tests.distributed import serve_rank


def work(rank: int, world_size: int, full: str) -> dict:
    torch.manual_seed(0)
    state = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)).state_dict()
    if full != "full":
        del state["1.bias"]
    with verified_empty_init() as tracker:
        model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    model.load_state_dict(state, strict=False)
    result: dict = {"rank": rank}
    try:
        report = tracker.check()  # before DDP: its broadcast would write every tensor
        result.update(ok=True, counts=report.global_counts)
    except UninitializedWeightsError as error:
        result.update(ok=False, names=[r.name for r in error.report.failures])
    ddp = nn.parallel.DistributedDataParallel(model)
    ddp(torch.ones(2, 4)).sum().backward()
    return result


if __name__ == "__main__":
    serve_rank(work)
