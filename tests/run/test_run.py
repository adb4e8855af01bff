"""``initlint run`` on real scripts, each run as a subprocess exactly as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
needs = {name: pytest.mark.skipif(find_spec(name) is None, reason=f"{name} not installed")
         for name in ("lightning", "transformers")}


def python(*args: str, cwd: Path = SCRIPTS, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """``python ARGS...`` with this checkout first on the path."""
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def initlint_run(*args: str, cwd: Path = SCRIPTS, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return python("-m", "initlint", "run", *args, cwd=cwd, timeout=timeout)


@needs["lightning"]
def test_fabric_partial_checkpoint_fails_and_names_the_tensor(tmp_path: Path) -> None:
    result = initlint_run("fabric_finetune.py", str(tmp_path / "ckpt.pt"), "--partial")
    assert result.returncode == 1, result.stderr
    assert "FAILED fabric.init_module(empty_init=True) at fabric_finetune.py:33" in result.stderr
    assert "head.bias: never written (parameter [2] float32)" in result.stderr
    assert "The program was stopped at its first forward, in fabric_finetune.py:39." in result.stderr
    assert "Traceback" not in result.stderr  # the report, not initlint's internals


@needs["lightning"]
def test_fabric_complete_checkpoint_is_clean_and_prints_nothing(tmp_path: Path) -> None:
    result = initlint_run("fabric_finetune.py", str(tmp_path / "ckpt.pt"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    verbose = initlint_run("-v", "fabric_finetune.py", str(tmp_path / "ckpt.pt"))
    assert verbose.stderr.startswith("initlint run: 1 model verified, 4 tensors tracked, 0 failed"), verbose.stderr


@needs["transformers"]
def test_transformers_custom_head_from_pretrained(tmp_path: Path) -> None:
    """Plain ``from_pretrained``, no edit: ``temperature`` has no ``_init_weights`` branch (truth: it is
    NaN without initlint under ``fill_uninitialized_memory``); the missing ``score`` Linear is initialized."""
    partial = initlint_run("hf_custom_head.py", str(tmp_path / "base"), "--partial")
    assert partial.returncode == 1, partial.stderr
    assert "FAILED ScoredLlama.from_pretrained at hf_custom_head.py:42" in partial.stderr
    assert "temperature: never written (parameter [1] float32)" in partial.stderr
    assert "score." not in partial.stderr
    complete = initlint_run("hf_custom_head.py", str(tmp_path / "full"))
    assert (complete.returncode, complete.stderr) == (0, ""), complete.stderr


def test_module_form_sets_what_python_m_sets(tmp_path: Path) -> None:
    plain = python("-m", "trainpkg", "--flag", "value")
    verified = initlint_run("-m", "trainpkg", "--flag", "value")
    assert plain.returncode == verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout) == json.loads(plain.stdout)
    assert json.loads(plain.stdout)["argv"] == [str(SCRIPTS / "trainpkg" / "__main__.py"), "--flag", "value"]
    assert verified.stderr == ""
    partial = initlint_run("-m", "trainpkg", "--partial")
    assert partial.returncode == 1 and "2.weight: never written" in partial.stderr


def test_warn_lets_the_program_run_on_and_reports_at_the_end(tmp_path: Path) -> None:
    report = tmp_path / "initlint.json"
    result = initlint_run("--warn", "--report", str(report), "-m", "trainpkg", "--partial")
    assert result.returncode == 1
    assert result.stderr.startswith("initlint run: 1 model verified, 4 tensors tracked, 1 failed"), result.stderr
    assert "stopped" not in result.stderr  # it ran to its end
    document = json.loads(report.read_text())
    assert (document["exit_code"], document["verified"], document["failed"], document["not_reached"]) == (1, 1, 1, 0)
    [model] = document["models"]
    assert model["entry"].startswith("Sequential.to_empty() at ")
    assert [f["name"] for f in model["failures"]] == ["2.weight"]
    assert model["failures"][0]["status"] == "never-written"


def test_the_programs_own_error_passes_through_untouched() -> None:
    plain = python("fails_on_its_own.py", "raise")
    verified = initlint_run("fails_on_its_own.py", "raise")
    assert verified.returncode == plain.returncode == 1
    assert verified.stderr == plain.stderr  # the same traceback, frame for frame
    assert verified.stderr.startswith("Traceback") and "FileNotFoundError: no data at /nowhere/data.bin" in plain.stderr
    exits = initlint_run("fails_on_its_own.py", "exit")
    assert (exits.returncode, exits.stderr) == (3, "")


def test_usage_errors() -> None:
    assert initlint_run().returncode == 2
    missing = initlint_run("no_such_script.py")
    assert missing.returncode == 2 and "no_such_script.py" in missing.stderr


@pytest.mark.distributed
def test_torchrun_fsdp2_every_rank_verifies_and_fails_together(tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "dcp")
    torchrun = ("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2")
    saved = python(*torchrun, "fsdp2_dcp.py", checkpoint, "save")
    assert saved.returncode == 0, saved.stderr
    runs = {}
    for mode in ("partial", "complete"):
        report = tmp_path / f"{mode}.json"
        runs[mode] = python(*torchrun, "-m", "initlint", "run", "--report", str(report), "fsdp2_dcp.py", checkpoint, mode)
        documents = [json.loads(report.read_text()), json.loads(report.with_name(f"{mode}.rank1.json").read_text())]
        assert [d["rank"] for d in documents] == [0, 1]
        runs[mode].documents = documents  # type: ignore[attr-defined]
    partial = runs["partial"]
    assert partial.returncode != 0
    for document in partial.documents:  # type: ignore[attr-defined]
        [model] = document["models"]
        assert (document["exit_code"], model["status"]) == (1, "failed")
        assert [f["name"] for f in model["failures"]] == ["2.bias"]  # each rank's shard of it
        assert model["global_counts"][0] == 2  # both shards, all-reduced
    for rank in (0, 1):
        assert f"[rank {rank}] initlint: 2 of 8 tensors" in partial.stderr + partial.stdout
    complete = runs["complete"]
    assert complete.returncode == 0, complete.stderr
    assert all(d["exit_code"] == 0 and d["failed"] == 0 and d["verified"] == 1 for d in complete.documents)  # type: ignore[attr-defined]
    assert "initlint" not in complete.stderr + complete.stdout


def test_the_command_imports_no_torch_until_the_program_does(tmp_path: Path) -> None:
    """The linter's CLI never imports torch; `initlint run` leaves it to the program (which may set
    environment variables first)."""
    code = "import sys\nfrom initlint.cli import cli\nfrom initlint.runtime import runner, patching\nprint('torch' in sys.modules)"
    assert python("-c", code).stdout.strip() == "False"
    (tmp_path / "no_torch.py").write_text("import sys\nprint('torch' in sys.modules)\n")
    result = initlint_run("no_torch.py", cwd=tmp_path)
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "False", "")
