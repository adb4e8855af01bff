"""The tracker behind ``verified_empty_init``: the modules it watches and the verdict on them.

Life of a tracker:

1. *building* (inside the context): the observer (``observer.py``) keeps the ledger of where values came
   from, from below the wrapped context; global registration hooks note every module that gets a tensor
   or a child here (``watch.py`` holds them weakly) and every parameter registered under several names;
2. *armed* (from leaving the context): the observer goes on recording loads, resets and fresh allocations
   (``to_empty``); the first forward of any watched module runs ``check()`` once;
3. *checked* (a verdict), *closed*, or *released* (every watched module died unchecked): the observer and
   the hooks are gone.

``check()`` reads the live trees of the top-most watched modules alive at that moment, so a parameter replaced by any means (``assign=True``,
``module._parameters[name] = ...``, FSDP2's DTensors) is judged by the memory it holds now.
"""

from __future__ import annotations

import fnmatch
import threading
import warnings
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _module
from torch.nn.parameter import is_lazy

from initlint.runtime.construction import constructing
from initlint.runtime.deepspeed import DeepSpeedWatch, partition_values
from initlint.runtime.device import ObservedDevice
from initlint.runtime.observer import Observer
from initlint.runtime.offload import FROM_DISK, OffloadMaps
from initlint.runtime.provenance import Ledger, Origin, storage_of
from initlint.runtime.stack import leave, push_bottom, remove_mode, sweep
from initlint.runtime.watch import Watched
from initlint.runtime.report import (
    InitReport,
    Status,
    TensorRecord,
    UninitializedWeightsError,
    UninitializedWeightsWarning,
)

__all__ = ["Tracker", "add_listener", "remove_listener", "is_tracked"]

_NO_TORCH_FUNCTION = torch._C.DisableTorchFunction()
_listeners: list[Any] = []  # called with each tracker as it is armed (the pytest plugin counts them)
_tracked_roots: weakref.WeakSet = weakref.WeakSet()

_STATUS_OF_ORIGIN = {
    Origin.GARBAGE: Status.NEVER_WRITTEN,
    Origin.DERIVED: Status.NEVER_WRITTEN,
    Origin.COMPUTED: Status.COMPUTED,
    Origin.LOADED: Status.WRITTEN,
    Origin.INITIALIZED: Status.WRITTEN,
    Origin.REINITIALIZED: Status.REINITIALIZED,
}


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


