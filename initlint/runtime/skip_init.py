"""What counts as initialization, and what ``verified_empty_init`` skips when it wraps no context."""

from __future__ import annotations

from typing import Any

__all__ = ["RANDOM_FILLS", "CONSTANT_FILLS", "is_init_function", "is_skippable", "init_target"]

# In-place random fills that module constructors use to initialize weights.
RANDOM_FILLS = frozenset(
    {"uniform_", "normal_", "random_", "exponential_", "bernoulli_", "cauchy_", "log_normal_", "geometric_"}
)
# Constant fills initialize too, but constructors also use them to compute values that are not weights
# (BatchNorm's running statistics): they are never skipped.
CONSTANT_FILLS = frozenset({"fill_", "zero_"})


def is_init_function(func: Any) -> bool:
    """``torch.nn.init.*_`` and in-place random or constant fills: calls that write an initialization."""
    name = getattr(func, "__name__", "")
    if getattr(func, "__module__", None) == "torch.nn.init" and name.endswith("_"):
        return True
    return name in RANDOM_FILLS or name in CONSTANT_FILLS


def is_skippable(func: Any) -> bool:
    """Init calls skipped during construction: ``torch.nn.init.*_`` and random fills, never constant fills."""
    return is_init_function(func) and getattr(func, "__name__", "") not in CONSTANT_FILLS


def init_target(args: tuple, kwargs: dict) -> Any:
    """The tensor an init call writes."""
    return kwargs.get("tensor", args[0] if args else None)
