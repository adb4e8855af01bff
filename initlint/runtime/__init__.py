"""The runtime verifier: where every tensor built under empty init got its values, and a verdict on garbage.

The names below are imported lazily, so importing ``initlint.runtime.patching`` (what ``pytest
--check-init`` and ``initlint run`` load first) imports no torch: a script that imports torch later is
patched when it does.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "verified_empty_init",
    "Tracker",
    "Origin",
    "InitReport",
    "TensorRecord",
    "Status",
    "UninitializedWeightsError",
    "UninitializedWeightsWarning",
]

_HOME = {
    "verified_empty_init": "initlint.runtime.context",
    "Tracker": "initlint.runtime.tracker",
    "Origin": "initlint.runtime.provenance",
    "InitReport": "initlint.runtime.report",
    "TensorRecord": "initlint.runtime.report",
    "Status": "initlint.runtime.report",
    "UninitializedWeightsError": "initlint.runtime.report",
    "UninitializedWeightsWarning": "initlint.runtime.report",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'initlint.runtime' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
