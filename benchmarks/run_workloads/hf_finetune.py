"""Workload of ``run_bench.py``: fine-tune a small Llama loaded with ``from_pretrained`` (no network).

``python hf_finetune.py DIR [--prepare]``: ``--prepare`` saves the model (``save_pretrained``) the timed
runs load.
"""

import sys

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from transformers.utils import logging

STEPS = 20


def main() -> None:
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    folder = sys.argv[1]
    if "--prepare" in sys.argv:
        config = LlamaConfig(
            vocab_size=1024, hidden_size=128, intermediate_size=344, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
        )
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(folder)
        return
    model = AutoModelForCausalLM.from_pretrained(folder)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    torch.manual_seed(0)
    for _ in range(STEPS):
        batch = torch.randint(0, 1024, (4, 64))
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


if __name__ == "__main__":
    main()
