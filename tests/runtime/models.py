"""Small real models the runtime tests build."""

from __future__ import annotations

import math

import torch
from torch import nn


class Affine(nn.Module):
    """A module with a correct reset_parameters."""

    def __init__(self, n: int = 4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, n))
        self.bias = nn.Parameter(torch.empty(n))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T + self.bias


class ForgetsBias(Affine):
    """reset_parameters() forgets the bias."""

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))


class Net(nn.Module):
    """Two layers and an embedding: 5 tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 4)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(self.embed(tokens))))


class WithRope(nn.Module):
    """A non-persistent buffer: no checkpoint holds it."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Tied(nn.Module):
    """Embedding and head share one weight."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(tokens))


def reset_all(model: nn.Module) -> None:
    """What sharded strategies do after materializing: reset every module that can."""
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()


class RopeNet(nn.Module):
    """A linear layer and a RoPE table its constructor computes (non-persistent: no checkpoint has it)."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.rope = Rope(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) * self.rope.inv_freq.repeat(2)


class Rope(nn.Module):
    """Only a computed, non-persistent buffer."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)), persistent=False)


class WithEmptyParameter(nn.Module):
    """A parameter nothing ever initializes: ``nn.Parameter(torch.empty(3))``."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 3)
        self.gain = nn.Parameter(torch.empty(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) * self.gain
