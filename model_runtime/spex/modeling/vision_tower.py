"""The image side of SPEX as ONE module: pixels -> (LLM-side features, SAM image embedding).

This is what gets exported to ONNX (``onnx_export.py``); keep the forward signature stable.
Parameter names: ``vision_model.{patch_embed, levels, feat_aggregator, visionneck}.*`` — the full checkpoint
stores them under ``model.vision_tower.vision_tower.`` (see :mod:`.modeling`).
"""

from __future__ import annotations

import torch
from torch import nn

from .aggregator import FeatureAggregator, VisionNeck
from .config import InternImageConfig
from .internimage import InternImage


class SpexVisionModel(InternImage):
    """InternImage + ``feat_aggregator`` + ``visionneck`` (the official ``InternImage`` module of SPEX)."""

    def __init__(self, cfg: InternImageConfig):
        super().__init__(cfg)
        self.feat_aggregator = FeatureAggregator(
            cfg.aggregator_in_channels, cfg.aggregator_channels, cfg.aggregator_groups
        )
        self.visionneck = VisionNeck(cfg.aggregator_channels, cfg.neck_channels)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, 3, 512, 512] -> (feat_agg [B, 1024, 32, 32], image_embeddings [B, 256, 32, 32])."""
        feat_agg = self.feat_aggregator(self.forward_stages(pixel_values))
        return feat_agg, self.visionneck(feat_agg)


class SpexVisionEncoder(nn.Module):
    """Pixels -> (feat_agg, image_embeddings).

    ``forward(pixel_values [B, 3, 512, 512])``
    ``-> (feat_agg [B, 1024, 32, 32], image_embeddings [B, 256, 32, 32])``.

    ``pixel_values``: RGB scaled to [0, 1] then ImageNet-normalised (see :func:`.preprocess.normalize_image`).
    ``feat_agg`` feeds the projector (1024 tokens, row-major over the 32 x 32 grid);
    ``image_embeddings`` feeds
    the SAM mask decoder. Sizes in brackets are those of the released model.
    """

    def __init__(self, config: InternImageConfig | None = None):
        super().__init__()
        self.config = config or InternImageConfig()
        self.vision_model = SpexVisionModel(self.config)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """See the class docstring."""
        return self.vision_model(pixel_values)
