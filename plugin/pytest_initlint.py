"""pytest plugin for initlint: ``pytest --check-init`` verifies every empty-initialized model.

With ``--check-init`` (or ``check_init = true`` in the ini file, or ``INITLINT_CHECK_INIT=1``), every
model a test builds inside a recognized empty-init context is tracked without changing the test:
``verified_empty_init``, Lightning's ``Fabric``/``Trainer`` ``init_module(empty_init=True)``,
accelerate's ``init_empty_weights``/``init_on_device(meta)``, and ``torch.device("meta")`` followed by
``to_empty()``. A forward pass over never-written, NaN/inf or meta tensors fails the test
(``--check-init=warn``: warns). Markers: ``@pytest.mark.check_init(strict=False)``,
``@pytest.mark.no_check_init``; precedence: marker > command line > ini > environment.

Without the option the plugin only adds its options and markers: no torch import, no patch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

_MODES = ("strict", "warn", "off")
_ENV = "INITLINT_CHECK_INIT"
_NAME = "initlint-check-init"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("initlint", "initlint: verify empty-weight initialization")
    group.addoption(
        "--check-init",
        nargs="?",
        const="strict",
        default=None,
        choices=_MODES,
        help="verify every model built under an empty-init context (=warn: warn instead of failing)",
    )
    parser.addini("check_init", "verify empty-initialized models: true, false, or warn", default="")


def _parse_mode(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on", "strict"):
        return "strict"
    if lowered == "warn":
        return "warn"
    if lowered in ("0", "false", "no", "off"):
        return "off"
    raise pytest.UsageError(f"initlint: check_init must be true, false or warn, not {value!r}")


def session_mode(config: pytest.Config) -> str:
    """The mode from the command line, else the ini file, else the environment; ``off`` by default."""
    for value in (config.getoption("check_init"), config.getini("check_init"), os.environ.get(_ENV)):
        mode = _parse_mode(value)
        if mode is not None:
            return mode
    return "off"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check_init(strict=True): verify empty-initialized models in this test")
    config.addinivalue_line("markers", "no_check_init: never verify empty-initialized models in this test")
    mode = session_mode(config)
    if mode != "off":
        config.pluginmanager.register(_CheckInit(config, mode), _NAME)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``check_init`` marker arms its test even when the session is off."""
    if config.pluginmanager.get_plugin(_NAME) is None and any(i.get_closest_marker("check_init") for i in items):
        config.pluginmanager.register(_CheckInit(config, "off"), _NAME)


@pytest.fixture
def init_tracker(request: pytest.FixtureRequest) -> InitSession:
    """The trackers of the models this test builds under empty init (see ``InitSession``)."""
    plugin = request.config.pluginmanager.get_plugin(_NAME)
    session = plugin.session if plugin is not None else None
    return session if session is not None else InitSession(strict=False)


def _test_mode(item: pytest.Item, default: str) -> str:
    if item.get_closest_marker("no_check_init") is not None:
        return "off"
    marker = item.get_closest_marker("check_init")
    if marker is not None:
        strict = marker.kwargs.get("strict", marker.args[0] if marker.args else True)
        return "strict" if strict else "warn"
    return default


@dataclass
class InitSession:
    """What the ``init_tracker`` fixture gives a test: the trackers of the models it built.

    Attributes:
        strict: whether failures raise (``False``: warn).
        trackers: every tracker armed during the test, in order.
    """

    strict: bool = True
    trackers: list[Any] = field(default_factory=list)

    @property
    def last(self) -> Any:
        """The tracker of the model built last."""
        if not self.trackers:
            raise LookupError("no model was built under an empty-init context in this test yet")
        return self.trackers[-1]

    def verify(self, inner: Any = None, **kwargs: Any) -> Any:
        """``verified_empty_init`` with this test's strictness."""
        from initlint import verified_empty_init

        kwargs.setdefault("strict", self.strict)
        return verified_empty_init(inner, **kwargs)

    def check(self) -> None:
        """Check every tracker not checked yet."""
        for tracker in self.trackers:
            if tracker.verdict is None:
                tracker.check()


