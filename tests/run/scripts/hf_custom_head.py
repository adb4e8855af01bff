"""Fine-tune a tiny Llama with a custom head, loaded with `from_pretrained`: `hf_custom_head.py DIR [--partial]`.

`ScoredLlama` adds a linear head and a learned `temperature` to the base model. With `--partial` the
checkpoint is the base model's only (as from a hub): transformers initializes the missing head's Linear
with `_init_weights`, which has no branch for `temperature`, so it keeps uninitialized memory.
No network: the tiny config is saved with `save_pretrained` first.
"""

import sys

import torch
from torch import nn
from transformers import LlamaConfig, LlamaModel, LlamaPreTrainedModel
from transformers.utils import logging


class ScoredLlama(LlamaPreTrainedModel):
    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.model = LlamaModel(config)
        self.score = nn.Linear(config.hidden_size, 1)
        self.temperature = nn.Parameter(torch.ones(1))
        self.post_init()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids).last_hidden_state
        return self.score(hidden[:, -1]) / self.temperature


def main() -> None:
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    folder = sys.argv[1]
    config = LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32,
    )
    torch.manual_seed(0)
    saved = LlamaModel(config) if "--partial" in sys.argv else ScoredLlama(config)
    saved.save_pretrained(folder)

    model = ScoredLlama.from_pretrained(folder)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(2):
        loss = model(torch.tensor([[1, 2, 3, 4]])).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


if __name__ == "__main__":
    main()
