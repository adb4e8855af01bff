"""DeepSpeed ZeRO: where the values in each parameter's partition (or flat buffer slice) came from.

Under ``deepspeed.zero.Init`` a parameter keeps no values of its own: ``param.data`` is an empty tensor and
this rank's slice lives in ``param.ds_tensor``, which ``deepspeed.initialize`` then moves into one flat
buffer shared by every parameter. The ledger, which follows whole storages, cannot tell those slices
apart, so this module keeps one origin per ZeRO-3 parameter (by ``ds_id``), taken at the moments DeepSpeed
writes a partition:

- the first partition (``zero.Init``, ``zero.Init(module=...)``): the origin of the full tensor it came from;
- a repartition after ``GatheredParameters(..., modifier_rank=r)`` or ``module.apply`` under ``zero.Init``:
  the origin of what was written into the gathered tensor, as rank ``r`` saw it (a parameter gathered but
  not written keeps its origin);
- ``engine.load_checkpoint`` with optimizer states: every trainable parameter is loaded.

ZeRO stages 1 and 2 keep whole parameters, but ``deepspeed.initialize`` moves them all into one flat buffer per
group: each parameter keeps the origin it had just before, and later writes into its slice of the buffer
(``load_checkpoint``) update it.

DeepSpeed is imported by the user, never here: the watch starts only when ``deepspeed`` is already in
``sys.modules``, and it patches DeepSpeed's partitioning methods only while some tracker watches.
"""

from __future__ import annotations

import itertools
import sys
import weakref
from typing import Any, Callable

import torch

from initlint.runtime.provenance import Ledger, Origin

__all__ = ["DeepSpeedWatch", "partition_values", "is_partitioned"]

_CODES = (None, Origin.GARBAGE, Origin.COMPUTED, Origin.LOADED, Origin.INITIALIZED, Origin.REINITIALIZED)
_watches: weakref.WeakSet = weakref.WeakSet()
_serial = itertools.count()  # creation order: the same on every rank, unlike id()
_originals: list[tuple[Any, str, Any]] = []  # (owner, attribute, original) while patched


def is_partitioned(tensor: Any) -> bool:
    """Whether ``tensor`` is a ZeRO-3 parameter whose values live in its partition (``ds_tensor``)."""
    return getattr(tensor, "ds_tensor", None) is not None and hasattr(tensor, "ds_id")


def partition_values(tensor: Any) -> torch.Tensor | None:
    """This rank's elements of a ZeRO-3 parameter (its partition without the padding); None for any other tensor.

    The last ranks' partitions end in padding DeepSpeed allocates and never writes; it is no parameter's value.
    """
    if not is_partitioned(tensor):
        return None
    partition = tensor.ds_tensor
    size = partition.numel()
    start = size * getattr(tensor, "ds_zero_partition_rank", 0)
    real = max(0, min(size, tensor.ds_numel - start))
    return partition.view(-1).narrow(0, 0, real)


def _range(tensor: torch.Tensor) -> tuple[int, int]:
    start = tensor.data_ptr()
    return start, start + tensor.numel() * tensor.element_size()


