"""The ``ast`` gates keep files whose words only look like a rule's from the libcst parse (cold speed),
and never keep out a file the rule reports."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import initlint.lint.analyze as analyze
from initlint.lint.analyze import analyze_source, noqa_map


@pytest.fixture
def libcst_parses(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The codes of the rules each analysed file was parsed with libcst for."""
    parsed: list[list[str]] = []
    real = analyze._file_findings

    def recording(path, text, table, extra_optimizers, rules, *rest):  # type: ignore[no-untyped-def]
        parsed.append([rule.code for rule in rules])
        return real(path, text, table, extra_optimizers, rules, *rest)

    monkeypatch.setattr(analyze, "_file_findings", recording)
    return parsed


def _torch_source(relative: str) -> str:
    spec = importlib.util.find_spec("torch")  # located, never imported
    assert spec is not None and spec.origin is not None
    return (Path(spec.origin).parent / relative).read_text(encoding="utf-8")


def test_to_empty_defined_or_quoted_is_not_parsed_for_ini103(libcst_parses: list[list[str]]) -> None:
    # torch's Module defines to_empty and names it in an error message; nothing there calls it on a model
    summary = analyze_source(_torch_source("nn/modules/module.py"), "module.py", "torch.nn.modules.module")
    assert summary.findings == []
    assert libcst_parses == []


def test_to_empty_on_a_call_result_is_not_parsed_for_ini103(libcst_parses: list[list[str]]) -> None:
    text = "def build(cls):\n    return cls().to_empty(device='cpu')\n"
    assert analyze_source(text, "build.py", "build").findings == []
    assert libcst_parses == []


def test_to_empty_on_a_model_is_still_reported(libcst_parses: list[list[str]]) -> None:
    text = (
        "import torch\n\nwith torch.device('meta'):\n    net = torch.nn.Linear(2, 2)\n"
        "net.to_empty(device='cpu')\nprint(net.weight)\n"
    )
    findings = analyze_source(text, "script.py", "script").findings
    assert [f.code for f in findings if f.code == "INI103"] == ["INI103"]
    assert any("INI103" in codes for codes in libcst_parses)


@pytest.mark.parametrize("comment", ["# initlint: noqa", "  #InitLint:NOQA  "])
def test_file_noqa_is_found_in_any_case(comment: str) -> None:
    # the lowered text is searched first (speed); the comment's case must still not matter
    text = f"import torch\n{comment}\nclass Net(torch.nn.Module):\n    def __init__(self):\n" \
           "        super().__init__()\n        self.w = torch.nn.Parameter(torch.empty(2))\n"
    assert analyze_source(text, "net.py", "net").skip_file


def test_noqa_lines_follow_every_line_ending() -> None:
    # counted between matches instead of splitting the file: \r\n, a lone \r and \n each end one line
    text = "import torch\r\nx = 1  # noqa\r\ny = 2\rz = 3  # NOQA: ini001, INI002\nw = 4  #noqa\n"
    assert noqa_map(text) == {2: [], 4: ["INI001", "INI002"], 5: []}
