"""The observer: a passive ``TorchFunctionMode`` that keeps the ledger of where values came from.

It is entered *below* the wrapped empty-init context on the torch-function mode stack, so it sees
exactly what that context lets through: an init call the context skips never reaches it and never
writes. When ``verified_empty_init`` wraps no context, the observer also does the skipping itself, and
only for initialization done while modules are constructed (a loader's missing-key init runs as it
would without initlint). While some memory holds garbage, every other call is followed too: what it
computes from garbage is derived garbage. Every call is passed on unchanged; a fault in the bookkeeping
stops the bookkeeping, never the program.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch.overrides import TorchFunctionMode

from initlint.runtime.collectives import collective_writes, is_collective
from initlint.runtime.construction import constructing
from initlint.runtime.provenance import Ledger, Origin, storage_of
from initlint.runtime.skip_init import init_target, is_init_function, is_skippable

__all__ = ["Observer", "poison"]

# What a function does to the ledger, by name.
_IGNORE, _EMPTY, _FACTORY, _LOADING, _COPYLIKE, _INIT, _SET, _INPLACE, _SKIPPABLE_INIT, _COLLECTIVE, _NO_VALUE = range(11)
_EMPTY_NAMES = frozenset({"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "empty_permuted"})
_FACTORY_NAMES = frozenset(
    {
        "zeros", "ones", "full", "arange", "range", "linspace", "logspace", "eye", "rand", "randn", "randint",
        "randperm", "tensor", "as_tensor", "asarray", "zeros_like", "ones_like", "full_like", "rand_like",
        "randn_like", "randint_like", "new_zeros", "new_ones", "new_full", "new_tensor", "normal", "tril_indices",
        "triu_indices",
    }
)  # fmt: skip
_LOADING_NAMES = frozenset({"frombuffer", "from_file", "from_numpy"})
_COPYLIKE_NAMES = frozenset(
    {"to", "_to_copy", "clone", "contiguous", "float", "half", "double", "bfloat16", "cpu", "cuda", "type", "pin_memory"}
)
_SET_NAMES = frozenset(
    {
        "copy_", "__setitem__", "masked_fill_", "index_put_", "index_copy_", "index_fill_", "scatter_",
        "masked_scatter_", "put_", "fill_diagonal_",
    }
)  # fmt: skip
# Attribute reads (``.data``, ``.T``: views), shapes and switches: no fresh values, never followed.
_NO_VALUES = frozenset(
    {
        "__get__", "__set__", "size", "dim", "numel", "stride", "storage_offset", "is_floating_point",
        "is_complex", "element_size", "data_ptr", "untyped_storage", "is_contiguous", "get_device", "nelement",
        "ndimension", "_set_grad_enabled", "__len__", "__repr__", "__format__", "__hash__", "is_nonzero",
    }
)  # fmt: skip
# In-place by name, but they change no value (``set_`` makes the tensor share memory whose origin stays).
_NOT_WRITES = frozenset({"set_", "requires_grad_", "share_memory_", "detach_", "retain_grad", "rename_", "record_stream"})


_INIT_KINDS = (_INIT, _SKIPPABLE_INIT)
_ALLOCATIONS = (_EMPTY, _FACTORY)
_KINDS: dict[Any, int] = {}  # function -> what it does, learnt on first sight (shared by every observer)
_SKIP = object()
_META = torch.device("meta")
_NO_TORCH_FUNCTION = torch._C.DisableTorchFunction()


def _classify(func: Any) -> int:
    name = getattr(func, "__name__", "")
    if name in _NO_VALUES:
        return _NO_VALUE
    if is_collective(func):
        return _COLLECTIVE
    if name in _EMPTY_NAMES:
        return _EMPTY
    if name in _FACTORY_NAMES:
        return _FACTORY
    if name in _LOADING_NAMES:
        return _LOADING
    if name in _COPYLIKE_NAMES:
        return _COPYLIKE
    if name in _SET_NAMES:
        return _SET
    if is_init_function(func):
        return _SKIPPABLE_INIT if is_skippable(func) else _INIT
    if name.endswith("_") and not name.startswith("_") and name not in _NOT_WRITES:
        return _INPLACE
    return _IGNORE


class Observer(TorchFunctionMode):
    """Calls every function unchanged and records in ``ledger`` what each one wrote.

    Args:
        ledger: where origins are kept.
        skip: skip initialization done during construction (the mode is then the empty-init context).
        poison: fill memory allocated without values with NaN (integers: the dtype's maximum).
        on_error: called once with an internal exception; the observer then only passes calls on.

    Attributes:
        passive: only pass calls on (set when the tracker is done, or on an internal error).
        building: modules are being built inside the context, the same way on every rank (SPMD): a
            collective then brings each rank a value of the origin its own copy has (DeepSpeed's
            ``zero.Init`` broadcasts each parameter from rank 0), so it changes no origin.
    """

    def __init__(self, ledger: Ledger, *, skip: bool, poison: bool, on_error: Callable[[BaseException], None]) -> None:
        super().__init__()
        self.ledger = ledger
        self.skip = skip
        self.poison = poison
        self.on_error = on_error
        self.broken = False
        self.passive = False
        self.building = True

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        kind = _KINDS.get(func)
        if kind is None:
            kind = _KINDS[func] = _classify(func)
        if self.passive or kind == _NO_VALUE or (kind == _IGNORE and "out" not in kwargs and not self.ledger.holds_garbage):
            return func(*args, **kwargs)
        if kind in _ALLOCATIONS and _META == kwargs.get("device"):  # allocations on meta: no memory to follow
            return func(*args, **kwargs)
        # Our own reads of tensors (is_meta, storages) must not go through the modes below us, if any.
        below = torch._C._len_torch_function_stack() > 0
        try:
            if below:
                with _NO_TORCH_FUNCTION:
                    before = self._before(kind, func, args, kwargs)
            else:
                before = self._before(kind, func, args, kwargs)
        except Exception as error:  # noqa: BLE001 - bookkeeping must never break the program
            return self._fail(error, func, args, kwargs)
        if before is _SKIP:
            return init_target(args, kwargs)
        result = func(*args, **kwargs)
        try:
            if below:
                with _NO_TORCH_FUNCTION:
                    self._after(kind, func, args, kwargs, result, before)
            else:
                self._after(kind, func, args, kwargs, result, before)
        except Exception as error:  # noqa: BLE001
            self._broken(error)
        return result

    def _before(self, kind: int, func: Any, args: tuple, kwargs: dict) -> Any:
        """What a call needs noted before it runs; ``_SKIP`` for an init call to skip."""
        if kind in _INIT_KINDS:
            target = init_target(args, kwargs)
            has_memory = storage_of(target) is not None
            skippable = self.skip and kind == _SKIPPABLE_INIT
            during_construction = (skippable or has_memory) and constructing()
            if skippable and during_construction and isinstance(target, torch.Tensor):
                return _SKIP
            return (self.ledger.origin(target) if has_memory else None, has_memory, during_construction)
        if kind == _SET:
            return self._source_origin(args[1:], kwargs, args[0] if args else None)
        if kind == _IGNORE:
            return self._unwritten_among(args, kwargs)
        if kind == _INPLACE and self.ledger.holds_garbage:
            return self._unwritten_among(args[1:], kwargs)
        if kind == _COLLECTIVE:
            if self.building:  # every rank runs the same constructors: what arrives is what it had
                return [], Origin.LOADED
            outputs, sources = collective_writes(func, args, kwargs)
            origins = [self.ledger.origin(t) for t in sources]
            return outputs, next((o for o in origins if o in Origin.UNWRITTEN), Origin.LOADED)
        return None

    def _unwritten_among(self, args: tuple, kwargs: dict) -> tuple | None:
        """The storages of the tensors among ``args`` and ``kwargs``, when one of them holds garbage."""
        storages, garbage = [], False
        for value in (*args, *kwargs.values()):
            for tensor in _tensors_in(value):
                storage = storage_of(tensor)
                if storage is not None:
                    storages.append(storage)
                    garbage = garbage or self.ledger.is_garbage(tensor)
        return tuple(storages) if garbage else None

    def _after(self, kind: int, func: Any, args: tuple, kwargs: dict, result: Any, before: Any) -> None:
        if kind in _INIT_KINDS:
            origin, has_memory, during_construction = before
            if has_memory:
                self._initialized(init_target(args, kwargs), origin, during_construction)
        elif kind == _SET:
            if args:
                self.ledger.set(args[0], before)
        elif kind == _EMPTY:
            if isinstance(result, torch.Tensor):
                self.ledger.set(result, Origin.GARBAGE)
                if self.poison:
                    poison(result)
        elif kind == _FACTORY:
            if storage_of(result) is not None:
                self.ledger.set(result, Origin.COMPUTED if constructing() else Origin.INITIALIZED)
        elif kind == _LOADING:
            if isinstance(result, torch.Tensor):
                self.ledger.set(result, Origin.LOADED)
        elif kind == _COPYLIKE:
            if isinstance(result, torch.Tensor) and args and result is not args[0]:
                origin = self.ledger.origin(args[0])
                if origin is not None:
                    self.ledger.set(result, origin)
        elif kind == _INPLACE and args:
            if before is not None:
                self.ledger.set(args[0], Origin.DERIVED)
            else:
                self.ledger.touch(args[0])
        elif kind == _IGNORE and before is not None:
            self._derived(result, before)
        elif kind == _COLLECTIVE:
            outputs, origin = before
            for tensor in outputs:
                self.ledger.set(tensor, origin, notify=False)
        for out in _tensors_in(kwargs.get("out")):  # one tensor, or a tuple (torch.linalg.qr(a, out=(q, r)))
            random = getattr(func, "__name__", "").startswith(("rand", "normal", "bernoulli", "poisson"))
            if random:
                self.ledger.set(out, Origin.COMPUTED if constructing() else Origin.INITIALIZED)
            else:
                self.ledger.set(out, self._source_origin(args, {}, out))

    def _derived(self, result: Any, inputs: tuple) -> None:
        """Fresh tensors a call computed from garbage hold derived garbage (views keep their memory's)."""
        for tensor in _tensors_in(result):
            storage = storage_of(tensor)
            if storage is not None and all(storage is not source for source in inputs):
                self.ledger.set(tensor, Origin.DERIVED)

    def _initialized(self, target: Any, before: str | None, during_construction: bool) -> None:
        if not isinstance(target, torch.Tensor):
            return
        if during_construction:
            origin = Origin.COMPUTED
        elif before is None or before in (Origin.LOADED, Origin.REINITIALIZED):
            origin = Origin.REINITIALIZED  # memory nobody here allocated holds a checkpoint's values
        else:
            origin = Origin.INITIALIZED
        self.ledger.set(target, origin)

    def _source_origin(self, sources: tuple, kwargs: dict, target: Any) -> str:
        """The origin of the values a write takes from ``sources``.

        A copy of anything but garbage is a load (a checkpoint's tensor, another model's state); a copy
        of garbage is garbage; a constant is an initialization (or, during construction, a computed value).
        """
        copied = False
        for value in (*sources, *kwargs.values()):
            if isinstance(value, torch.Tensor):
                if target is not None and not value.is_floating_point() and value.dtype != target.dtype:
                    continue  # an index or a mask, not a value
                origin = self.ledger.origin(value)
                if origin in Origin.UNWRITTEN:
                    return origin
                copied = True
        if copied:
            return Origin.LOADED
        return Origin.COMPUTED if constructing() else Origin.INITIALIZED

    def _fail(self, error: BaseException, func: Any, args: tuple, kwargs: dict) -> Any:
        self._broken(error)
        return func(*args, **kwargs)

    def _broken(self, error: BaseException) -> None:
        if not self.broken:
            self.broken = self.passive = True
            self.on_error(error)


def _tensors_in(value: Any) -> Any:
    """The tensors in a call's argument or result: itself, or the items of a list or tuple."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, torch.Tensor):
                yield item


@torch.no_grad()
def poison(tensor: torch.Tensor) -> None:
    """Fill memory nobody wrote with NaN (integers: the dtype's maximum; booleans stay)."""
    local = getattr(tensor, "_local_tensor", tensor)
    if type(local) not in (torch.Tensor, torch.nn.Parameter) or local.is_meta or local.dtype == torch.bool:
        return
    if local.numel() == 0:
        return
    if local.is_floating_point() or local.is_complex():
        local.fill_(math.nan)
    else:
        local.fill_(torch.iinfo(local.dtype).max)
