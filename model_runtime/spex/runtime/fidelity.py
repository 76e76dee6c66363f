"""What our SPEX reproduction depends on, and whether this installation has it (for ``spex doctor``).

``bench/official_parity.py`` holds the model to the official code's outputs; it passed (every stage within
1e-5 relative, mask IoU 1.0, torch and ONNX Runtime encoders) with the versions in :data:`VERIFIED`. These
are the ranges pinned in ``pyproject.toml``. Other versions may work but are unverified: the mask decoder
showed that a transformers upgrade can silently change a released model's outputs.

Pieces whose numerics matter and that come from a library are checked here on tiny inputs:
  * the SAM prompt encoder's random-Fourier positional embedding (transformers), against its formula;
  * our own mask decoder doubles the softmax exactly where the official path does (module structure).
"""

from __future__ import annotations

import importlib.metadata as metadata
import math
from typing import List, Tuple

from ..modeling.config import SamDecoderConfig

#: distribution -> (lowest, highest-exclusive) version range the official parity check passed on.
VERIFIED = {
    "transformers": ("4.57.6", "4.58"),
    "tokenizers": ("0.22.2", "0.23"),
    "torch": ("2.13.0", "2.14"),
}
DOUBLE_SOFTMAX_MODULES = ("cross_attn_token_to_image",)


def _key(version: str) -> Tuple[int, ...]:
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def version_checks() -> List[Tuple[bool, str, str]]:
    """(verified?, distribution, message) for each library in :data:`VERIFIED`."""
    out = []
    for dist, (low, high) in VERIFIED.items():
        try:
            have = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue  # reported as missing by the environment checks
        ok = _key(low) <= _key(have) < _key(high)
        verdict = "parity-verified" if ok else "NOT the parity-verified range"
        out.append((ok, dist, f"{have} ({verdict} >={low},<{high})"))
    return out


def positional_embedding_ok() -> Tuple[bool, str]:
    """transformers' SAM positional embedding == sin/cos(2 pi (2 xy - 1) @ G), on a 3 x 3 grid."""
    # here, not at the top: doctor imports this module, and it must run (and say so) without torch
    import torch
    from transformers.models.sam.modeling_sam import SamPromptEncoder

    from ..modeling.sam import image_positional_embeddings

    cfg = SamDecoderConfig(hidden_size=8, num_pos_feats=4)
    torch.manual_seed(0)
    encoder = SamPromptEncoder(cfg.to_transformers())
    got = image_positional_embeddings(encoder, 3)[0].permute(1, 2, 0)  # 3, 3, 8
    gauss = encoder.shared_embedding.positional_embedding
    centres = (torch.arange(3, dtype=torch.float32) + 0.5) / 3
    xy = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), dim=-1)  # [y, x, (x, y)]
    proj = 2 * math.pi * ((2 * xy - 1) @ gauss)
    want = torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)
    diff = float((got - want).abs().max())
    return diff < 1e-5, f"SAM positional embedding max |diff| {diff:.1e} vs its formula"


def decoder_softmax_ok() -> Tuple[bool, str]:
    """Our mask decoder doubles the softmax in token-to-image attention of the two-way layers only."""
    import torch  # here: see positional_embedding_ok

    from ..modeling.sam_decoder import SamDecoderAttention, SpexMaskDecoder

    with torch.device("meta"):
        decoder = SpexMaskDecoder(SamDecoderConfig())
    doubled = [
        n for n, m in decoder.named_modules() if isinstance(m, SamDecoderAttention) and m.double_softmax
    ]
    ok = bool(doubled) and all(
        n.startswith("transformer.layers.") and n.endswith(DOUBLE_SOFTMAX_MODULES) for n in doubled
    )
    layers = len(decoder.transformer.layers)
    ok = ok and len(doubled) == layers
    return ok, f"double softmax in {len(doubled)}/{layers} token-to-image attentions (official path)"
