"""The modules a tracker watches: every module built under it, and every module attached to one later.

Nothing here keeps a model alive. Each module is held by a weak reference whose callback counts the
living; when the last one dies, ``on_empty`` runs, so a model that is dropped without ever being
checked takes the verifier's global state with it. The first forward of *any* watched module (not only
of a root: a wrapper may be thrown away, and Lightning's ``training_step`` calls children directly)
runs ``on_forward`` through one process-wide forward pre-hook, so nothing is stored on the model and it
pickles, deep-copies and saves like an untracked one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

from torch import nn
from torch.nn.modules import module as _module

__all__ = ["Watched"]


class Watched:
    """Weakly held modules, the forward hook that fires on the first of them to run, and the death count.

    Args:
        on_forward: called with the module whose forward is about to run (the hooks stay until ``stop``).
        on_empty: called once when every watched module has died after ``arm``.
    """

    def __init__(self, on_forward: Callable[[nn.Module], None], on_empty: Callable[[], None]) -> None:
        self._refs: dict[int, Any] = {}  # id(module) -> weak reference, in the order first seen
        self._alive = 0
        self._armed = False
        self._on_forward = on_forward
        self._on_empty = on_empty
        self._handles: list[Any] = []

    def add(self, module: nn.Module) -> None:
        """Watch ``module`` (again, if an old module with the same id died)."""
        ref = self._refs.get(id(module))
        if ref is not None and ref() is module:
            return
        self._refs[id(module)] = weakref.ref(module, self._died)
        self._alive += 1

    def add_tree(self, module: nn.Module) -> None:
        """Watch ``module`` and every module under it."""
        for sub in module.modules():
            self.add(sub)

    def __contains__(self, module: nn.Module) -> bool:
        ref = self._refs.get(id(module))
        return ref is not None and ref() is module

    def __len__(self) -> int:
        return self._alive

    def live(self) -> Iterator[nn.Module]:
        """The watched modules still alive, in the order first seen."""
        for ref in list(self._refs.values()):
            module = ref()
            if module is not None:
                yield module

    def tops(self) -> list[nn.Module]:
        """The live watched modules no other live watched module holds: whoever dropped their parents."""
        live = list(self.live())
        below: set[int] = set()
        for module in live:
            if id(module) not in below:
                below.update(id(sub) for sub in module.modules() if sub is not module)
        return [module for module in live if id(module) not in below]

    def _died(self, ref: Any) -> None:
        self._alive -= 1
        if self._alive <= 0 and self._armed:
            self._armed = False
            self._on_empty()

    def arm(self) -> None:
        """Call ``on_forward`` at each forward of a watched module, and ``on_empty`` when none is left."""
        self._armed = True
        self._refs = {key: ref for key, ref in self._refs.items() if ref() is not None}
        hook = _FirstForward(weakref.ref(self))
        self._handles = [
            _module.register_module_forward_pre_hook(hook),
            _module.register_module_module_registration_hook(hook.attached),
        ]
        if self._alive <= 0:
            self._armed = False
            self._on_empty()

    def after_forward(self, module: nn.Module, callback: Callable[[], None]) -> None:
        """Run ``callback`` once, when the forward of ``module`` that is starting now has returned."""

        def done(ran: nn.Module, args: Any, output: Any) -> None:
            if ran is module:
                handle.remove()
                callback()

        handle = _module.register_module_forward_hook(done)
        self._handles.append(handle)

    def stop(self) -> None:
        """Remove the hooks; forget every module."""
        self._armed = False
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._refs = {}


class _FirstForward:
    """The process-wide hooks of one ``Watched``: forwards of its modules, and modules attached to them."""

    def __init__(self, watched: Any) -> None:
        self._watched = watched

    def __call__(self, module: nn.Module, args: Any) -> None:
        __tracebackhide__ = True
        watched = self._watched()
        if watched is not None and module in watched:
            watched._on_forward(module)

    def attached(self, parent: nn.Module, name: str, child: Any) -> None:
        """A module attached under a watched one after construction (``configure_model``) is watched too."""
        watched = self._watched()
        if watched is not None and child is not None and parent in watched:
            watched.add_tree(child)


def _no_dynamo(cls: type) -> type:
    """Keep torch.compile from tracing our hooks (they must run eagerly, once)."""
    import torch

    disable = getattr(getattr(torch, "_dynamo", None), "disable", None)
    if disable is not None:
        cls.__call__ = disable(cls.__call__)  # type: ignore[method-assign]
    return cls


_no_dynamo(_FirstForward)
