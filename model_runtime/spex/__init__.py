"""The SPEX vision-language model in PyTorch + transformers (HF-style API).

>>> from model_runtime.spex import SpexModel
>>> model = SpexModel.from_pretrained("path/to/spex_checkpoint", device="auto")
>>> out = model.generate(pixel_values, "<image>\\nBased on the provided image ...", max_new_tokens=64)
>>> out.text, out.mask.shape  # answer, bool [512, 512]

Layout (imports flow down this list only; ``tests/runtime/test_layering.py`` checks it):

* ``tools/``: ``spex doctor`` and ``spex export-onnx`` (CLI commands).
* ``runtime/``: running the model fast: the vision-encoder backends (ONNX Runtime / torch), the ONNX export
  and the parity probes of the library versions.
* ``loading/``: checkpoint folders -> a loaded model: device and precision choice, safetensors reading,
  integrity checks, LoRA merge, GPU placement, int8 quantisation, ``SpexModel.from_pretrained``.
* ``modeling/``: the architecture, one module per part, attribute names = checkpoint keys (no file I/O).

Importing this package does not import torch; the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SpexModel": ".loading.pretrained",
    "SpexForCausalLM": ".modeling.modeling",
    "SpexGenerateOutput": ".modeling.modeling",
    "chat_prompt": ".modeling.modeling",
    "SpexVisionEncoder": ".modeling.vision_tower",
    "SpexConfig": ".modeling.config",
    "InternImageConfig": ".modeling.config",
    "SamDecoderConfig": ".modeling.config",
    "IMAGE_TOKEN_INDEX": ".modeling.config",
    "normalize_image": ".modeling.preprocess",
    "load_spex_model": ".loading.checkpoint",
    "load_vision_encoder": ".loading.checkpoint",
    "load_tokenizer": ".loading.checkpoint",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
