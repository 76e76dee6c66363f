"""A LoRA training folder merged onto its base model, as the official ``merge_lora.py`` does.

Layout: ``config.json`` + ``adapter_config.json`` + ``adapter_model.safetensors|bin`` +
``non_lora_trainables.bin`` beside a base model folder (merged safetensors layout).
"""

from __future__ import annotations

import os
from typing import Callable

import torch
from safetensors.torch import load_file

from ...errors import ModelLoadError
from .integrity import assert_finite
from .tensors import TensorSource, check_keys, format_keys, read_json, safetensors_files, torch_load

ADAPTER_CONFIG = "adapter_config.json"
NON_LORA_FILE = "non_lora_trainables.bin"


def is_lora_folder(model_dir: str) -> bool:
    """True when the folder holds a LoRA adapter (``adapter_config.json``)."""
    return os.path.isfile(os.path.join(model_dir, ADAPTER_CONFIG))


def strip_non_lora_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Key prefixes as the official builder fixes them: drop ``base_model.``, then ``model.`` if doubled."""
    state = {(k[len("base_model.") :] if k.startswith("base_model.") else k): v for k, v in state.items()}
    if any(k.startswith("model.model.") for k in state):
        state = {(k[len("model.") :] if k.startswith("model.") else k): v for k, v in state.items()}
    return state


def lora_deltas(model_dir: str, expected: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """param key -> float32 delta (B @ A * scaling) from the PEFT adapter in ``model_dir``."""
    cfg = read_json(os.path.join(model_dir, ADAPTER_CONFIG)) or {}
    try:
        r = int(cfg["r"])
        alpha = float(cfg.get("lora_alpha", r))
    except (KeyError, TypeError, ValueError):
        raise ModelLoadError(
            f"{ADAPTER_CONFIG} in {model_dir} lacks a valid 'r'/'lora_alpha': re-download it"
        ) from None
    rslora = bool(cfg.get("use_rslora", False))
    fan_in_fan_out = bool(cfg.get("fan_in_fan_out", False))
    rank_pattern = cfg.get("rank_pattern") or {}
    alpha_pattern = cfg.get("alpha_pattern") or {}

    st_path = os.path.join(model_dir, "adapter_model.safetensors")
    bin_path = os.path.join(model_dir, "adapter_model.bin")
    if os.path.isfile(st_path):
        adapter = load_file(st_path)
    elif os.path.isfile(bin_path):
        adapter = torch_load(bin_path)
    else:
        raise ModelLoadError(
            f"LoRA folder {model_dir} has no adapter_model.safetensors or adapter_model.bin: "
            "copy the adapter weights next to adapter_config.json"
        )

    pairs: dict[str, dict[str, torch.Tensor]] = {}
    unexpected = []
    for key, value in adapter.items():
        name = key[len("base_model.model.") :] if key.startswith("base_model.model.") else key
        for part in ("lora_A", "lora_B"):
            marker = f".{part}."
            if marker in name:
                module = name.split(marker)[0]
                pairs.setdefault(module, {})[part] = value
                break
        else:
            unexpected.append(key)
    if unexpected:
        raise ModelLoadError(
            f"adapter has {len(unexpected)} unsupported tensor(s) ({format_keys(sorted(unexpected))}): "
            "merge it with the official merge_lora.py first"
        )
    deltas: dict[str, torch.Tensor] = {}
    for module, ab in sorted(pairs.items()):
        target = module + ".weight"
        if target not in expected or "lora_A" not in ab or "lora_B" not in ab:
            raise ModelLoadError(
                f"adapter targets {module}, which the SPEX model does not have (or lacks lora_A/B): "
                "use the adapter trained for this checkpoint"
            )
        rank = next((int(v) for p, v in rank_pattern.items() if module.endswith(p)), r)
        lora_alpha = next((float(v) for p, v in alpha_pattern.items() if module.endswith(p)), alpha)
        scaling = lora_alpha / (rank**0.5 if rslora else rank)
        delta = (ab["lora_B"].float() @ ab["lora_A"].float()) * scaling
        if fan_in_fan_out:
            delta = delta.T
        if tuple(delta.shape) != tuple(expected[target]):
            raise ModelLoadError(
                f"adapter delta for {target} has shape {list(delta.shape)}, expected "
                f"{list(expected[target])}: use the adapter trained for this checkpoint"
            )
        deltas[target] = delta
    return deltas


def lora_getter(
    model_dir: str, base_model_dir: str | None, expected: dict[str, tuple[int, ...]], dtype: torch.dtype
) -> Callable[[str], torch.Tensor]:
    """Tensors of base + non-LoRA trainables + merged LoRA deltas, all checked before anything is loaded."""
    if not base_model_dir:
        hint = (read_json(os.path.join(model_dir, ADAPTER_CONFIG)) or {}).get("base_model_name_or_path")
        raise ModelLoadError(
            f"{model_dir} is a LoRA checkpoint: also give the base model folder it was trained "
            f"on (base_model_dir / --model-base{', e.g. ' + str(hint) if hint else ''})"
        )
    if not os.path.isdir(base_model_dir):
        raise ModelLoadError(
            f"base model folder {base_model_dir!r} does not exist: point to the base checkpoint"
        )
    base = TensorSource(safetensors_files(base_model_dir))
    non_lora_path = os.path.join(model_dir, NON_LORA_FILE)
    if not os.path.isfile(non_lora_path):
        raise ModelLoadError(
            f"LoRA folder {model_dir} has no {NON_LORA_FILE}: copy it next to adapter_config.json"
        )
    non_lora = strip_non_lora_keys(torch_load(non_lora_path))
    shapes = dict(base.shapes)
    shapes.update({k: tuple(v.shape) for k, v in non_lora.items()})
    check_keys(expected, shapes, where=f"base {base_model_dir} + {NON_LORA_FILE}")
    deltas = lora_deltas(model_dir, expected)

    def get(key: str) -> torch.Tensor:
        t = non_lora[key] if key in non_lora else base.get(key)
        if key in deltas:
            t = (t.float() + deltas[key]).to(dtype)
            assert_finite(key, t, os.path.join(model_dir, "adapter_model"))
        elif key in non_lora:
            assert_finite(key, t, non_lora_path)
        return t

    return get
