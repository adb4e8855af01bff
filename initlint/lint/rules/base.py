"""What every rule is: a code, a name, its explanation, and its own examples.

Two kinds of rules exist, by what they need to see:

- ``ClassRule``: judges one class with its ancestors resolved across the project (``ClassView``);
- ``FileRule``: reads one parsed file on its own (script order, contexts) and yields nodes;
- ``TreeRule``: a ``FileRule`` whose verdict also needs what the script's model is made of: the file
  asks about a model (``ask``), the project's classes answer (``judge``), wherever they are defined.

Rules are pure: they never read files, print or exit; the engine owns all of that.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from functools import lru_cache
from dataclasses import dataclass, field
from typing import ClassVar

from initlint.lint.gates import builds_under_empty_init
from initlint.lint.index import ClassView
from initlint.lint.lazy import cst
from initlint.lint.modeltree import ModelTree
from initlint.lint.names import ImportTable
from initlint.lint.source import Source
from initlint.lint.summary import ClassSummary, Fix

__all__ = ["Valid", "Invalid", "Rule", "ClassRule", "FileRule", "TreeRule", "FileContext", "Report", "DOCS_URL"]

Report = tuple  # (node, message) or (node, message, fix): a libcst node, kept unnamed so libcst loads lazily
DOCS_URL = "https://initlint.readthedocs.io/en/latest/rules/{code}/"


@dataclass(frozen=True)
class Valid:
    """Code the rule must stay quiet on."""

    code: str


@dataclass(frozen=True)
class Invalid:
    """Code the rule must report: at ``line`` (1-based, if given), naming each of ``mentions``.

    ``fixed`` is the code after the rule's fix (``None``: the rule offers no fix here); where the
    example defines a module, ``build`` is an expression constructing it, and the tests check that
    the fixed module gives its tensors the same distribution of values as the original.
    """

    code: str
    line: int | None = None
    mentions: tuple[str, ...] = ()
    fixed: str | None = None
    build: str = ""


@dataclass
class FileContext:
    """What a ``FileRule`` may know about the file besides its tree.

    ``position`` gives a node's 1-based start line and column, ``span`` its start and end
    (line, column, end line, end column: what an ``Edit`` takes), ``source`` the file's lines,
    ``classes`` the summaries of the file's own classes by qualified name (``pkg.mod.Model``).
    """

    imports: ImportTable
    position: Callable[[cst.CSTNode], tuple[int, int]]
    extra_optimizers: frozenset[str] = field(default_factory=frozenset)
    span: Callable[[cst.CSTNode], tuple[int, int, int, int]] | None = None
    source: Source | None = None
    classes: dict[str, ClassSummary] = field(default_factory=dict)


class Rule:
    """Metadata and examples shared by every rule; subclasses add ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    what_it_does: ClassVar[str]
    why_bad: ClassVar[str]
    fix_safety: ClassVar[str] = ""  # "Safe. ..." or "Unsafe. ...", when the rule offers a fix
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
    def fix_is_unsafe(cls) -> bool:
        """Whether the rule's fix needs ``--unsafe-fixes``."""
        return cls.fix_safety.startswith("Unsafe")

    @classmethod
    def docs_url(cls) -> str:
        """Where the rule's page lives."""
        return DOCS_URL.format(code=cls.code)


# plain substrings: ``str.__contains__`` scans a file four times faster than a regex alternation does
_CREATES_TENSORS = ("Parameter(", "register_parameter", "register_buffer", "Buffer(")


@lru_cache(maxsize=1)
def _creates_tensors(text: str) -> bool:
    """Searched once per file text, though every class rule asks (the same ``str`` hits the cache)."""
    return any(word in text for word in _CREATES_TENSORS)


class ClassRule(Rule):
    """A rule that judges one class, with the whole project's classes resolved."""

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Class rules look at classes that create tensors."""
        return _creates_tensors(text)

    def check(self, view: ClassView) -> Iterator[str]:
        """Yield a message for each problem of ``view``'s class (reported at its ``class`` line)."""
        raise NotImplementedError

    @classmethod
    def prepare_fix(
        cls, node: ast.ClassDef, summary: ClassSummary, source: Source, imports: ImportTable
    ) -> Fix | None:
        """The fix to offer if this rule fires on the class, computed while its tree is at hand.

        Class rules judge classes after every file is summarized, when no tree is left; so the fix is
        prepared with the summary (and cached with it) for every class that creates tensors.
        """
        return None


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

    def check(self, module: cst.Module, context: FileContext) -> Iterator[Report]:
        """Yield ``(node, message)`` or ``(node, message, fix)`` for each problem; the engine turns
        nodes into positions."""
        raise NotImplementedError


class TreeRule(FileRule):
    """A script rule whose finding depends on the classes the model is made of.

    The script says which model to ask about (``ask``: the place, the model's variable and its
    qualified class); once every file is summarized, the engine follows that class's tree through the
    project (other files included) and the torch table, and ``judge`` gives the message, or ``None``.
    Every tree rule so far asks about ``model.to_empty(...)`` on a model built under an empty-init
    context: those are the default gates.
    """

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs ``to_empty`` (what the model is made of may be in another file)."""
        return "to_empty(" in text

    @classmethod
    def wants(cls, tree: ast.Module, imports: ImportTable) -> bool:
        """Only a model built under an empty-init context can be affected."""
        return builds_under_empty_init(tree, imports)

    def ask(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str, str]]:
        """Yield ``(node, model, qualified class)`` for each model whose tree decides a finding here."""
        raise NotImplementedError

    def judge(self, model: str, tree: ModelTree) -> str | None:
        """The message for ``model``, given its class's tree (``modeltree.tree_of``); ``None``: nothing wrong."""
        raise NotImplementedError

    def check(self, module: cst.Module, context: FileContext) -> Iterator[Report]:
        """A tree rule has nothing to report from its file alone."""
        return iter(())

