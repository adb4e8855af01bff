"""``[tool.initlint]`` in ``pyproject.toml``, merged with the command line.

Every key is documented in ``docs/configuration.md``; an unknown key or rule code is an error
(exit 2), never silently ignored.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["Config", "ConfigError", "find_project_root", "load_config", "check_codes"]

_KEYS = {
    "select",
    "ignore",
    "exclude",
    "per-file-ignores",
    "init-methods",
    "extra-module-bases",
    "extra-optimizers",
    "init-protocol",
}
_LIST_KEYS = _KEYS - {"per-file-ignores", "init-protocol"}
INIT_PROTOCOLS = ("auto", "reset_parameters")


class ConfigError(Exception):
    """A configuration or usage problem the user must fix (the CLI exits 2)."""


@dataclass(frozen=True)
class Config:
    """The settings of one run.

    Attributes:
        root: the project root (the folder holding ``pyproject.toml`` or ``.git``).
        select: rule codes or prefixes to run; empty means every default rule.
        ignore: rule codes or prefixes to skip.
        exclude: glob patterns of paths (relative to ``root``) never linted.
        per_file_ignores: glob pattern -> codes ignored in matching files.
        init_methods: method names that count as a reset of a module's tensors.
        extra_module_bases: qualified names of third-party ``nn.Module`` bases.
        extra_optimizers: qualified names of third-party optimizer classes.
        init_protocol: ``"auto"`` judges each class by the init protocol that covers it (Hugging Face
            ``_init_weights``, root ``init-methods``, ``reset_parameters``); ``"reset_parameters"`` only
            by ``reset_parameters()`` and ``init-methods`` (see ``docs/init-protocols.md``).
    """

    root: Path
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    init_methods: tuple[str, ...] = ("reset_parameters",)
    extra_module_bases: tuple[str, ...] = ()
    extra_optimizers: tuple[str, ...] = ()
    init_protocol: str = "auto"

    def with_cli(
        self, select: Iterable[str] = (), ignore: Iterable[str] = (), init_protocol: str | None = None
    ) -> Config:
        """Command-line ``--select`` replaces the configured one; ``--ignore`` adds to it;
        ``--init-protocol`` replaces the configured one."""
        select, ignore = tuple(select), tuple(ignore)
        check_codes(select + ignore, "the command line")
        return replace(self, select=select or self.select, ignore=self.ignore + ignore,
                       init_protocol=init_protocol or self.init_protocol)

    def enabled(self, code: str) -> bool:
        """Whether the rule with code ``code`` (a rule's, never an unknown one) runs.

        Answered without importing the rules: a warm run prints cached findings and needs none of them.
        """
        if code == "INI900":
            selected = True  # a file we cannot read is always worth knowing about
        elif self.select:
            selected = any(code.startswith(p) or p == "ALL" for p in self.select)
        else:
            selected = not code.startswith("INI4")
        return selected and not any(code.startswith(p) for p in self.ignore)

    def ignored_in(self, relpath: str) -> tuple[str, ...]:
        """The codes ``per-file-ignores`` turns off for a file (path relative to the root)."""
        codes: list[str] = []
        for pattern, ignored in self.per_file_ignores.items():
            if _matches(relpath, pattern):
                codes += ignored
        return tuple(codes)

    def is_excluded(self, relpath: str) -> bool:
        """Whether a path (relative to the root, ``/``-separated) matches an ``exclude`` pattern."""
        return any(_matches(relpath, pattern) for pattern in self.exclude)


def _matches(relpath: str, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    parts = relpath.split("/")
    if fnmatch.fnmatchcase(relpath, pattern):
        return True
    # A bare name matches any path component (like ruff and .gitignore); a path matches its prefix.
    if "/" not in pattern:
        return any(fnmatch.fnmatchcase(part, pattern) for part in parts)
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts)))


def find_project_root(paths: Iterable[Path]) -> Path:
    """The nearest folder above the paths holding ``pyproject.toml`` or ``.git``.

    Falls back to the common folder of the paths.
    """
    resolved = [p.resolve() for p in paths] or [Path.cwd().resolve()]
    common = Path(os.path.commonpath([str(p) for p in resolved]))
    start = common if common.is_dir() else common.parent
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return folder
    return start


def load_config(root: Path) -> Config:
    """Read ``[tool.initlint]`` from ``root/pyproject.toml`` (defaults when absent)."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return Config(root=root)
    # imported here: `import initlint.cli` (for `--help`, `rule`) reads no TOML
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{pyproject}: cannot read it as TOML: {exc}") from exc
    section = data.get("tool", {}).get("initlint", {})
    return _from_section(root, section, pyproject)


def _from_section(root: Path, section: Any, where: Path) -> Config:
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: [tool.initlint] must be a table")
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) in [tool.initlint]: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_KEYS))})"
        )
    values: dict[str, Any] = {}
    for key in _LIST_KEYS & set(section):
        value = section[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: [tool.initlint] {key} must be a list of strings")
        values[key.replace("-", "_")] = tuple(value)
    if "init-protocol" in section:
        protocol = section["init-protocol"]
        if protocol not in INIT_PROTOCOLS:
            raise ConfigError(f'{where}: [tool.initlint] init-protocol must be one of '
                              f'{", ".join(repr(p) for p in INIT_PROTOCOLS)}, not {protocol!r}')
        values["init_protocol"] = protocol
    ignores = section.get("per-file-ignores", {})
    if not isinstance(ignores, dict) or not all(
        isinstance(v, list) and all(isinstance(c, str) for c in v) for v in ignores.values()
    ):
        raise ConfigError(f'{where}: [tool.initlint] per-file-ignores must map globs to lists of codes, '
                          f'e.g. {{"tests/*" = ["INI001"]}}')
    check_codes(values.get("select", ()) + values.get("ignore", ()), str(where))
    for codes in ignores.values():
        check_codes(tuple(codes), str(where))
    values["per_file_ignores"] = {k: tuple(v) for k, v in ignores.items()}
    return Config(root=root, **values)


def check_codes(codes: Iterable[str], where: str) -> None:
    """Raise ``ConfigError`` for a code or prefix that matches no rule."""
    codes = tuple(codes)
    if not codes:
        return
    from initlint.lint.rules import RULES_BY_CODE

    for code in codes:
        if code == "ALL" or any(known.startswith(code) for known in RULES_BY_CODE) and code.startswith("INI"):
            continue
        raise ConfigError(
            f"{where}: unknown rule code {code!r} (known: {', '.join(sorted(RULES_BY_CODE))}; "
            "a prefix such as 'INI0' selects a band)"
        )
