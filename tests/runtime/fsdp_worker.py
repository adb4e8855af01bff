"""Run by test_distributed.py in 2 processes: FSDP2 meta init on CPU with gloo."""

from __future__ import annotations

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from initlint import UninitializedWeightsError, verified_empty_init
from tests.distributed import serve_rank


def sharded(mesh: object) -> nn.Module:
    """A small model under FSDP2: each Linear and the root sharded."""
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def full_state_dict_load(rank: int, world_size: int, how: str) -> dict:
    """A Hugging Face style full checkpoint into a sharded meta model, as torchtitan and torchtune load it.

    ``how``: ``full`` (every rank has it) or ``broadcast`` (rank 0 has it), ``-partial`` without ``2.bias``.
    """
    mesh = init_device_mesh("cpu", (world_size,))
    torch.manual_seed(0)
    full = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).state_dict()
    if how.endswith("-partial"):
        del full["2.bias"]
    broadcast = how.startswith("broadcast")
    with verified_empty_init(torch.device("meta")) as tracker:
        model = sharded(mesh)
    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=broadcast, strict=False)
    set_model_state_dict(model, dict(full) if rank == 0 or not broadcast else {}, options=options)  # it mutates the dict
    try:
        report = tracker.check()
        loaded = {k: v.full_tensor() for k, v in model.state_dict().items()}
        equal = all(torch.equal(loaded[k], full[k]) for k in full)
        return {"rank": rank, "ok": True, "counts": report.global_counts, "equal": equal}
    except UninitializedWeightsError as error:
        names = sorted(r.name for r in error.report.failures)
        return {"rank": rank, "ok": False, "names": names, "statuses": sorted({r.status for r in error.report.failures})}


def work(rank: int, world_size: int, reset: str, checkpoint: str = "") -> dict:
    if reset.startswith(("full", "broadcast")):
        return full_state_dict_load(rank, world_size, reset)
    mesh = init_device_mesh("cpu", (world_size,))
    if reset.startswith("dcp"):
        torch.manual_seed(0)
        dcp.save(sharded(mesh).state_dict(), checkpoint_id=checkpoint)
    with verified_empty_init(torch.device("meta")) as tracker:
        model = sharded(mesh)
    model.to_empty(device="cpu")
    if reset.startswith("dcp"):
        target = model.state_dict()
        versions = {k: v._local_tensor._version for k, v in target.items()}
        if reset == "dcp-partial":
            del target["2.bias"]
        dcp.load(target, checkpoint_id=checkpoint)
        moved = sorted(k for k, v in target.items() if v._local_tensor._version != versions[k])
        torch.manual_seed(0)
        reference = sharded(mesh)
        equal = all(
            torch.equal(v.full_tensor(), reference.state_dict()[k].full_tensor()) for k, v in target.items()
        )
    for module in model.modules():
        if reset.startswith("dcp"):
            break
        if isinstance(module, nn.Linear):
            if reset == "all" or (reset == "weights-only" and rank == 0):
                module.reset_parameters()
            else:
                nn.init.normal_(module.weight)
    extra = {"versions_moved": moved, "equal": equal} if reset.startswith("dcp") else {}
    try:
        report = tracker.check()
        return {"rank": rank, "ok": True, "counts": report.global_counts, **extra}
    except UninitializedWeightsError as error:
        report = error.report
        names = sorted(r.name for r in report.failures)
        return {"rank": rank, "ok": False, "counts": report.global_counts, "names": names, "message": str(error), **extra}


if __name__ == "__main__":
    serve_rank(work)
