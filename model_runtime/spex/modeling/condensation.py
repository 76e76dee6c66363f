"""Token context condensation (``lan_neck``, the official ``LLAMANECK``): token states -> 4 SAM prompts."""

from __future__ import annotations

import torch
from torch import nn


class TokenCondensation(nn.Module):
    """AdaptiveAvgPool1d(num_seq) over the token axis, then MLP hidden -> 8out -> ReLU -> 2out -> ReLU -> out.

    Released sizes: [T, 1536] -> [4, 1536] -> [4, 256].
    """

    def __init__(self, in_channels: int = 1536, out_channels: int = 256, num_seq: int = 4):
        super().__init__()
        self.num_seq = num_seq
        self.global_avg_pool = nn.AdaptiveAvgPool1d(num_seq)
        self.text_mlp = nn.Sequential(
            nn.Linear(in_channels, out_channels * 8),  # text_mlp.0
            nn.ReLU(),
            nn.Linear(out_channels * 8, out_channels * 2),  # text_mlp.2
            nn.ReLU(),
            nn.Linear(out_channels * 2, out_channels),  # text_mlp.4
        )

    def forward(self, token_states: torch.Tensor) -> torch.Tensor:
        """[B, T, hidden] (T >= 1) -> [B, num_seq, out]."""
        pooled = self.global_avg_pool(token_states.transpose(1, 2)).transpose(1, 2)  # B, num_seq, hidden
        return self.text_mlp(pooled)
