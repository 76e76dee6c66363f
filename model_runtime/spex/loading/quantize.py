"""Reduced-precision CPU mode: dynamic int8 quantisation of the LLM's linear layers.

``layer_quantizer("int8")`` is the loader's hook (``SpexModel.from_pretrained(..., quantization="int8")``):
it replaces every ``nn.Linear`` of the 28 Qwen2 decoder layers (q/k/v/o
projections and the gate/up/down MLP, 1.3 B of the 1.78 B parameters) by
``torch.ao.nn.quantized.dynamic.Linear``: weights stored as int8 with one scale per output channel,
activations quantised per call (per tensor) and the matmul run by FBGEMM's int8 kernels (AVX2/AVX-512).
Everything else stays float32: token embeddings and the tied ``lm_head`` (the same tensor), RMSNorms,
rotary embeddings, the projector, the vision encoder and the SAM parts. The KV cache and hidden states
stay float32, so the mask prompt is built from float32 states.

Why only on the CPU, and why opt in: int8 weights cut the LLM's weight memory 4x (5.2 GB -> 1.3 GB) and
its prefill/decode time (see docs/spex_runtime.md for the measured figures), but the answer is no longer
bit-for-bit the float32 model's: measured deviations are reported there. CUDA runs bf16/fp16 instead.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

from ...errors import SpexEnvironmentError, SpexInputError
from .device import resolve_dtype, torch_device

QUANTIZATIONS = ("int8",)


def quantized_engine() -> str:
    """The int8 backend used on this CPU (``fbgemm`` on x86; ``qnnpack`` on ARM)."""
    engines = torch.backends.quantized.supported_engines
    for name in ("fbgemm", "x86", "qnnpack"):
        if name in engines:
            return name
    raise SpexEnvironmentError(
        "this PyTorch build has no int8 CPU backend (fbgemm/qnnpack): use --precision fp32"
    )


def _check(scheme: str, device, dtype) -> None:
    if scheme not in QUANTIZATIONS:
        raise SpexInputError(f"quantization {scheme!r} is not supported: use int8 (or none)")
    dev, dt = torch_device(device), resolve_dtype(dtype)
    if dev.type != "cpu" or dt != torch.float32:
        raise SpexInputError(
            f"int8 runs on the CPU with a float32 model (got {dev} {dt}): "
            "use --precision auto on a GPU (bf16/fp16) or --device cpu"
        )


def quantize_module(module: nn.Module) -> int:
    """Replace each ``nn.Linear`` in ``module`` by its dynamic int8 version, in place; returns the count."""
    torch.backends.quantized.engine = quantized_engine()
    per_channel = torch.backends.quantized.engine != "qnnpack"
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    count = sum(type(m) is nn.Linear for m in module.modules())
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao; still the only in-tree int8 CPU path
        warnings.simplefilter("ignore")
        quantize_dynamic(module, {nn.Linear: qconfig}, dtype=torch.qint8, inplace=True)
    return count


def layer_quantizer(scheme: str, device=None, dtype=None):
    """A ``layer_hook`` for the loader: quantises each decoder layer right after its weights are read,
    so the float32 LLM never sits in memory whole. Checks ``scheme``/device/dtype first."""
    _check(scheme, device, dtype)
    return quantize_module
