"""pytest plugin for initlint: ``pytest --check-init`` verifies every empty-initialized model.

With ``--check-init`` (or ``check_init = true`` in the ini file, or ``INITLINT_CHECK_INIT=1``), every
model a test builds inside a recognized empty-init context is tracked without changing the test:
``verified_empty_init``, Lightning's ``Fabric``/``Trainer`` ``init_module(empty_init=True)``,
accelerate's ``init_empty_weights``/``init_on_device(meta)``, and ``torch.device("meta")`` followed by
``to_empty()``. A forward pass over never-written, NaN/inf or meta tensors fails the test
(``--check-init-mode=warn``, or ``--check-init=warn``: warns). Markers: ``@pytest.mark.check_init(strict=False)``,
``@pytest.mark.no_check_init``; precedence: marker > command line > ini > environment.

The entry points are patched by ``initlint.runtime.patching``, the module ``initlint run`` uses too.
Without the option the plugin only adds its options and markers: no torch import, no patch.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_MODES = ("strict", "warn", "off")
_ENV = "INITLINT_CHECK_INIT"
_NAME = "initlint-check-init"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("initlint", "initlint: verify empty-weight initialization")
    group.addoption(
        "--check-init",
        action="store_const",
        const="strict",
        dest="check_init",
        default=None,
        help="verify every model built under an empty-init context (fail the test whose model is broken)",
    )
    group.addoption(
        "--check-init-mode",
        choices=_MODES,
        dest="check_init",
        help="strict (as --check-init), warn (warn instead of failing) or off",
    )
    # `--check-init=warn` as before, while `--check-init tests/` stays a flag and a path: an optional value
    # would swallow the path. argparse matches a whole option string before splitting it at `=`.
    for mode in _MODES:
        group.addoption(f"--check-init={mode}", action="store_const", const=mode, dest="check_init",
                        help=argparse.SUPPRESS)
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
        self.models = self.tensors = self.failures = self.unreached = 0
        self.session: InitSession | None = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Generator[None, None, None]:
        mode = _test_mode(item, self.mode)
        if mode == "off":
            self.session = None
            yield
            return
        from initlint.runtime.patching import EntryPoints  # imports no torch: the test may import it later

        session = self.session = InitSession(strict=mode == "strict")
        patches = EntryPoints(strict=session.strict, on_tracker=session.trackers.append)
        try:
            patches.start()
            yield
        finally:
            patches.undo()
            self._account(session)

    def _account(self, session: InitSession) -> None:
        for tracker in session.trackers:
            verdict = tracker.verdict
            if verdict is None:
                self.unreached += tracker.models
                tracker.close()  # never forwarded: stop watching, leave torch as it was
                continue
            self.models += tracker.models
            self.tensors += len(verdict)
            if not verdict.ok:
                self.failures += 1

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        report = outcome.get_result()
        excinfo = call.excinfo
        if excinfo is None or report.longrepr is None or item.config.getoption("tbstyle") in ("native", "no", "line"):
            return
        if type(excinfo.value).__name__ == "UninitializedWeightsError" and hasattr(excinfo.value, "report"):
            report.longrepr = _report_first(item, excinfo)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: report to the controller
            workeroutput["initlint"] = (self.models, self.tensors, self.failures, self.unreached)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        counts = getattr(node, "workeroutput", {}).get("initlint")
        if counts:
            self.models += counts[0]
            self.tensors += counts[1]
            self.failures += counts[2]
            self.unreached += counts[3]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.mode == "off" and not self.models and not self.unreached:
            return
        terminalreporter.write_sep("-", "initlint: empty-init verification")
        terminalreporter.write_line(
            f"{_plural(self.models, 'model')} verified, {_plural(self.tensors, 'tensor')} tracked, "
            f"{self.failures} failed"
        )
        if self.unreached:
            terminalreporter.write_line(
                f"{_plural(self.unreached, 'model')} built empty but never run forward: not verified "
                "(call init_tracker.check() in the test to verify it)"
            )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _report_first(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """The failure as pytest users read an assertion: initlint's report, then where the test ran the model.

    The frames of initlint and of torch between the test's call and the check are left out.
    """
    import initlint

    own = (str(Path(initlint.__file__).resolve().parent), _torch_dir())
    lines = [str(excinfo.value), "", "The first forward that checked it:"]
    cut = getattr(item, "_traceback_filter", None)  # pytest's own cut to the test function's frames
    for entry in cut(excinfo) if cut is not None else excinfo.traceback:
        path = str(entry.path)
        if path.startswith(own) or entry.ishidden(excinfo):
            continue
        shown = os.path.relpath(path, item.config.rootpath) if path.startswith(str(item.config.rootpath)) else path
        lines.append(f"{shown}:{entry.lineno + 1}: in {entry.name}")
        source = textwrap.dedent(str(entry.statement))
        lines += [f"    {line}" for line in source.splitlines()]
    lines.append(f"E   {type(excinfo.value).__name__}: {excinfo.value.report.summary()}")
    return "\n".join(lines)


def _torch_dir() -> str:
    import torch

    return str(Path(torch.__file__).resolve().parent)
