"""A small sample of the INI004-against-execution benchmark: real transformers models, built and poisoned."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _benchmark():
    spec = importlib.util.spec_from_file_location("hf_init_truth", ROOT / "benchmarks" / "hf_init_truth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_clip_and_bert_agree_with_execution(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    bench = _benchmark()
    cache = tmp_path / "truth.jsonl"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "hf_init_truth.py"), "--worker", "clip,bert",
                    "--timeout", "300", "--cache", str(cache)], check=True, timeout=600)
    records = bench.load(cache)
    assert set(records) == {"clip", "bert"} and all("unwritten" in r for r in records.values()), records
    # CLIPModel.logit_scale is an explicit nn.Parameter that CLIPPreTrainedModel._init_weights never writes
    clip_file = "transformers/models/clip/modeling_clip.py"
    assert [tuple(t) for t in records["clip"]["unwritten"]] == [(clip_file, "CLIPModel", "logit_scale")]
    assert records["bert"]["unwritten"] == []
    predicted = bench.lint_truth_pairs([clip_file, "transformers/models/bert/modeling_bert.py"])
    result = bench.score(records, predicted)
    assert (result["tp"], result["fp"], result["fn"]) == (1, [], []), result
