"""FSDP2 under torchrun (gloo, CPU): `torchrun --nproc-per-node 2 fsdp2_dcp.py DIR save|complete|partial`.

`save` writes a DCP checkpoint of the sharded model; `complete` and `partial` build it on the meta device,
`fully_shard`, `to_empty`, load the checkpoint (`partial`: without `2.bias`) and train a step.
"""

import sys

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard


def sharded(mesh: object) -> nn.Module:
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, mesh=mesh)
    return fully_shard(model, mesh=mesh)


def main() -> None:
    folder, mode = sys.argv[1], sys.argv[2]
    dist.init_process_group("gloo")
    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    if mode == "save":
        torch.manual_seed(0)
        dcp.save(sharded(mesh).state_dict(), checkpoint_id=folder)
    else:
        with torch.device("meta"):
            model = sharded(mesh)
        model.to_empty(device="cpu")
        state = model.state_dict()
        if mode == "partial":
            del state["2.bias"]
        dcp.load(state, checkpoint_id=folder)
        model(torch.ones(2, 8)).sum().backward()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
