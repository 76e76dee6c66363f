"""Tensors of a checkpoint on disk: safetensors shards read without a memory map, keys and shapes checked,
materialised one tensor at a time into a module built on the meta device.

Pickled files are only read with ``torch.load(weights_only=True)``; every problem is a one-line
:class:`~model_runtime.errors.ModelLoadError`.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
from collections.abc import Iterable
from typing import Any, Callable

import torch
from torch import nn

from ...errors import ModelLoadError
from .integrity import assert_finite, shard_path
from .safetensors_header import read_safetensors_header

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
# Stored but not needed: tied lm_head copy, the unused newline token when the model has none.
IGNORABLE_KEYS = ("lm_head.weight", "model.image_newline")

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


def safetensors_files(folder: str) -> dict[str, str]:
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


def format_keys(keys: list[str], limit: int = 3) -> str:
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
        problems.append(f"{len(missing)} missing tensor(s): {format_keys(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensor(s): {format_keys(unexpected)}")
    if wrong:
        shown = [f"{k} {list(found[k])} vs expected {list(expected[k])}" for k in wrong[:3]]
        more = f" ... (+{len(wrong) - 3} more)" if len(wrong) > 3 else ""
        problems.append(f"{len(wrong)} shape mismatch(es): {', '.join(shown)}{more}")
    if problems:
        raise ModelLoadError(
            f"{where} does not match the SPEX architecture of its config.json: "
            f"{'; '.join(problems)}: use a complete SPEX checkpoint with its own config.json"
        )


def expected_tensors(module: nn.Module) -> dict[str, tuple[int, ...]]:
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


def materialise(
    module: nn.Module,
    getter: Callable[[str], torch.Tensor],
    device: torch.device,
    dtype: torch.dtype,
    skip_prefix: tuple[str, ...] = (),
) -> None:
    """Load every persistent tensor of ``module`` (except keys under ``skip_prefix``) from ``getter(key)``
    into dtype/device, one at a time (the stored tensor is dropped as soon as it is converted)."""
    for key in expected_tensors(module):
        if skip_prefix and key.startswith(skip_prefix):
            continue
        t = getter(key)
        _assign(module, key, t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype))
        del t


def release_heap() -> None:
    """Give the read buffers' freed heap pages back to the OS (glibc keeps them otherwise, counted in RSS).

    Loading frees ~1,300 stored tensors of 2-30 MB after converting them; glibc serves those sizes from its
    heap and keeps freed pages mapped. ``malloc_trim(0)`` returns them; a no-op elsewhere than glibc.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def read_json(path: str) -> dict[str, Any] | None:
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


def torch_load(path: str) -> dict[str, torch.Tensor]:
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
