"""Where the loaded weights go: the memory check before allocating, and GPU placement with CPU offload of
the decoder layers that do not fit (accelerate)."""

from __future__ import annotations

import os
import warnings
from typing import Any

import torch

from ...errors import DependencyMissingError, SpexEnvironmentError
from ...requirements import pip_install
from .integrity import check_memory, weight_bytes


def check_model_memory(
    model_dir: str, expected: dict[str, tuple[int, ...]], device: torch.device, dtype: torch.dtype, int8: bool
) -> None:
    """Refuse, before allocating, weights that cannot fit in this machine's memory (RAM, + GPU on CUDA)."""
    bytes_per = torch.finfo(dtype).bits // 8
    need = weight_bytes(expected, bytes_per, int8_prefix="model.layers." if int8 else None)
    gpu = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0
    check_memory(os.path.join(model_dir, "config.json"), need, device.type, gpu)


def gpu_memory_budget(device: torch.device) -> int:
    """Bytes of GPU memory the model may use: the device's free memory, capped by ``SPEX_GPU_MEMORY_GIB``
    (e.g. to leave room for QGIS's own rendering or another model on a shared GPU)."""
    free, _total = torch.cuda.mem_get_info(device)
    cap = os.environ.get("SPEX_GPU_MEMORY_GIB", "").strip()
    if cap:
        try:
            gib = float(cap)
        except ValueError:
            raise SpexEnvironmentError(
                f"SPEX_GPU_MEMORY_GIB={cap!r} is not a number: give GiB, e.g. SPEX_GPU_MEMORY_GIB=6"
            ) from None
        if not gib > 0:
            raise SpexEnvironmentError(
                f"SPEX_GPU_MEMORY_GIB={cap!r} must be positive, e.g. SPEX_GPU_MEMORY_GIB=6"
            )
        free = min(free, int(gib * 2**30))
    return free


def needs_offload(expected: dict[str, tuple[int, ...]], device: torch.device, dtype: torch.dtype) -> bool:
    """True when a CUDA device lacks the memory budget for the whole model (+25 % for activations/cache)."""
    if device.type != "cuda":
        return False
    need = sum(int(torch.Size(s).numel()) for s in expected.values()) * torch.finfo(dtype).bits // 8
    return need * 1.25 > gpu_memory_budget(device)


def plan_device_map(model, budget_bytes: int, dtype: torch.dtype, gpu: Any = 0) -> dict[str, Any]:
    """accelerate device map: everything but the decoder layers on ``gpu``, then layers in order while the
    budget lasts, the rest on "cpu". Covers every parameter of ``model``."""
    bytes_per = torch.finfo(dtype).bits // 8
    budget = budget_bytes
    device_map: dict[str, Any] = {}
    llm = model.model
    for name, child in llm.named_children():
        if name != "layers":
            device_map[f"model.{name}"] = gpu
            budget -= sum(p.numel() for p in child.parameters()) * bytes_per
    for name, param in llm.named_parameters(recurse=False):  # e.g. image_newline
        device_map[f"model.{name}"] = gpu
        budget -= param.numel() * bytes_per
    for i, layer in enumerate(llm.layers):
        size = sum(p.numel() for p in layer.parameters()) * bytes_per
        if budget - size > 0:
            device_map[f"model.layers.{i}"] = gpu
            budget -= size
        else:
            device_map[f"model.layers.{i}"] = "cpu"
    if hasattr(model, "lm_head"):
        device_map["lm_head"] = gpu
    return device_map


def dispatch(model, device: torch.device, dtype: torch.dtype) -> None:
    """Place what fits on the GPU (80 % of :func:`gpu_memory_budget`) and keep the remaining decoder layers
    on the CPU (accelerate hooks move activations; tested on a GPU with ``SPEX_GPU_MEMORY_GIB``)."""
    try:
        from accelerate import dispatch_model
    except ImportError:
        raise DependencyMissingError(
            "the model does not fit in GPU memory and 'accelerate' is missing: "
            f"{pip_install(['accelerate'])}, or use --device cpu"
        ) from None
    budget = gpu_memory_budget(device)
    with warnings.catch_warnings():
        # "model.image_newline" is a parameter, not a submodule: accelerate places it but says so
        warnings.filterwarnings("ignore", message=".*do not match any submodules.*", category=UserWarning)
        dispatch_model(model, device_map=plan_device_map(model, int(budget * 0.8), dtype, device.index or 0))
