"""Every empty-init entry point initlint knows, patched so the models built there are verified.

One module for ``pytest --check-init`` (patched for one test at a time) and ``initlint run`` (for a
whole script). The entry points:

- Lightning ``Fabric.init_module`` / ``Trainer.init_module`` with ``empty_init=True``;
- accelerate ``init_on_device(meta)`` (so ``init_empty_weights``), and peft's own copy of it;
- transformers: the model ``from_pretrained`` builds on the meta device (``get_init_context``), and
  ``no_init_weights()`` (``from_config`` under it);
- ColossalAI ``LazyInitContext``;
- ``torch.device("meta")`` followed by ``Module.to_empty()``;
- ``verified_empty_init`` itself (its defaults follow the session's mode).

A patched entry point gives exactly what the original gives (a context that enters, yields and exits
as the original's, usable as a decorator when the original is); it only also starts a tracker, which
checks each model at its first forward. Inside a context already verified no second tracker starts.

Nothing here imports torch or the verifier: a library imported after ``start()`` is patched the moment
the module defining its entry point has run, by a finder at the front of ``sys.meta_path``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import inspect
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

__all__ = ["EntryPoints"]

_FABRIC_MODULES = ("lightning.fabric.fabric", "lightning_fabric.fabric")
_TRAINER_MODULES = ("lightning.pytorch.trainer.trainer", "pytorch_lightning.trainer.trainer")
_INHERITED = object()
_HERE = os.path.dirname(os.path.abspath(__file__))


class EntryPoints:
    """The entry points of the empty-init libraries, patched until ``undo()``.

    Args:
        strict: the trackers started here raise at a failed check (else they warn).
        portable, poison, ignore: passed to every tracker started here (see ``verified_empty_init``);
            they are also the defaults of the program's own ``verified_empty_init`` calls.
        on_tracker: called with every tracker armed while patched (the program's own ones too).

    Example::

        patches = EntryPoints(strict=True, on_tracker=trackers.append)
        patches.start()
        try:
            run_the_program()
        finally:
            patches.undo()
    """

    def __init__(
        self,
        *,
        strict: bool = True,
        portable: bool = False,
        poison: bool = False,
        ignore: Iterable[str] = (),
        on_tracker: Callable[[Any], None] | None = None,
    ) -> None:
        self.options: dict[str, Any] = {"strict": strict, "portable": portable, "poison": poison}
        self.ignore = list(ignore)
        self.on_tracker = on_tracker
        self.active = False
        self.where: dict[int, str] = {}  # id(tracker) -> the entry point and the program's line that used it
        self._local = threading.local()
        self._restore: list[tuple[Any, str, Any]] = []
        self._finder = _PatchOnImport(self._hooks())
        self._listening: ModuleType | None = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Patch what is imported already, and watch the imports of the rest."""
        self.active = True
        for name, hook in self._finder.hooks.items():
            module = sys.modules.get(name)
            if module is not None:
                _run_hook(hook, module)
        sys.meta_path.insert(0, self._finder)

    def undo(self) -> None:
        """Restore every patched attribute and stop watching imports."""
        self.active = False
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        for target, attribute, original in reversed(self._restore):
            if original is _INHERITED:
                delattr(target, attribute)
            else:
                setattr(target, attribute, original)
        self._restore.clear()
        if self._listening is not None:
            self._listening.remove_listener(self._armed)
            self._listening = None

    def tracker_options(self) -> dict[str, Any]:
        """The arguments of every tracker started here."""
        return {**self.options, "ignore": list(self.ignore)}

    # -- bookkeeping -------------------------------------------------------------------------
    def _armed(self, tracker: Any) -> None:
        if self.active and self.on_tracker is not None:
            self.on_tracker(tracker)

    def _depth(self) -> int:
        return getattr(self._local, "depth", 0)

    def _enter_verified(self) -> None:
        self._local.depth = self._depth() + 1

    def _exit_verified(self) -> None:
        self._local.depth = max(0, self._depth() - 1)

    def should_verify(self) -> bool:
        """Whether a context entered now gets a tracker: patched, and not inside a verified context."""
        return self.active and self._depth() == 0

    def _set(self, target: Any, attribute: str, replacement: Any) -> None:
        # A class's own entry (a classmethod object, not the bound method getattr gives); none: inherited.
        own = vars(target)
        self._restore.append((target, attribute, own[attribute] if attribute in own else _INHERITED))
        setattr(target, attribute, replacement)

    def _hooks(self) -> dict[str, Callable[[ModuleType], None]]:
        hooks: dict[str, Callable[[ModuleType], None]] = {
            "torch.nn.modules.module": self._torch,
            "accelerate.big_modeling": functools.partial(
                self._device_function, name="init_on_device", entry="accelerate.init_on_device(meta)"
            ),
            "accelerate": self._accelerate,
            "peft.utils.integrations": functools.partial(
                self._device_function, name="_init_on_device", entry="peft init_empty_weights()"
            ),
            "transformers.modeling_utils": self._transformers_models,
            "transformers.initialization": self._transformers_no_init,
            "colossalai.lazy.lazy_init": self._colossalai,
            "initlint.runtime.context": self._verified,
            "initlint.runtime.tracker": self._tracker,
        }
        for name in _FABRIC_MODULES:
            hooks[name] = functools.partial(self._init_module, class_name="Fabric")
        for name in _TRAINER_MODULES:
            hooks[name] = functools.partial(self._init_module, class_name="Trainer")
        return hooks

    # -- the hooks, one per defining module ----------------------------------------------------
    def _tracker(self, module: ModuleType) -> None:
        if self._listening is None:
            module.add_listener(self._armed)
            self._listening = module

    def _init_module(self, module: ModuleType, class_name: str) -> None:
        cls = getattr(module, class_name, None)
        if cls is None or "init_module" not in vars(cls) or _is_patched(vars(cls)["init_module"]):
            return
        original = vars(cls)["init_module"]
        signature = inspect.signature(original)
        patches = self

        @functools.wraps(original)
        def init_module(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            context = original(*args, **kwargs)
            if patches.active and signature.bind(*args, **kwargs).arguments.get("empty_init"):
                return _Verified(patches, context, f"{class_name.lower()}.init_module(empty_init=True)")
            return context

        self._set(cls, "init_module", _mark(init_module, original))

    def _device_function(self, module: ModuleType, name: str, entry: str) -> None:
        """``init_on_device(device)``-like functions: verified when the device is meta."""
        original = getattr(module, name, None)
        if original is None or _is_patched(original):
            return
        signature = inspect.signature(original)
        patches = self

        @functools.wraps(original)
        def on_device(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            context = original(*args, **kwargs)
            if patches.active and str(signature.bind(*args, **kwargs).arguments.get("device")) == "meta":
                return _Verified(patches, context, entry)
            return context

        self._set(module, name, _mark(on_device, original))
        if module.__name__ == "accelerate.big_modeling":
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

    def _transformers_models(self, module: ModuleType) -> None:
        """``from_pretrained`` builds the model under the contexts ``get_init_context`` returns (the meta
        device in transformers 5); a verified one goes first, so the tracker arms when the model is built
        and sees the load and the missing keys' initialization that follow."""
        cls = getattr(module, "PreTrainedModel", None)
        raw = vars(cls).get("get_init_context") if cls is not None else None
        if not isinstance(raw, classmethod) or _is_patched(raw.__func__):
            return
        original = raw.__func__
        patches = self

        @functools.wraps(original)
        def get_init_context(model_class: Any, *args: Any, **kwargs: Any) -> Any:
            contexts = original(model_class, *args, **kwargs)
            if patches.active:
                entry = f"{model_class.__name__}.from_pretrained"
                return [_Verified(patches, contextlib.nullcontext(), entry), *contexts]
            return contexts

        self._set(cls, "get_init_context", classmethod(_mark(get_init_context, original)))

    def _transformers_no_init(self, module: ModuleType) -> None:
        original = getattr(module, "no_init_weights", None)
        if original is None or _is_patched(original):
            return
        patches = self

        @functools.wraps(original)
        def no_init_weights(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            context = original(*args, **kwargs)
            return _Verified(patches, context, "transformers no_init_weights()") if patches.active else context

        self._set(module, "no_init_weights", _mark(no_init_weights, original))

    def _colossalai(self, module: ModuleType) -> None:
        cls = getattr(module, "LazyInitContext", None)
        if cls is None or _is_patched(vars(cls).get("__enter__")):
            return
        original_enter, original_exit = cls.__enter__, cls.__exit__
        patches = self
        open_contexts: dict[int, _Verified] = {}

        @functools.wraps(original_enter)
        def __enter__(context: Any) -> Any:  # noqa: N807 - a method
            __tracebackhide__ = True
            if not patches.should_verify():
                return original_enter(context)
            verified = _Verified(
                patches, None, "LazyInitContext()",
                enter=functools.partial(original_enter, context), exit=functools.partial(original_exit, context),
            )  # fmt: skip
            value = verified.__enter__()
            open_contexts[id(context)] = verified
            return value

        @functools.wraps(original_exit)
        def __exit__(context: Any, *exc: Any) -> Any:  # noqa: N807 - a method
            __tracebackhide__ = True
            verified = open_contexts.pop(id(context), None)
            return original_exit(context, *exc) if verified is None else verified.__exit__(*exc)

        self._set(cls, "__enter__", _mark(__enter__, original_enter))
        self._set(cls, "__exit__", _mark(__exit__, original_exit))

    def _torch(self, module: ModuleType) -> None:
        cls = module.Module
        original = cls.to_empty
        if _is_patched(original):
            return
        patches = self

        @functools.wraps(original)
        def to_empty(self: Any, *args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            if patches.should_verify():
                from initlint.runtime.tracker import Tracker, is_tracked

                on_meta = any(t.is_meta for t in (*self.parameters(), *self.buffers()))
                if on_meta and not is_tracked(self):
                    tracker = Tracker(**patches.tracker_options())
                    patches.where[id(tracker)] = f"{type(self).__name__}.to_empty() at {_caller()}"
                    tracker.adopt(self)
            return original(self, *args, **kwargs)

        self._set(cls, "to_empty", _mark(to_empty, original))

    def _verified(self, module: ModuleType) -> None:
        cls = module.verified_empty_init
        original_init, original_enter, original_exit = cls.__init__, cls.__enter__, cls.__exit__
        if _is_patched(original_init):
            return
        patches = self

        @functools.wraps(original_init)
        def __init__(context: Any, inner: Any = None, **kwargs: Any) -> None:  # noqa: N807 - a method
            if patches.active:
                for key, value in patches.options.items():
                    kwargs.setdefault(key, value)
                kwargs["ignore"] = list(dict.fromkeys([*kwargs.get("ignore", ()), *patches.ignore]))
            original_init(context, inner, **kwargs)

        @functools.wraps(original_enter)
        def __enter__(context: Any) -> Any:  # noqa: N807 - a method
            __tracebackhide__ = True
            patches._enter_verified()
            try:
                tracker = original_enter(context)
            except BaseException:
                patches._exit_verified()
                raise
            patches.where.setdefault(id(tracker), f"verified_empty_init() at {_caller()}")
            return tracker

        @functools.wraps(original_exit)
        def __exit__(context: Any, *exc: Any) -> Any:  # noqa: N807 - a method
            __tracebackhide__ = True
            try:
                return original_exit(context, *exc)
            finally:
                patches._exit_verified()

        self._set(cls, "__init__", _mark(__init__, original_init))
        self._set(cls, "__enter__", _mark(__enter__, original_enter))
        self._set(cls, "__exit__", _mark(__exit__, original_exit))


class _Verified:
    """A library's empty-init context, verified: it enters, yields and exits as the original does.

    ``enter``/``exit`` replace ``inner``'s methods for a class whose own methods are patched
    (ColossalAI's ``LazyInitContext``).
    """

    def __init__(
        self,
        patches: EntryPoints,
        inner: Any,
        entry: str,
        enter: Callable[[], Any] | None = None,
        exit: Callable[..., Any] | None = None,  # noqa: A002 - the protocol's name
    ) -> None:
        self.patches = patches
        self.inner = inner
        self.entry = entry
        self._enter = enter if enter is not None else functools.partial(type(inner).__enter__, inner)
        self._exit = exit if exit is not None else functools.partial(type(inner).__exit__, inner)
        self._verifier: Any = None
        self._value: Any = None

    def __enter__(self) -> Any:
        __tracebackhide__ = True
        if not self.patches.should_verify():
            return self._enter()
        from initlint.runtime.context import verified_empty_init

        where = _caller()
        self._verifier = verified_empty_init(_Calls(self), **self.patches.tracker_options())
        tracker = self._verifier.__enter__()
        self.patches.where[id(tracker)] = f"{self.entry} at {where}"
        return self._value  # what the library's context gives (accelerate: None), never the tracker

    def __exit__(self, *exc: Any) -> Any:
        __tracebackhide__ = True
        verifier, self._verifier = self._verifier, None
        return self._exit(*exc) if verifier is None else verifier.__exit__(*exc)

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """As a decorator (``@init_on_device(device)``), when the original is one: verified per call."""
        if not callable(self.inner) or not hasattr(self.inner, "_recreate_cm"):
            raise TypeError(f"{type(self.inner).__name__!r} object is not callable")

        @functools.wraps(function)
        def verified(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            with _Verified(self.patches, self.inner._recreate_cm(), self.entry):
                return function(*args, **kwargs)

        return verified

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


class _Calls:
    """What ``verified_empty_init`` wraps: the original context's enter and exit, keeping what it yields."""

    def __init__(self, owner: _Verified) -> None:
        self.owner = owner

    def __enter__(self) -> Any:
        self.owner._value = self.owner._enter()
        return self.owner._value

    def __exit__(self, *exc: Any) -> Any:
        return self.owner._exit(*exc)


def _mark(patched: Any, original: Any) -> Any:
    patched._initlint = True
    patched._initlint_original = original
    return patched


def _is_patched(function: Any) -> bool:
    return getattr(function, "_initlint", False)


_LIBRARY_DIRS = tuple(
    {os.path.dirname(os.path.abspath(p)) for p in (contextlib.__file__, functools.__file__)}
    | {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
)


def _caller() -> str:
    """``file:line`` of the program's code that used the entry point: the nearest frame outside initlint,
    the standard library and installed packages (else the nearest outside initlint)."""
    frame = sys._getframe(1)
    fallback = ""
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_HERE) and not frame.f_code.co_filename.startswith("<"):
            where = f"{os.path.relpath(path) if path.startswith(os.getcwd()) else path}:{frame.f_lineno}"
            if not path.startswith(_LIBRARY_DIRS):
                return where
            fallback = fallback or where
        frame = frame.f_back
    return fallback or "?"


def _run_hook(hook: Callable[[ModuleType], None], module: ModuleType) -> None:
    try:
        hook(module)
    except Exception as exc:  # a failed patch must not fail the program's import
        warnings.warn(f"initlint: could not patch {module.__name__} to verify it: {exc!r}", stacklevel=3)


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
        _run_hook(self.hook, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)
