"""INI900: a file initlint could not read or parse."""

from __future__ import annotations

from initlint.lint.rules.base import Invalid, Rule, Valid

__all__ = ["UnparsableFile"]


class UnparsableFile(Rule):
    """Reported by the engine itself when a file cannot be read, decoded or parsed."""

    code = "INI900"
    name = "unparsable-file"
    what_it_does = (
        "Reports a file that initlint could not check: it does not parse as Python, is not valid UTF-8, "
        "or cannot be read. The message carries the parser's line and explanation. (Files in which no "
        "rule could find anything (no parameter, buffer, optimizer or set-up call) are not parsed at all.)"
    )
    why_bad = (
        "A file the linter cannot read is a file it cannot vouch for. The run goes on with the other "
        "files; fix the file, or exclude it in `[tool.initlint] exclude`."
    )
    VALID = (Valid("x = 1\n"),)
    INVALID = (
        Invalid(
            """\
class Scale(nn.Module):
    def __init__(self:
        self.gain = nn.Parameter(torch.ones(1))
""",
            line=2,
        ),
    )
