"""Collectives write tensors too: what each ``torch.distributed`` collective writes, and from what.

A collective fills its output with values that come (at least partly) from other ranks, through memory
the observer never sees being written: FSDP2's ``distribute_tensor`` scatters a full checkpoint tensor
into an ``empty_like`` shard, ``broadcast_from_rank0`` broadcasts into one. The collectives of
``torch.distributed.distributed_c10d`` go through torch's function handling, so the observer sees the
call. Its outputs then hold what its local sources hold if one of those is unwritten (garbage
scattered is garbage), and otherwise values loaded from elsewhere. A rank's own source of a broadcast
keeps its origin.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["is_collective", "collective_writes"]

_C10D = "torch.distributed.distributed_c10d"
# name -> (parameters written, parameters read on this rank)
_WRITES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "broadcast": (("tensor",), ()),
    "recv": (("tensor",), ()),
    "irecv": (("tensor",), ()),
    "all_reduce": (("tensor",), ("tensor",)),
    "all_reduce_coalesced": (("tensors",), ("tensors",)),
    "reduce": (("tensor",), ("tensor",)),
    "all_gather": (("tensor_list",), ("tensor",)),
    "all_gather_into_tensor": (("output_tensor",), ("input_tensor",)),
    "all_gather_coalesced": (("output_tensor_lists",), ("input_tensor_list",)),
    "gather": (("gather_list",), ("tensor",)),
    "scatter": (("tensor",), ("scatter_list",)),
    "reduce_scatter": (("output",), ("input_list",)),
    "reduce_scatter_tensor": (("output",), ("input",)),
    "all_to_all_single": (("output",), ("input",)),
    "all_to_all": (("output_tensor_list",), ("input_tensor_list",)),
}
_SIGNATURES: dict[Any, inspect.Signature] = {}


def is_collective(func: Any) -> bool:
    """Whether ``func`` is a ``torch.distributed`` collective that writes into tensors."""
    return getattr(func, "__module__", None) == _C10D and getattr(func, "__name__", "") in _WRITES


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)


def collective_writes(func: Any, args: tuple, kwargs: dict) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(tensors the call writes on this rank, local tensors their values come from)."""
    signature = _SIGNATURES.get(func)
    if signature is None:
        signature = _SIGNATURES[func] = inspect.signature(func)
    bound = signature.bind_partial(*args, **kwargs).arguments
    written, read = _WRITES[func.__name__]
    if func.__name__ == "broadcast" and _is_source(bound):
        return [], []  # this rank sends: its tensor keeps its values
    outputs = [t for name in written for t in _tensors(bound.get(name))]
    sources = [t for name in read for t in _tensors(bound.get(name))]
    return outputs, sources


def _is_source(bound: dict) -> bool:
    dist = torch.distributed
    if bound.get("group_src") is not None:
        return dist.get_rank(bound.get("group")) == bound["group_src"]
    return dist.get_rank() == bound.get("src", 0)
