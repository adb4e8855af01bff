"""The tracker behind ``verified_empty_init``: which tensors were written since empty init.

Life of a tracker:

1. *building* (inside the context): global registration hooks note every module that registers a
   parameter, buffer or submodule, and which parameters were registered under several names (ties);
2. *armed* (from leaving the context until ``check()``): a passive ``TorchFunctionMode`` watches
   writes (in-place ops, ``nn.init.*``, writes through ``.data``, ``p.data = ...``) and fresh
   allocations (``to_empty``); registration hooks see parameters replaced (``assign=True``); a forward
   pre-hook on each root runs ``check()`` once;
3. *checked*: everything is removed; the report stays.

The tracker keeps only weak references to modules and tensors and never copies a weight.
"""

from __future__ import annotations

import fnmatch
import math
import threading
import warnings
import weakref
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _module
from torch.overrides import TorchFunctionMode

from initlint.runtime.report import (
    InitReport,
    Status,
    TensorRecord,
    UninitializedWeightsError,
    UninitializedWeightsWarning,
)

__all__ = ["Tracker", "add_listener", "remove_listener", "is_tracked"]

_listeners: list[Any] = []  # called with each tracker as it is armed (the pytest plugin counts them)
_tracked_roots: weakref.WeakSet = weakref.WeakSet()


def add_listener(listener: Any) -> None:
    """Call ``listener(tracker)`` whenever a tracker starts watching its models."""
    _listeners.append(listener)


def remove_listener(listener: Any) -> None:
    """Undo ``add_listener``."""
    if listener in _listeners:
        _listeners.remove(listener)


def is_tracked(module: nn.Module) -> bool:
    """Whether a tracker already watches ``module`` as a root."""
    return module in _tracked_roots

_VALUE_PRESERVING = frozenset({"to", "_to_copy", "half", "float", "double", "bfloat16", "cpu", "cuda", "type"})
_FRESH = frozenset({"empty_like"})
_WRITES = frozenset({"__setitem__", "copy_", "set_", "index_put_", "masked_fill_", "scatter_"})
# In-place by name, but they change no value.
_NOT_WRITES = frozenset({"requires_grad_", "share_memory_", "detach_", "retain_grad", "rename_", "record_stream"})


def _storage_ptr(tensor: Any) -> int:
    """The address of a tensor's storage (of its local shard for a DTensor); 0 when it has none."""
    local = getattr(tensor, "_local_tensor", tensor)
    try:
        if local.is_meta:
            return 0
        return local.untyped_storage().data_ptr()
    except Exception:  # tensors without storage (functional wrappers, sparse)
        return 0


def _address(tensor: Any) -> int:
    """The address of a tensor's first element (of its local shard for a DTensor); 0 without one."""
    local = getattr(tensor, "_local_tensor", tensor)
    try:
        return 0 if local.is_meta else local.data_ptr()
    except Exception:
        return 0


def _local(tensor: torch.Tensor) -> torch.Tensor:
    return getattr(tensor, "_local_tensor", tensor)


def remove_mode(mode: TorchFunctionMode) -> None:
    """Take ``mode`` off the torch-function mode stack, wherever it is, keeping the others' order."""
    above = []
    found = False
    while torch._C._len_torch_function_stack() > 0:
        top = torch._C._pop_torch_function_stack()
        if top is mode:
            found = True
            break
        above.append(top)
    for other in reversed(above):
        torch._C._push_on_torch_function_stack(other)
    if not found:  # pragma: no cover - entered on another thread
        return


