import torch
from torch import nn


class RMSNorm(nn.Module):
    """Root-mean-square norm."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class RotaryEmbedding(nn.Module):
    """A RoPE cache, recomputed by reset_parameters (no checkpoint holds it)."""

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        self.dim, self.base = dim, base
        self.register_buffer("inv_freq", torch.empty(dim // 2), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            arange = torch.arange(0, self.dim, 2, device=self.inv_freq.device).float()
            self.inv_freq.copy_(1.0 / (self.base ** (arange / self.dim)))

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return torch.outer(positions.float(), self.inv_freq)


class ScaledLinear(nn.Linear):
    """A Linear layer with a learned output scale."""

    def __init__(self, in_features: int, out_features: int) -> None:
        self.scale = None  # Linear.__init__ calls reset_parameters before the scale exists
        super().__init__(in_features, out_features)
        self.scale = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.scale is not None:
            nn.init.ones_(self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * self.scale
