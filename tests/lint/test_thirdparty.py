"""Real third-party code: every finding below was read by hand against the package's source.

The packages are pinned wheels downloaded by the test set-up (``tests/_thirdparty``, git-ignored),
never committed. torch's own ``nn/modules`` comes from the pinned torch of the test extras.
"""

from __future__ import annotations

import json
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


def test_torch_geometric() -> None:
    """Every finding under torch_geometric/nn is proven by execution: ``benchmarks/pyg_init_truth.py`` builds each
    class on meta, NaN-fills it and runs its ``reset_parameters()`` (PyG's protocol); these tensors stay NaN, and
    no other tensor of a built class does (precision and recall 1.0 on 124 (class, tensor) pairs of 66 classes)."""
    root = unpacked("torch-geometric==2.8.1")
    assert findings(root, "torch_geometric") == [
        # read by hand, not executed (their __init__ downloads pretrained Hugging Face models): a parameter made in
        # __init__ (torch.randn/ones) and no reset_parameters() at all
        ("torch_geometric/llm/models/git_mol.py", 83, "INI001", "GITFormer"),
        ("torch_geometric/llm/models/git_mol.py", 107, "INI001", "GITMol"),
        # `q`, the quantiles given to __init__, as a buffer; the inherited Aggregation.reset_parameters writes nothing
        ("torch_geometric/nn/aggr/quantile.py", 10, "INI002", "reset_parameters()"),
        # random features drawn in __init__ only
        ("torch_geometric/nn/attention/performer.py", 66, "INI001", "PerformerProjection"),
        # with requires_grad=False `beta` is a buffer of ones, which reset_parameters() writes only
        # `if self.requires_grad` (issue 20, item 10e)
        ("torch_geometric/nn/conv/agnn_conv.py", 13, "INI002", "reset_parameters()"),
        ("torch_geometric/nn/conv/antisymmetric_conv.py", 14, "INI002", "reset_parameters()"),  # torch.eye buffer
        # sqrt(out_channels) of dot-product attention, a buffer made in __init__
        ("torch_geometric/nn/conv/general_conv.py", 21, "INI002", "reset_parameters()"),
        # `w` (torch.ones) is never reset; `l2` gets `torch.full(self.l2.size(), ...)`, whose result is dropped
        ("torch_geometric/nn/conv/rgat_conv.py", 16, "INI002", "reset_parameters()"),
        # `kernel_size`/`is_open_spline` buffers made from the __init__ arguments
        ("torch_geometric/nn/conv/spline_conv.py", 21, "INI002", "reset_parameters()"),
        ("torch_geometric/nn/encoding.py", 13, "INI002", "reset_parameters()"),  # constant frequency buffer
        ("torch_geometric/nn/encoding.py", 71, "INI002", "reset_parameters()"),  # constant weight buffer
        ("torch_geometric/nn/models/gnnff.py", 13, "INI002", "reset_parameters()"),  # linspace offsets
        # the per-layer weights made from the default `alpha` (a float) in __init__ (issue 20, item 10c)
        ("torch_geometric/nn/models/lightgcn.py", 14, "INI002", "reset_parameters()"),
        # dipole=True: ase's atomic masses as a buffer
        ("torch_geometric/nn/models/schnet.py", 35, "INI002", "reset_parameters()"),
        ("torch_geometric/nn/models/schnet.py", 431, "INI001", "GaussianSmearing"),  # linspace offsets
        # `_assoc`, a torch.empty index scratch buffer: true to the letter, but forward() writes each entry it
        # reads, so its garbage is harmless (it is garbage under ordinary init too)
        ("torch_geometric/nn/models/tgn.py", 15, "INI002", "reset_parameters()"),
        # `initial_atomref`, made by the default path (`if atomref is None: torch.zeros(...)`); reset_parameters()
        # copies it into the embedding, so the embedding is garbage too
        ("torch_geometric/nn/models/visnet.py", 994, "INI002", "reset_parameters()"),
        ("torch_geometric/nn/models/visnet.py", 1037, "INI002", "reset_parameters()"),  # mean/std from floats
    ]


