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
the largest stored tensor. ``load_vision_encoder=False`` leaves the torch vision encoder out (ONNX Runtime
serves it). Pickled files are only read with
``torch.load(weights_only=True)``. Every problem is a one-line :class:`ModelLoadError`.
"""

from __future__ import annotations

import gc
import json
import os
import warnings
from collections.abc import Iterable
from typing import Any, Callable

import torch
from torch import nn

from ..errors import DependencyMissingError, ModelLoadError, SpexEnvironmentError, SpexInputError
from ..requirements import pip_install
from .config import SpexConfig
from .integrity import assert_finite, check_memory, shard_path, weight_bytes
from .safetensors_header import read_safetensors_header

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
NON_LORA_FILE = "non_lora_trainables.bin"
# Stored but not needed: tied lm_head copy, the unused newline token when the model has none.
IGNORABLE_KEYS = ("lm_head.weight", "model.image_newline")

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


# ------------------------------------------------------------------------------------------- device / dtype
def resolve_device(device: Any = "auto") -> torch.device:
    """Device name ("auto", "cpu", "cuda", "cuda:N") or torch.device -> torch.device (else SpexInputError)."""
    if isinstance(device, torch.device):
        dev = device
    else:
        text = str(device or "auto").strip().lower()
        if text == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(text)
        except (RuntimeError, ValueError):
            raise SpexInputError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SpexEnvironmentError(
                f"device {device!r} requested but PyTorch sees no CUDA GPU: use --device cpu "
                "(or install a CUDA build of torch)"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise SpexEnvironmentError(
                f"device {device!r} does not exist ({torch.cuda.device_count()} GPU(s)): "
                "use cuda:0 .. cuda:N-1"
            )
    elif dev.type != "cpu":
        raise SpexInputError(f"unsupported device {device!r}: use auto, cpu, cuda or cuda:N")
    return dev


def resolve_dtype(dtype: Any = None) -> torch.dtype:
    """None -> float32 (as the official demo); torch dtype or name ("float16", "bf16"...) -> torch dtype."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise SpexInputError(f"unsupported dtype {dtype}: use float32, float16 or bfloat16")
        return dtype
    name = str(dtype).lower().replace("torch.", "")
    if name not in _DTYPES:
        raise SpexInputError(f"unknown dtype {dtype!r}: use float32, float16 or bfloat16")
    return _DTYPES[name]


# ------------------------------------------------------------------------------------------- tensor sources
_ST_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


class TensorSource:
    """Lazy key -> tensor access over safetensors files; shapes come from the headers only.

    Tensors are read with plain file reads, not memory-mapped: a mapped shard keeps every page it touched
    resident (counted in RSS) until it is unmapped, which during loading adds the whole fp16 checkpoint
    on top of the fp32 model. A read buffer holds one tensor at a time and the page cache is not RSS.
    """

    def __init__(self, files: dict[str, str]):
        self.key_file: dict[str, str] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self._entries: dict[str, tuple[str, torch.dtype, tuple[int, ...], int, int]] = {}
        headers: dict[str, tuple[dict[str, dict], int]] = {}
        for key, path in files.items():
            if path not in headers:
                headers[path] = read_safetensors_header(path)
            header, base = headers[path]
            if key not in header:
                raise ModelLoadError(
                    f"{os.path.basename(path)} lacks tensor {key} listed in {INDEX_FILE}: "
                    "re-download the checkpoint (shards and index must match)"
                )
            entry = header[key]
            shape = tuple(int(d) for d in entry["shape"])
            dtype = _ST_DTYPES[entry["dtype"]]
            start, end = (int(o) for o in entry["data_offsets"])  # sizes checked with the header
            self.key_file[key] = path
            self.shapes[key] = shape
            self._entries[key] = (path, dtype, shape, base + start, end - start)

    def get(self, key: str) -> torch.Tensor:
        """The stored tensor, read from disk into its own buffer (no memory map); NaN/Inf refused."""
        path, dtype, shape, offset, nbytes = self._entries[key]
        if nbytes == 0:
            return torch.empty(shape, dtype=dtype)
        buf = bytearray(nbytes)
        with open(path, "rb") as fh:
            fh.seek(offset)
            if fh.readinto(buf) != nbytes:
                raise ModelLoadError(f"{path} ended early while reading {key}: re-download it")
        tensor = torch.frombuffer(buf, dtype=dtype).reshape(shape)
        assert_finite(key, tensor, path)
        return tensor

    def get_dtype(self, key: str) -> torch.dtype:
        """The stored dtype of ``key`` (from the header)."""
        return self._entries[key][1]