class _CheckInit:
    """The stateful part, registered only when the plugin may act."""

    def __init__(self, config: pytest.Config, mode: str) -> None:
        self.config = config
        self.mode = mode
        self.models = self.tensors = self.failures = 0
        self.session: InitSession | None = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Generator[None, None, None]:
        mode = _test_mode(item, self.mode)
        if mode == "off" or "torch" not in sys.modules:
            self.session = None
            yield
            return
        from initlint.runtime import tracker as tracking

        session = self.session = InitSession(strict=mode == "strict")
        patcher = pytest.MonkeyPatch()
        tracking.add_listener(session.trackers.append)
        try:
            for target, attribute, wrapper in _patches(session):
                patcher.setattr(target, attribute, wrapper)
            yield
        finally:
            patcher.undo()
            tracking.remove_listener(session.trackers.append)
            self._account(session)

    def _account(self, session: InitSession) -> None:
        for tracker in session.trackers:
            self.models += tracker.models
            self.tensors += tracker.tensors
            verdict = tracker.verdict
            if verdict is not None and not verdict.ok:
                self.failures += 1
            if verdict is None:
                tracker.close()  # never forwarded: stop watching, leave torch as it was

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: report to the controller
            workeroutput["initlint"] = (self.models, self.tensors, self.failures)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        counts = getattr(node, "workeroutput", {}).get("initlint")
        if counts:
            self.models += counts[0]
            self.tensors += counts[1]
            self.failures += counts[2]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.mode == "off" and not self.models:
            return
        terminalreporter.write_sep("-", "initlint: empty-init verification")
        terminalreporter.write_line(
            f"{_plural(self.models, 'model')} verified, {_plural(self.tensors, 'tensor')} tracked, "
            f"{self.failures} failed"
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _patches(session: InitSession) -> Iterator[tuple[Any, str, Callable[..., Any]]]:
    """(object, attribute, replacement) for each entry point of a library already imported."""
    from initlint.runtime import Tracker, verified_empty_init
    from initlint.runtime.tracker import is_tracked

    def wrap_init_module(original: Callable[..., Any]) -> Callable[..., Any]:
        def init_module(self: Any, *args: Any, **kwargs: Any) -> Any:
            context = original(self, *args, **kwargs)
            if kwargs.get("empty_init", args[0] if args else None):
                return verified_empty_init(context, strict=session.strict)
            return context

        return init_module

    for module_name, class_name in (
        ("lightning.fabric", "Fabric"),
        ("lightning_fabric", "Fabric"),
        ("lightning.pytorch", "Trainer"),
        ("pytorch_lightning", "Trainer"),
    ):
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if cls is not None and "init_module" in vars(cls):
            yield cls, "init_module", wrap_init_module(vars(cls)["init_module"])

    big_modeling = sys.modules.get("accelerate.big_modeling")
    if big_modeling is not None:
        original_on_device = big_modeling.init_on_device

        def init_on_device(device: Any, *args: Any, **kwargs: Any) -> Any:
            context = original_on_device(device, *args, **kwargs)
            if str(device) == "meta":
                return verified_empty_init(context, strict=session.strict)
            return context

        yield big_modeling, "init_on_device", init_on_device
        accelerate = sys.modules.get("accelerate")
        if accelerate is not None and getattr(accelerate, "init_on_device", None) is original_on_device:
            yield accelerate, "init_on_device", init_on_device

    torch = sys.modules["torch"]
    original_to_empty = torch.nn.Module.to_empty

    def to_empty(self: Any, *args: Any, **kwargs: Any) -> Any:
        on_meta = any(t.is_meta for t in (*self.parameters(), *self.buffers()))
        if on_meta and not is_tracked(self):
            Tracker(strict=session.strict).adopt(self)
        return original_to_empty(self, *args, **kwargs)

    yield torch.nn.Module, "to_empty", to_empty

    import initlint.runtime.context as context_module

    original_init = context_module.verified_empty_init.__init__

    def verified_init(self: Any, inner: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("strict", session.strict)
        original_init(self, inner, **kwargs)

    yield context_module.verified_empty_init, "__init__", verified_init
