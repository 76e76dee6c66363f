"""Reading a safetensors header without torch (shared by the loader, the ONNX hash and ``spex doctor``).

Only the JSON header is parsed; every entry is checked against the file size so that a truncated download is
reported as such instead of surfacing later as garbage weights.
"""

from __future__ import annotations

import json
import os

from ..errors import ModelLoadError

#: dtype names of the safetensors format that the loader can map to torch dtypes.
SAFETENSORS_DTYPES = ("F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL")


def read_safetensors_header(path: str) -> tuple[dict[str, dict], int]:
    """(tensor entries ``{key: {dtype, shape, data_offsets}}``, byte offset of the data section).

    Checked against the file size, so a truncated download is reported here rather than as garbage weights.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                raise ValueError("file shorter than its header")
            n = int.from_bytes(head, "little")
            if n <= 0 or n > min(100_000_000, size - 8):
                raise ValueError("bad header length")
            header = json.loads(fh.read(n))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
        header.pop("__metadata__", None)
        for key, entry in header.items():
            start, end = entry["data_offsets"]
            if entry["dtype"] not in SAFETENSORS_DTYPES:
                raise ValueError(f"tensor {key} has unsupported dtype {entry['dtype']}")
            if not 0 <= start <= end <= size - 8 - n:
                raise ValueError(f"tensor {key} lies beyond the end of the file")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f"cannot read {path} ({exc}): the file is corrupt or incomplete, re-download it"
        ) from None
    return header, 8 + n