# (file, class) of open_clip's INI001 findings -> the tensors each names
_OPEN_CLIP_INI001 = {
    ("open_clip/coca_model.py", "CoCa"): {"logit_scale", "logit_bias"},
    ("open_clip/model.py", "CLIP"): {"attn_mask", "logit_scale", "logit_bias"},
    ("open_clip/model.py", "CustomTextCLIP"): {"logit_scale", "logit_bias"},
    ("open_clip/modified_resnet.py", "AttentionPool2d"): {"positional_embedding"},
    ("open_clip/transformer.py", "LayerScale"): {"gamma"},
    ("open_clip/transformer.py", "Attention"): {"in_proj_weight", "in_proj_bias", "logit_scale", "head_scale"},
    ("open_clip/transformer.py", "AttentionalPooler"): {"query"},
    ("open_clip/transformer.py", "VisionTransformer"): {"class_embedding", "positional_embedding", "proj"},
    ("open_clip/transformer.py", "TextTransformer"): {"cls_emb", "positional_embedding", "attn_mask",
                                                      "text_projection"},
    ("open_clip/transformer.py", "MultimodalTransformer"): {"attn_mask", "text_projection"},
}


def test_open_clip() -> None:
    """open_clip initializes its tensors in ``init_parameters()`` methods, never in ``reset_parameters()``:
    under meta init and FSDP's (or any) per-module reset loop each tensor below stays garbage. Proven by
    execution (``open_clip_reset_loop.py``), which also shows the MultiheadAttention tensors INI110 is about."""
    root = unpacked("open-clip-torch==3.3.0")
    found = findings(root, "open_clip")
    assert [(path, code, name) for path, _line, code, name in found] == [
        (path, "INI001", name) for path, name in _OPEN_CLIP_INI001
    ]
    pytest.importorskip("torch")
    run = subprocess.run([sys.executable, str(Path(__file__).with_name("open_clip_reset_loop.py")), str(root)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    left = {tuple(item) for item in json.loads(run.stdout)}
    reported = {(path, cls, tensor) for (path, cls), tensors in _OPEN_CLIP_INI001.items() for tensor in tensors}
    assert reported <= left  # every tensor named is garbage after the loop: no false alarm
    assert left - reported == {
        # CLIP keeps the pieces of a TextTransformer it drops: these two are that class's, reported there
        ("open_clip/model.py", "CLIP", "positional_embedding"),
        ("open_clip/model.py", "CLIP", "text_projection"),
        # torch's MultiheadAttention initializes these in `_reset_parameters()` only: INI110, on the loop
        *(("torch/nn/modules/activation.py", "MultiheadAttention", name)
          for name in ("in_proj_weight", "in_proj_bias", "q_proj_weight", "k_proj_weight", "v_proj_weight")),
    }


def test_open_clip_reset_loop_script(tmp_path: Path) -> None:
    """The loop every open_clip model hits under meta init (issue 20, item 8), on the real classes: the
    script imports CLIP, and INI110 follows its tree into open_clip's files to the MultiheadAttention."""
    import shutil

    shutil.copytree(unpacked("open-clip-torch==3.3.0") / "open_clip", tmp_path / "open_clip")
    (tmp_path / "train.py").write_text(
        "import torch\n"
        "from open_clip.model import CLIP\n\n"
        "with torch.device('meta'):\n"
        "    model = CLIP(512, {'layers': 12, 'width': 768, 'patch_size': 16}, {'width': 512, 'heads': 8})\n"
        "model.to_empty(device='cuda')\n"
        "for module in model.modules():\n"
        "    if hasattr(module, 'reset_parameters'):\n"
        "        module.reset_parameters()\n",
        encoding="utf-8",
    )
    result = lint_paths([tmp_path / "train.py", tmp_path / "open_clip"], Config(root=tmp_path, select=("INI110",)))
    # reported at `to_empty`, as INI110's own example is
    assert [(Path(f.path).name, f.line, f.code) for f in result.findings] == [("train.py", 6, "INI110")]


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
