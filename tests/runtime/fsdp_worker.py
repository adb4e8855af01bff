"""Run by test_distributed.py in 2 processes: FSDP2 meta init on CPU with gloo."""

from __future__ import annotations

import json
import os
import sys
import traceback

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from initlint import UninitializedWeightsError, verified_empty_init


def main(rank: int, world_size: int, port: int, reset: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
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
        result = {"rank": rank}
        try:
            report = tracker.check()
            result.update(ok=True, counts=report.global_counts)
        except UninitializedWeightsError as error:
            report = error.report
            result.update(ok=False, counts=report.global_counts, names=sorted(r.name for r in report.failures),
                          message=str(error))
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
