"""The SAM mask decoder as the released SPEX weights compute it (own module, transformers-independent).

The official SPEX code calls ``SamMaskDecoder`` with ``attention_similarity=False``. Under transformers 4.46.0
(the version SPEX was trained with) ``SamAttention`` then adds ``False`` (= 0) to the attention probabilities
and applies the softmax a second time, but only where the argument is passed: ``cross_attn_token_to_image``
of each two-way layer. Later transformers versions route the argument to a generic attention function and
apply the softmax once, which moves the mask logits of the released model by up to 0.16 (IoU 0.96 on the
official reference). This module fixes the semantics whatever transformers is installed:

    token-to-image attention (two-way layers):   softmax(softmax(q k^T / sqrt(d)))  v
    every other attention of the decoder:        softmax(q k^T / sqrt(d))  v

Parameter names equal transformers' ``SamMaskDecoder``, so the checkpoint keys ``mask_decoder.*`` load as is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import SamDecoderConfig


class SamDecoderAttention(nn.Module):
    """Multi-head attention with optional down-projection; ``double_softmax`` reproduces the 4.46.0 path."""

    def __init__(
        self, hidden_size: int, num_heads: int, downsample_rate: int = 1, double_softmax: bool = False
    ):
        super().__init__()
        internal_dim = hidden_size // downsample_rate
        if internal_dim % num_heads != 0:
            raise ValueError("num_attention_heads must divide hidden_size / attention_downsample_rate")
        self.num_heads = num_heads
        self.head_dim = internal_dim // num_heads
        self.double_softmax = double_softmax
        self.q_proj = nn.Linear(hidden_size, internal_dim)
        self.k_proj = nn.Linear(hidden_size, internal_dim)
        self.v_proj = nn.Linear(hidden_size, internal_dim)
        self.out_proj = nn.Linear(internal_dim, hidden_size)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, p, n, _ = x.shape
        return x.reshape(b * p, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """query [B, P, Nq, C], key/value [B, P, Nk, C] -> [B, P, Nq, C]."""
        b, p, nq, _ = query.shape
        q = self._heads(self.q_proj(query))
        k = self._heads(self.k_proj(key))
        v = self._heads(self.v_proj(value))
        probs = torch.softmax(q @ k.transpose(-1, -2) / (self.head_dim**0.5), dim=-1)
        if self.double_softmax:
            probs = torch.softmax(probs, dim=-1)
        out = (probs @ v).transpose(1, 2).reshape(b, p, nq, self.num_heads * self.head_dim)
        return self.out_proj(out)


class SamDecoderMLP(nn.Module):
    """``lin1`` -> ReLU -> ``lin2`` (SAM's MLP block; ``hidden_act`` is ReLU in every SAM config)."""

    def __init__(self, hidden_size: int, mlp_dim: int):
        super().__init__()
        self.lin1 = nn.Linear(hidden_size, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., C] -> [..., C]."""
        return self.lin2(F.relu(self.lin1(x)))


class SamFeedForwardHead(nn.Module):
    """``proj_in`` -> ReLU -> (``layers.i`` -> ReLU)* -> ``proj_out`` (hypernetwork and IoU heads)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        self.proj_in = nn.Linear(input_dim, hidden_dim)
        self.layers = nn.ModuleList([nn.Linear(hidden_dim, hidden_dim) for _ in range(num_layers - 2)])
        self.proj_out = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., input_dim] -> [..., output_dim]."""
        x = F.relu(self.proj_in(x))
        for layer in self.layers:
            x = F.relu(layer(x))
        return self.proj_out(x)


class SamTwoWayLayer(nn.Module):
    """One two-way block: token self-attention, tokens -> image (double softmax), MLP, image -> tokens."""

    def __init__(self, cfg: SamDecoderConfig, skip_first_layer_pe: bool):
        super().__init__()
        c, heads, rate, eps = (
            cfg.hidden_size,
            cfg.num_attention_heads,
            cfg.attention_downsample_rate,
            cfg.layer_norm_eps,
        )
        self.self_attn = SamDecoderAttention(c, heads, downsample_rate=1)
        self.layer_norm1 = nn.LayerNorm(c, eps=eps)
        self.cross_attn_token_to_image = SamDecoderAttention(c, heads, rate, double_softmax=True)
        self.layer_norm2 = nn.LayerNorm(c, eps=eps)
        self.mlp = SamDecoderMLP(c, cfg.mlp_dim)
        self.layer_norm3 = nn.LayerNorm(c, eps=eps)
        self.layer_norm4 = nn.LayerNorm(c, eps=eps)
        self.cross_attn_image_to_token = SamDecoderAttention(c, heads, rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, query_pe: torch.Tensor, key_pe: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """queries [B, P, Nt, C], keys [B, P, HW, C] -> updated (queries, keys)."""
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.layer_norm1(queries)

        queries = queries + self.cross_attn_token_to_image(queries + query_pe, keys + key_pe, keys)
        queries = self.layer_norm2(queries)

        queries = self.layer_norm3(queries + self.mlp(queries))

        keys = keys + self.cross_attn_image_to_token(keys + key_pe, queries + query_pe, queries)
        keys = self.layer_norm4(keys)
        return queries, keys


class SamTwoWayDecoderTransformer(nn.Module):
    """The two-way layers, then a final token -> image attention (single softmax) and LayerNorm."""

    def __init__(self, cfg: SamDecoderConfig):
        super().__init__()
        self.layers = nn.ModuleList(
            [SamTwoWayLayer(cfg, skip_first_layer_pe=(i == 0)) for i in range(cfg.num_hidden_layers)]
        )
        self.final_attn_token_to_image = SamDecoderAttention(
            cfg.hidden_size, cfg.num_attention_heads, cfg.attention_downsample_rate
        )
        self.layer_norm_final_attn = nn.LayerNorm(cfg.hidden_size)  # eps 1e-5, as in SAM

    def forward(
        self, tokens: torch.Tensor, image: torch.Tensor, image_pe: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens [B, P, Nt, C], image / image_pe [B*P, C, H, W] -> (tokens, image tokens [B*P, 1, HW, C])."""
        keys = image.flatten(2).permute(0, 2, 1).unsqueeze(1)
        key_pe = image_pe.flatten(2).permute(0, 2, 1).unsqueeze(1)
        queries = tokens
        for layer in self.layers:
            queries, keys = layer(queries, keys, tokens, key_pe)
        queries = queries + self.final_attn_token_to_image(queries + tokens, keys + key_pe, keys)
        return self.layer_norm_final_attn(queries), keys


class SamChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over the channels of [B, C, H, W] (``upscale_layer_norm``, eps 1e-6), computed in fp32."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] -> normalised over C (statistics in fp32, as transformers 4.46.0)."""
        normed = F.layer_norm(x.float().permute(0, 2, 3, 1), x.shape[1:2], eps=self.eps).permute(0, 3, 1, 2)
        return self.weight[:, None, None] * normed.to(x.dtype) + self.bias[:, None, None]


class SpexMaskDecoder(nn.Module):
    """SAM mask decoder with the released model's semantics; keys as transformers' ``SamMaskDecoder``."""

    def __init__(self, cfg: SamDecoderConfig):
        super().__init__()
        c = cfg.hidden_size
        self.num_mask_tokens = cfg.num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, c)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, c)
        self.transformer = SamTwoWayDecoderTransformer(cfg)
        self.upscale_conv1 = nn.ConvTranspose2d(c, c // 4, kernel_size=2, stride=2)
        self.upscale_conv2 = nn.ConvTranspose2d(c // 4, c // 8, kernel_size=2, stride=2)
        self.upscale_layer_norm = SamChannelsFirstLayerNorm(c // 4)
        self.output_hypernetworks_mlps = nn.ModuleList(
            [SamFeedForwardHead(c, c, c // 8, 3) for _ in range(self.num_mask_tokens)]
        )
        self.iou_prediction_head = SamFeedForwardHead(
            c, cfg.iou_head_hidden_dim, self.num_mask_tokens, cfg.iou_head_depth
        )

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_positional_embeddings: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """image/dense [B, C, H, W], sparse [B, P, N, C] -> (masks [B, P, M, 4H, 4W], iou [B, P, M])."""
        b, c, h, w = image_embeddings.shape
        p = sparse_prompt_embeddings.shape[1]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0).repeat(b, p, 1, 1)
        tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=2).to(self.iou_token.weight.dtype)
        image = (image_embeddings + dense_prompt_embeddings).repeat_interleave(p, 0)
        image_pe = image_positional_embeddings.repeat_interleave(p, 0)

        tokens_out, image_tokens = self.transformer(tokens, image, image_pe)
        iou_token_out = tokens_out[:, :, 0, :]
        mask_tokens_out = tokens_out[:, :, 1 : 1 + self.num_mask_tokens, :]

        image = image_tokens.transpose(2, 3).reshape(b * p, c, h, w)
        up = F.gelu(self.upscale_layer_norm(self.upscale_conv1(image)))
        up = F.gelu(self.upscale_conv2(up))
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, :, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=2
        )
        _, uc, uh, uw = up.shape
        masks = (hyper_in @ up.reshape(b, p, uc, uh * uw)).reshape(b, p, -1, uh, uw)
        iou_pred = self.iou_prediction_head(iou_token_out)
        keep = slice(1, None) if multimask_output else slice(0, 1)
        return masks[:, :, keep], iou_pred[:, :, keep]
