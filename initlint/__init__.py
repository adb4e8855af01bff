"""initlint: catch the bugs of empty-weight initialization in PyTorch.

The linter (``initlint`` on the command line) needs no torch. The runtime verifier's names below are
imported lazily, so ``import initlint`` never imports torch either.
"""

from __future__ import annotations

from typing import Any

from initlint.__about__ import __version__

__all__ = [
    "__version__",
    "verified_empty_init",
    "Tracker",
    "InitReport",
    "TensorRecord",
    "Status",
    "Origin",
    "UninitializedWeightsError",
    "UninitializedWeightsWarning",
]

_RUNTIME = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _RUNTIME:
        from initlint import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'initlint' has no attribute {name!r}")
