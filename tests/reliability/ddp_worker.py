"""Run by test_distributed_ddp.py in 2 processes: DDP on gloo after a verified empty init."""

from __future__ import annotations

import json
import os
import sys
import traceback

import torch
import torch.distributed as dist
from torch import nn

from initlint import UninitializedWeightsError, verified_empty_init


def main(rank: int, world_size: int, port: int, full: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        torch.manual_seed(0)
        state = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)).state_dict()
        if full != "full":
            del state["1.bias"]
        with verified_empty_init() as tracker:
            model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
        model.load_state_dict(state, strict=False)
        result = {"rank": rank}
        try:
            report = tracker.check()  # before DDP: its broadcast would write every tensor
            result.update(ok=True, counts=report.global_counts)
        except UninitializedWeightsError as error:
            result.update(ok=False, names=[r.name for r in error.report.failures])
        ddp = nn.parallel.DistributedDataParallel(model)
        ddp(torch.ones(2, 4)).sum().backward()
        with open(f"{out}.{rank}.json", "w", encoding="utf-8") as handle:
            json.dump(result, handle)
        dist.barrier()
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    # torch 2.13's gloo backend can abort at interpreter exit ("terminate called without an active
    # exception"), also without initlint; the results are written, so leave right away.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
