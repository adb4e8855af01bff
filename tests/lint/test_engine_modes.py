"""Serial, parallel, cold, warm and one-file runs give the same findings; the cache sees every edit and
survives damage and company."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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


def index_file(root: Path) -> Path:
    (found,) = (root / CACHE_DIR).glob("v*/index.json")
    return found


def age(root: Path) -> None:
    """Make every file look older than the cache's racy window, as files are between commits."""
    old = os.stat(root).st_mtime - 60
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                os.utime(os.path.join(folder, name), (old, old))


def test_serial_parallel_cold_warm_are_identical(tree: Path) -> None:
    serial = run(tree, jobs=1)
    assert len(serial) == 5 + 50  # the examples' five (four in the broken GPT, the transformers demo's), one per layer
    assert run(tree, jobs=2) == serial
    cold = run(tree, jobs=2, cache=True)
    assert (tree / CACHE_DIR).is_dir()
    warm = run(tree, jobs=2, cache=True)
    assert cold == warm == serial


def test_one_file_runs_inside_a_cached_tree_match_the_whole_run(tree: Path) -> None:
    """What pre-commit does: lint the changed files alone, inside a tree a whole run cached."""
    whole = run(tree, jobs=2, cache=True)
    files = sorted(tree.rglob("*.py"))
    for cached in (True, True, False):  # cache filled by the whole run, re-read, then none at all
        one_by_one = sorted(f for path in files for f in lint_paths([path], Config(root=tree), cache=cached).findings)
        assert one_by_one == whole
    subclass = tree / "sub.py"  # a class whose base lives in another file: resolved through it
    subclass.write_text("import torch\nfrom gen_1 import Layer1\n\nclass Sub(Layer1):\n"
                        "    def __init__(self):\n        super().__init__()\n"
                        "        self.extra = torch.nn.Parameter(torch.ones(1))\n")
    alone = lint_paths([subclass], Config(root=tree), cache=True).findings
    assert [f.code for f in alone] == ["INI002"]
    assert alone == [f for f in run(tree, cache=True) if f.path.endswith("sub.py")]


def test_warm_class_findings_follow_an_edit_of_a_base_in_another_file(tree: Path) -> None:
    subclass = tree / "sub.py"
    subclass.write_text("import torch\nfrom gen_1 import Layer1\n\nclass Sub(Layer1):\n"
                        "    def __init__(self):\n        super().__init__()\n"
                        "        self.extra = torch.nn.Parameter(torch.ones(1))\n")
    age(tree)
    assert [f.code for f in lint_paths([subclass], Config(root=tree), cache=True).findings] == ["INI002"]
    base = tree / "gen_1.py"
    base.write_text(base.read_text().replace("        pass\n", "        for p in self.parameters():\n"
                                             "            torch.nn.init.ones_(p)\n"))
    for paths in ([subclass], [tree]):  # sub.py itself is unchanged: its cached findings must not be
        assert not [f for f in lint_paths(paths, Config(root=tree), cache=True).findings if f.path.endswith("sub.py")]
    (tree / "gen_1.py").unlink()  # the base is gone: Sub's bases are unknown, so no finding either way
    assert lint_paths([subclass], Config(root=tree), cache=True).findings == lint_paths([subclass], Config(root=tree)).findings


def test_edit_that_keeps_size_and_mtime_is_seen(tree: Path) -> None:
    age(tree)
    target = tree / "gen_0.py"
    before = os.stat(target)
    assert any(f.path.endswith("gen_0.py") for f in run(tree, cache=True))
    text = target.read_text()
    target.write_text(text.replace("self.w0 = nn.Parameter", "self.w0 = nn.Dummyyyyy"))  # same length
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(target).st_size == before.st_size and os.stat(target).st_mtime_ns == before.st_mtime_ns
    assert not any(f.path.endswith("gen_0.py") for f in run(tree, cache=True))


