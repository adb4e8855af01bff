"""Serial, parallel, cold and warm runs give the same findings; the cache survives damage and company."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from initlint.config import Config
from initlint.lint.cache import CACHE_DIR
from initlint.lint.engine import lint_paths

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project of 60 files (enough to use worker processes), with findings of every rule."""
    root = tmp_path / "proj"
    shutil.copytree(EXAMPLES, root / "examples")
    (root / "pyproject.toml").write_text("")
    for i in range(50):
        (root / f"gen_{i}.py").write_text(
            "import torch\nfrom torch import nn\n\n"
            f"class Layer{i}(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            f"        self.w{i} = nn.Parameter(torch.ones(1))\n"
            + ("\n    def reset_parameters(self):\n        pass\n" if i % 2 else "")
        )
    return root


def run(root: Path, **options: object) -> list:
    return lint_paths([root], Config(root=root), **options).findings  # type: ignore[arg-type]


def test_serial_parallel_cold_warm_are_identical(tree: Path) -> None:
    serial = run(tree, jobs=1)
    assert len(serial) == 5 + 50  # the examples' five (four in the broken GPT, the transformers demo's), one per layer
    assert run(tree, jobs=2) == serial
    cold = run(tree, jobs=2, cache=True)
    assert (tree / CACHE_DIR).is_dir()
    warm = run(tree, jobs=2, cache=True)
    assert cold == warm == serial


def test_warm_run_sees_an_edit(tree: Path) -> None:
    run(tree, cache=True)
    target = tree / "gen_0.py"
    target.write_text(target.read_text() + "\n    def reset_parameters(self):\n        nn.init.ones_(self.w0)\n")
    assert not any(f.path.endswith("gen_0.py") for f in run(tree, cache=True))
    assert run(tree, cache=True) == run(tree)


@pytest.mark.parametrize("damage", ["corrupt", "truncate", "foreign", "wrong-shape"])
def test_damaged_cache_is_ignored_and_rebuilt(tree: Path, damage: str) -> None:
    expected = run(tree, cache=True)
    (cache_file,) = (tree / CACHE_DIR).glob("summaries-*.json")
    text = cache_file.read_text()
    cache_file.write_text(
        {
            "corrupt": "\x00garbage{{{",
            "truncate": text[: len(text) // 2],
            "foreign": json.dumps({"format": 99, "version": "0", "entries": {}}),
            "wrong-shape": json.dumps({"format": 1, "version": "0.1.0", "entries": {"x": {"summary": 3}}}),
        }[damage]
    )
    assert run(tree, cache=True) == expected
    assert json.loads(cache_file.read_text())["entries"]  # rebuilt


def test_cache_entry_with_a_bad_summary_is_reanalysed(tree: Path) -> None:
    expected = run(tree, cache=True)
    (cache_file,) = (tree / CACHE_DIR).glob("summaries-*.json")
    data = json.loads(cache_file.read_text())
    for entry in data["entries"].values():
        entry["summary"] = {"nonsense": True}
    cache_file.write_text(json.dumps(data))
    assert run(tree, cache=True) == expected


def test_two_processes_at_once_both_correct(tree: Path) -> None:
    expected = [f"{f.path}:{f.line}:{f.col}: {f.code}" for f in run(tree)]

    def one(_: int) -> list[str]:
        out = subprocess.run(
            [sys.executable, "-c", "from initlint.cli import main; main()", str(tree), "--format", "json"],
            capture_output=True,
            text=True,
        ).stdout
        return [f"{f['path']}:{f['line']}:{f['col']}: {f['code']}" for f in json.loads(out)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, range(4)))
    assert all(result == expected for result in results)
    (cache_file,) = (tree / CACHE_DIR).glob("summaries-*.json")
    json.loads(cache_file.read_text())  # whole, not interleaved
    assert not list((tree / CACHE_DIR).glob("*.tmp"))
