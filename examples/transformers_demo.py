"""The transformers bug the verifier exists for: a custom parameter ``from_pretrained`` leaves as garbage.

Run it: ``python examples/transformers_demo.py`` (needs torch, transformers and safetensors).

``ScaleBlock.scale`` is an explicit ``nn.Parameter`` that the model's ``_init_weights`` has no branch
for. A checkpoint saved before ``scale`` existed lacks the key: ``from_pretrained`` builds the model on
the meta device, moves the missing key to empty memory, runs ``_init_weights`` (which skips it) and
reports the key as "newly initialized". It holds whatever was in memory. ``verified_empty_init`` names it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

try:
    import torch
    from safetensors.torch import load_file, save_file
    from torch import nn
    from transformers import PretrainedConfig, PreTrainedModel
    from transformers.utils import logging
except ImportError as missing:  # a usage error, as the CLI's: say what to install, exit 2
    print(f"examples/transformers_demo.py needs torch, transformers and safetensors ({missing}). Install them: "
          'pip install transformers safetensors (or, in the clone, pip install -e ".[test]").', file=sys.stderr)
    raise SystemExit(2) from None

from initlint import UninitializedWeightsError, verified_empty_init


class ScaleConfig(PretrainedConfig):
    """Config of the demo model."""

    model_type = "initlint-demo"

    def __init__(self, d: int = 8, **kwargs: object) -> None:
        self.d = d
        super().__init__(**kwargs)


class ScaleBlock(nn.Module):
    """A linear layer and a learned per-channel scale."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d, d)
        self.scale = nn.Parameter(torch.ones(d))


class ScaleModel(PreTrainedModel):
    """Its ``_init_weights`` initializes ``nn.Linear`` only."""

    config_class = ScaleConfig
    base_model_prefix = "model"

    def __init__(self, config: ScaleConfig) -> None:
        super().__init__(config)
        self.block = ScaleBlock(config.d)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(0, 0.02)
            module.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block.lin(x) * self.block.scale


def old_checkpoint(folder: Path) -> None:
    """Save the model as a version without ``scale`` would have: the key is missing."""
    ScaleModel(ScaleConfig()).save_pretrained(folder)
    state = load_file(folder / "model.safetensors")
    del state["block.scale"]
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})


def main() -> int:
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as folder:
        old_checkpoint(Path(folder))
        with verified_empty_init(poison=True):  # poison: what nobody wrote reads as NaN, never as 1.4e38
            model = ScaleModel.from_pretrained(folder)
        print(f"from_pretrained returned; block.scale = {model.block.scale.data.tolist()}")
        try:
            model(torch.ones(1, 8))
        except UninitializedWeightsError as error:
            print("\nThe first forward was stopped:\n")
            print(error)
            return 0
    print("no problem found (unexpected for this demo)")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
