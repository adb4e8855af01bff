"""Run open_clip models the way meta init + a per-module reset loop runs them; print what stays NaN.

``python open_clip_reset_loop.py <folder holding open_clip/>`` builds small open_clip models on the meta device,
``to_empty``s them, NaN-fills every tensor, calls ``reset_parameters()`` on each module that has one (FSDP's
and most training scripts' loop) and prints, as JSON, the sorted ``[file, class, attribute]`` of every tensor
still NaN. Run in its own process by ``test_thirdparty.py``: open_clip imports torchvision for one class
(``FrozenBatchNorm2d``) that none of these models builds, so a stub stands in for it, and the package's
``__init__`` (tokenizers, transforms) is skipped.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import types
from pathlib import Path

import torch


def _import_open_clip(root: Path) -> None:
    for name in ("torchvision", "torchvision.ops", "torchvision.ops.misc"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["torchvision.ops.misc"].FrozenBatchNorm2d = torch.nn.Module  # type: ignore[attr-defined]
    package = types.ModuleType("open_clip")
    package.__path__ = [str(root / "open_clip")]  # type: ignore[attr-defined]
    sys.modules["open_clip"] = package


def _models(root: Path) -> dict[str, torch.nn.Module]:
    _import_open_clip(root)
    model = importlib.import_module("open_clip.model")
    coca = importlib.import_module("open_clip.coca_model")
    transformer = importlib.import_module("open_clip.transformer")
    text = {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1}
    vision = {"layers": 1, "width": 32, "head_width": 16, "patch_size": 8, "image_size": 16}
    return {
        "CLIP": model.CLIP(16, vision, text, init_logit_bias=-10.0),
        "CLIP(layer scale, attentional pool)": model.CLIP(
            16, {**vision, "ls_init_value": 1e-5, "attentional_pool": True, "attn_pooler_queries": 4,
                 "attn_pooler_heads": 2}, text),
        "CLIP(ResNet)": model.CLIP(16, {"layers": (1, 1, 1, 1), "width": 8, "image_size": 64, "head_width": 8},
                                   text),
        "CLIP(custom blocks)": model.CLIP(
            16, {**vision, "scaled_cosine_attn": True, "scale_heads": True}, text),
        "CustomTextCLIP": model.CustomTextCLIP(16, vision, text, init_logit_bias=-10.0),
        "CoCa": coca.CoCa(16, {**text, "n_queries": 4, "attn_pooler_heads": 2, "dim_head": 16},
                          {**text, "embed_cls": True}, vision, init_logit_bias=-10.0),
        "TextTransformer(cls)": transformer.TextTransformer(8, 64, 32, 2, 1, embed_cls=True, output_dim=16),
    }


def left_nan(root: Path) -> list[tuple[str, str, str]]:
    """``(file, class, attribute)`` of every tensor the reset loop leaves NaN, over all the models."""
    with torch.device("meta"):
        models = _models(root)
    left = set()
    for built in models.values():
        built.to_empty(device="cpu")
        with torch.no_grad():
            for tensor in [*built.parameters(), *built.buffers()]:
                tensor.fill_(math.nan if tensor.is_floating_point() else -1)
            for module in built.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
        for module in built.modules():
            cls = type(module)
            for attribute, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
                if tensor.is_floating_point() and torch.isnan(tensor).any():
                    source = Path(sys.modules[cls.__module__].__file__ or "?").resolve()
                    parts = source.parts
                    top = "open_clip" if "open_clip" in parts else "torch"
                    file = "/".join(parts[len(parts) - parts[::-1].index(top) - 1:])
                    left.add((file, cls.__qualname__, attribute))
    return sorted(left)


if __name__ == "__main__":
    print(json.dumps(left_nan(Path(sys.argv[1]))))
