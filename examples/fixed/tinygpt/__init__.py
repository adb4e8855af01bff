"""The fixed twin of ../broken/tinygpt: every module can re-initialize what it creates."""

from tinygpt.layers import RMSNorm, RotaryEmbedding, ScaledLinear

__all__ = ["RMSNorm", "RotaryEmbedding", "ScaledLinear"]
