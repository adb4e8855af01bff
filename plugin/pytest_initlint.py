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

import functools
import importlib.abc
import os
import sys
import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from types import ModuleType
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
        if mode == "off":
            self.session = None
            yield
            return
        session = self.session = InitSession(strict=mode == "strict")
        patches = _Patches(session)
        try:
            patches.start()
            yield
        finally:
            patches.undo()
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


class _Patches:
    """The entry points of the empty-init libraries, patched for one test and restored after it.

    A library imported before the test is patched when the test starts; one imported while the test
    runs (in the test, a fixture or a helper module) is patched as soon as the module that defines the
    entry point has run, by a finder at the front of ``sys.meta_path``. Both are undone after the test,
    and a wrapper that outlives it (a name imported from a patched module) calls the original.
    """

    def __init__(self, session: InitSession) -> None:
        self.session = session
        self.active = True
        self._restore: list[tuple[Any, str, Any]] = []
        self._finder = _PatchOnImport(self._hooks())
        self._listening: Any = None

    def _hooks(self) -> dict[str, Callable[[ModuleType], None]]:
        hooks: dict[str, Callable[[ModuleType], None]] = {
            "torch.nn.modules.module": self._torch,
            "accelerate.big_modeling": self._big_modeling,
            "accelerate": self._accelerate,
            "initlint.runtime.context": self._verified,
            "initlint.runtime.tracker": self._tracker,
        }
        for name in _FABRIC_MODULES:
            hooks[name] = functools.partial(self._init_module, class_name="Fabric")
        for name in _TRAINER_MODULES:
            hooks[name] = functools.partial(self._init_module, class_name="Trainer")
        return hooks

    def start(self) -> None:
        """Patch what is imported already, and watch the imports of the rest."""
        for name, hook in self._finder.hooks.items():
            module = sys.modules.get(name)
            if module is not None:
                hook(module)
        sys.meta_path.insert(0, self._finder)

    def undo(self) -> None:
        """Restore every patched attribute and stop watching imports."""
        self.active = False
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        for target, attribute, original in reversed(self._restore):
            setattr(target, attribute, original)
        self._restore.clear()
        if self._listening is not None:
            self._listening.remove_listener(self.session.trackers.append)

    def _set(self, target: Any, attribute: str, replacement: Any) -> None:
        self._restore.append((target, attribute, getattr(target, attribute)))
        setattr(target, attribute, replacement)

    def _tracker(self, module: ModuleType) -> None:
        if self._listening is None:
            module.add_listener(self.session.trackers.append)
            self._listening = module

    def _init_module(self, module: ModuleType, class_name: str) -> None:
        cls = getattr(module, class_name, None)
        if cls is None or "init_module" not in vars(cls) or getattr(vars(cls)["init_module"], "_initlint", False):
            return
        original = vars(cls)["init_module"]
        patches = self

        def init_module(self: Any, *args: Any, **kwargs: Any) -> Any:
            context = original(self, *args, **kwargs)
            if patches.active and kwargs.get("empty_init", args[0] if args else None):
                from initlint.runtime import verified_empty_init

                return verified_empty_init(context, strict=patches.session.strict)
            return context

        init_module._initlint = True  # type: ignore[attr-defined]
        self._set(cls, "init_module", init_module)

    def _big_modeling(self, module: ModuleType) -> None:
        original = module.init_on_device
        if getattr(original, "_initlint", False):
            return
        patches = self

        def init_on_device(device: Any, *args: Any, **kwargs: Any) -> Any:
            context = original(device, *args, **kwargs)
            if patches.active and str(device) == "meta":
                from initlint.runtime import verified_empty_init

                return verified_empty_init(context, strict=patches.session.strict)
            return context

        init_on_device._initlint = True  # type: ignore[attr-defined]
        init_on_device._initlint_original = original  # type: ignore[attr-defined]
        self._set(module, "init_on_device", init_on_device)
        self._accelerate(sys.modules.get("accelerate"))

    def _accelerate(self, module: ModuleType | None) -> None:
        """``accelerate`` re-exports ``init_on_device``: patched with it, or bound to the patch when the
        package finished importing after ``big_modeling`` was patched."""
        big_modeling = sys.modules.get("accelerate.big_modeling")
        if module is None or big_modeling is None:
            return
        patched = big_modeling.init_on_device
        original = getattr(patched, "_initlint_original", None)
        current = getattr(module, "init_on_device", None)
        if original is None:
            return
        if current is original:
            self._set(module, "init_on_device", patched)
        elif current is patched and not any(t is module and a == "init_on_device" for t, a, _ in self._restore):
            self._restore.append((module, "init_on_device", original))

    def _torch(self, module: ModuleType) -> None:
        cls = module.Module
        original = cls.to_empty
        if getattr(original, "_initlint", False):
            return
        patches = self

        def to_empty(self: Any, *args: Any, **kwargs: Any) -> Any:
            if patches.active:
                from initlint.runtime import Tracker
                from initlint.runtime.tracker import is_tracked

                on_meta = any(t.is_meta for t in (*self.parameters(), *self.buffers()))
                if on_meta and not is_tracked(self):
                    Tracker(strict=patches.session.strict).adopt(self)
            return original(self, *args, **kwargs)

        to_empty._initlint = True  # type: ignore[attr-defined]
        self._set(cls, "to_empty", to_empty)

    def _verified(self, module: ModuleType) -> None:
        cls = module.verified_empty_init
        original = vars(cls)["__init__"]
        if getattr(original, "_initlint", False):
            return
        patches = self

        def verified_init(self: Any, inner: Any = None, **kwargs: Any) -> None:
            if patches.active:
                kwargs.setdefault("strict", patches.session.strict)
            original(self, inner, **kwargs)

        verified_init._initlint = True  # type: ignore[attr-defined]
        self._set(cls, "__init__", verified_init)


_FABRIC_MODULES = ("lightning.fabric.fabric", "lightning_fabric.fabric")
_TRAINER_MODULES = ("lightning.pytorch.trainer.trainer", "pytorch_lightning.trainer.trainer")


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Runs a hook on a module right after its code ran, when it is imported (and only then).

    The module is found by the rest of ``sys.meta_path`` as usual; only its loader is wrapped for the
    time of ``exec_module``, and put back on the module afterwards.
    """

    def __init__(self, hooks: dict[str, Callable[[ModuleType], None]]) -> None:
        self.hooks = hooks

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        hook = self.hooks.get(fullname)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _HookedLoader(spec.loader, hook)
        return spec


class _HookedLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, hook: Callable[[ModuleType], None]) -> None:
        self.loader = loader
        self.hook = hook

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec) if hasattr(self.loader, "create_module") else None

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        try:
            self.hook(module)
        except Exception as exc:  # a failed patch must not fail the user's import
            warnings.warn(f"initlint: could not patch {module.__name__} for --check-init: {exc!r}", stacklevel=2)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)
