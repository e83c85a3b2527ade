"""Feature Decomposition (FD): scene-shared vs individual parts of interaction-aware tokens.

After SIA every token carries scene context. FD makes the split explicit: the scene-shared part is a masked mean
over the frame's people of a learned projection; the individual part is the token minus what of the shared part
a second projection says it contains. The individual part alone drives pose and shape (person-specific); the
camera factor sees both, because depth and placement are relational (who stands behind whom, the common ground).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def mlp(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, hidden), nn.GELU(), nn.Linear(hidden, cout))


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, K, D) over present people (mask (B, K)); zeros for an empty frame. -> (B, D)."""
    w = mask.to(x.dtype).unsqueeze(-1)
    return (x * w).sum(1) / w.sum(1).clamp(min=1.0)


@dataclass
class Factors:
    """pose (B, K, P), shape (B, K, S), camera (B, K, C) factors; shared (B, D) scene part; individual (B, K, D)."""

    pose: torch.Tensor
    shape: torch.Tensor
    camera: torch.Tensor
    shared: torch.Tensor
    individual: torch.Tensor


class FeatureDecomposition(nn.Module):
    """(B, K, D) tokens + (B, K) mask -> Factors. Permutation-equivariant over the K people."""

    def __init__(self, dim: int, pose_dim: int = 256, shape_dim: int = 64, camera_dim: int = 64):
        super().__init__()
        self.pose_dim, self.shape_dim, self.camera_dim = pose_dim, shape_dim, camera_dim
        self.shared = nn.Linear(dim, dim)
        self.remove = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.pose = mlp(dim, dim, pose_dim)
        self.shape = mlp(dim, dim // 2, shape_dim)
        self.camera = mlp(2 * dim, dim // 2, camera_dim)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> Factors:
        shared = masked_mean(self.shared(tokens), mask)                       # (B, D)
        individual = self.norm(tokens - self.remove(shared).unsqueeze(1))     # (B, K, D)
        scene = shared.unsqueeze(1).expand_as(individual)
        return Factors(self.pose(individual), self.shape(individual),
                       self.camera(torch.cat([individual, scene], dim=-1)), shared, individual)
