"""``verified_empty_init``: an empty-init context that remembers what it left unwritten."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from initlint.runtime.skip_init import SkipInitMode
from initlint.runtime.tracker import Tracker, remove_mode

__all__ = ["verified_empty_init"]


class verified_empty_init(AbstractContextManager):  # noqa: N801 - used like torch.no_grad
    """Build modules without initializing them, and verify every tensor is written afterwards.

    Args:
        inner: another empty-init context to wrap: ``fabric.init_module(empty_init=True)``,
            ``trainer.init_module(empty_init=True)``, ``accelerate.init_empty_weights()``,
            ``torch.device("meta")``. Without one, initialization (``torch.nn.init.*`` and in-place
            random fills) is skipped on the current default device.
        strict: ``check()`` raises ``UninitializedWeightsError`` (else warns
            ``UninitializedWeightsWarning``; tensors left on the meta device raise in both modes).
        ignore: glob patterns of dotted names not to verify (values computed on purpose).
        poison: fill skipped memory with NaN (integers: the dtype's max) so partly-written tensors
            are reported per element and reads of unwritten memory show up as NaN.
        check_on_forward: run ``check()`` automatically at the first forward of each root module.

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
    ) -> None:
        self.inner = inner
        self.tracker = Tracker(strict=strict, ignore=ignore, poison=poison, check_on_forward=check_on_forward)
        self._skip: SkipInitMode | None = None

    def __enter__(self) -> Tracker:
        self.tracker._start()
        try:
            if self.inner is not None:
                self.inner.__enter__()
            else:
                self._skip = SkipInitMode()
                self._skip.__enter__()
        except BaseException:
            self.tracker._abort()
            raise
        return self.tracker

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            if self.inner is not None:
                suppressed = self.inner.__exit__(exc_type, exc, tb)
            else:
                remove_mode(self._skip)
                suppressed = False
        except BaseException:
            self.tracker._abort()
            raise
        if exc_type is not None and not suppressed:
            self.tracker._abort()
        else:
            self.tracker._finish_building()
        return suppressed
