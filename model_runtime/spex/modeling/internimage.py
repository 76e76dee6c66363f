"""InternImage backbone (stem ``patch_embed`` + four ``levels``), parameter names as in the SPEX checkpoint.

Tensors between blocks are channels-last [N, H, W, C] as in the official code; the stage outputs returned by
:meth:`InternImage.forward_stages` are channels-first [N, C, H, W]. Dropout / stochastic depth are training
only and therefore absent.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import InternImageConfig
from .dcnv3 import DCNv3, ToChannelsFirst, ToChannelsLast


def _ln(channels: int, eps: float, in_first: bool = False, out_first: bool = False) -> nn.Sequential:
    """LayerNorm wrapped like the official ``build_norm_layer`` (keeps the checkpoint's indices)."""
    layers: list[nn.Module] = []
    if in_first:
        layers.append(ToChannelsLast())
    layers.append(nn.LayerNorm(channels, eps=eps))
    if out_first:
        layers.append(ToChannelsFirst())
    return nn.Sequential(*layers)


class StemLayer(nn.Module):
    """Two stride-2 3x3 convolutions: [N, 3, H, W] -> [N, H/4, W/4, C] (``patch_embed``)."""

    def __init__(self, in_chans: int, out_chans: int, eps: float):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, out_chans // 2, kernel_size=3, stride=2, padding=1)
        self.norm1 = _ln(out_chans // 2, eps, in_first=True, out_first=True)  # norm1.1
        self.act = nn.GELU()
        self.conv2 = nn.Conv2d(out_chans // 2, out_chans, kernel_size=3, stride=2, padding=1)
        self.norm2 = _ln(out_chans, eps, in_first=True)  # norm2.1, channels-last out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] -> [N, H/4, W/4, C]."""
        return self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))


class DownsampleLayer(nn.Module):
    """Stride-2 3x3 convolution doubling the width: [N, H, W, C] -> [N, H/2, W/2, 2C]."""

    def __init__(self, channels: int, eps: float):
        super().__init__()
        self.conv = nn.Conv2d(channels, 2 * channels, kernel_size=3, stride=2, padding=1, bias=False)
        self.norm = _ln(2 * channels, eps, in_first=True)  # norm.1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last in and out."""
        return self.norm(self.conv(x.permute(0, 3, 1, 2)))


class MLPLayer(nn.Module):
    """fc1 -> GELU -> fc2."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[..., C] -> [..., C]."""
        return self.fc2(self.act(self.fc1(x)))


class InternImageLayer(nn.Module):
    """One block: DCNv3 + MLP with residuals; post-norm and layer scale (``weight1/2``) as configured."""

    def __init__(self, cfg: InternImageConfig, channels: int, groups: int):
        super().__init__()
        eps = cfg.layer_norm_eps
        self.post_norm = cfg.post_norm
        self.res_post_norm = cfg.res_post_norm
        self.norm1 = _ln(channels, eps)  # norm1.0
        self.dcn = DCNv3(
            channels,
            groups,
            kernel_size=cfg.kernel_size,
            dw_kernel_size=cfg.dw_kernel_size,
            offset_scale=cfg.offset_scale,
            layer_norm_eps=eps,
            center_feature_scale=cfg.center_feature_scale,
        )
        self.norm2 = _ln(channels, eps)  # norm2.0
        self.mlp = MLPLayer(channels, int(channels * cfg.mlp_ratio))
        self.layer_scale = cfg.layer_scale is not None
        if self.layer_scale:
            self.weight1 = nn.Parameter(cfg.layer_scale * torch.ones(channels))  # [C]
            self.weight2 = nn.Parameter(cfg.layer_scale * torch.ones(channels))  # [C]
        if self.res_post_norm:
            self.res_post_norm1 = _ln(channels, eps)
            self.res_post_norm2 = _ln(channels, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, H, W, C] -> [N, H, W, C]."""
        if self.layer_scale:
            if self.post_norm:
                x = x + self.weight1 * self.norm1(self.dcn(x))
                return x + self.weight2 * self.norm2(self.mlp(x))
            x = x + self.weight1 * self.dcn(self.norm1(x))
            return x + self.weight2 * self.mlp(self.norm2(x))
        if self.post_norm:
            x = x + self.norm1(self.dcn(x))
            return x + self.norm2(self.mlp(x))
        if self.res_post_norm:
            x = x + self.res_post_norm1(self.dcn(self.norm1(x)))
            return x + self.res_post_norm2(self.mlp(self.norm2(x)))
        x = x + self.dcn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class InternImageBlock(nn.Module):
    """One stage (``levels.i``): ``blocks`` then optional ``norm`` and ``downsample``."""

    def __init__(self, cfg: InternImageConfig, index: int, downsample: bool):
        super().__init__()
        channels = cfg.stage_channels[index]
        self.blocks = nn.ModuleList(
            [InternImageLayer(cfg, channels, cfg.groups[index]) for _ in range(cfg.depths[index])]
        )
        self.has_norm = (not cfg.post_norm) or cfg.center_feature_scale
        if self.has_norm:
            self.norm = _ln(channels, cfg.layer_norm_eps)
        ids: list[int] | None = (
            cfg.level2_post_norm_block_ids if cfg.level2_post_norm and index == 2 else None
        )
        self.post_norm_block_ids = list(ids) if ids else []
        if self.post_norm_block_ids:
            self.post_norms = nn.ModuleList([_ln(channels, 1e-6) for _ in self.post_norm_block_ids])
        self.downsample = DownsampleLayer(channels, cfg.layer_norm_eps) if downsample else None

    def forward(self, x: torch.Tensor):
        """Channels-last in; returns (input of the next stage, this stage's output before downsampling)."""
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i in self.post_norm_block_ids:
                x = self.post_norms[self.post_norm_block_ids.index(i)](x)
        if self.has_norm:
            x = self.norm(x)
        stage_out = x
        if self.downsample is not None:
            x = self.downsample(x)
        return x, stage_out


class InternImage(nn.Module):
    """Stem + stages. For 512 x 512 input: 160@128, 320@64, 640@32, 1280@16 (released sizes)."""

    def __init__(self, cfg: InternImageConfig):
        super().__init__()
        self.config = cfg
        self.patch_embed = StemLayer(cfg.in_chans, cfg.channels, cfg.layer_norm_eps)
        n = len(cfg.depths)
        self.levels = nn.ModuleList([InternImageBlock(cfg, i, downsample=i < n - 1) for i in range(n)])

    def forward_stages(self, pixel_values: torch.Tensor) -> list[torch.Tensor]:
        """[N, 3, H, W] -> the four stage outputs, channels first [N, C_i, H/2^(i+2), W/2^(i+2)]."""
        x = self.patch_embed(pixel_values)
        outs = []
        for level in self.levels:
            x, stage_out = level(x)
            outs.append(stage_out.permute(0, 3, 1, 2))
        return outs
