"""DCNv3 (deformable convolution v3, InternImage) in pure PyTorch.

Numerically the official pure-PyTorch path (``dcnv3_core_pytorch``): bilinear ``grid_sample`` with zero
padding and ``align_corners=False`` on sampling locations normalised to [-1, 1]. The official code pads the
input with zeros and normalises by the padded size; sampling the unpadded input at the shifted location is the
same bilinear value (the padding is zeros either way) and avoids a copy.

Export-friendly: no data-dependent control flow; every shape is derived from tensor shapes, the regular
sampling grid is built with ``torch.arange`` (ONNX opset 16+ ``GridSample``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _base_grid(
    h_out: int,
    w_out: int,
    kernel_h: int,
    kernel_w: int,
    stride_h: int,
    stride_w: int,
    pad_h: int,
    pad_w: int,
    dilation_h: int,
    dilation_w: int,
    offset_scale: float,
    device,
    dtype,
) -> torch.Tensor:
    """Undeformed sampling locations in input pixel units (pixel centres at integers): [Ho*Wo, P, 2] (x, y).

    Point order is x-major (P index = i * kernel_h + j for kernel column i, row j), as in the official op.
    The official op scales the kernel's own spread by ``offset_scale`` too.
    """
    cy = (dilation_h * (kernel_h - 1)) // 2
    cx = (dilation_w * (kernel_w - 1)) // 2
    ref_y = torch.arange(h_out, device=device, dtype=dtype) * stride_h + (cy - pad_h)  # [Ho]
    ref_x = torch.arange(w_out, device=device, dtype=dtype) * stride_w + (cx - pad_w)  # [Wo]
    ker_y = (torch.arange(kernel_h, device=device, dtype=dtype) * dilation_h - cy) * offset_scale  # [kh]
    ker_x = (torch.arange(kernel_w, device=device, dtype=dtype) * dilation_w - cx) * offset_scale  # [kw]
    # P index = i * kernel_h + j: x from column i, y from row j
    pts_x = ker_x[:, None].expand(kernel_w, kernel_h).reshape(-1)  # [P]
    pts_y = ker_y[None, :].expand(kernel_w, kernel_h).reshape(-1)  # [P]
    loc_x = ref_x[None, :, None] + pts_x[None, None, :]  # [1, Wo, P]
    loc_y = ref_y[:, None, None] + pts_y[None, None, :]  # [Ho, 1, P]
    loc_x = loc_x.expand(h_out, w_out, kernel_h * kernel_w)
    loc_y = loc_y.expand(h_out, w_out, kernel_h * kernel_w)
    return torch.stack((loc_x, loc_y), dim=-1).reshape(h_out * w_out, kernel_h * kernel_w, 2)


def dcnv3_sample(
    value: torch.Tensor,  # [N, H, W, G*Cg] (channels last)
    offset: torch.Tensor,  # [N, Ho, Wo, G*P*2] (x, y per point)
    mask: torch.Tensor,  # [N, Ho, Wo, G*P] (softmax-normalised per group)
    kernel_h: int = 3,
    kernel_w: int = 3,
    stride_h: int = 1,
    stride_w: int = 1,
    pad_h: int = 1,
    pad_w: int = 1,
    dilation_h: int = 1,
    dilation_w: int = 1,
    group: int = 1,
    group_channels: int | None = None,
    offset_scale: float = 1.0,
) -> torch.Tensor:
    """DCNv3 core: per output pixel and group, mask-weighted sum of P bilinear samples -> [N, Ho, Wo, C]."""
    n, h, w, c = value.shape
    if group_channels is None:
        group_channels = c // group
    points = kernel_h * kernel_w
    h_out = (h + 2 * pad_h - (dilation_h * (kernel_h - 1) + 1)) // stride_h + 1
    w_out = (w + 2 * pad_w - (dilation_w * (kernel_w - 1) + 1)) // stride_w + 1

    base = _base_grid(
        h_out,
        w_out,
        kernel_h,
        kernel_w,
        stride_h,
        stride_w,
        pad_h,
        pad_w,
        dilation_h,
        dilation_w,
        offset_scale,
        value.device,
        value.dtype,
    )  # [Ho*Wo, P, 2]
    # N, Ho, Wo, G*P*2 -> N, G, Ho*Wo, P, 2
    off = offset.reshape(n, h_out * w_out, group, points, 2).permute(0, 2, 1, 3, 4)
    loc = base + off * offset_scale  # pixel units
    # pixel centre i <-> (2i + 1) / size - 1 with align_corners=False
    grid = torch.stack(((2.0 * loc[..., 0] + 1.0) / w - 1.0, (2.0 * loc[..., 1] + 1.0) / h - 1.0), dim=-1)
    grid = grid.reshape(n * group, h_out * w_out, points, 2)
    # N, H, W, G*Cg -> N*G, Cg, H, W
    inp = (
        value.reshape(n, h * w, group, group_channels)
        .permute(0, 2, 3, 1)
        .reshape(n * group, group_channels, h, w)
    )
    sampled = F.grid_sample(inp, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # sampled: N*G, Cg, Ho*Wo, P ; mask: N, Ho, Wo, G*P -> N*G, 1, Ho*Wo, P
    m = (
        mask.reshape(n, h_out * w_out, group, points)
        .permute(0, 2, 1, 3)
        .reshape(n * group, 1, h_out * w_out, points)
    )
    out = (sampled * m).sum(-1)  # N*G, Cg, Ho*Wo
    return (
        out.reshape(n, group * group_channels, h_out * w_out)
        .transpose(1, 2)
        .reshape(n, h_out, w_out, group * group_channels)
    )


class ToChannelsLast(nn.Module):
    """[N, C, H, W] -> [N, H, W, C] (parameter-free slot kept for the checkpoint's Sequential indices)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Permute to channels last."""
        return x.permute(0, 2, 3, 1)


class ToChannelsFirst(nn.Module):
    """[N, H, W, C] -> [N, C, H, W]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Permute to channels first."""
        return x.permute(0, 3, 1, 2)


class DCNv3(nn.Module):
    """The DCNv3 block operator of InternImage (parameter names as in the checkpoint: ``dcn.*``).

    Input and output are channels-last [N, H, W, C].
    """

    def __init__(
        self,
        channels: int,
        group: int,
        kernel_size: int = 3,
        dw_kernel_size: int | None = None,
        stride: int = 1,
        pad: int = 1,
        dilation: int = 1,
        offset_scale: float = 1.0,
        layer_norm_eps: float = 1e-6,
        center_feature_scale: bool = False,
    ):
        super().__init__()
        if channels % group:
            raise ValueError(f"channels {channels} not divisible by group {group}")
        dw_kernel_size = dw_kernel_size or kernel_size
        self.channels = channels
        self.group = group
        self.group_channels = channels // group
        self.kernel_size = kernel_size
        self.stride = stride
        self.pad = pad
        self.dilation = dilation
        self.offset_scale = offset_scale
        self.center_feature_scale = center_feature_scale
        points = kernel_size * kernel_size
        self.dw_conv = nn.Sequential(
            nn.Conv2d(
                channels,
                channels,
                dw_kernel_size,
                stride=1,
                padding=(dw_kernel_size - 1) // 2,
                groups=channels,
            ),  # dw_conv.0: [C, 1, k, k]
            nn.Sequential(ToChannelsLast(), nn.LayerNorm(channels, eps=layer_norm_eps)),  # dw_conv.1.1
            nn.GELU(),
        )
        self.offset = nn.Linear(channels, group * points * 2)  # [G*P*2, C]
        self.mask = nn.Linear(channels, group * points)  # [G*P, C]
        self.input_proj = nn.Linear(channels, channels)
        self.output_proj = nn.Linear(channels, channels)
        if center_feature_scale:
            self.center_feature_scale_proj_weight = nn.Parameter(torch.zeros(group, channels))
            self.center_feature_scale_proj_bias = nn.Parameter(torch.zeros(group))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, H, W, C] -> [N, H, W, C]."""
        n, h, w, _ = x.shape
        value = self.input_proj(x)
        feat = self.dw_conv(x.permute(0, 3, 1, 2))  # N, H, W, C
        offset = self.offset(feat)
        mask = self.mask(feat).reshape(n, h, w, self.group, -1)
        mask = F.softmax(mask, dim=-1).reshape(n, h, w, -1)
        out = dcnv3_sample(
            value,
            offset,
            mask,
            self.kernel_size,
            self.kernel_size,
            self.stride,
            self.stride,
            self.pad,
            self.pad,
            self.dilation,
            self.dilation,
            self.group,
            self.group_channels,
            self.offset_scale,
        )
        if self.center_feature_scale:
            scale = F.linear(
                feat, self.center_feature_scale_proj_weight, self.center_feature_scale_proj_bias
            ).sigmoid()  # N, H, W, G
            scale = scale[..., None].expand(n, h, w, self.group, self.group_channels).reshape(n, h, w, -1)
            out = out * (1 - scale) + value * scale
        return self.output_proj(out)
