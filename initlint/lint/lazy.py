"""libcst, imported on first use.

Importing libcst costs about 0.2 s, more than a whole pre-commit run on a few files; only the files a
script-order rule reads (or a fix rewrites) need it. Modules write ``from initlint.lint.lazy import
cst`` and use ``cst.Name`` as usual: the first attribute read imports libcst, and each attribute read
is cached on the proxy, so later reads cost a plain attribute lookup.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["cst"]


class _LazyLibcst:
    def __getattr__(self, name: str) -> Any:
        value = getattr(importlib.import_module("libcst"), name)
        setattr(self, name, value)
        return value


cst: Any = _LazyLibcst()