def test_quick_same_size_rewrites_are_seen(tree: Path) -> None:
    """Two writes inside one tick of the file system's clock: the first run must not trust the stat."""
    target = tree / "gen_0.py"
    text = target.read_text()
    assert any(f.path.endswith("gen_0.py") for f in run(tree, cache=True))
    target.write_text(text.replace("self.w0 = nn.Parameter", "self.w0 = nn.Dummyyyyy"))
    assert not any(f.path.endswith("gen_0.py") for f in run(tree, cache=True))
    target.write_text(text)
    assert any(f.path.endswith("gen_0.py") for f in run(tree, cache=True))


def test_configuration_change_is_a_different_cache(tree: Path) -> None:
    age(tree)
    plain = run(tree, cache=True)
    custom = Config(root=tree, init_methods=("reset_parameters", "init_weights"), extra_module_bases=("x.Base",))
    assert lint_paths([tree], custom, cache=True).findings == lint_paths([tree], custom).findings
    (tree / "gen_0.py").write_text((tree / "gen_0.py").read_text() + "\n    def init_weights(self):\n"
                                   "        nn.init.ones_(self.w0)\n")
    assert not [f for f in lint_paths([tree], custom, cache=True).findings if f.path.endswith("gen_0.py")]
    assert [f for f in run(tree, cache=True) if f.path.endswith("gen_0.py")] == [
        f for f in plain if f.path.endswith("gen_0.py")
    ]
    assert len(list((tree / CACHE_DIR).glob("v*/index.json"))) == 2
    selected = lint_paths([tree], Config(root=tree, select=("INI002",)), cache=True).findings
    assert selected == [f for f in plain if f.code == "INI002"]


def test_lost_summary_files_are_rebuilt(tree: Path) -> None:
    age(tree)
    expected = run(tree, cache=True)
    for summary in (tree / CACHE_DIR).glob("v*/s/*.json"):
        summary.unlink()
    (tree / "gen_3.py").write_text((tree / "gen_3.py").read_text() + "\n")  # needs the others' summaries
    assert run(tree, cache=True) == expected


def test_warm_run_sees_an_edit(tree: Path) -> None:
    age(tree)
    run(tree, cache=True)
    target = tree / "gen_0.py"
    target.write_text(target.read_text() + "\n    def reset_parameters(self):\n        nn.init.ones_(self.w0)\n")
    assert not any(f.path.endswith("gen_0.py") for f in run(tree, cache=True))
    assert run(tree, cache=True) == run(tree)