class Tracker:
    """Tracks the parameters and buffers of modules built under ``verified_empty_init``.

    Get one from ``with verified_empty_init(...) as tracker``; see that class for the arguments.
    """

    def __init__(
        self,
        strict: bool = True,
        ignore: Iterable[str] = (),
        poison: bool = False,
        check_on_forward: bool = True,
        portable: bool = False,
    ) -> None:
        self.strict = strict
        self.poison = poison
        self.check_on_forward = check_on_forward
        self.portable = portable
        self._ignore = list(ignore)
        self.ledger = Ledger()
        self._watched = Watched(self._on_forward, self._release)
        self._registrations: dict[int, tuple[Any, list[tuple[Any, str]]]] = {}  # id -> (param, owners): ties
        self._pending: tuple[Any, str, int] | None = None  # (module ref, name, id of the registered one)
        self._models = 0
        self._waiting_for_lazy = False
        self._ties: list[list[str]] = []
        self._handles: list[Any] = []
        self._observer: Observer | None = None
        self._device: ObservedDevice | None = None
        self._deepspeed: DeepSpeedWatch | None = None  # DeepSpeed ZeRO parameters, when the program uses DeepSpeed
        self._phase = "new"
        self._thread = 0
        self._report: InitReport | None = None

    # -- building --------------------------------------------------------------------------
    def _start(self, skip: bool = False, device: torch.device | None = None) -> None:
        """Enter the building phase.

        Args:
            skip: the observer is the empty-init context itself.
            device: the wrapped context is ``torch.device(device)``: the observer rides inside it while
                building (one mode instead of two) and goes on the stack of its own when building ends.
        """
        sweep()
        self._phase = "building"
        self._thread = threading.get_ident()  # modules other threads build meanwhile are not ours
        self._handles = [
            _module.register_module_parameter_registration_hook(self._on_parameter),
            _module.register_module_buffer_registration_hook(self._on_buffer),
            _module.register_module_module_registration_hook(self._on_submodule),
        ]
        self._observe(skip, push=device is None)
        if device is not None:
            self._device = ObservedDevice(device, self._observer)
            self._device.__enter__()

    def _observe(self, skip: bool, push: bool = True) -> None:
        if self._observer is None:
            self._observer = Observer(self.ledger, skip=skip, poison=self.poison, on_error=self._internal_error)
            if push:
                push_bottom(self._observer)
        if self._deepspeed is None:
            self._deepspeed = DeepSpeedWatch.start(self.ledger)

    def _leave_device(self) -> None:
        """Leave the device context the observer rode in, and put the observer on the stack alone."""
        device, self._device = self._device, None
        if device is not None:
            device.__exit__(None, None, None)
            if self._observer is not None:
                push_bottom(self._observer)

    def _end_skipping(self) -> None:
        """Leaving the context: initialization is no longer skipped, only observed."""
        if self._observer is not None:
            self._observer.skip = self._observer.building = False

    def _building(self) -> bool:
        return self._phase == "building" and threading.get_ident() == self._thread

    def _note(self, module: nn.Module) -> Any:
        self._watched.add(module)
        return weakref.ref(module)

    def _on_parameter(self, module: nn.Module, name: str, param: Any) -> None:
        if self._building():
            ref = self._note(module)
            self._settle()
            if param is not None:
                with _NO_TORCH_FUNCTION:
                    self._computed_here(param)
                self._index_tie(param, ref, name)
                self._pending = (ref, name, id(param))

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
        if param is not None and id(param) != registered:
            self._index_tie(param, module_ref, name)

    def _index_tie(self, param: Any, module_ref: Any, name: str) -> None:
        # Strong references, for the building phase only (cleared when it ends): a weak one would make
        # torch.utils.swap_tensors refuse the parameter.
        entry = self._registrations.get(id(param))
        if entry is None or entry[0] is not param:
            self._registrations[id(param)] = (param, [(module_ref, name)])
        elif all(o[0]() is not module_ref() or o[1] != name for o in entry[1]):
            entry[1].append((module_ref, name))

    def _on_buffer(self, module: nn.Module, name: str, buffer: Any) -> None:
        if self._building():
            self._note(module)
            with _NO_TORCH_FUNCTION:
                self._computed_here(buffer)

    def _computed_here(self, tensor: Any) -> None:
        """Bind a registered tensor to its memory's entry; one no allocation we record made was computed
        by the constructor (``1 / (b ** x)``)."""
        if not self.ledger.bind(tensor) and storage_of(tensor) is not None and constructing():
            self.ledger.set(tensor, Origin.COMPUTED)

    def _on_submodule(self, module: nn.Module, name: str, submodule: Any) -> None:
        if self._building() and submodule is not None:
            self._note(module)

    def _abort(self) -> None:
        """The context failed: stop everything, track nothing."""
        self._leave_device()
        self._disarm()
        self._phase = "checked"
        self._report = InitReport()

    def _finish_building(self) -> None:
        """Leave the context: find the roots and their ties, and arm."""
        self._leave_device()
        self._end_skipping()
        self._settle()
        for handle in self._handles:  # the registration hooks: building is over
            handle.remove()
        self._handles = []
        self._ties = self._tie_groups()
        self._arm()

    def _tie_groups(self) -> list[list[str]]:
        prefixes = {id(m): p for root in self._live_roots() for p, m in root.named_modules(remove_duplicate=False)}
        groups = []
        for _, owners in self._registrations.values():
            names = set()
            for module_ref, attr in owners:
                module = module_ref()
                if module is not None and id(module) in prefixes:
                    names.add(f"{prefixes[id(module)]}.{attr}".lstrip("."))
            if len(names) > 1:
                groups.append(sorted(names))
        self._registrations.clear()
        return groups

    # -- armed -----------------------------------------------------------------------------
    def adopt(self, module: nn.Module) -> None:
        """Start watching an existing ``module`` now, as if it had just been built empty.

        Used before ``to_empty()`` materializes a model built on the meta device elsewhere: the fresh
        memory must then be written before the first forward.
        """
        sweep()
        self._thread = threading.get_ident()
        self._observe(skip=False)
        self._end_skipping()  # nothing is built here: every later write is the program's
        self._watched.add(module)
        self._arm()

    @property
    def models(self) -> int:
        """How many models (top-most modules) this tracker watched when it was armed."""
        return self._models

    @property
    def tensors(self) -> int:
        """How many tensors this tracker watches."""
        if self._report is not None:
            return len(self._report)
        return sum(1 for _ in self._tensors())

    @property
    def verdict(self) -> InitReport | None:
        """The report of ``check()``, once it ran."""
        return self._report

    def _arm(self) -> None:
        self._phase = "armed"
        roots = self._live_roots()
        self._models = len(roots)
        for root in roots:
            _tracked_roots.add(root)
        for listener in list(_listeners):
            listener(self)
        self._watched.arm()  # with nothing alive to watch, releases at once

    def _on_forward(self, module: nn.Module) -> None:
        """The first forward of any watched module checks them all (a lazy one: once it returned)."""
        __tracebackhide__ = True
        if self._phase != "armed" or not self.check_on_forward or self._waiting_for_lazy:
            return
        if self._has_lazy():
            self._waiting_for_lazy = True
            self._watched.after_forward(module, self._check_after_lazy)
            return
        self.check()

    def _check_after_lazy(self) -> None:
        if self._phase == "armed":
            self.check()

    def _release(self) -> None:
        """Every watched module died unchecked: nothing is left to verify, so leave torch as it was."""
        if self._phase == "armed":
            self._disarm()
            self._phase = "released"

    def _disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._watched.stop()
        if self._observer is not None:
            leave(self._observer, self._thread)
            self._observer = None
        if self._deepspeed is not None:
            self._deepspeed.close()  # its origins stay readable for report()

    def _internal_error(self, error: BaseException) -> None:
        """A fault in initlint itself: say what could not be verified and let the program run."""
        self._disarm()
        self._phase = "checked"
        self._report = InitReport()
        warnings.warn(
            f"initlint could not verify the weights built under verified_empty_init ({type(error).__name__}: "
            f"{error}); the model runs unverified. Please report this with the traceback.",
            UninitializedWeightsWarning,
            stacklevel=3,
        )

    def _live_roots(self) -> list[nn.Module]:
        """The top-most live modules built here, whoever dropped their parents (checked at this moment)."""
        return self._watched.tops()

    def _tensors(self) -> Iterator[tuple[list[str], str, nn.Module, str, Any]]:
        """(names, kind, owning module, attribute, tensor) per distinct tensor of every root, live."""
        seen: dict[int, list[str]] = {}
        for root in self._live_roots():
            for prefix, module in root.named_modules(remove_duplicate=False):
                for kind, store in (("parameter", module._parameters), ("buffer", module._buffers)):
                    for attr, tensor in store.items():
                        if tensor is None:
                            continue
                        name = f"{prefix}.{attr}" if prefix else attr
                        names = seen.get(id(tensor))
                        if names is not None:
                            if name not in names:
                                names.append(name)  # tied: one tensor, several names
                            continue
                        names = seen[id(tensor)] = [name]
                        yield names, kind, module, attr, tensor

    # -- verdict ---------------------------------------------------------------------------
    def mark_initialized(self, *patterns: str) -> None:
        """Treat tensors whose dotted names match ``patterns`` (globs) as intentionally initialized."""
        self._ignore += patterns

    def report(self, value_scan: bool = True) -> InitReport:
        """The state of every tracked tensor now (``value_scan``: look for NaN/inf values)."""
        if self._report is not None:
            return self._report
        sweep()
        observer = self._observer
        if observer is not None:  # our own reads of the tensors are no program's calls
            remove_mode(observer)
        try:
            return self._make_report(value_scan)
        finally:
            if observer is not None and self._observer is observer:
                push_bottom(observer)

    def _make_report(self, value_scan: bool) -> InitReport:
        entries = list(self._tensors())  # names of tied tensors fill up while walking
        offload = OffloadMaps(self._live_roots()) if any(t.is_meta for *_, t in entries) else None
        records = [
            self._record(names, kind, module, attr, tensor, value_scan, offload)
            for names, kind, module, attr, tensor in entries
        ]
        records += self._broken_ties(entries)
        report = InitReport(records, portable=self.portable)
        _aggregate(report)
        return report

    def check(self, value_scan: bool = True) -> InitReport:
        """Give the verdict once: raise (strict) or warn, and stop tracking.

        Raises:
            UninitializedWeightsError: in strict mode, when a tensor holds memory nobody wrote, NaN/inf, or
                is still on the meta device (with ``portable=True`` also: only its constructor's value).
                Meta tensors raise in both modes. Tensors re-initialized after a load are only warned.
        """
        __tracebackhide__ = True  # pytest shows the report, not initlint's frames
        if self._report is not None:
            return self._report
        sweep()
        if self._observer is not None:  # our own reads of the tensors are no program's writes
            leave(self._observer, self._thread)
            self._observer = None
        try:
            report = self.report(value_scan)
        except Exception as error:  # noqa: BLE001 - a fault here must not stop a working program
            self._internal_error(error)
            return self._report  # type: ignore[return-value]
        self._disarm()
        self._phase = "checked"
        self._report = report
        reinitialized = [r for r in report if r.status == Status.REINITIALIZED]
        if reinitialized:
            warnings.warn(report.format_reinitialized(), UninitializedWeightsWarning, stacklevel=2)
        if report.ok:
            return report
        on_meta = any(r.status == Status.ON_META for r in report.failures)
        if self.strict or on_meta:
            raise UninitializedWeightsError(report.format(), report)
        warnings.warn(report.format(), UninitializedWeightsWarning, stacklevel=2)
        return report

    def close(self) -> None:
        """Stop tracking without a verdict."""
        sweep()
        self._disarm()
        self._phase = "checked"

    def _has_lazy(self) -> bool:
        return any(is_lazy(tensor) for *_, tensor in self._tensors())

    def _is_ignored(self, names: list[str], module: nn.Module, attr: str) -> bool:
        if attr in getattr(module, "__initlint_computed__", ()):
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for name in names for pattern in self._ignore)

    def _record(
        self,
        names: list[str],
        kind: str,
        module: nn.Module,
        attr: str,
        tensor: Any,
        value_scan: bool,
        offload: OffloadMaps | None = None,
    ) -> TensorRecord:
        status, origin = self._status(tensor)
        detail = ""
        served = offload.value(names[0]) if status == Status.ON_META and offload else None
        if served is FROM_DISK:
            status, origin, detail = Status.WRITTEN, Origin.LOADED, "offloaded to disk"
        elif served is not None:  # judged by the value accelerate's hook loads at each forward
            status, origin, detail, tensor = *self._status(served), "offloaded", served
        if self._is_ignored(names, module, attr) and status != Status.ON_META:
            status = Status.IGNORED
        unwritten = 0
        local = partition_values(tensor)  # a ZeRO-3 parameter: judge this rank's partition, not the empty .data
        values = tensor if local is None else local
        scannable = tensor.dtype != torch.bool and not tensor.is_meta
        if status in (Status.WRITTEN, Status.COMPUTED, Status.REINITIALIZED) and scannable:
            if self.poison and origin != Origin.COMPUTED:
                unwritten = _count_poison(values)
                if unwritten:
                    status = Status.NEVER_WRITTEN if unwritten == values.numel() else Status.PARTLY_WRITTEN
            if not unwritten and value_scan and tensor.is_floating_point():
                unwritten = _count_non_finite(values)
                if unwritten:
                    status = Status.NON_FINITE
        lazy = is_lazy(tensor)
        return TensorRecord(
            name=names[0],
            kind=kind,
            shape=() if lazy else tuple(getattr(tensor, "ds_shape", tensor.shape)),
            dtype=str(tensor.dtype),
            numel=0 if lazy else getattr(tensor, "ds_numel", tensor.numel()),
            status=status,
            aliases=tuple(names[1:]),
            unwritten=unwritten,
            module_type=type(module).__name__,
            detail="not materialized (lazy module)" if lazy else detail,
            origin=origin,
            portable=self.portable,
        )

    def _status(self, tensor: Any) -> tuple[str, str]:
        """(status, origin) of a live tensor, from the ledger's record of its memory."""
        if is_lazy(tensor):
            return Status.ON_META, ""
        local = getattr(tensor, "_local_tensor", tensor)
        if tensor.is_meta or local.is_meta:
            return Status.ON_META, ""
        partition = self._deepspeed.origin(tensor) if self._deepspeed is not None else None
        if partition is not None:  # a ZeRO-3 partition or a ZeRO-1/2 flat buffer slice: its own origin
            return _STATUS_OF_ORIGIN[partition], partition
        entry = self.ledger.entry(tensor)
        if entry is None:
            return Status.WRITTEN, Origin.LOADED  # memory from elsewhere: a checkpoint, a tensor built before
        origin = entry.origin
        if origin in Origin.UNWRITTEN and entry.written_since(local):
            origin = Origin.LOADED  # written where the observer could not see (another thread)
        return _STATUS_OF_ORIGIN[origin], origin

    def _broken_ties(self, entries: list[tuple[list[str], str, nn.Module, str, Any]]) -> list[TensorRecord]:
        current = {name: tensor for names, *_, tensor in entries for name in names}
        records = []
        for names in self._ties:
            tensors = {name: current[name] for name in names if name in current}
            if len({id(t) for t in tensors.values()}) > 1:
                first, *others = sorted(tensors)
                tensor = tensors[first]
                records.append(
                    TensorRecord(
                        name=first,
                        kind="parameter",
                        shape=tuple(tensor.shape),
                        dtype=str(tensor.dtype),
                        numel=tensor.numel(),
                        status=Status.TIE_BROKEN,
                        detail=", ".join(t for t in others if tensors[t] is not tensor),
                        module_type="tied weights",
                    )
                )
        return records


@torch.no_grad()
def _count_poison(tensor: torch.Tensor) -> int:
    local = getattr(tensor, "_local_tensor", tensor)
    if local.is_floating_point() or local.is_complex():
        return int(torch.isnan(local).sum())
    return int((local == torch.iinfo(local.dtype).max).sum())


@torch.no_grad()
def _count_non_finite(tensor: torch.Tensor) -> int:
    """Cheap pre-check (one reduction); the exact count only where it fires."""
    local = getattr(tensor, "_local_tensor", tensor)
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
