"""``mm_projector``: vision features -> LLM token embeddings (LLaVA ``mlpNx_gelu``; SPEX uses mlp2x_gelu)."""

from __future__ import annotations

from torch import nn


def build_projector(in_features: int, hidden_size: int, depth: int = 2) -> nn.Sequential:
    """Linear(in -> hidden) then (GELU, Linear(hidden -> hidden)) * (depth - 1): keys ``0``, ``2``, ...

    Released sizes: Linear(1024 -> 1536) -> GELU -> Linear(1536 -> 1536).
    """
    layers = [nn.Linear(in_features, hidden_size)]
    for _ in range(1, depth):
        layers += [nn.GELU(), nn.Linear(hidden_size, hidden_size)]
    return nn.Sequential(*layers)