@pytest.mark.parametrize("damage", ["corrupt", "truncate", "foreign", "wrong-shape"])
def test_damaged_cache_is_ignored_and_rebuilt(tree: Path, damage: str) -> None:
    expected = run(tree, cache=True)
    cache_file = index_file(tree)
    text = cache_file.read_text()
    cache_file.write_text(
        {
            "corrupt": "\x00garbage{{{",
            "truncate": text[: len(text) // 2],
            "foreign": json.dumps({"format": 99, "version": "0", "files": {}}),
            "wrong-shape": json.dumps({"format": 3, "version": "0.1.0", "files": {"x": 3}}),
        }[damage]
    )
    assert run(tree, cache=True) == expected
    assert json.loads(cache_file.read_text())["files"]  # rebuilt


def test_cache_entry_with_a_bad_summary_is_reanalysed(tree: Path) -> None:
    age(tree)
    expected = run(tree, cache=True)
    for summary in (tree / CACHE_DIR).glob("v*/s/*.json"):
        summary.write_text(json.dumps({"nonsense": True}))
    (tree / "gen_3.py").write_text((tree / "gen_3.py").read_text() + "\n")
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
    json.loads(index_file(tree).read_text())  # whole, not interleaved
    assert not list((tree / CACHE_DIR).rglob("*.tmp"))


# --- a damaged cache: every field of every record, wrong type or wrong content (issue 21) ------------

WRONG_VALUES = [None, 1, 1.5, True, "x", [], ["a", 1, None], {}, {"a": ["b"]}]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """The examples alone: every kind of cache record, in a tree quick to lint a hundred times."""
    root = tmp_path / "small"
    shutil.copytree(EXAMPLES, root / "examples")
    (root / "pyproject.toml").write_text("")
    return root


def entry_fields(root: Path) -> tuple[dict, list[str]]:
    data = json.loads(index_file(root).read_text())
    fields = sorted({key for entry in data["files"].values() for key in entry})
    return data, fields


def test_every_wrong_field_of_the_index_is_dropped_and_rebuilt(small: Path) -> None:
    """Each field of an entry (its class findings and their modules per generation too, and the fields
    of the protocol records) set to each wrong type or shape, with its stale checksum and with a recomputed
    one (so that the type checks themselves are tried): the run finds what a cold run finds, without a
    traceback."""
    from initlint.lint.cache import _seal

    age(small)
    expected = run(small)
    run(small, cache=True)
    pristine = json.loads(index_file(small).read_text())
    path, richest = max(pristine["files"].items(), key=lambda item: len(item[1]))
    assert {"st", "racy", "h", "mod", "parsed", "skip", "noqa", "findings", "roots", "cf", "x", "c"} <= set(richest)
    assert richest["cf"] and pristine["protocols"], "the tree has class findings and protocol records to damage"

    def places(data: dict, field_name: str) -> list[tuple[Any, Any, dict]]:
        """(what holds the field, its key there, the record whose checksum covers it)."""
        if field_name.startswith("protocols."):
            return [(record, field_name[10:], record) for record in data["protocols"].values()]
        entry = data["files"][path]
        if field_name.startswith("cf."):  # inside each generation's [findings, deps]
            return [(held, ["findings", "deps"].index(field_name[3:]), entry) for held in entry["cf"].values()]
        return [(entry, field_name, entry)]

    misshapen = (["a", 1, None], {"a": ["b"]})  # the right type for some fields, never the right shape
    damaged = 0
    for field_name in [*richest, "cf.findings", "cf.deps", "protocols.deps", "protocols.gen"]:
        for value, resealed in [(v, r) for v in WRONG_VALUES for r in (False, True)]:
            data = json.loads(json.dumps(pristine))
            found = places(data, field_name)
            holder, key, _ = found[0]
            if resealed and (key == "c" or (type(value) is type(holder[key]) and value not in misshapen)
                             or (value is None and key in ("x", "st"))):
                continue  # right-typed and sealed: as good as what initlint writes
            for holder, key, record in found:
                holder[key] = value
                if resealed:
                    _seal(record)
            index_file(small).write_text(json.dumps(data))
            assert run(small, cache=True) == expected, (field_name, value, resealed)
            damaged += 1
    assert damaged > 200


@pytest.mark.parametrize("damage", ["findings-emptied", "cf-emptied", "noqa-added", "summary-file"])
def test_right_typed_wrong_content_is_caught_by_the_checksum(tree: Path, damage: str) -> None:
    age(tree)
    expected = run(tree)
    run(tree, cache=True)
    data = json.loads(index_file(tree).read_text())
    for entry in data["files"].values():
        if damage == "findings-emptied":
            entry["findings"] = []
        elif damage == "cf-emptied" and "cf" in entry:
            entry["cf"] = {generation: [[], deps] for generation, (_, deps) in entry["cf"].items()}
        elif damage == "noqa-added":
            entry["noqa"] = {str(line): [] for line in range(1, 40)}
    index_file(tree).write_text(json.dumps(data))
    if damage == "summary-file":
        for summary in (tree / CACHE_DIR).glob("v*/s/*.json"):
            content = json.loads(summary.read_text())
            content["summary"]["classes"] = []
            summary.write_text(json.dumps(content))
        (tree / "gen_3.py").write_text((tree / "gen_3.py").read_text() + "\n")  # reads the others' summaries
    assert run(tree, cache=True) == expected
    assert run(tree, cache=True) == expected  # and the rebuilt cache is whole


@pytest.mark.parametrize("document", ["[]", "1", '"x"', "null", '{"format": 5}', '{"files": []}'])
def test_index_of_another_shape_is_a_cold_run_not_a_traceback(tree: Path, document: str) -> None:
    expected = run(tree, cache=True)
    index = index_file(tree)
    text = json.loads(index.read_text())
    index.write_text(document if "format" not in document else json.dumps({**text, **json.loads(document)}))
    from initlint.cli import cli
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [str(tree), "--format", "json", "-j", "1"])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert len(json.loads(result.stdout)) == len(expected)


