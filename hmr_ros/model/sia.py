"""Synchronous Interaction Attention (SIA): attention jointly over the people of a scene and over frames.

All T x K instance tokens of the window attend to each other in one sequence (SIAM poster, Fig. 1: relational
cues "across both spatial and temporal dimensions"; Fig. 2: linear Q, K, V projections of instance features).
Absent people and empty frames are key-padding masked; in causal mode a token attends only to tokens of its own
and older frames. Every token may attend to itself, so no row of the attention is ever fully masked (no NaN), and
a masked token never influences a present one. There is no person-index embedding, so SIA is equivariant to
permuting the K slots; time enters through a learnable embedding of each frame's age in the window.
"""
from __future__ import annotations

import torch
from torch import nn

#: Additive mask value. Finite (not -inf) so FP16 engines never see inf - inf; exp(-1e4) underflows to 0 in FP32
#: and FP16 alike.
MASKED = -1.0e4


class InteractionAttention(nn.Module):
    """Multi-head attention over (B, N, D) tokens with an additive (B, 1, N, N) bias and the tokens' centres.

    centres (B, N, 2) are in ``CENTRE_UNIT`` units (see :class:`SIA`). Per head h, the logits get
    ``- softplus(distance_weight[h]) * |c_i - c_j|^2`` and the output ``relative(sum_j a_ij (c_j - c_i))``.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"token width {dim} must be divisible by the number of heads {heads}")
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        # softplus(-4) ~ 0.02 per unit^2: a weak start, so content decides at first and training sharpens it
        self.distance_weight = nn.Parameter(torch.full((heads,), -4.0))
        self.relative = nn.Linear(2 * heads, dim)
        nn.init.zeros_(self.relative.weight)  # a fresh layer starts as plain attention
        nn.init.zeros_(self.relative.bias)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, self.head_dim).transpose(1, 2)  # (B, H, N, Dh)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        c = centres.to(x.dtype)
        diff = c.unsqueeze(2) - c.unsqueeze(1)
        dist2 = (diff * diff).sum(-1).unsqueeze(1)                                            # (B, 1, N, N)
        penalty = nn.functional.softplus(self.distance_weight).view(1, -1, 1, 1) * dist2
        attn = torch.softmax(q @ k.transpose(-1, -2) * self.head_dim ** -0.5 + bias - penalty, dim=-1)
        shift = attn @ c.unsqueeze(1) - c.unsqueeze(1)                                       # (B, H, N, 2)
        return (self.out((attn @ v).transpose(1, 2).reshape(b, n, d))
                + self.relative(shift.transpose(1, 2).reshape(b, n, 2 * self.heads)))


class SIABlock(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)); x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = InteractionAttention(dim, heads)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, bias: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), bias, centres)
        return x + self.mlp(self.norm2(x))


def attention_bias(mask: torch.Tensor, causal: bool) -> torch.Tensor:
    """Additive attention bias (B, 1, T*K, T*K) from the presence mask (B, T, K).

    Query i may attend key j iff j is present and (not causal or frame(j) <= frame(i)), or i == j.
    """
    b, t, k = mask.shape
    n = t * k
    allowed = mask.reshape(b, 1, 1, n).expand(b, 1, n, n)
    if causal:
        frame = torch.arange(t, device=mask.device).repeat_interleave(k)
        allowed = allowed & (frame.view(1, n) <= frame.view(n, 1))
    # arange == arange rather than torch.eye: ONNX Runtime has no boolean EyeLike kernel.
    token = torch.arange(n, device=mask.device)
    allowed = allowed | (token.view(n, 1) == token.view(1, n))
    zero = torch.zeros((), dtype=torch.float32, device=mask.device)
    return torch.where(allowed, zero, torch.full_like(zero, MASKED))


#: One centre unit is this fraction of the input side S (8 px at S = 128): a walker's displacement over a window is
#: a few units at any input size.
CENTRE_UNIT = 1.0 / 16


class SIA(nn.Module):
    """Interaction-aware tokens (B, T, K, D) from instance tokens (B, T, K, D), their body centres (B, T, K, 2)
    in network-input pixels (``tokens_at``), the input side S, and the presence mask (B, T, K).

    Args:
        dim: D.
        layers, heads: transformer depth and heads.
        max_window: the longest window the time embedding covers.
    """

    def __init__(self, dim: int, layers: int = 4, heads: int = 8, max_window: int = 16):
        super().__init__()
        self.max_window = max_window
        self.time_embed = nn.Parameter(torch.zeros(max_window, dim))
        nn.init.trunc_normal_(self.time_embed, std=0.02)
        self.blocks = nn.ModuleList(SIABlock(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor, input_size: int,
                causal: bool = True) -> torch.Tensor:
        b, t, k, d = tokens.shape
        if t > self.max_window:
            raise ValueError(f"window {t} exceeds the time embedding's max_window {self.max_window}")
        # Index by age (0 = newest) so a frame keeps its embedding's meaning for any window length.
        age_embed = self.time_embed[:t].flip(0)  # (T, D), last row = age 0
        x = (tokens + age_embed.view(1, t, 1, d)).reshape(b, t * k, d)
        bias = attention_bias(mask, causal).to(x.dtype)
        centres = centers.reshape(b, t * k, 2) / (CENTRE_UNIT * input_size)
        for block in self.blocks:
            x = block(x, bias, centres)
        return self.norm(x).view(b, t, k, d)
