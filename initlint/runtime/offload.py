"""Offloaded tensors: judged by what accelerate's hook will load into them, not by the meta placeholder.

accelerate's CPU and disk offload (``cpu_offload``, ``disk_offload``, ``dispatch_model`` with an offload
map, ``load_checkpoint_and_dispatch``) leave a module's tensors on the meta device and attach an
``AlignDevicesHook`` whose ``weights_map`` holds the real values; each forward loads them. A tensor
that map serves is as written as the value it holds; a meta tensor no hook serves is still reported.
Values that a disk index serves come from a file a checkpoint load or an offload wrote, and are not read
here (reading them would load the whole offloaded model).
"""

from __future__ import annotations

import sys
from typing import Any

from torch import nn

__all__ = ["OffloadMaps", "FROM_DISK"]

FROM_DISK = object()  # the value lives in an offload folder: loaded from a file when the module runs


class OffloadMaps:
    """The offload hooks of a module tree, by the dotted prefix of the module that holds them."""

    def __init__(self, roots: list[nn.Module]) -> None:
        self._maps: dict[str, list[Any]] = {}
        if "accelerate.hooks" not in sys.modules:  # nothing can have offloaded anything
            return
        for root in roots:
            for prefix, module in root.named_modules():
                maps = [h.weights_map for h in _hooks(getattr(module, "_hf_hook", None)) if _offloads(h)]
                if maps:
                    self._maps.setdefault(prefix, []).extend(maps)

    def __bool__(self) -> bool:
        return bool(self._maps)

    def value(self, name: str) -> Any:
        """What a hook will load into the tensor called ``name``: a tensor, ``FROM_DISK``, or None."""
        parts = name.split(".")
        for cut in range(len(parts) - 1, -1, -1):
            prefix, relative = ".".join(parts[:cut]), ".".join(parts[cut:])
            for weights_map in self._maps.get(prefix, ()):
                found = _lookup(weights_map, relative)
                if found is not None:
                    return found
        return None


def _hooks(hook: Any) -> list[Any]:
    """The hooks in ``hook`` (a ``SequentialHook`` holds several)."""
    if hook is None:
        return []
    inner = getattr(hook, "hooks", None)
    return [hook] if inner is None else [h for each in inner for h in _hooks(each)]


def _offloads(hook: Any) -> bool:
    return bool(getattr(hook, "offload", False)) and getattr(hook, "weights_map", None) is not None


def _lookup(weights_map: Any, key: str) -> Any:
    """The value ``weights_map`` holds for ``key`` without reading a file; None when it has none."""
    dataset, full = getattr(weights_map, "dataset", None), f"{getattr(weights_map, 'prefix', '')}{key}"
    if dataset is not None and hasattr(dataset, "index") and hasattr(dataset, "state_dict"):
        if full in dataset.state_dict:
            return dataset.state_dict[full]
        return FROM_DISK if full in dataset.index else None
    try:
        return weights_map[key] if key in weights_map else None
    except Exception:  # a map we do not know: judge the placeholder instead
        return None
