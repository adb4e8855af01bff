"""``verified_empty_init``: an empty-init context that remembers what it left unwritten."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import torch

from initlint.runtime.tracker import Tracker

__all__ = ["verified_empty_init"]


class verified_empty_init(AbstractContextManager):  # noqa: N801 - used like torch.no_grad
    """Build modules without initializing them, and verify no tensor is left holding memory nobody wrote.

    Args:
        inner: another empty-init context to wrap: ``fabric.init_module(empty_init=True)``,
            ``trainer.init_module(empty_init=True)``, ``accelerate.init_empty_weights()``,
            ``torch.device("meta")``, ColossalAI's ``LazyInitContext()``. The verifier observes from
            below it: what it skips never writes. Without one, initialization (``torch.nn.init.*`` and
            in-place random fills) done while modules are constructed is skipped on the current default
            device; a loader's initialization of missing keys runs as it would without initlint.
        strict: ``check()`` raises ``UninitializedWeightsError`` (else warns
            ``UninitializedWeightsWarning``; tensors left on the meta device raise in both modes).
        ignore: glob patterns of dotted names not to verify.
        poison: fill memory allocated without values with NaN (integers: the dtype's max), never a
            value code computed or a load wrote, so partly-written tensors are reported per element.
        check_on_forward: run ``check()`` automatically at the first forward of each root module.
        portable: also fail on tensors holding only the value their constructor computed, which no
            load or reset wrote afterwards (a meta-device or sharded init would leave them as garbage):
            a CPU dry run of a sharded job.

    Example::

        with verified_empty_init(strict=True) as tracker:
            model = MyModel()
        model.load_state_dict(torch.load("checkpoint.pt"))
        tracker.check()  # or just run model(x): the first forward checks
    """

    def __init__(
        self,
        inner: AbstractContextManager | None = None,
        *,
        strict: bool = True,
        ignore: Iterable[str] = (),
        poison: bool = False,
        check_on_forward: bool = True,
        portable: bool = False,
    ) -> None:
        self.inner = inner
        self.tracker = Tracker(
            strict=strict, ignore=ignore, poison=poison, check_on_forward=check_on_forward, portable=portable
        )

    def __enter__(self) -> Tracker:
        if isinstance(self.inner, torch.device):  # the observer takes the device context's place
            self.tracker._start(device=self.inner)
            return self.tracker
        # The observer goes on the mode stack first, below the wrapped context's modes.
        self.tracker._start(skip=self.inner is None)
        try:
            if self.inner is not None:
                self.inner.__enter__()
        except BaseException:
            self.tracker._abort()
            raise
        return self.tracker

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        # A torch.device was entered as the tracker's own device context, and is left by the tracker.
        inner = None if isinstance(self.inner, torch.device) else self.inner
        try:
            suppressed = inner.__exit__(exc_type, exc, tb) if inner is not None else False
        except BaseException:
            self.tracker._abort()
            raise
        if exc_type is not None and not suppressed:
            self.tracker._abort()
        else:
            self.tracker._finish_building()
        return suppressed
