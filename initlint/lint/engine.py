"""One lint run: find the files, analyse them, resolve classes across the project, filter findings.

The engine owns everything that is not a rule's judgement: I/O, the project index, configuration,
suppression comments and ordering.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from initlint.config import Config
from initlint.lint.analyze import analyze_file
from initlint.lint.discovery import SKIP_DIRS, SUFFIXES, discover, module_name, relative
from initlint.lint.index import ProjectIndex
from initlint.lint.rules import ALL_RULES, ClassRule
from initlint.lint.summary import FileSummary, Finding

__all__ = ["LintResult", "lint_paths", "Project"]


@dataclass
class LintResult:
    """The findings of a run, sorted, and how many files were checked."""

    findings: list[Finding]
    files_checked: int


class Project:
    """The files of the project under ``config.root``, analysed on demand and remembered.

    The files given on the command line are analysed first; another file of the project is only read
    when a class of those files inherits from a class it defines (or re-exports).
    """

    def __init__(self, config: Config, targets: Iterable[Path] = ()) -> None:
        self.config = config
        self._summaries: dict[Path, FileSummary] = {}
        self._by_module: dict[str, Path] | None = None
        self._targets = {module_name(path)[0]: path for path in targets}
        self._extra_optimizers = frozenset(config.extra_optimizers)

    def summary(self, path: Path) -> FileSummary:
        """The summary of one file, analysed once."""
        key = path.resolve()
        if key not in self._summaries:
            module, is_package = module_name(path)
            self._summaries[key] = analyze_file(path, module, is_package, self._extra_optimizers)
        return self._summaries[key]

    def load_module(self, module: str) -> FileSummary | None:
        """The summary of a module of the project by dotted name, if the project has it."""
        if self._by_module is None:
            self._by_module = {**dict(_modules_under(self.config.root)), **self._targets}
        path = self._by_module.get(module)
        return self.summary(path) if path is not None else None

    def index(self) -> ProjectIndex:
        """A class index reading this project's modules."""
        return ProjectIndex(self.load_module, self.config.extra_module_bases, self.config.init_methods)


def _modules_under(root: Path) -> Iterator[tuple[str, Path]]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            if name.endswith(SUFFIXES):
                path = Path(folder) / name
                yield module_name(path)[0], path


def lint_paths(paths: Iterable[Path], config: Config, force_exclude: bool = False) -> LintResult:
    """Lint the Python files under ``paths`` with ``config``."""
    targets = discover(list(paths), config, force_exclude)
    project = Project(config, targets)
    index = project.index()
    class_rules = [rule() for rule in ALL_RULES if issubclass(rule, ClassRule) and config.enabled(rule.code)]
    findings: list[Finding] = []
    for path in targets:
        summary = project.summary(path)
        if summary.skip_file:
            continue
        found = list(summary.findings)
        for cls in summary.classes:
            if not cls.tensors:
                continue
            view = index.view(cls)
            for rule in class_rules:
                found += [
                    Finding(summary.path, cls.line, cls.col, rule.code, message, cls.line, cls.col + 5)
                    for message in rule.check(view)
                ]
        findings += _kept(found, summary, config)
    return LintResult(sorted(findings), len(targets))


def _kept(findings: list[Finding], summary: FileSummary, config: Config) -> list[Finding]:
    """Drop findings of disabled rules, per-file ignores and ``# noqa`` comments."""
    ignored = config.ignored_in(relative(Path(summary.path), config.root))
    kept = []
    for finding in findings:
        if not config.enabled(finding.code) or finding.code.startswith(ignored or ("\0",)):
            continue
        codes = summary.noqa.get(finding.line)
        if codes is not None and (not codes or finding.code in codes):
            continue
        kept.append(finding)
    return kept
