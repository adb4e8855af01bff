"""The torch-function mode stack: where the observer sits, and how it leaves without disturbing others.

The observer goes to the *bottom* of the stack so every wrapped context's mode decides first. It must
leave the stack as soon as nothing it watches is alive, which can happen at any moment (a model dropped
inside another library's call). Leaving is only safe while the observer is on this thread's stack: inside
its own ``__torch_function__`` torch has popped it and will push it back afterwards. An observer asked to
leave at such a moment goes passive at once (it passes every call on) and is taken off the stack at the
next safe point (``sweep``): the next verifier that starts, checks or closes.
"""

from __future__ import annotations

import threading
from typing import Any

import torch

__all__ = ["push_bottom", "remove_mode", "leave", "sweep"]

_pending: list[tuple[int, Any]] = []  # (thread id, passive observer) still on some stack


def push_bottom(mode: Any) -> None:
    """Put ``mode`` at the bottom of the torch-function mode stack, under every mode already there."""
    above = [torch._C._pop_torch_function_stack() for _ in range(torch._C._len_torch_function_stack())]
    torch._C._push_on_torch_function_stack(mode)
    for other in reversed(above):
        torch._C._push_on_torch_function_stack(other)


def _on_stack(mode: Any) -> bool:
    return any(torch._C._get_function_stack_at(i) is mode for i in range(torch._C._len_torch_function_stack()))


def remove_mode(mode: Any) -> None:
    """Take ``mode`` off this thread's stack if it is there, keeping the others' order."""
    if not _on_stack(mode):
        return
    above = []
    while torch._C._len_torch_function_stack() > 0:
        top = torch._C._pop_torch_function_stack()
        if top is mode:
            break
        above.append(top)
    for other in reversed(above):
        torch._C._push_on_torch_function_stack(other)


def leave(mode: Any, thread: int) -> None:
    """Make ``mode`` (pushed by ``thread``) passive now, and take it off the stack when that is safe."""
    mode.passive = True
    if threading.get_ident() == thread and _on_stack(mode):
        remove_mode(mode)
    else:
        _pending.append((thread, mode))


def sweep() -> None:
    """Take the passive modes of this thread that could not leave earlier off the stack."""
    if not _pending:
        return
    me = threading.get_ident()
    for entry in list(_pending):
        thread, mode = entry
        if thread == me and _on_stack(mode):
            remove_mode(mode)
            _pending.remove(entry)
        elif thread == me or not any(t.ident == thread for t in threading.enumerate()):
            _pending.remove(entry)  # not on the stack any more (or its thread is gone with its stack)
