"""``SpexModel``: the SPEX model with its HF-style loader, ``SpexModel.from_pretrained(folder)``.

The architecture (:class:`~model_runtime.spex.modeling.modeling.SpexForCausalLM`) knows nothing of files;
this subclass adds reading a checkpoint folder and the on-demand torch vision encoder.
"""

from __future__ import annotations

from typing import Any

import torch

from ..modeling.modeling import SpexForCausalLM
from ..modeling.vision_tower import SpexVisionEncoder
from .checkpoint import load_spex_model, load_vision_encoder
from .quantize import layer_quantizer

_PRECISION_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


class SpexModel(SpexForCausalLM):
    """SPEX: ``from_pretrained(folder)`` then ``generate(pixel_values, prompt)``."""

    @classmethod
    def from_pretrained(
        cls,
        model_dir: str,
        device: str = "auto",
        dtype: Any = None,
        base_model_dir: str | None = None,
        load_vision_encoder: bool = True,
        quantization: str | None = None,
    ) -> SpexModel:
        """Load a SPEX checkpoint folder (sharded/single safetensors, or LoRA + ``base_model_dir``).

        device: "auto" (CUDA if available, else CPU) | "cpu" | "cuda" | "cuda:N".
        dtype: None (float32, as the official demo) | torch dtype | "float32" | "float16" | "bfloat16".
        load_vision_encoder: False leaves the torch vision encoder out (when ONNX Runtime serves it);
        :meth:`ensure_vision_encoder` loads it on demand.
        quantization: None | "int8" (CPU only: dynamic int8 ``nn.Linear`` in the LLM decoder layers,
        see :mod:`.quantize`).
        Every tensor is checked; problems raise :class:`~model_runtime.errors.ModelLoadError`.
        """
        hook = layer_quantizer(quantization, device, dtype) if quantization else None
        model = load_spex_model(
            model_dir,
            device=device,
            dtype=dtype,
            base_model_dir=base_model_dir,
            load_vision_encoder=load_vision_encoder,
            layer_hook=hook,
            model_class=cls,
        )
        model.precision = quantization or _PRECISION_NAMES.get(model.dtype, str(model.dtype))
        return model

    def ensure_vision_encoder(self) -> SpexVisionEncoder:
        """The torch vision encoder, loaded from ``model_dir`` first if it was left out at load time."""
        if self.vision_encoder is None and self.model_dir:
            param = self.model.embed_tokens.weight
            enc = load_vision_encoder(self.model_dir, dtype=param.dtype, device=param.device)
            self.model.vision_tower.vision_tower = enc
        return super().ensure_vision_encoder()