class _Slot:
    """One tensor object as it was when the context was left (several names when tied)."""

    __slots__ = ("names", "kind", "owners", "tensor_id", "version", "written", "fresh", "module_type", "ignored")

    def __init__(self, names: list[str], kind: str, tensor: torch.Tensor, owners: list[tuple[Any, str]]) -> None:
        self.names = names
        self.kind = kind
        self.owners = owners  # (weakref to module, attribute name) per name
        self.tensor_id = id(tensor)  # never a weakref: swap_tensors (FSDP2's to_empty) refuses those
        self.version = _version(tensor)
        self.written = False
        self.fresh = False
        self.module_type = ""
        self.ignored = False

    def current(self, index: int = 0) -> torch.Tensor | None:
        module_ref, attr = self.owners[index]
        module = module_ref()
        if module is None:
            return None
        store = module._parameters if self.kind == "parameter" else module._buffers
        return store.get(attr)


def _version(tensor: torch.Tensor) -> int:
    try:
        return tensor._version
    except Exception:
        return -1


class _WriteObserver(TorchFunctionMode):
    """Passive: calls every function unchanged and tells the tracker what it wrote."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self.tracker = weakref.ref(tracker)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        tracker = self.tracker()
        if tracker is not None and _is_data_assignment(func, args):
            # Before the assignment makes them share memory; a `.to()` result is no module's yet.
            source = tracker._slot_of(args[1], validate=False)
            result = func(*args, **kwargs)
            tracker._data_assigned(args[0], args[1], source)
            return result
        result = func(*args, **kwargs)
        if tracker is not None and (args or kwargs):
            tracker._observe(func, args, kwargs, result)
        return result


def _is_data_assignment(func: Any, args: tuple) -> bool:
    """``p.data = value`` reaches a mode as the ``data`` descriptor's ``__set__``."""
    return (
        getattr(func, "__name__", "") == "__set__"
        and len(args) == 2
        and getattr(getattr(func, "__self__", None), "__name__", "") == "data"
    )