def _safetensors_files(folder: str) -> dict[str, str]:
    """key -> shard path for a merged checkpoint folder (index json or a single file)."""
    index_path = os.path.join(folder, INDEX_FILE)
    if os.path.isfile(index_path):
        try:
            with open(index_path, encoding="utf-8") as fh:
                weight_map = json.load(fh)["weight_map"]
            if not isinstance(weight_map, dict):
                raise TypeError("weight_map is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(
                f"cannot parse {index_path} ({exc}): re-download the checkpoint's index file"
            ) from None
        paths = {v: shard_path(folder, v, index_path) for v in set(weight_map.values()) if isinstance(v, str)}
        files = {
            k: paths[v] if isinstance(v, str) else shard_path(folder, v, index_path)
            for k, v in weight_map.items()
        }
        missing = sorted({os.path.basename(p) for p in files.values() if not os.path.isfile(p)})
        if missing:
            raise ModelLoadError(
                f"missing shard file(s) {', '.join(missing)} in {folder}: "
                "download every file of the checkpoint"
            )
        return files
    single = os.path.join(folder, SINGLE_FILE)
    if os.path.isfile(single):
        shard_path(folder, SINGLE_FILE, folder)
        header, _base = read_safetensors_header(single)
        return {k: single for k in header}
    raise ModelLoadError(
        f"no weights in {folder} (neither {INDEX_FILE} nor {SINGLE_FILE}): "
        "point to the SPEX checkpoint folder with its .safetensors files"
    )


def _fmt_keys(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" ... (+{len(keys) - limit} more)" if len(keys) > limit else "")


