"""The SPEX vision-language model in PyTorch + transformers (HF-style API).

>>> from model_runtime.spex import SpexModel
>>> model = SpexModel.from_pretrained("path/to/spex_checkpoint", device="auto")
>>> out = model.generate(pixel_values, "<image>\\nBased on the provided image ...", max_new_tokens=64)
>>> out.text, out.mask.shape  # answer, bool [512, 512]

Importing this package does not import torch; the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SpexModel": ".modeling",
    "SpexGenerateOutput": ".modeling",
    "chat_prompt": ".modeling",
    "SpexVisionEncoder": ".vision_tower",
    "SpexConfig": ".config",
    "InternImageConfig": ".config",
    "SamDecoderConfig": ".config",
    "IMAGE_TOKEN_INDEX": ".config",
    "load_spex_model": ".checkpoint",
    "load_vision_encoder": ".checkpoint",
    "load_tokenizer": ".checkpoint",
    "normalize_image": ".preprocess",
    "write_checkpoint": ".make_test_checkpoint",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
