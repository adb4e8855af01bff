"""The empty-init mode ``verified_empty_init`` uses when it wraps no other context."""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["SkipInitMode"]

# In-place random fills that module constructors use to initialize weights. ``fill_`` and ``zero_``
# stay: constructors also use them to compute values that are not weights.
_RANDOM_FILLS = frozenset(
    {
        "uniform_",
        "normal_",
        "random_",
        "exponential_",
        "bernoulli_",
        "cauchy_",
        "log_normal_",
        "geometric_",
    }
)


class SkipInitMode(TorchFunctionMode):
    """Skips ``torch.nn.init.*`` and in-place random fills: modules are built on empty memory."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        is_init = getattr(func, "__module__", None) == "torch.nn.init" and name.endswith("_")
        if is_init or name in _RANDOM_FILLS:
            target = kwargs.get("tensor", args[0] if args else None)
            if isinstance(target, torch.Tensor):
                return target
        return func(*args, **kwargs)