class DeepSpeedWatch:
    """The origin of each ZeRO parameter (a ZeRO-3 partition, a ZeRO-1/2 flat buffer slice), for one tracker.

    Args:
        ledger: the tracker's ledger; the origin of a full tensor is read from it when it is partitioned,
            and its writes into gathered parameters are heard through ``Ledger.listeners``.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.serial = next(_serial)
        self.origins: dict[int, str] = {}  # ds_id -> origin of its partition
        self._gathered: dict[int, tuple[int, int]] = {}  # ds_id -> memory range of its gathered tensor
        self._written: dict[int, str] = {}  # ds_id -> origin last written into its gathered tensor
        self._flat: dict[int, list] = {}  # id(param) -> [origin, memory range] in a ZeRO-1/2 flat buffer
        ledger.listeners.append(self._heard)

    @classmethod
    def start(cls, ledger: Ledger) -> DeepSpeedWatch | None:
        """A watch for ``ledger`` when the program imported DeepSpeed, else None (nothing to watch)."""
        if "deepspeed" not in sys.modules:
            return None
        if not _originals:
            try:
                _patch()
            except Exception:  # noqa: BLE001 - a DeepSpeed whose internals differ: ZeRO-3 unwatched, program intact
                _unpatch()
                return None
        watch = cls(ledger)
        _watches.add(watch)
        weakref.finalize(watch, _unpatch_when_unwatched)  # a tracker dropped without close()
        return watch

    def close(self) -> None:
        """Stop watching; DeepSpeed's methods are restored when no watch is left."""
        if self._heard in self.ledger.listeners:
            self.ledger.listeners.remove(self._heard)
        _watches.discard(self)
        _unpatch_when_unwatched()

    def origin(self, tensor: Any) -> str | None:
        """The origin of a ZeRO parameter's values; None for a tensor DeepSpeed never moved while watched."""
        if is_partitioned(tensor):
            return self.origins.get(tensor.ds_id)
        flat = self._flat.get(id(tensor))
        if flat is not None and type(tensor) is torch.nn.Parameter and flat[1] == _range(tensor.data):
            return flat[0]
        return None

    # -- what DeepSpeed does, in order ---------------------------------------------------
    def gathered(self, param: Any) -> None:
        """``param.data`` now holds the full tensor, gathered from every rank's partition."""
        origin = self.origins.get(param.ds_id)
        if origin is not None:  # copies of the gathered values carry the partition's origin
            self.ledger.set(param, origin)
        if param.data.numel():
            self._gathered[param.ds_id] = _range(param.data)
        self._written.pop(param.ds_id, None)

    def _heard(self, tensor: Any, origin: str) -> None:
        """A write the observer recorded: does it land in a gathered parameter or a flat buffer slice?"""
        if not (self._gathered or self._flat) or type(tensor) not in (torch.Tensor, torch.nn.Parameter):
            return  # subclasses (DTensor, fakes) are never a ZeRO parameter's memory
        if tensor.is_meta:
            return
        start, end = _range(tensor)
        for ds_id, (low, high) in self._gathered.items():
            if start < high and low < end:
                self._written[ds_id] = origin
        for flat in self._flat.values():
            low, high = flat[1]
            if start < high and low < end:
                flat[0] = _after(flat[0], origin)

    def written(self, param: Any) -> str | None:
        """The origin of what this rank wrote into the gathered ``param`` (None: nothing)."""
        if self._gathered.get(param.ds_id) != (_range(param.data) if param.data.numel() else None):
            return None
        return self._written.get(param.ds_id)

    def set_written(self, param: Any, origin: str | None) -> None:
        """What the modifier rank wrote, as broadcast to every rank."""
        if origin is None:
            self._written.pop(param.ds_id, None)
        else:
            self._written[param.ds_id] = origin
            self._gathered.setdefault(param.ds_id, _range(param.data))

    def partitioned(self, param: Any, first: bool, updated: bool) -> None:
        """DeepSpeed is about to write ``param``'s partition from its full tensor (``first``) or after an update."""
        ds_id = param.ds_id
        if first:
            self.origins[ds_id] = self._full_origin(param)
        elif updated:
            written = self.written(param)
            if written is not None:
                self.origins[ds_id] = _after(self.origins.get(ds_id), written)
        self._gathered.pop(ds_id, None)
        self._written.pop(ds_id, None)

    def _full_origin(self, param: Any) -> str:
        entry = self.ledger.entry(param)
        if entry is None:
            return Origin.LOADED  # memory from elsewhere: a checkpoint, a tensor built before
        if entry.origin == Origin.GARBAGE and entry.version != param.data._version:
            return Origin.LOADED  # written where the observer could not see
        return entry.origin

    def before_flattening(self, params: list[Any]) -> dict[int, str]:
        """The origins of whole parameters that ZeRO-1/2 is about to move into a flat buffer."""
        origins = {}
        for param in params:
            if not is_partitioned(param):
                entry = self.ledger.entry(param)
                if entry is not None:
                    origins[id(param)] = self._full_origin(param)
        return origins

    def flattened(self, params: list[Any], origins: dict[int, str]) -> None:
        """Each parameter now lives in its slice of a flat buffer: its origin follows it there."""
        for param in params:
            if id(param) in origins and param.data.numel():
                self._flat[id(param)] = [origins[id(param)], _range(param.data)]

    def loaded(self, params: Any) -> None:
        """A checkpoint wrote these parameters' partitions."""
        for param in params:
            if hasattr(param, "ds_id"):
                self.origins[param.ds_id] = Origin.LOADED


