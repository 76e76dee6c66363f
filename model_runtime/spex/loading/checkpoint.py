"""Loading a SPEX checkpoint folder with every tensor accounted for.

Layouts:
  * merged (released): ``config.json`` + ``model.safetensors.index.json`` + shards
    (or one ``model.safetensors``)
  * LoRA (training output): ``config.json`` + ``adapter_config.json`` + ``adapter_model.safetensors|bin`` +
    ``non_lora_trainables.bin``, merged onto a base model folder like the official ``merge_lora.py``
    (``load_pretrained_model`` with ``model_base``) does.
Tokenizer files (``tokenizer.json`` or ``vocab.json`` + ``merges.txt``) live in the same folder.

The model is built on the meta device and each tensor is read from its shard (plain reads, no memory map)
straight into the target dtype/device, one tensor at a time, so peak memory is one copy of the model plus
the largest stored tensor (:mod:`.tensors`; LoRA: :mod:`.lora`; GPU placement: :mod:`.placement`).
``load_vision_encoder=False`` leaves the torch vision encoder out (ONNX Runtime
serves it). Pickled files are only read with
``torch.load(weights_only=True)``. Every problem is a one-line :class:`ModelLoadError`.
"""

from __future__ import annotations

import gc
import os
from typing import Any, Callable

import torch
import transformers
from torch import nn
from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

from ...errors import ModelLoadError
from ..modeling.config import SpexConfig
from ..modeling.modeling import SpexForCausalLM
from ..modeling.vision_tower import SpexVisionEncoder
from .device import resolve_dtype, torch_device
from .lora import NON_LORA_FILE, is_lora_folder, lora_getter, strip_non_lora_keys
from .placement import check_model_memory, dispatch, needs_offload
from .tensors import (
    TensorSource,
    check_keys,
    expected_tensors,
    materialise,
    read_json,
    release_heap,
    safetensors_files,
    torch_load,
)

VISION_ENCODER_PREFIX = "model.vision_tower.vision_tower."


def load_tokenizer(model_dir: str):
    """Qwen2 tokenizer from the folder: fast (``tokenizer.json``) or slow (``vocab.json``, ``merges.txt``)."""
    has_fast = os.path.isfile(os.path.join(model_dir, "tokenizer.json"))
    has_slow = all(os.path.isfile(os.path.join(model_dir, f)) for f in ("vocab.json", "merges.txt"))
    if not (has_fast or has_slow):
        raise ModelLoadError(
            f"no tokenizer in {model_dir} (need tokenizer.json or vocab.json + merges.txt): "
            "copy the tokenizer files shipped with the model into the folder"
        )
    try:
        name = "Qwen2TokenizerFast" if has_fast else "Qwen2Tokenizer"
        tok = getattr(transformers, name).from_pretrained(model_dir, local_files_only=True)
    except Exception as exc:  # transformers raises many types for broken files
        raise ModelLoadError(
            f"cannot load the tokenizer in {model_dir} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}): re-download the tokenizer files"
        ) from None
    for special in ("<|im_start|>", "<|im_end|>"):
        if tok.convert_tokens_to_ids(special) in (None, tok.unk_token_id):
            raise ModelLoadError(
                f"the tokenizer in {model_dir} has no {special} token: "
                "use the Qwen2 tokenizer files shipped with the model"
            )
    return tok


def generation_settings(model_dir: str, config: SpexConfig, tokenizer) -> tuple[list[int], float]:
    """(stop token ids, repetition penalty) as the official ``generate`` uses them, + ``<|im_end|>``."""
    gen = read_json(os.path.join(model_dir, "generation_config.json"))
    source = gen if gen is not None else config.raw
    eos = source.get("eos_token_id")
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if im_end not in ids:
        ids.append(im_end)
    penalty = float((gen or {}).get("repetition_penalty") or 1.0)
    return [int(i) for i in ids], penalty


def fix_runtime_buffers(model: nn.Module, device: torch.device) -> None:
    """Recreate non-persistent buffers (rotary ``inv_freq``) that stayed on the meta device."""
    for name, mod in model.named_modules():
        if isinstance(mod, Qwen2RotaryEmbedding):
            fresh = Qwen2RotaryEmbedding(mod.config, device=device)
            owner_name, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(owner_name) if owner_name else model, leaf, fresh)
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if left:
        raise RuntimeError(f"internal error: tensors left on the meta device: {left[:3]}")


