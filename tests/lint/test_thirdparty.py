"""Real third-party code: every finding below was read by hand against the package's source.

The packages are pinned wheels downloaded by the test set-up (``tests/_thirdparty``, git-ignored),
never committed. torch's own ``nn/modules`` comes from the pinned torch of the test extras.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from initlint.config import Config
from initlint.lint.engine import lint_paths

pytestmark = pytest.mark.slow

CACHE = Path(__file__).resolve().parents[1] / "_thirdparty"


def unpacked(requirement: str) -> Path:
    """Download (once) and unpack a pinned wheel; skip if the registry cannot be reached."""
    name = requirement.split("==")[0].replace("-", "_")
    target = CACHE / requirement.replace("==", "-")
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        download = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE), requirement],
            capture_output=True,
            text=True,
        )
        wheels = sorted(CACHE.glob(f"{name}-{requirement.split('==')[1]}-*.whl"))
        if download.returncode != 0 or not wheels:
            pytest.skip(f"cannot download {requirement}: {download.stderr.strip()[-200:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            wheel.extractall(target)
    return target


def findings(root: Path, *paths: str) -> list[tuple[str, int, str, str]]:
    result = lint_paths([root / p for p in paths], Config(root=root))
    return [
        (Path(f.path).resolve().relative_to(root).as_posix(), f.line, f.code, f.message.split("`")[1])
        for f in result.findings
    ]


def test_torch_nn_modules() -> None:
    torch = pytest.importorskip("torch")
    root = Path(torch.__file__).parent.parent
    # MultiheadAttention defines only `_reset_parameters`, which FSDP's reset never calls. Every other
    # built-in either has a complete reset_parameters (RNNBase resets through self.parameters(),
    # BatchNorm through reset_running_stats) or only registers tensors its caller passes in.
    assert findings(root, "torch/nn/modules") == [
        ("torch/nn/modules/activation.py", 1089, "INI001", "MultiheadAttention"),
    ]


def test_timm_layers() -> None:
    root = unpacked("timm==1.0.31")
    assert findings(root, "timm/layers") == [
        # timm initializes these in init_weights()/trunc_normal_ calls from the model, never in a
        # reset_parameters(): under FSDP meta init they stay garbage.
        ("timm/layers/attention_pool.py", 13, "INI001", "AttentionPoolLatent"),
        ("timm/layers/attention_pool2d.py", 22, "INI001", "RotAttentionPool2d"),
        ("timm/layers/attention_pool2d.py", 189, "INI001", "AttentionPool2d"),
        # reset_parameters() sets weight/bias/v but not the running_var buffer.
        ("timm/layers/evo_norm.py", 99, "INI002", "reset_parameters()"),
        ("timm/layers/evo_norm.py", 149, "INI002", "reset_parameters()"),
        ("timm/layers/evo_norm.py", 195, "INI002", "reset_parameters()"),
        # weight/bias created with torch.zeros in __init__ only.
        ("timm/layers/grn.py", 18, "INI001", "GlobalResponseNorm"),
        ("timm/layers/ml_decoder.py", 90, "INI001", "MLDecoder"),
        ("timm/layers/norm_act.py", 211, "INI001", "FrozenBatchNormAct2d"),
        ("timm/layers/other_pool.py", 24, "INI001", "LsePlus2d"),
        ("timm/layers/other_pool.py", 67, "INI001", "LsePlus1d"),
        # reset_parameters() recomputes the grid buffers but not the `freqs` parameter.
        ("timm/layers/pos_embed_sincos.py", 1128, "INI002", "reset_parameters()"),
    ]


def test_litgpt() -> None:
    root = unpacked("litgpt==0.5.13")
    # GPT.reset_parameters recomputes cos/sin through a tuple assignment; LoRAQKVLinear's _lora_ind is
    # registered lazily in a forward helper (not at build time). Only the MoE router is left: its
    # weight and correction bias are set in __init__ alone. The training scripts set up the model
    # before creating the optimizer (no INI003).
    assert findings(root, "litgpt") == [("litgpt/model.py", 888, "INI001", "GroupedTopkRouter")]


def test_timm_fixes(tmp_path: Path) -> None:
    """``--fix --unsafe-fixes`` on a copy of timm: every fix was read by hand (zeros/ones initializers of
    norm layers, position embeddings and temperatures, with timm's ``**dd`` device/dtype kwargs kept);
    the fixed files parse, the fixed classes are no longer reported, and GlobalResponseNorm builds to
    the same values."""
    import shutil

    from initlint.lint.fixer import fix_paths

    source = unpacked("timm==1.0.31") / "timm"
    shutil.copytree(source, tmp_path / "timm")
    before = findings(tmp_path, "timm")
    run = fix_paths([tmp_path / "timm"], Config(root=tmp_path), unsafe=True)
    fixed = sorted((Path(f.path).relative_to(tmp_path).as_posix(), f.message.split("`")[1]) for f in run.fixed)
    assert fixed == [
        ("timm/layers/grn.py", "GlobalResponseNorm"),
        ("timm/layers/norm_act.py", "FrozenBatchNormAct2d"),
        ("timm/models/convit.py", "GPSA"),
        ("timm/models/edgenext.py", "CrossCovarianceAttn"),
        ("timm/models/mlp_mixer.py", "Affine"),
        ("timm/models/nest.py", "NestLevel"),
        ("timm/models/xcit.py", "XCA"),
    ]
    after = findings(tmp_path, "timm")  # lines below a fix moved: compare without them
    unmoved = sorted((path, code, name) for path, _, code, name in after)
    assert unmoved == sorted((path, code, name) for path, _, code, name in before if (path, name) not in fixed)
    torch = pytest.importorskip("torch")
    for text in (source / "layers" / "grn.py", tmp_path / "timm" / "layers" / "grn.py"):
        namespace: dict[str, object] = {}
        exec(compile(text.read_text(encoding="utf-8"), str(text), "exec"), namespace)
        norm = namespace["GlobalResponseNorm"](8)
        assert torch.equal(norm.weight, torch.zeros(8)) and torch.equal(norm.bias, torch.zeros(8))


@pytest.mark.parametrize(
    ("requirement", "package"),
    [("peft==0.21.2", "peft"), ("torchtune==0.6.1", "torchtune"), ("lightning==2.6.6", "lightning"),
     ("accelerate==1.15.0", "accelerate")],
)
def test_script_rules_on_libraries(requirement: str, package: str) -> None:
    """No script-order finding in these libraries: each earlier one was read by hand and was wrong.
    torchtune's LoRALinear/DoRALinear override `to_empty()` (an implementation, not a use); peft's
    `_init_empty_weights()` ends with `self.to_empty(...)`, handing the memory to callers that fill it."""
    root = unpacked(requirement)
    assert [f for f in findings(root, package) if f[2].startswith("INI1")] == []


def test_script_rules_on_torch_distributed() -> None:
    torch = pytest.importorskip("torch")
    root = Path(torch.__file__).parent.parent
    assert [f for f in findings(root, "torch/distributed") if f[2].startswith("INI1")] == []
