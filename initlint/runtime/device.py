"""``torch.device(...)`` as the wrapped context, with the observer riding inside it.

Wrapping ``torch.device("meta")`` the plain way puts two modes on the stack, torch's ``DeviceContext`` and
the observer, and every torch call during construction is dispatched through both. This context *is* a
``DeviceContext`` (so ``torch.get_default_device()`` and torch's own stack rules see the device as usual)
that hands each call, device filled in, straight to the observer: one dispatch instead of two.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._device import DeviceContext, _device_constructors

__all__ = ["ObservedDevice"]


class ObservedDevice(DeviceContext):
    """``torch.device(device)`` as a context, whose calls the ``observer`` sees as it would from below."""

    def __init__(self, device: torch.device, observer: Any) -> None:
        super().__init__(device)
        self.observer = observer

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if kwargs.get("device") is None and func in _device_constructors():
            kwargs["device"] = self.device
        return self.observer.__torch_function__(func, types, args, kwargs)
