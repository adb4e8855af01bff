"""Provenance: where the values in each piece of tensor memory came from.

The verifier's promise rests on one distinction. **Garbage** is memory that nobody wrote: an
allocation without values (``torch.empty*``, ``new_empty``, ``empty_like``, ``to_empty``, a meta or lazy
tensor materialized into fresh memory) that no later write covered. Everything else holds a real
value: one that code **computed** while the modules were constructed (a RoPE table, BatchNorm's zeros),
one **loaded** from elsewhere (a checkpoint copy, ``assign=True``, a replaced parameter), or one an
**initialization** wrote after construction (``reset_parameters()``, transformers' missing-key init).

Garbage spreads: a value any torch op computes from garbage (``torch.empty(4) * 2``, a spectral norm's
``normalize(empty.normal_())`` whose fill was skipped) is **derived** garbage, just as unwritten. The ledger
counts the garbage storages alive, so the observer pays for following computations only while there is
some.

The ledger is keyed by storage, so views, ``.data`` aliases and ``p.data = t`` follow for free, and it
holds only weak references to storages: an entry is void once its memory died, so an address reused by an
allocation nobody saw is never mistaken for the garbage that lived there before. (Tensors themselves get
no weak references: ``torch.utils.swap_tensors``, which FSDP2 uses, refuses tensors that have them.)
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import torch

__all__ = ["Origin", "Ledger", "storage_of"]


class Origin:
    """What last gave a storage its values."""

    GARBAGE = "garbage"
    COMPUTED = "computed"
    LOADED = "loaded"
    INITIALIZED = "initialized"
    REINITIALIZED = "reinitialized"  # loaded, then overwritten by an initialization
    DERIVED = "derived"  # computed by torch ops from garbage: no more written than its source

    UNWRITTEN = frozenset({GARBAGE, DERIVED})


_PLAIN = (torch.Tensor, torch.nn.Parameter)


def storage_of(tensor: Any) -> Any:
    """The storage behind ``tensor`` (of its local shard for a DTensor); None for meta, lazy or exotic ones."""
    local = getattr(tensor, "_local_tensor", tensor)
    if type(local) not in _PLAIN:
        return None
    try:
        if local.is_meta:
            return None
        return local.untyped_storage()
    except Exception:  # tensors without storage (functional wrappers, sparse)
        return None


class _StorageRef(weakref.ref):
    """A weak reference to a storage that knows its ledger key (for the garbage count when it dies)."""

    __slots__ = ("key",)

    def __new__(cls, storage: Any, callback: Any, key: int) -> _StorageRef:
        return super().__new__(cls, storage, callback)

    def __init__(self, storage: Any, callback: Any, key: int) -> None:
        super().__init__(storage, callback)
        self.key = key


class _Entry:
    __slots__ = ("ref", "origin", "version", "tensor_id")

    def __init__(self, ref: Any, origin: str, tensor: Any) -> None:
        self.ref = ref
        self.origin = origin
        self.version, self.tensor_id = _version(tensor), id(tensor)

    def written_since(self, tensor: Any) -> bool:
        """Whether ``tensor`` -- the very tensor whose version was recorded -- was written since.

        Version counters belong to a tensor and its views, not to its storage (``p.data = t`` keeps
        ``p``'s), so another tensor's counter says nothing about this memory.
        """
        return id(tensor) == self.tensor_id and _version(tensor) != self.version


class Ledger:
    """Origin per live storage; storages never written while it watched have none (``None``)."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._prune_at = 1024
        # Called with (tensor, origin) on every write recorded: finer bookkeeping than whole storages
        # (DeepSpeed ZeRO parameters sharing one buffer, deepspeed.py) listens here.
        self.listeners: list[Callable[[Any, str], None]] = []
        self._garbage: set[int] = set()  # keys of live storages holding garbage (or derived garbage)

    @property
    def holds_garbage(self) -> bool:
        """Whether some live storage holds garbage now (computations must then be followed)."""
        return bool(self._garbage)

    def is_garbage(self, tensor: Any) -> bool:
        """Whether ``tensor``'s memory holds garbage or values derived from it."""
        entry = self._entry(storage_of(tensor))
        return entry is not None and entry.origin in Origin.UNWRITTEN

    def __len__(self) -> int:
        return len(self._entries)

    def origin(self, tensor: Any) -> str | None:
        """The origin of the memory behind ``tensor``, or None when the ledger never saw it."""
        entry = self._entry(storage_of(tensor))
        return entry.origin if entry is not None else None

    def entry(self, tensor: Any) -> _Entry | None:
        """The ledger's entry for ``tensor``'s storage (origin and the version it was set at)."""
        return self._entry(storage_of(tensor))

    def _entry(self, storage: Any) -> _Entry | None:
        if storage is None:
            return None
        entry = self._entries.get(id(storage))
        if entry is None or entry.ref() is not storage:
            return None
        return entry

    def set(self, tensor: Any, origin: str, notify: bool = True) -> None:
        """Record that ``tensor``'s memory now holds values of ``origin``.

        ``notify=False``: the listeners, which follow finer than storages and settle what collectives
        bring by themselves (DeepSpeed), are not told.
        """
        if notify:
            for listener in self.listeners:
                listener(tensor, origin)
        storage = storage_of(tensor)
        if storage is None:
            return
        key = id(storage)
        entry = self._entries.get(key)
        if entry is None or entry.ref() is not storage:
            if storage.nbytes() == 0:
                return
            if len(self._entries) >= self._prune_at:
                self.prune()
            entry = self._entries[key] = _Entry(_StorageRef(storage, self._died, key), origin, tensor)
        else:
            entry.origin, entry.version, entry.tensor_id = origin, _version(tensor), id(tensor)
        if origin in Origin.UNWRITTEN:
            self._garbage.add(key)
        else:
            self._garbage.discard(key)

    def _died(self, ref: _StorageRef) -> None:
        self._garbage.discard(ref.key)

    def bind(self, tensor: Any) -> bool:
        """Follow the version of ``tensor`` (a parameter or buffer just registered) for its memory.

        Returns whether the ledger knows that memory (False also for meta and storage-less tensors).
        """
        entry = self._entry(storage_of(tensor))
        if entry is None:
            return False
        entry.version, entry.tensor_id = _version(tensor), id(tensor)
        return True

    def prune(self) -> None:
        """Forget the entries of storages that died (temporaries); entries are checked on use anyway."""
        self._entries = {k: e for k, e in self._entries.items() if e.ref() is not None}
        self._prune_at = max(1024, 2 * len(self._entries))

    def touch(self, tensor: Any) -> None:
        """An in-place op that changes no origin ran: remember the version it left."""
        entry = self._entry(storage_of(tensor))
        if entry is not None:
            entry.version = _version(tensor)  # views share their base's counter: the bound tensor stays


def _version(tensor: Any) -> int:
    try:
        return getattr(tensor, "_local_tensor", tensor)._version
    except Exception:
        return -1