def build_empty_model(config: SpexConfig, model_class: type = SpexForCausalLM):
    """The SPEX module tree (``model_class(config)``) on the meta device (no memory)."""
    with torch.device("meta"):
        return model_class(config)


def load_spex_model(
    model_dir: str,
    device: Any = "auto",
    dtype: Any = None,
    base_model_dir: str | None = None,
    load_vision_encoder: bool = True,
    layer_hook: Callable[[nn.Module], None] | None = None,
    model_class: type = SpexForCausalLM,
):
    """Build ``model_class`` (a :class:`SpexForCausalLM`) from a checkpoint folder (see module docstring),
    in eval mode. :meth:`SpexModel.from_pretrained <.pretrained.SpexModel.from_pretrained>` is the public
    entry point.

    ``load_vision_encoder=False``: every tensor is still checked, but the torch vision encoder is not
    materialised (-0.9 GB in fp32; ONNX Runtime serves it). ``SpexModel.ensure_vision_encoder()`` loads it
    later if needed. ``layer_hook(layer)`` runs on each decoder layer as soon as its weights are loaded
    (int8 quantisation: the float32 copy of a layer is gone before the next one is read).
    """
    if not model_dir or not os.path.isdir(model_dir):
        raise ModelLoadError(
            f"model folder {model_dir!r} does not exist: point --model to the downloaded "
            "SPEX checkpoint folder"
        )
    dev = torch_device(device)
    dt = resolve_dtype(dtype)
    config = SpexConfig.from_json_file(os.path.join(model_dir, "config.json"))
    tokenizer = load_tokenizer(model_dir)
    model = build_empty_model(config, model_class)
    expected = expected_tensors(model)
    check_model_memory(model_dir, expected, dev, dt, int8=layer_hook is not None)
    target = torch.device("cpu") if needs_offload(expected, dev, dt) else dev

    if is_lora_folder(model_dir):
        getter = lora_getter(model_dir, base_model_dir, expected, dt)
    else:
        source = TensorSource(safetensors_files(model_dir))
        check_keys(expected, source.shapes, where=f"checkpoint {model_dir}")
        getter = source.get
    skip = () if load_vision_encoder else (VISION_ENCODER_PREFIX,)
    if layer_hook is None:
        materialise(model, getter, target, dt, skip_prefix=skip)
    else:
        materialise(model, getter, target, dt, skip_prefix=skip + ("model.layers.",))
        for i, layer in enumerate(model.model.layers):
            materialise(layer, lambda k, i=i: getter(f"model.layers.{i}.{k}"), target, dt)
            layer_hook(layer)
            gc.collect()  # the replaced float modules sit in reference cycles: free them layer by layer
    if not load_vision_encoder:
        model.model.vision_tower.vision_tower = None  # never materialised: no meta tensors left behind
    fix_runtime_buffers(model, target)
    model.eval()
    model.model_dir, model.base_model_dir = model_dir, base_model_dir
    release_heap()
    model.tokenizer = tokenizer
    model.eos_token_ids, model.repetition_penalty = generation_settings(model_dir, config, tokenizer)
    if target != dev:
        dispatch(model, dev, dt)
    return model


def load_vision_encoder(model_dir: str, dtype: Any = torch.float32, device: Any = "cpu"):
    """Only :class:`SpexVisionEncoder` (``model.vision_tower.vision_tower.*``) of a checkpoint folder, in
    eval mode (every one of its tensors checked)."""
    dev = torch_device(device)
    dt = resolve_dtype(dtype)
    config = SpexConfig.from_json_file(os.path.join(model_dir, "config.json"))
    prefix = VISION_ENCODER_PREFIX
    with torch.device("meta"):
        enc = SpexVisionEncoder(config.vision)
    expected = expected_tensors(enc)
    if is_lora_folder(model_dir):
        non_lora = strip_non_lora_keys(torch_load(os.path.join(model_dir, NON_LORA_FILE)))
        found = {k[len(prefix) :]: tuple(v.shape) for k, v in non_lora.items() if k.startswith(prefix)}
        check_keys(expected, found, where=f"{model_dir}/{NON_LORA_FILE} (vision encoder)")
        materialise(enc, lambda k: non_lora[prefix + k], dev, dt)
    else:
        source = TensorSource({k: p for k, p in safetensors_files(model_dir).items() if k.startswith(prefix)})
        found = {k[len(prefix) :]: s for k, s in source.shapes.items()}
        check_keys(expected, found, where=f"checkpoint {model_dir} (vision encoder)")
        materialise(enc, lambda k: source.get(prefix + k), dev, dt)
    return enc.eval()
