"""Whether module construction is running: an ``nn.Module.__init__`` somewhere up the stack.

initlint's own skip applies only to initialization done while modules are constructed, and a value a
constructor computes is told apart from one an initialization writes afterwards (transformers'
missing-key init, ``reset_parameters()`` after ``to_empty``). Asked once per allocation or init call,
so the answer is cached per code object.
"""

from __future__ import annotations

import sys
from types import CodeType

from torch import nn

__all__ = ["constructing"]

_MAX_DEPTH = 400
_is_module_init: dict[CodeType, bool] = {}


def constructing() -> bool:
    """Whether the caller runs inside the ``__init__`` of an ``nn.Module`` (any depth)."""
    frame = sys._getframe(1)
    depth = 0
    while frame is not None and depth < _MAX_DEPTH:
        code = frame.f_code
        if code.co_name == "__init__":
            known = _is_module_init.get(code)
            if known is None:
                owner = frame.f_locals.get(code.co_varnames[0]) if code.co_argcount else None
                known = isinstance(owner, nn.Module)
                if known or owner is not None:  # a code object's `self` keeps its kind
                    _is_module_init[code] = known
            if known:
                return True
        frame = frame.f_back
        depth += 1
    return False
