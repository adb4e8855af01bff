"""A tiny GPT with the mistakes empty-weight initialization punishes (see ../fixed for the twin)."""

from tinygpt.layers import RMSNorm, RotaryEmbedding, ScaledLinear

__all__ = ["RMSNorm", "RotaryEmbedding", "ScaledLinear"]