def _after(before: str | None, written: str) -> str:
    """A partition's origin after a write of ``written`` origin into its gathered tensor."""
    if written == Origin.INITIALIZED and before in (Origin.LOADED, Origin.REINITIALIZED):
        return Origin.REINITIALIZED
    return written


# -- patching DeepSpeed while watched ----------------------------------------------------------
def _each(action: Callable[[DeepSpeedWatch], None]) -> None:
    for watch in list(_watches):
        action(watch)


def _partition_param(original: Any) -> Any:
    from deepspeed.runtime.zero.partition_parameters import ZeroParamStatus

    def _partition_param(
        self: Any, param: Any, buffer: Any = None, has_been_updated: bool = False, free_data: bool = True
    ) -> Any:
        if param.ds_status is ZeroParamStatus.AVAILABLE:
            first = param.ds_tensor is None
            with torch._C.DisableTorchFunction():
                _each(lambda watch: watch.partitioned(param, first, has_been_updated))
        return original(self, param, buffer, has_been_updated, free_data)

    return _partition_param


def _all_gather(original: Any) -> Any:
    from deepspeed.runtime.zero.partition_parameters import ZeroParamStatus

    def _all_gather(self: Any, param_list: Any, async_op: bool = False, hierarchy: Any = None) -> Any:
        waiting = [p for p in param_list if p.ds_status is ZeroParamStatus.NOT_AVAILABLE]
        result = original(self, param_list, async_op, hierarchy)
        if not async_op:  # in flight ones are gathered for a forward, which writes none
            with torch._C.DisableTorchFunction():
                for param in waiting:
                    if param.ds_status is ZeroParamStatus.AVAILABLE:
                        _each(lambda watch: watch.gathered(param))
        return result

    return _all_gather


def _gathered_exit(original: Any) -> Any:
    def __exit__(self: Any, *exc: Any) -> Any:
        if self.enabled and self.src_rank is not None and _watches:
            with torch._C.DisableTorchFunction():
                _agree_on_writes(self.params, self.src_rank)
        return original(self, *exc)

    return __exit__


def _agree_on_writes(params: list[Any], src: int) -> None:
    """Every rank takes the modifier rank's account of what was written (the broadcast itself is unseen)."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    watches = sorted(_watches, key=lambda w: w.serial)  # every rank runs the same program: the same watches
    codes = torch.tensor([[_CODES.index(w.written(p)) for p in params] for w in watches], dtype=torch.int64)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    codes = codes.to(device)
    dist.broadcast(codes, src=src, group=params[0].ds_process_group)
    for watch, row in zip(watches, codes.tolist()):
        for param, code in zip(params, row):
            watch.set_written(param, _CODES[code])


def _optimizer_load(original: Any) -> Any:
    def load_state_dict(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        params = [p for group in self.fp16_groups for p in group]
        _each(lambda watch: watch.loaded(params))
        return result

    return load_state_dict


def _zero12_init(original: Any) -> Any:
    def __init__(self: Any, init_optimizer: Any, *args: Any, **kwargs: Any) -> None:
        params = [p for group in init_optimizer.param_groups for p in group["params"]]
        with torch._C.DisableTorchFunction():
            before = {id(w): w.before_flattening(params) for w in list(_watches)}
        original(self, init_optimizer, *args, **kwargs)
        with torch._C.DisableTorchFunction():
            for watch in list(_watches):
                watch.flattened(params, before.get(id(watch), {}))

    return __init__


def _patch() -> None:
    from deepspeed.runtime.zero.partition_parameters import GatheredParameters, Init
    from deepspeed.runtime.zero.stage_1_and_2 import DeepSpeedZeroOptimizer
    from deepspeed.runtime.zero.stage3 import DeepSpeedZeroOptimizer_Stage3

    for owner, name, wrap in (
        (Init, "_partition_param", _partition_param),
        (Init, "_all_gather", _all_gather),
        (GatheredParameters, "__exit__", _gathered_exit),
        (DeepSpeedZeroOptimizer_Stage3, "load_state_dict", _optimizer_load),
        (DeepSpeedZeroOptimizer, "__init__", _zero12_init),
    ):
        original = owner.__dict__[name]
        _originals.append((owner, name, original))
        setattr(owner, name, wrap(original))


def _unpatch_when_unwatched() -> None:
    if not any(True for _ in _watches):  # counts live watches only, also inside a finalizer
        _unpatch()


def _unpatch() -> None:
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)