class Tracker:
    """Tracks the parameters and buffers of modules built under ``verified_empty_init``.

    Get one from ``with verified_empty_init(...) as tracker``; see that function for the arguments.
    """

    def __init__(
        self,
        strict: bool = True,
        ignore: Iterable[str] = (),
        poison: bool = False,
        check_on_forward: bool = True,
    ) -> None:
        self.strict = strict
        self.poison = poison
        self.check_on_forward = check_on_forward
        self._ignore = list(ignore)
        self._seen: dict[int, Any] = {}  # id(module) -> weakref, in creation order
        self._has_parent: set[int] = set()
        self._registrations: dict[int, tuple[Any, list[tuple[Any, str]]]] = {}  # for ties
        self._roots: list[Any] = []
        self._pending: tuple[Any, str, int] | None = None  # (module ref, name, id of the registered one)
        self._slots: list[_Slot] = []
        self._by_storage: dict[int, list[tuple[int, int, _Slot]]] = {}  # storage -> (start, end, slot)
        self._by_id: dict[int, tuple[int, _Slot]] = {}  # id(tensor) -> (its storage address, slot)
        self._by_owner: dict[tuple[int, str], _Slot] = {}
        self._unknown: dict[int, int] = {}  # id -> storage address of tensors known not to be tracked
        self._ties: list[list[str]] = []
        self._handles: list[Any] = []
        self._observer: _WriteObserver | None = None
        self._phase = "new"
        self._thread = 0
        self._report: InitReport | None = None

    # -- building --------------------------------------------------------------------------
    def _start(self) -> None:
        self._phase = "building"
        self._thread = threading.get_ident()  # modules other threads build meanwhile are not ours
        self._handles = [
            _module.register_module_parameter_registration_hook(self._on_parameter),
            _module.register_module_buffer_registration_hook(self._on_buffer),
            _module.register_module_module_registration_hook(self._on_submodule),
        ]

    def _building(self) -> bool:
        return self._phase == "building" and threading.get_ident() == self._thread

    def _note(self, module: nn.Module) -> Any:
        """Remember ``module`` as built here; return its (shared) weak reference."""
        ref = self._seen.get(id(module))
        if ref is None or ref() is not module:
            ref = self._seen[id(module)] = weakref.ref(module)
        return ref

    def _ref(self, module: nn.Module) -> Any:
        """A weak reference to ``module``, shared with ``_seen`` where it is there."""
        ref = self._seen.get(id(module))
        return ref if ref is not None and ref() is module else weakref.ref(module)

    def _on_parameter(self, module: nn.Module, name: str, param: Any) -> None:
        if self._building():
            ref = self._note(module)
            self._settle()
            if param is not None:
                self._index_tie(param, module, name)
                self._pending = (ref, name, id(param))
        elif self._phase == "armed":
            self._replaced(module, name, param)

    def _settle(self) -> None:
        """Index the parameter the last registration left in place.

        Contexts like accelerate's ``init_empty_weights`` swap the registered parameter for another
        right after registering it; a tie made later shares the swapped one.
        """
        if self._pending is None:
            return
        module_ref, name, registered = self._pending
        self._pending = None
        module = module_ref()
        param = module._parameters.get(name) if module is not None else None
        if param is not None and id(param) != registered:  # swapped after registration
            self._index_tie(param, module, name)

    def _index_tie(self, param: Any, module: nn.Module, name: str) -> None:
        entry = self._registrations.get(id(param))
        if entry is None or entry[0]() is not param:  # first registration (or a dead one's id reused)
            self._registrations[id(param)] = (weakref.ref(param), [(self._ref(module), name)])
        elif all(o[0]() is not module or o[1] != name for o in entry[1]):
            entry[1].append((self._ref(module), name))

    def _on_buffer(self, module: nn.Module, name: str, buffer: Any) -> None:
        if self._building():
            self._note(module)
        elif self._phase == "armed":
            self._replaced(module, name, buffer)

    def _on_submodule(self, module: nn.Module, name: str, submodule: Any) -> None:
        if self._building() and submodule is not None:
            self._note(module)
            self._has_parent.add(id(submodule))

    def _abort(self) -> None:
        """The context failed: stop everything, track nothing."""
        self._disarm()
        self._phase = "checked"
        self._report = InitReport()

    def _finish_building(self) -> None:
        """Leave the context: find the roots, snapshot their tensors, poison, arm."""
        self._settle()
        self._roots = [
            ref for key, ref in self._seen.items() if key not in self._has_parent and ref() is not None
        ]
        prefixes: dict[int, str] = {}
        for root_ref in self._roots:
            root = root_ref()
            for prefix, module in root.named_modules(remove_duplicate=False):
                prefixes.setdefault(id(module), prefix)
                for kind, store in (("parameter", module._parameters), ("buffer", module._buffers)):
                    for attr, tensor in store.items():
                        if tensor is not None:
                            self._add(prefix, module, attr, kind, tensor)
        self._ties = self._tie_groups(prefixes)
        for slot in self._slots:
            slot.ignored = self._is_ignored(slot)
        if self.poison:
            for slot in self._slots:
                tensor = slot.current()
                if tensor is not None and not slot.ignored:
                    _poison(tensor)
                    slot.version = _version(tensor)
        self._arm()

    def _add(self, prefix: str, module: nn.Module, attr: str, kind: str, tensor: torch.Tensor) -> None:
        name = f"{prefix}.{attr}" if prefix else attr
        entry = self._by_id.get(id(tensor))
        if entry is not None and entry[1].tensor_id == id(tensor):  # tied: one tensor, several names
            slot = entry[1]
            slot.names.append(name)
            slot.owners.append((self._ref(module), attr))
        else:
            slot = _Slot([name], kind, tensor, [(self._ref(module), attr)])
            slot.module_type = type(module).__name__
            self._slots.append(slot)
            self._remember(tensor, slot)
        self._by_owner[(id(module), attr)] = slot

    def _tie_groups(self, prefixes: dict[int, str]) -> list[list[str]]:
        groups = []
        for _, owners in self._registrations.values():
            if len(owners) < 2:  # registered under one name only: no tie
                continue
            names = []
            for module_ref, attr in owners:
                module = module_ref()
                if module is not None and id(module) in prefixes:
                    prefix = prefixes[id(module)]
                    names.append(f"{prefix}.{attr}" if prefix else attr)
            if len(set(names)) > 1:
                groups.append(sorted(set(names)))
        self._registrations.clear()
        return groups

    def _is_ignored(self, slot: _Slot) -> bool:
        for (module_ref, attr), name in zip(slot.owners, slot.names):
            module = module_ref()
            if attr in getattr(module, "__initlint_computed__", ()):
                return True
            if self._ignore and any(fnmatch.fnmatchcase(name, pattern) for pattern in self._ignore):
                return True
        return False

    # -- armed -----------------------------------------------------------------------------
    def adopt(self, module: nn.Module) -> None:
        """Start watching an existing ``module`` now, as if it had just been built empty.

        Used before ``to_empty()`` materializes a model built on the meta device elsewhere: every
        tensor must then be written before the first forward.
        """
        self._phase = "building"
        self._thread = threading.get_ident()
        self._seen = {id(module): weakref.ref(module)}
        self._finish_building()

    @property
    def models(self) -> int:
        """How many root modules this tracker watched when it was armed."""
        return len(self._roots)

    @property
    def tensors(self) -> int:
        """How many tensors this tracker watches."""
        return len(self._slots)

    @property
    def verdict(self) -> InitReport | None:
        """The report of ``check()``, once it ran."""
        return self._report

    def _arm(self) -> None:
        self._phase = "armed"
        for root_ref in self._roots:
            _tracked_roots.add(root_ref())
        for listener in list(_listeners):
            listener(self)
        self._observer = _WriteObserver(self)
        self._observer.__enter__()
        if self.check_on_forward:
            for root_ref in self._roots:
                self._handles.append(root_ref().register_forward_pre_hook(_forward_check(self)))

    def _disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if self._observer is not None:
            remove_mode(self._observer)
            self._observer = None

    def _slot_of(self, tensor: Any, resync: bool = False, validate: bool = True) -> _Slot | None:
        """The slot a tensor (or an alias of its storage) belongs to.

        A hit is trusted only if the slot's module still holds that tensor, or a tensor on the same
        (live) storage: ids and addresses of dead temporaries are reused. With ``resync``, a miss
        re-reads every tracked attribute once, to catch parameters swapped without a hook
        (``fully_shard`` replaces them with DTensors); objects still unknown after that are remembered
        so the next miss on them costs nothing.
        """
        if not isinstance(tensor, torch.Tensor):
            return None
        ptr = _storage_ptr(tensor)
        slot = self._lookup(tensor, ptr)
        if slot is not None and (not validate or self._holds(slot, tensor, ptr)):
            return slot
        if not resync or self._unknown.get(id(tensor), -1) == ptr:
            return None
        for candidate in self._slots:
            for index in range(len(candidate.owners)):
                current = candidate.current(index)
                if current is not None:
                    self._remember(current, candidate)
        slot = self._lookup(tensor, ptr)
        if slot is not None and self._holds(slot, tensor, ptr):
            return slot
        self._unknown[id(tensor)] = ptr
        return None

    def _lookup(self, tensor: torch.Tensor, ptr: int) -> _Slot | None:
        entry = self._by_id.get(id(tensor))
        if entry is not None and entry[0] == ptr:
            return entry[1]
        return self._by_memory(tensor, ptr)

    @staticmethod
    def _holds(slot: _Slot, tensor: torch.Tensor, ptr: int) -> bool:
        """Whether one of the slot's modules holds ``tensor``, or a tensor on its storage."""
        for index in range(len(slot.owners)):
            current = slot.current(index)
            if current is tensor or (ptr and current is not None and _storage_ptr(current) == ptr):
                return True
        return False

    def _remember(self, tensor: torch.Tensor, slot: _Slot) -> None:
        ptr = _storage_ptr(tensor)
        self._by_id[id(tensor)] = (ptr, slot)
        self._unknown.pop(id(tensor), None)
        if ptr:
            start = _address(tensor)
            end = start + tensor.numel() * tensor.element_size()
            spans = self._by_storage.setdefault(ptr, [])
            spans[:] = [span for span in spans if span[1] <= start or span[0] >= end]
            spans.append((start, end, slot))

    def _by_memory(self, tensor: torch.Tensor, ptr: int) -> _Slot | None:
        """The slot whose memory holds the first element of ``tensor`` (a view or ``.data`` alias)."""
        if not ptr:
            return None
        address = _address(tensor)
        for start, end, slot in self._by_storage.get(ptr, ()):
            if start <= address < end or (start == end == address):
                return slot
        return None

    def _observe(self, func: Any, args: tuple, kwargs: dict, result: Any) -> None:
        name = getattr(func, "__name__", "")
        if name in ("__get__", "__set__"):
            return
        is_write = name in _WRITES or (name.endswith("_") and not name.startswith("_") and name not in _NOT_WRITES)
        target = kwargs.get("tensor", args[0] if args else None)
        slot = self._slot_of(target, resync=is_write or name in _FRESH)
        if slot is None:
            return
        if name in _FRESH and isinstance(result, torch.Tensor):
            slot.written, slot.fresh = False, True
            self._remember(result, slot)
            if self.poison and not slot.ignored:
                _poison(result)
        elif name in _VALUE_PRESERVING and isinstance(result, torch.Tensor):
            self._remember(result, slot)
        elif is_write:
            slot.written, slot.fresh = True, False

    def _data_assigned(self, target: Any, value: Any, source: _Slot | None) -> None:
        """``p.data = value``: a write, unless ``value`` came from ``p`` itself (``.to()``, ``.half()``)."""
        slot = self._slot_of(target, resync=True)
        if slot is None or not isinstance(value, torch.Tensor):
            return
        if source is not slot:
            slot.written, slot.fresh = True, False
        self._remember(value, slot)

    def _replaced(self, module: nn.Module, attr: str, tensor: Any) -> None:
        """A registration hook: a tracked attribute got a new tensor (``assign=True``, setattr)."""
        slot = self._by_owner.get((id(module), attr))
        if slot is None or not isinstance(tensor, torch.Tensor):
            return
        slot.written, slot.fresh = not tensor.is_meta, False
        self._remember(tensor, slot)

    # -- verdict ---------------------------------------------------------------------------
    def mark_initialized(self, *patterns: str) -> None:
        """Treat tensors whose dotted names match ``patterns`` (globs) as intentionally initialized."""
        self._ignore += patterns
        for slot in self._slots:
            slot.ignored = self._is_ignored(slot)

    def report(self, value_scan: bool = True) -> InitReport:
        """The state of every tracked tensor now (``value_scan``: look for NaN/inf values)."""
        if self._report is not None:
            return self._report
        records = [self._record(slot, value_scan) for slot in self._slots]
        records = [r for r in records if r is not None] + self._broken_ties()
        report = InitReport(records)
        _aggregate(report)
        return report

    def check(self, value_scan: bool = True) -> InitReport:
        """Give the verdict once: raise (strict) or warn, and stop tracking.

        Raises:
            UninitializedWeightsError: in strict mode, when a tensor was never written, holds NaN/inf,
                or is still on the meta device. Meta tensors raise in both modes.
        """
        report = self.report(value_scan)
        self._disarm()
        self._phase = "checked"
        self._report = report
        if report.ok:
            return report
        on_meta = any(r.status == Status.ON_META for r in report.failures)
        if self.strict or on_meta:
            raise UninitializedWeightsError(report.format(), report)
        warnings.warn(report.format(), UninitializedWeightsWarning, stacklevel=2)
        return report

    def close(self) -> None:
        """Stop tracking without a verdict."""
        self._disarm()
        self._phase = "checked"

    def _record(self, slot: _Slot, value_scan: bool) -> TensorRecord | None:
        tensor = slot.current()
        if tensor is None:
            return None
        status = self._status(slot, tensor)
        unwritten = 0
        if status == Status.WRITTEN and not slot.ignored and tensor.dtype != torch.bool:
            if self.poison:
                unwritten = _count_poison(tensor)
                if unwritten:
                    status = Status.NEVER_WRITTEN if unwritten == tensor.numel() else Status.PARTLY_WRITTEN
            if status == Status.WRITTEN and value_scan and tensor.is_floating_point():
                unwritten = _count_non_finite(tensor)
                if unwritten:
                    status = Status.NON_FINITE
        return TensorRecord(
            name=slot.names[0],
            kind=slot.kind,
            shape=tuple(tensor.shape),
            dtype=str(tensor.dtype),
            numel=tensor.numel(),
            status=status,
            aliases=tuple(slot.names[1:]),
            unwritten=unwritten,
            module_type=slot.module_type,
        )

    def _status(self, slot: _Slot, tensor: torch.Tensor) -> str:
        if tensor.is_meta:
            return Status.ON_META
        if slot.ignored:
            return Status.IGNORED
        if slot.fresh:
            return Status.NEVER_WRITTEN
        if slot.written:
            return Status.WRITTEN
        if id(tensor) == slot.tensor_id and _version(tensor) != slot.version:
            return Status.WRITTEN  # written where the observer could not see (another thread)
        return Status.NEVER_WRITTEN

    def _broken_ties(self) -> list[TensorRecord]:
        records = []
        for names in self._ties:
            current = {}
            for name in names:
                slot = next((s for s in self._slots if name in s.names), None)
                if slot is None:
                    continue
                tensor = slot.current(slot.names.index(name))
                if tensor is not None:
                    current[name] = tensor
            ptrs = {_storage_ptr(t) or id(t) for t in current.values()}
            if len(ptrs) > 1:
                first, *others = sorted(current)
                tensor = current[first]
                records.append(
                    TensorRecord(
                        name=first,
                        kind="parameter",
                        shape=tuple(tensor.shape),
                        dtype=str(tensor.dtype),
                        numel=tensor.numel(),
                        status=Status.TIE_BROKEN,
                        detail=", ".join(others),
                        module_type="tied weights",
                    )
                )
        return records


