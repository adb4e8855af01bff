"""A rule's explanation as Markdown: printed by ``initlint rule CODE`` and written to ``docs/rules/``.

One function renders both, from the rule's own metadata and examples, so they never drift.
"""

from __future__ import annotations

from initlint.lint.rules.base import Rule

__all__ = ["explain"]


def _code_block(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```\n"


def explain(rule: type[Rule]) -> str:
    """The rule's page: What it does / Why is this bad? / Example / Use instead / Fix safety / References."""
    parts = [
        f"# {rule.name} ({rule.code})\n",
        f"## What it does\n{rule.what_it_does}\n",
        f"## Why is this bad?\n{rule.why_bad}\n",
    ]
    if rule.INVALID:
        parts.append("## Example\n" + _code_block(rule.INVALID[0].code))
    if rule.VALID:
        parts.append("## Use instead\n" + _code_block(rule.VALID[0].code))
    if rule.fix_safety:
        parts.append(f"## Fix safety\n{rule.fix_safety}\n")
    fixed = next((example for example in rule.INVALID if example.fixed is not None), None)
    if fixed is not None:
        parts.append(
            "## Fix\n`initlint --fix" + (" --unsafe-fixes" if rule.fix_is_unsafe() else "") + "` turns\n"
            + _code_block(fixed.code) + "into\n" + _code_block(fixed.fixed or "")
        )
    parts.append(
        "## Suppression\n"
        f"Add `# noqa: {rule.code}` to the reported line, or turn the rule off with "
        f'`ignore = ["{rule.code}"]` in `[tool.initlint]`.\n'
    )
    if rule.references:
        parts.append("## References\n" + "".join(f"- <{url}>\n" for url in rule.references))
    return "\n".join(parts)
