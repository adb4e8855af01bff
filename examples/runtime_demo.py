"""The runtime verifier catching a partial checkpoint before a training step reads garbage.

Run it: ``python examples/runtime_demo.py`` (needs torch).

A checkpoint from an older version of the model names the head ``lm_head`` instead of ``head``.
``load_state_dict(strict=False)`` loads everything else and says nothing; the head keeps the
uninitialized memory that empty init left. ``verified_empty_init`` stops the first forward.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent / "fixed"))
from tinygpt.layers import RotaryEmbedding  # noqa: E402
from tinygpt.model import TinyGPT  # noqa: E402

from initlint import UninitializedWeightsError, verified_empty_init  # noqa: E402


def old_checkpoint() -> dict[str, torch.Tensor]:
    """A checkpoint whose head was saved under a different name."""
    state = TinyGPT().state_dict()
    state["lm_head.weight"] = state.pop("head.weight")
    return state


def main() -> int:
    with verified_empty_init(strict=True):
        model = TinyGPT()  # fast: no weight is initialized
    result = model.load_state_dict(old_checkpoint(), strict=False)
    print(f"load_state_dict(strict=False): missing={result.missing_keys} unexpected={result.unexpected_keys}")
    for module in model.modules():  # no checkpoint holds the RoPE cache: recompute it
        if isinstance(module, RotaryEmbedding):
            module.reset_parameters()
    tokens = torch.randint(0, 256, (1, 8))
    try:
        model(tokens)
    except UninitializedWeightsError as error:
        print("\nThe first forward was stopped:\n")
        print(error)
        return 0
    print("no problem found (unexpected for this demo)")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
