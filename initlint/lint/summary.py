"""The small, serializable summary the engine keeps of each file.

A file is parsed once into a ``FileSummary``; everything the project-wide rules need (classes, their
bases, the tensors they manage, what their methods write) lives here, so summaries can be cached and
computed in worker processes, and no syntax tree outlives its file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Edit", "Fix", "Finding", "Question", "TensorDef", "MethodFacts", "ClassSummary", "FileSummary"]


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text from ``line:col`` up to ``end_line:end_col`` (1-based; columns count
    characters) with ``content``. An insertion starts and ends at the same place."""

    line: int
    col: int
    end_line: int
    end_col: int
    content: str


@dataclass(frozen=True, order=True)
class Fix:
    """The edits that resolve one finding, applied all together or not at all.

    ``applicability`` is ``"safe"`` (the behaviour stays what the author meant) or ``"unsafe"``
    (a reviewer must look: the fix may change what the code does), as in ruff.
    """

    message: str
    applicability: str
    edits: tuple[Edit, ...]

    def applies(self, unsafe: bool = False) -> bool:
        """Whether ``--fix`` applies it (``unsafe``: with ``--unsafe-fixes``)."""
        return self.applicability == "safe" or unsafe

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Fix | None:
        """The inverse of ``to_json`` (``None`` stays ``None``)."""
        if data is None:
            return None
        return cls(data["message"], data["applicability"], tuple(Edit(**edit) for edit in data["edits"]))


@dataclass(frozen=True, order=True)
class Finding:
    """One diagnostic: where, which rule, a message a user can act on, and maybe a fix."""

    path: str
    line: int
    col: int
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0
    fix: Fix | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        """The inverse of ``dataclasses.asdict``."""
        return cls(**{**data, "fix": Fix.from_json(data.get("fix"))})


@dataclass(frozen=True)
class Question:
    """A script rule's finding that waits on what a model is made of: ``model`` (a variable of the
    script, built from the class ``cls``) at this place, judged once the project's classes are known
    (``rules/base.TreeRule``): the classes of its tree may live in other files."""

    code: str
    line: int
    col: int
    end_line: int
    end_col: int
    model: str
    cls: str  # qualified, as the script's imports name it


@dataclass
class TensorDef:
    """A parameter or buffer that a class creates itself."""

    name: str
    kind: str  # "parameter" or "buffer"
    persistent: bool = True
    # created only under ``if flag:`` (``"flag"``) or its ``else``/``if not flag:`` (``"!flag"``), where ``flag``
    # is a name or ``self.flag``: ``if requires_grad: Parameter(...) else: register_buffer(...)``
    condition: str = ""


@dataclass
class MethodFacts:
    """What one method does to the tensors of ``self``."""

    writes: list[str] = field(default_factory=list)
    guarded: dict[str, str] = field(default_factory=dict)  # written only under one guard (``TensorDef.condition``)
    writes_all_parameters: bool = False
    writes_all_buffers: bool = False
    self_calls: list[str] = field(default_factory=list)
    super_calls: list[str] = field(default_factory=list)


@dataclass
class ClassSummary:
    """A class as the project-wide rules see it."""

    name: str  # qualified inside its module, e.g. "Outer.Inner"
    line: int
    col: int  # where findings point: the name for a class that creates tensors (the only ones reported)
    bases: list[str | None]  # qualified names; None where a base is no plain name
    end_col: int = 0  # the end of what ``col`` points at
    methods: dict[str, MethodFacts] = field(default_factory=dict)
    tensors: list[TensorDef] = field(default_factory=list)
    fixes: dict[str, Fix] = field(default_factory=dict)  # rule code -> the fix if that rule fires
    protocol: dict[str, Any] = field(default_factory=dict)  # init-protocol facts (``lint/protocols``), JSON
    ties: list[str] = field(default_factory=list)  # ``self.a.weight = self.b.weight`` in ``__init__``, as written


@dataclass
class FileSummary:
    """Everything the engine keeps of one file once its tree is gone."""

    path: str
    module: str
    imports: dict[str, str] = field(default_factory=dict)
    classes: list[ClassSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # from the single-file rules
    noqa: dict[int, list[str]] = field(default_factory=dict)  # line -> codes ([] = all)
    skip_file: bool = False
    parsed: bool = True  # False: no rule applied, so the file was not parsed (no classes known)
    functions: dict[str, Any] = field(default_factory=dict)  # module-level init dispatches (``lint/protocols``)
    roots: bool = False  # a rule parsed the file and a class could be an init-protocol root (``lint/protocols``)
    questions: list[Question] = field(default_factory=list)  # for the project's classes to answer

    def to_json(self) -> dict[str, Any]:
        """A dict of plain JSON types."""
        data = asdict(self)
        data["noqa"] = {str(k): v for k, v in self.noqa.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileSummary:
        """The inverse of ``to_json``."""
        classes = [
            ClassSummary(
                name=c["name"],
                line=c["line"],
                col=c["col"],
                bases=c["bases"],
                end_col=c["end_col"],
                methods={k: MethodFacts(**v) for k, v in c["methods"].items()},
                tensors=[TensorDef(**t) for t in c["tensors"]],
                fixes={code: Fix.from_json(fix) for code, fix in c["fixes"].items()},  # type: ignore[misc]
                protocol=c.get("protocol", {}),
                ties=c.get("ties", []),
            )
            for c in data["classes"]
        ]
        return cls(
            path=data["path"],
            module=data["module"],
            imports=data["imports"],
            classes=classes,
            findings=[Finding.from_json(f) for f in data["findings"]],
            noqa={int(k): v for k, v in data["noqa"].items()},
            skip_file=data["skip_file"],
            parsed=data["parsed"],
            functions=data.get("functions", {}),
            roots=data.get("roots", False),
            questions=[Question(**q) for q in data.get("questions", [])],
        )
