"""Multiscale feature aggregation (``feat_aggregator``) and the SAM vision neck (``visionneck``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FeatureAggregator(nn.Module):
    """Stages resized to stage 2's grid, concatenated [s2, s0, s1, s3], Conv1x1 -> GroupNorm -> GELU.

    ``fuse_all.3`` is the official Dropout(0.5): the identity at inference, kept for module parity.
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int = 16):
        super().__init__()
        self.fuse_all = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1),  # fuse_all.0: [out, in, 1, 1]
            nn.GroupNorm(groups, out_channels),  # fuse_all.1
            nn.GELU(),
            nn.Dropout(0.5),
        )

    def forward(self, stages: list[torch.Tensor]) -> torch.Tensor:
        """Four [N, C_i, H_i, W_i] maps -> [N, out, H_2, W_2] (1024 @ 32 x 32 for 512 input)."""
        ref = stages[2]
        size = (ref.shape[-2], ref.shape[-1])
        resized = [
            F.interpolate(stages[i], size=size, mode="bilinear", align_corners=True) for i in (0, 1, 3)
        ]
        return self.fuse_all(torch.cat([ref] + resized, dim=1))


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of [N, C, H, W]; fp32 statistics (official ``VisionLayerNorm``)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise in fp32, cast back, then the affine transform in the input dtype."""
        dtype = x.dtype
        xf = x.float()
        mean = xf.mean(1, keepdim=True)
        var = (xf - mean).pow(2).mean(1, keepdim=True)
        xf = (xf - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * xf.to(dtype) + self.bias[:, None, None]


class VisionNeck(nn.Module):
    """SAM image embedding: Conv1x1 (no bias) -> LayerNorm2d -> Conv3x3 (no bias) -> LayerNorm2d."""

    def __init__(self, in_channels: int = 1024, out_channels: int = 256):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.layer_norm1 = LayerNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.layer_norm2 = LayerNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, in, H, W] -> [N, out, H, W]."""
        return self.layer_norm2(self.conv2(self.layer_norm1(self.conv1(x))))