def write_sealed(root: Path, data: dict) -> None:
    """Write ``data`` as the index the way initlint does: every record sealed, and the whole file."""
    from initlint.lint.cache import _digest, _head, _seal

    for record in [*data["files"].values(), *data["protocols"].values()]:
        _seal(record)
    body = json.dumps({"files": data["files"], "protocols": data["protocols"]}, separators=(",", ":"))[1:]
    head = _head(_digest(body.encode()), {"format": data["format"], "version": data["version"]})
    index_file(root).write_text(head + body)


@pytest.mark.parametrize("field_name, value", [
    ("findings", "x"), ("findings", [{"line": 1}]), ("noqa", {"²": []}), ("noqa", []), ("st", [1, 2]),
    ("mod", None), ("racy", 0), ("x", "../../../x"), ("cf", {"g": [[], [1]]}), ("cf", []), ("roots", None),
])
def test_a_wrong_typed_entry_in_a_whole_index_is_caught_when_read(small: Path, field_name: str, value: object) -> None:
    """The warm path trusts an index whose own checksum holds without checking each record's; the types of
    an entry are still checked when a run first reads it (even one sealed with a valid checksum, as no
    damage by accident is): a one-file run that reads it, or a whole run after a one-file run that did not,
    finds what a cold run finds, and the entry is written anew."""
    from initlint.lint.cache import _INDEX_HEAD, _whole

    age(small)
    target = small / "examples" / "broken" / "tinygpt" / "layers.py"
    other = small / "examples" / "broken" / "tinygpt" / "model.py"
    alone = lint_paths([target], Config(root=small)).findings
    whole = run(small)
    assert alone and whole != alone
    run(small, cache=True)
    pristine = json.loads(index_file(small).read_text())
    for damaged in (target, other):
        data = json.loads(json.dumps(pristine))
        data["files"][str(damaged)][field_name] = value
        write_sealed(small, data)
        raw = index_file(small).read_bytes()
        assert _whole(raw, json.loads(raw)["sum"], _INDEX_HEAD)  # the warm path's own check holds
        assert lint_paths([target], Config(root=small), cache=True).findings == alone, damaged
        assert run(small, cache=True) == whole, damaged
        assert json.loads(index_file(small).read_text())["files"][str(damaged)] != data["files"][str(damaged)]


def test_the_warm_path_checks_no_record_until_the_index_is_damaged(small: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm run over an index whose checksum holds computes no record's checksum; an index rewritten by
    anything else (here: the same records, spaced differently) has every record checked, and the run
    writes it whole again, so the next run is on the warm path."""
    from initlint.lint import cache

    monkeypatch.setattr(cache, "_RACY_NS", 0)  # files seconds old are trusted here
    expected = run(small, cache=True)
    checked: list[object] = []
    original = cache._sealed
    monkeypatch.setattr(cache, "_sealed", lambda record: (checked.append(record), original(record))[1])
    assert run(small, cache=True) == expected and checked == []
    index_file(small).write_text(json.dumps(json.loads(index_file(small).read_text())))
    assert run(small, cache=True) == expected and len(checked) > 10
    checked.clear()
    assert run(small, cache=True) == expected and checked == []


def test_summary_name_cannot_reach_out_of_the_cache(small: Path) -> None:
    """A damaged summary file is deleted to be written anew: an entry naming one outside the cache
    (``../../x``), even sealed, is dropped instead, and nothing outside is touched."""
    from initlint.lint.cache import _seal

    age(small)
    expected = run(small)
    run(small, cache=True)
    outside = small / "precious.json"
    outside.write_text("{}")
    data = json.loads(index_file(small).read_text())
    for entry in data["files"].values():
        entry["x"] = "../../../precious"
        _seal(entry)
    index_file(small).write_text(json.dumps(data))
    assert run(small, cache=True) == expected
    assert outside.read_text() == "{}"