def check_keys(
    expected: dict[str, tuple[int, ...]],
    found: dict[str, tuple[int, ...]],
    ignorable: Iterable[str] = IGNORABLE_KEYS,
    where: str = "checkpoint",
) -> None:
    """Every expected key present with its shape, nothing unexpected -> else one-line ModelLoadError."""
    ignorable = set(ignorable)
    missing = sorted(k for k in expected if k not in found)
    unexpected = sorted(k for k in found if k not in expected and k not in ignorable)
    wrong = sorted(k for k in expected if k in found and tuple(found[k]) != tuple(expected[k]))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensor(s): {_fmt_keys(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensor(s): {_fmt_keys(unexpected)}")
    if wrong:
        shown = [f"{k} {list(found[k])} vs expected {list(expected[k])}" for k in wrong[:3]]
        more = f" ... (+{len(wrong) - 3} more)" if len(wrong) > 3 else ""
        problems.append(f"{len(wrong)} shape mismatch(es): {', '.join(shown)}{more}")
    if problems:
        raise ModelLoadError(
            f"{where} does not match the SPEX architecture of its config.json: "
            f"{'; '.join(problems)}: use a complete SPEX checkpoint with its own config.json"
        )


# ------------------------------------------------------------------------------------------- materialising
def _expected_tensors(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Persistent parameters and buffers of ``module`` -> shape."""
    return {k: tuple(v.shape) for k, v in module.state_dict(keep_vars=True).items()}


def _assign(module: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """Put ``tensor`` in place of the (meta) parameter or buffer ``name`` without copying it again."""
    owner_name, _, leaf = name.rpartition(".")
    owner = module.get_submodule(owner_name) if owner_name else module
    if leaf in owner._parameters:
        owner._parameters[leaf] = nn.Parameter(tensor, requires_grad=False)
    else:
        owner._buffers[leaf] = tensor


def _materialise(
    module: nn.Module,
    getter: Callable[[str], torch.Tensor],
    device: torch.device,
    dtype: torch.dtype,
    skip_prefix: tuple[str, ...] = (),
) -> None:
    """Load every persistent tensor of ``module`` (except keys under ``skip_prefix``) from ``getter(key)``
    into dtype/device, one at a time (the stored tensor is dropped as soon as it is converted)."""
    for key in _expected_tensors(module):
        if skip_prefix and key.startswith(skip_prefix):
            continue
        t = getter(key)
        _assign(module, key, t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype))
        del t


def _fix_runtime_buffers(model: nn.Module, device: torch.device) -> None:
    """Recreate non-persistent buffers (rotary ``inv_freq``) that stayed on the meta device."""
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

    for name, mod in model.named_modules():
        if isinstance(mod, Qwen2RotaryEmbedding):
            fresh = Qwen2RotaryEmbedding(mod.config, device=device)
            owner_name, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(owner_name) if owner_name else model, leaf, fresh)
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if left:
        raise RuntimeError(f"internal error: tensors left on the meta device: {left[:3]}")


def release_heap() -> None:
    """Give the read buffers' freed heap pages back to the OS (glibc keeps them otherwise, counted in RSS).

    Loading frees ~1,300 stored tensors of 2-30 MB after converting them; glibc serves those sizes from its
    heap and keeps freed pages mapped. ``malloc_trim(0)`` returns them; a no-op elsewhere than glibc.
    """
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# ------------------------------------------------------------------------------------------- tokenizer etc.
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
        import transformers

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


def _read_json(path: str) -> dict[str, Any] | None:
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot parse {path} ({exc}): re-download this file of the model") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} is not a JSON object: re-download this file of the model")
    return data


def generation_settings(model_dir: str, config: SpexConfig, tokenizer) -> tuple[list[int], float]:
    """(stop token ids, repetition penalty) as the official ``generate`` uses them, + ``<|im_end|>``."""
    gen = _read_json(os.path.join(model_dir, "generation_config.json"))
    source = gen if gen is not None else config.raw
    eos = source.get("eos_token_id")
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if im_end not in ids:
        ids.append(im_end)
    penalty = float((gen or {}).get("repetition_penalty") or 1.0)
    return [int(i) for i in ids], penalty


# ------------------------------------------------------------------------------------------- LoRA
def is_lora_folder(model_dir: str) -> bool:
    """True when the folder holds a LoRA adapter (``adapter_config.json``)."""
    return os.path.isfile(os.path.join(model_dir, ADAPTER_CONFIG))


def _torch_load(path: str) -> dict[str, torch.Tensor]:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot read {path} safely ({type(exc).__name__}): it must be a plain tensor "
            "state dict; re-download it"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ModelLoadError(f"{path} is not a tensor state dict: re-download it")
    return data


def _strip_non_lora_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Key prefixes as the official builder fixes them: drop ``base_model.``, then ``model.`` if doubled."""
    state = {(k[len("base_model.") :] if k.startswith("base_model.") else k): v for k, v in state.items()}
    if any(k.startswith("model.model.") for k in state):
        state = {(k[len("model.") :] if k.startswith("model.") else k): v for k, v in state.items()}
    return state


def _lora_deltas(model_dir: str, expected: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """param key -> float32 delta (B @ A * scaling) from the PEFT adapter in ``model_dir``."""
    cfg = _read_json(os.path.join(model_dir, ADAPTER_CONFIG)) or {}
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
        from safetensors.torch import load_file

        adapter = load_file(st_path)
    elif os.path.isfile(bin_path):
        adapter = _torch_load(bin_path)
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
            f"adapter has {len(unexpected)} unsupported tensor(s) ({_fmt_keys(sorted(unexpected))}): "
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


# ------------------------------------------------------------------------------------------- public loaders
def build_empty_model(config: SpexConfig):
    """The SPEX module tree on the meta device (no memory)."""
    from .modeling import SpexModel

    with torch.device("meta"):
        return SpexModel(config)


VISION_ENCODER_PREFIX = "model.vision_tower.vision_tower."


def load_spex_model(
    model_dir: str,
    device: Any = "auto",
    dtype: Any = None,
    base_model_dir: str | None = None,
    load_vision_encoder: bool = True,
    layer_hook: Callable[[nn.Module], None] | None = None,
):
    """Build :class:`SpexModel` from a checkpoint folder (see module docstring), in eval mode.

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
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    config = SpexConfig.from_json_file(os.path.join(model_dir, "config.json"))
    tokenizer = load_tokenizer(model_dir)
    model = build_empty_model(config)
    expected = _expected_tensors(model)
    check_model_memory(model_dir, expected, dev, dt, int8=layer_hook is not None)
    target = torch.device("cpu") if _needs_offload(expected, dev, dt) else dev

    if is_lora_folder(model_dir):
        getter = _lora_getter(model_dir, base_model_dir, expected, dt)
    else:
        source = TensorSource(_safetensors_files(model_dir))
        check_keys(expected, source.shapes, where=f"checkpoint {model_dir}")
        getter = source.get
    skip = () if load_vision_encoder else (VISION_ENCODER_PREFIX,)
    if layer_hook is None:
        _materialise(model, getter, target, dt, skip_prefix=skip)
    else:
        _materialise(model, getter, target, dt, skip_prefix=skip + ("model.layers.",))
        for i, layer in enumerate(model.model.layers):
            _materialise(layer, lambda k, i=i: getter(f"model.layers.{i}.{k}"), target, dt)
            layer_hook(layer)
            gc.collect()  # the replaced float modules sit in reference cycles: free them layer by layer
    if not load_vision_encoder:
        model.model.vision_tower.vision_tower = None  # never materialised: no meta tensors left behind
    _fix_runtime_buffers(model, target)
    model.eval()
    model.model_dir, model.base_model_dir = model_dir, base_model_dir
    release_heap()
    model.tokenizer = tokenizer
    model.eos_token_ids, model.repetition_penalty = generation_settings(model_dir, config, tokenizer)
    if target != dev:
        _dispatch(model, dev, dt)
    return model


def check_model_memory(
    model_dir: str, expected: dict[str, tuple[int, ...]], device: torch.device, dtype: torch.dtype, int8: bool
) -> None:
    """Refuse, before allocating, weights that cannot fit in this machine's memory (RAM, + GPU on CUDA)."""
    bytes_per = torch.finfo(dtype).bits // 8
    need = weight_bytes(expected, bytes_per, int8_prefix="model.layers." if int8 else None)
    gpu = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0
    check_memory(os.path.join(model_dir, "config.json"), need, device.type, gpu)


def _lora_getter(
    model_dir: str, base_model_dir: str | None, expected: dict[str, tuple[int, ...]], dtype: torch.dtype
) -> Callable[[str], torch.Tensor]:
    """Tensors of base + non-LoRA trainables + merged LoRA deltas, all checked before anything is loaded."""
    if not base_model_dir:
        hint = (_read_json(os.path.join(model_dir, ADAPTER_CONFIG)) or {}).get("base_model_name_or_path")
        raise ModelLoadError(
            f"{model_dir} is a LoRA checkpoint: also give the base model folder it was trained "
            f"on (base_model_dir / --model-base{', e.g. ' + str(hint) if hint else ''})"
        )
    if not os.path.isdir(base_model_dir):
        raise ModelLoadError(
            f"base model folder {base_model_dir!r} does not exist: point to the base checkpoint"
        )
    base = TensorSource(_safetensors_files(base_model_dir))
    non_lora_path = os.path.join(model_dir, NON_LORA_FILE)
    if not os.path.isfile(non_lora_path):
        raise ModelLoadError(
            f"LoRA folder {model_dir} has no {NON_LORA_FILE}: copy it next to adapter_config.json"
        )
    non_lora = _strip_non_lora_keys(_torch_load(non_lora_path))
    shapes = dict(base.shapes)
    shapes.update({k: tuple(v.shape) for k, v in non_lora.items()})
    check_keys(expected, shapes, where=f"base {base_model_dir} + {NON_LORA_FILE}")
    deltas = _lora_deltas(model_dir, expected)

    def get(key: str) -> torch.Tensor:
        t = non_lora[key] if key in non_lora else base.get(key)
        if key in deltas:
            t = (t.float() + deltas[key]).to(dtype)
            assert_finite(key, t, os.path.join(model_dir, "adapter_model"))
        elif key in non_lora:
            assert_finite(key, t, non_lora_path)
        return t

    return get


def load_vision_encoder(model_dir: str, dtype: Any = torch.float32, device: Any = "cpu"):
    """Only :class:`SpexVisionEncoder` (``model.vision_tower.vision_tower.*``) of a checkpoint folder."""
    from .vision_tower import SpexVisionEncoder

    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    config = SpexConfig.from_json_file(os.path.join(model_dir, "config.json"))
    prefix = "model.vision_tower.vision_tower."
    with torch.device("meta"):
        enc = SpexVisionEncoder(config.vision)
    expected = _expected_tensors(enc)
    if is_lora_folder(model_dir):
        non_lora = _strip_non_lora_keys(_torch_load(os.path.join(model_dir, NON_LORA_FILE)))
        found = {k[len(prefix) :]: tuple(v.shape) for k, v in non_lora.items() if k.startswith(prefix)}
        check_keys(expected, found, where=f"{model_dir}/{NON_LORA_FILE} (vision encoder)")
        _materialise(enc, lambda k: non_lora[prefix + k], dev, dt)
    else:
        source = TensorSource(
            {k: p for k, p in _safetensors_files(model_dir).items() if k.startswith(prefix)}
        )
        found = {k[len(prefix) :]: s for k, s in source.shapes.items()}
        check_keys(expected, found, where=f"checkpoint {model_dir} (vision encoder)")
        _materialise(enc, lambda k: source.get(prefix + k), dev, dt)
    return enc.eval()


# ------------------------------------------------------------------------------------------- GPU placement
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


def _needs_offload(expected: dict[str, tuple[int, ...]], device: torch.device, dtype: torch.dtype) -> bool:
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


def _dispatch(model, device: torch.device, dtype: torch.dtype) -> None:
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
