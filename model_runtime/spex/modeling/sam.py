"""SAM prompt encoder (from Hugging Face ``transformers``) + mask decoder (own module, :mod:`.sam_decoder`).

Keys: ``sampromptencoder.*`` (``transformers`` ``SamPromptEncoder``, incl. its ``shared_embedding``) and
``mask_decoder.*`` (:class:`.sam_decoder.SpexMaskDecoder`, same names as ``transformers`` ``SamMaskDecoder``;
own code because the released weights need the transformers-4.46.0 double softmax, see that module).
SPEX feeds no points/boxes: the 4 sparse tokens come from the LLM (:mod:`.condensation`), the dense prompt
is ``no_mask_embed`` broadcast over the grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.sam.modeling_sam import SamPromptEncoder

from .config import SamDecoderConfig
from .sam_decoder import SpexMaskDecoder


def build_sam(cfg: SamDecoderConfig) -> tuple[nn.Module, nn.Module]:
    """(SamPromptEncoder, SpexMaskDecoder) with the given sizes."""
    return SamPromptEncoder(cfg.to_transformers()), SpexMaskDecoder(cfg)


def image_positional_embeddings(prompt_encoder: nn.Module, size: int) -> torch.Tensor:
    """Random-Fourier positional embedding of the size x size grid of cell centres -> [1, 256, size, size]."""
    pe = prompt_encoder.shared_embedding.positional_embedding
    grid = torch.ones((size, size), device=pe.device, dtype=pe.dtype)
    y = (grid.cumsum(dim=0) - 0.5) / size
    x = (grid.cumsum(dim=1) - 0.5) / size
    return prompt_encoder.shared_embedding(torch.stack([x, y], dim=-1)).permute(2, 0, 1).unsqueeze(0)


def decode_mask_logits(
    prompt_encoder: nn.Module,
    mask_decoder: nn.Module,
    image_embeddings: torch.Tensor,
    sparse_tokens: torch.Tensor,
) -> torch.Tensor:
    """image_embeddings [B, 256, 32, 32] + sparse_tokens [B, 4, 256] -> single-mask logits [B, 128, 128]."""
    b, _, h, w = image_embeddings.shape
    pos = image_positional_embeddings(prompt_encoder, w).to(image_embeddings.dtype).repeat(b, 1, 1, 1)
    dense = prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(b, -1, h, w)
    out = mask_decoder(
        image_embeddings=image_embeddings,
        image_positional_embeddings=pos,
        sparse_prompt_embeddings=sparse_tokens.unsqueeze(1),
        dense_prompt_embeddings=dense,
        multimask_output=False,
    )
    return out[0][:, 0, 0]  # B, point_batch=1, masks=1, 128, 128 -> B, 128, 128


def upsample_mask(logits: torch.Tensor, size: int) -> torch.Tensor:
    """The official post-processing: (logits > 0) at 128 x 128, bilinearly upsampled -> soft mask in [0, 1].

    logits [B, 128, 128] -> [B, size, size] float32 (fractional values only along edges).
    """
    binary = (logits > 0).float().unsqueeze(1)
    return F.interpolate(binary, size=(size, size), mode="bilinear", align_corners=False)[:, 0]
