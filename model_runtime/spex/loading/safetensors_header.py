"""Reading a safetensors header without torch (shared by the loader, the ONNX hash and ``spex doctor``).

Only the JSON header is parsed; every entry is checked against the file size so that a truncated download is
reported as such instead of surfacing later as garbage weights.
"""

from __future__ import annotations

import json
import os

from ...errors import ModelLoadError

#: dtype names of the safetensors format that the loader can map to torch dtypes -> bytes per element.
SAFETENSORS_ITEMSIZE = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
SAFETENSORS_DTYPES = tuple(SAFETENSORS_ITEMSIZE)
_MAX_HEADER = 100_000_000


def read_safetensors_header(path: str) -> tuple[dict[str, dict], int]:
    """(tensor entries ``{key: {dtype, shape, data_offsets}}``, byte offset of the data section).

    Checked as the safetensors format requires, so a truncated or forged file is refused before any read:
    known dtype, integer shape, ``end - start == itemsize x prod(shape)``, and the tensors' byte ranges
    tile the data section exactly (sorted by offset: no overlap, no gap, nothing past the end).
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                raise ValueError("file shorter than its header")
            n = int.from_bytes(head, "little")
            if n <= 0 or n > min(_MAX_HEADER, size - 8):
                raise ValueError("bad header length")
            header = json.loads(fh.read(n))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
        header.pop("__metadata__", None)
        data_size = size - 8 - n
        ranges = []
        for key, entry in header.items():
            ranges.append((*_entry_range(key, entry), key))
        ranges.sort()
        pos = 0
        for start, end, key in ranges:
            if start != pos:
                what = "overlaps the previous tensor" if start < pos else "leaves a gap before it"
                raise ValueError(f"tensor {key} {what} (data offset {start}, expected {pos})")
            pos = end
        if pos > data_size:
            raise ValueError(f"tensor data lies beyond the end of the file ({pos} > {data_size} bytes)")
        if pos != data_size:
            raise ValueError(f"{data_size - pos} bytes after the last tensor")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f"cannot read {path} ({exc}): the file is corrupt or incomplete, re-download it"
        ) from None
    return header, 8 + n


def _entry_range(key: str, entry) -> tuple[int, int]:
    """(start, end) of one header entry, after checking dtype, shape and byte count."""
    if not isinstance(entry, dict):
        raise ValueError(f"tensor {key} has no dtype/shape/data_offsets entry")
    dtype = entry.get("dtype")
    if dtype not in SAFETENSORS_ITEMSIZE:
        raise ValueError(f"tensor {key} has unknown dtype {dtype!r}")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"tensor {key} has an invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise ValueError(f"tensor {key} has invalid data_offsets {offsets!r}")
    start, end = offsets
    if not 0 <= start <= end:
        raise ValueError(f"tensor {key} has out-of-order data offsets {offsets}")
    numel = 1
    for d in shape:
        numel *= d
    if end - start != SAFETENSORS_ITEMSIZE[dtype] * numel:
        raise ValueError(
            f"tensor {key} has {end - start} bytes for {dtype} x {shape} "
            f"({SAFETENSORS_ITEMSIZE[dtype] * numel} expected)"
        )
    return start, end
