"""What every rule is: a code, a name, its explanation, and its own examples.

Two kinds of rules exist, by what they need to see:

- ``ClassRule``: judges one class with its ancestors resolved across the project (``ClassView``);
- ``FileRule``: reads one parsed file on its own (script order, contexts) and yields nodes.

Rules are pure: they never read files, print or exit; the engine owns all of that.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst

from initlint.lint.index import ClassView
from initlint.lint.names import ImportTable

__all__ = ["Valid", "Invalid", "Rule", "ClassRule", "FileRule", "FileContext", "DOCS_URL"]

DOCS_URL = "https://initlint.readthedocs.io/en/latest/rules/{code}/"


@dataclass(frozen=True)
class Valid:
    """Code the rule must stay quiet on."""

    code: str


@dataclass(frozen=True)
class Invalid:
    """Code the rule must report: at ``line`` (1-based, if given), naming each of ``mentions``."""

    code: str
    line: int | None = None
    mentions: tuple[str, ...] = ()


@dataclass
class FileContext:
    """What a ``FileRule`` may know about the file besides its tree."""

    imports: ImportTable
    position: Callable[[cst.CSTNode], tuple[int, int]]
    extra_optimizers: frozenset[str] = field(default_factory=frozenset)


class Rule:
    """Metadata and examples shared by every rule; subclasses add ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    what_it_does: ClassVar[str]
    why_bad: ClassVar[str]
    fix_safety: ClassVar[str] = ""
    references: ClassVar[tuple[str, ...]] = ()
    VALID: ClassVar[tuple[Valid, ...]] = ()
    INVALID: ClassVar[tuple[Invalid, ...]] = ()

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """A cheap textual test: can this rule find anything in a file with this text?

        Files no rule applies to are never parsed (unless another file needs their classes).
        """
        return False

    @classmethod
    def docs_url(cls) -> str:
        """Where the rule's page lives."""
        return DOCS_URL.format(code=cls.code)


_CREATES_TENSORS = re.compile(r"Parameter\(|register_parameter|register_buffer|Buffer\(")


class ClassRule(Rule):
    """A rule that judges one class, with the whole project's classes resolved."""

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Class rules look at classes that create tensors."""
        return _CREATES_TENSORS.search(text) is not None

    def check(self, view: ClassView) -> Iterator[str]:
        """Yield a message for each problem of ``view``'s class (reported at its ``class`` line)."""
        raise NotImplementedError


class FileRule(Rule):
    """A rule that reads one file on its own."""

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """By default a file rule reads every file; override with a cheaper test."""
        return True

    @classmethod
    def wants(cls, tree: ast.Module, imports: ImportTable) -> bool:
        """A second, still cheap test on the file's ``ast`` tree, before its libcst tree is parsed."""
        return True

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Yield ``(node, message)`` for each problem; the engine turns nodes into positions."""
        raise NotImplementedError