def _forward_check(tracker: Tracker) -> Any:
    """A forward pre-hook that runs ``check()`` once, then removes itself (and the others)."""
    ref = weakref.ref(tracker)

    def hook(module: nn.Module, args: Any) -> None:
        live = ref()
        if live is not None and live._phase == "armed":
            live.check()

    disable = getattr(getattr(torch, "_dynamo", None), "disable", None)
    return disable(hook) if disable is not None else hook


@torch.no_grad()
def _poison(tensor: torch.Tensor) -> None:
    local = _local(tensor)
    if local.is_meta or local.dtype == torch.bool:
        return
    if local.is_floating_point() or local.is_complex():
        local.fill_(math.nan)
    else:
        local.fill_(torch.iinfo(local.dtype).max)


@torch.no_grad()
def _count_poison(tensor: torch.Tensor) -> int:
    local = _local(tensor)
    if local.is_floating_point() or local.is_complex():
        return int(torch.isnan(local).sum())
    return int((local == torch.iinfo(local.dtype).max).sum())


@torch.no_grad()
def _count_non_finite(tensor: torch.Tensor) -> int:
    """Cheap pre-check (one reduction); the exact count only where it fires."""
    local = _local(tensor)
    if local.numel() == 0:
        return 0
    if bool(torch.isfinite(local.sum())):  # overflow to inf only sends us to the exact count
        return 0
    return int((~torch.isfinite(local)).sum())


def _aggregate(report: InitReport) -> None:
    """Under torch.distributed, sum the counts of every rank (a collective: all ranks call it)."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    counts = torch.tensor(report.counts(), dtype=torch.float64, device=device)
    dist.all_reduce(counts)
    report.rank = dist.get_rank()
    report.global_counts = tuple(int(c) for c in counts.tolist())  # type: ignore[assignment]
