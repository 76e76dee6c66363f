"""Where the SPEX model runs: ``auto | cpu | cuda | cuda:N`` -> a torch device and a dtype.

Policy: ``auto`` picks the first CUDA GPU when torch sees one, else the CPU. On CUDA the model runs in
bfloat16 where the GPU supports it (Ampere and newer: same range as fp32, no overflow in the 28 Qwen2
layers) and float16 otherwise; on the CPU it runs in float32 (fp16 matmuls are slow or unsupported there,
and bf16 on CPUs without AMX is slower than fp32).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from ...errors import DependencyMissingError, SpexEnvironmentError, SpexInputError
from ...request import PRECISIONS
from ...requirements import pip_install

TORCH_PIP = pip_install(["torch"])
DTYPE_ALIASES = {
    "auto": None,
    "fp32": "float32",
    "float32": "float32",
    "fp16": "float16",
    "half": "float16",
    "float16": "float16",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
}
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|gpu)(?::(\d+))?$")


@dataclass(frozen=True)
class DeviceChoice:
    """A resolved device: ``device`` is a torch device string, ``dtype`` a torch dtype name."""

    device: str  # "cpu" | "cuda:0" ...
    dtype: str  # "float32" | "float16" | "bfloat16"
    name: str  # human readable, e.g. "CPU (2 physical cores)" or "NVIDIA H100 80GB HBM3 (79.1 GiB)"
    requested: str  # what the user asked for, e.g. "auto"
    quantization: str | None = None  # "int8": dynamic int8 LLM linears (CPU, see quantize.py)

    @property
    def precision(self) -> str:
        """``fp32`` | ``fp16`` | ``bf16`` | ``int8`` (what ``--precision`` names)."""
        if self.quantization:
            return self.quantization
        return {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}[self.dtype]

    @property
    def is_cuda(self) -> bool:
        """True for a CUDA device."""
        return self.device.startswith("cuda")

    @property
    def index(self) -> int:
        """The CUDA device index (0 on the CPU)."""
        return int(self.device.split(":")[1]) if ":" in self.device else 0

    @property
    def torch_dtype(self):
        """The ``torch.dtype`` object (imports torch)."""
        import torch

        return getattr(torch, self.dtype)

    def describe(self) -> str:
        """One line for logs and explanation footnotes, e.g. ``cpu float32 (CPU (2 physical cores))``."""
        kind = f"{self.dtype} + int8 LLM linears" if self.quantization else self.dtype
        return f"{self.device} {kind} ({self.name})"


def physical_cores() -> int:
    """Physical CPU cores usable by this process (hyper-threads do not help the matmul-bound encoder)."""
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    physical = None
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        physical = _physical_cores_from_proc()
    if not physical:
        return max(1, logical)
    # A CPU affinity mask (taskset, containers) can grant fewer cores than the machine has.
    return max(1, min(physical, logical))


def _physical_cores_from_proc() -> int | None:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            pairs = set()
            phys = core = None
            for line in fh:
                if line.startswith("physical id"):
                    phys = line.split(":", 1)[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":", 1)[1].strip()
                elif not line.strip() and core is not None:
                    pairs.add((phys, core))
                    phys = core = None
            if core is not None:
                pairs.add((phys, core))
            return len(pairs) or None
    except OSError:
        return None


def import_torch():
    """Import torch or raise :class:`DependencyMissingError` with the pip command."""
    try:
        import torch
    except ImportError as exc:
        raise DependencyMissingError(
            f"the SPEX engine needs PyTorch, which is not installed: run {TORCH_PIP} "
            "(or use --engine spectral)"
        ) from exc
    return torch


def parse_dtype(text: str | None) -> str | None:
    """``"bf16"`` -> ``"bfloat16"``; ``None``/``"auto"`` -> ``None`` (device default)."""
    if text is None:
        return None
    key = str(text).strip().lower()
    if key not in DTYPE_ALIASES:
        raise SpexInputError(f"dtype '{text}' is not understood: use auto, float32, float16 or bfloat16")
    return DTYPE_ALIASES[key]


def resolve_device(spec: str | None = "auto", dtype: str | None = None) -> DeviceChoice:
    """Resolve ``auto | cpu | cuda | cuda:N`` (and an optional dtype override) into a :class:`DeviceChoice`.

    Raises :class:`SpexInputError` for an unknown spelling, CUDA requested without a CUDA build/GPU, an
    out-of-range GPU index or float16 on the CPU.
    """
    requested = (spec or "auto").strip().lower()
    match = _DEVICE_RE.match(requested)
    if not match:
        raise SpexInputError(
            f"device '{spec}' is not understood: use auto, cpu, cuda or cuda:N (e.g. cuda:0)"
        )
    kind, index = match.group(1), match.group(2)
    if kind == "gpu":
        kind = "cuda"
    if kind in ("auto", "cpu") and index is not None:
        raise SpexInputError(f"device '{spec}' takes no index: use auto, cpu, cuda or cuda:N")
    torch = import_torch()
    cuda_ok = bool(torch.cuda.is_available())
    if kind == "cuda" and not cuda_ok:
        why = "this PyTorch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise SpexEnvironmentError(
            f"device '{spec}' was requested but {why}: use --device cpu or install a CUDA build of torch"
        )
    if kind == "auto":
        kind, index = ("cuda", "0") if cuda_ok else ("cpu", None)
    wanted = parse_dtype(dtype)
    if kind == "cpu":
        if wanted == "float16":
            raise SpexInputError(
                "dtype float16 is not supported on the CPU: use float32 (default) or bfloat16"
            )
        return DeviceChoice("cpu", wanted or "float32", f"CPU ({physical_cores()} physical cores)", requested)
    idx = int(index or 0)
    count = torch.cuda.device_count()
    if idx >= count:
        valid = f"cuda:0 to cuda:{count - 1}" if count > 1 else "cuda:0"
        raise SpexEnvironmentError(
            f"device '{spec}' does not exist: this machine has {count} CUDA GPU(s), use {valid}"
        )
    props = torch.cuda.get_device_properties(idx)
    name = f"{props.name} ({props.total_memory / 2**30:.1f} GiB)"
    if wanted is None:
        wanted = "bfloat16" if torch.cuda.is_bf16_supported() and _supports_bf16(torch, idx) else "float16"
    return DeviceChoice(f"cuda:{idx}", wanted, name, requested)


def torch_device(device: Any = "auto"):
    """``auto | cpu | cuda | cuda:N`` or a ``torch.device`` -> the ``torch.device`` :func:`resolve_device`
    picks (the loaders' spelling of a device; same checks and messages)."""
    torch = import_torch()
    if isinstance(device, torch.device):
        device = str(device)
    return torch.device(resolve_device(str(device or "auto")).device)


def resolve_dtype(dtype: Any = None):
    """None -> float32 (as the official demo); a torch dtype or a name (``float16``, ``bf16``...) -> the
    torch dtype; anything else -> SpexInputError."""
    torch = import_torch()
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise SpexInputError(f"unsupported dtype {dtype}: use float32, float16 or bfloat16")
        return dtype
    name = parse_dtype(str(dtype).replace("torch.", ""))
    return getattr(torch, name or "float32")


#: ``--precision auto`` on the CPU. fp32 = the official model's numbers; int8 is opt-in because it changes
#: them (measured deviations and speed in docs/spex_runtime.md).
CPU_DEFAULT_PRECISION = "fp32"


def resolve_precision(spec: str | None = "auto", precision: str | None = "auto") -> DeviceChoice:
    """Device + ``--precision auto|fp32|fp16|bf16|int8`` -> :class:`DeviceChoice`.

    auto: bf16/fp16 on CUDA, :data:`CPU_DEFAULT_PRECISION` on the CPU. int8 is CPU only (float32 model with
    int8 LLM linears); fp16 is GPU only.
    """
    key = str(precision or "auto").strip().lower()
    aliases = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16", "qint8": "int8"}
    key = aliases.get(key, key)
    if key not in PRECISIONS:
        raise SpexInputError(f"precision '{precision}' is not understood: use auto, fp32, fp16, bf16 or int8")
    if key == "auto":
        base = resolve_device(spec)
        if base.is_cuda or CPU_DEFAULT_PRECISION != "int8":
            return base
        key = "int8"
    if key == "int8":
        base = resolve_device(spec, "float32")
        if base.is_cuda:
            raise SpexInputError(
                "precision int8 runs on the CPU only: use --precision auto (bf16/fp16) on a GPU, "
                "or --device cpu --precision int8"
            )
        return DeviceChoice(base.device, base.dtype, base.name, base.requested, quantization="int8")
    return resolve_device(spec, key)


def _supports_bf16(torch, idx: int) -> bool:
    # is_bf16_supported() looks at the current device only; native bf16 matmuls need compute >= 8.0.
    major, _minor = torch.cuda.get_device_capability(idx)
    return major >= 8
