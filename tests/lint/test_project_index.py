"""Inheritance across the files of a project: bases, re-exports, relative imports, one-file runs."""

from __future__ import annotations

from pathlib import Path

from .helpers import lint_tree

BASE_WITH_RESET = """\
import torch
from torch import nn

class Base(nn.Module):
    def reset_parameters(self) -> None:
        for p in self.parameters():
            nn.init.normal_(p)
"""

CHILD = """\
import torch
from torch import nn
{import_line}

class Child(Base):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(3))
"""


def codes(findings: list) -> list[tuple[str, str]]:
    return [(Path(f.path).name, f.code) for f in findings]


def test_base_in_another_file_with_absolute_import(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/base.py": BASE_WITH_RESET,
        "pkg/child.py": CHILD.format(import_line="from pkg.base import Base"),
    }
    assert lint_tree(tmp_path, files) == []


def test_relative_import_and_reexport_through_init(tmp_path: Path) -> None:
    files = {
        "timmish/__init__.py": "",
        "timmish/layers/__init__.py": "from .base import Base\n",
        "timmish/layers/base.py": BASE_WITH_RESET,
        "timmish/models/__init__.py": "",
        "timmish/models/child.py": CHILD.format(import_line="from ..layers import Base"),
        "timmish/models/child2.py": CHILD.format(import_line="from timmish.layers import Base"),
    }
    assert lint_tree(tmp_path, files) == []


def test_only_the_file_given_is_reported_but_bases_resolve(tmp_path: Path) -> None:
    base_without_reset = "import torch\nfrom torch import nn\n\nclass Base(nn.Module):\n    pass\n"
    files = {
        "pkg/__init__.py": "",
        "pkg/base.py": base_without_reset + "\nclass Other(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.x = nn.Parameter(torch.ones(1))\n",
        "pkg/child.py": CHILD.format(import_line="from pkg.base import Base"),
    }
    findings = lint_tree(tmp_path, files, targets=["pkg/child.py"])
    assert codes(findings) == [("child.py", "INI001")]  # Base resolved as a module; Other not reported


def test_pre_commit_style_single_file_with_reset_in_base(tmp_path: Path) -> None:
    files = {
        "src/pkg/__init__.py": "",
        "src/pkg/base.py": BASE_WITH_RESET,
        "src/pkg/child.py": CHILD.format(import_line="from .base import Base"),
    }
    assert lint_tree(tmp_path, files, targets=["src/pkg/child.py"]) == []


def test_script_importing_a_sibling_module(tmp_path: Path) -> None:
    files = {
        "model.py": BASE_WITH_RESET,
        "train.py": CHILD.format(import_line="from model import Base"),
    }
    assert lint_tree(tmp_path, files, targets=["train.py"]) == []


def test_unresolvable_base_is_not_guessed(tmp_path: Path) -> None:
    files = {"child.py": CHILD.format(import_line="from somewhere_else import Base")}
    assert lint_tree(tmp_path, files) == []


def test_subclass_overrides_hook_called_by_inherited_reset(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/base.py": (
            "from torch import nn\n\nclass Base(nn.Module):\n"
            "    def reset_parameters(self):\n        self._init_extra()\n\n"
            "    def _init_extra(self):\n        pass\n"
        ),
        "pkg/child.py": CHILD.format(import_line="from pkg.base import Base")
        + "\n    def _init_extra(self):\n        nn.init.zeros_(self.w)\n",
    }
    assert lint_tree(tmp_path, files) == []


def test_import_aliases_are_understood(tmp_path: Path) -> None:
    source = (
        "import torch\nimport torch.nn as tnn\nfrom torch.nn import Module, Parameter as P\n\n"
        "class A(tnn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.a = tnn.Parameter(torch.ones(1))\n\n"
        "class B(Module):\n    def __init__(self):\n        super().__init__()\n        self.b = P(torch.ones(1))\n\n"
        "class C(torch.nn.Linear):\n    def __init__(self):\n        super().__init__(2, 2)\n"
        "        self.c = torch.nn.parameter.Parameter(torch.ones(1))\n"
    )
    findings = lint_tree(tmp_path, {"m.py": source})
    assert [(f.line, f.code) for f in findings] == [(5, "INI001"), (10, "INI001"), (15, "INI002")]
