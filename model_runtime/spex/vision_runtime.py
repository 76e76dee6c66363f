"""Run the SPEX vision encoder: ONNX Runtime when possible, torch eager otherwise.

Backend choice (``SPEX_VISION_BACKEND=onnx|torch|auto`` overrides, default ``auto``):

1. ONNX Runtime with the cached export (``onnx_export``; made on first use when missing). Providers in
   order TensorRT > CUDA > CPU when the model runs on a GPU, CPU alone otherwise. If the GPU providers are
   not in this onnxruntime build (plain ``onnxruntime`` rather than ``onnxruntime-gpu``) or fail to load,
   the encoder runs on the CPU provider and a warning says so. Session: graph optimisation ALL,
   intra-op threads = physical cores, no spin-waiting on the CPU (see :func:`ort_session`).
2. torch eager (the model's own encoder module) when onnxruntime is not installed, or the export is
   missing and cannot be made (read-only folders, no ``onnx`` package, failed verification).

``onnxruntime`` and ``onnxruntime-gpu`` install the same ``onnxruntime`` module: with both installed, the
one installed last wins and the other's files may be half-overwritten; :func:`ort_info` reports it.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, List, Sequence, Tuple

import numpy as np

from ..errors import SpexError, SpexInputError
from .device import DeviceChoice, physical_cores
from .onnx_export import INPUT_NAME, OUTPUT_NAMES

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU_PROVIDER = "CPUExecutionProvider"
ORT_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino")


@dataclass
class OrtInfo:
    """What onnxruntime looks like in this environment."""

    importable: bool
    version: str | None
    providers: List[str]
    distributions: List[str]  # installed pip distributions providing the ``onnxruntime`` module
    error: str | None = None

    @property
    def conflict(self) -> bool:
        """Several onnxruntime distributions installed at once (they overwrite each other's files)."""
        return len(self.distributions) > 1


def ort_info() -> OrtInfo:
    """Detect onnxruntime (module, version, providers, competing pip distributions)."""
    dists = []
    for name in ORT_DISTRIBUTIONS:
        try:
            dists.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return OrtInfo(False, None, [], dists, f"{type(exc).__name__}: {exc}")
    try:
        providers = list(ort.get_available_providers())
    except Exception as exc:  # a broken mixed install can fail here
        return OrtInfo(True, getattr(ort, "__version__", None), [], dists, f"{type(exc).__name__}: {exc}")
    return OrtInfo(True, ort.__version__, providers, dists)


def select_providers(device: DeviceChoice, available: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(providers in preference order, warnings) for running the encoder next to ``device``."""
    warnings: List[str] = []
    if not device.is_cuda:
        return [CPU_PROVIDER], warnings
    chosen = [p for p in GPU_PROVIDERS if p in available]
    if "CUDAExecutionProvider" not in chosen:
        warnings.append(
            "onnxruntime has no CUDA provider (pip install onnxruntime-gpu instead of onnxruntime): "
            "the vision encoder runs on the CPU"
        )
    return chosen + [CPU_PROVIDER], warnings


def _provider_options(name: str, device: DeviceChoice):
    if name == "CUDAExecutionProvider":
        return {"device_id": device.index}
    if name == "TensorrtExecutionProvider":
        return {"device_id": device.index, "trt_fp16_enable": device.dtype != "float32"}
    return {}


@dataclass
class VisionEncoderRuntime:
    """Callable: float32 pixel values [B, 3, H, W] (numpy) -> (feat_agg, image_embeddings) numpy float32."""

    backend: str  # "onnxruntime" | "torch"
    provider: str  # e.g. "CUDAExecutionProvider", "CPUExecutionProvider", or "torch cuda:0 bfloat16"
    onnx_path: str | None = None
    warnings: List[str] = field(default_factory=list)
    seconds_total: float = 0.0
    calls: int = 0
    _run: Callable | None = field(default=None, repr=False)

    def __call__(self, pixel_values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Encode one batch; times are accumulated in ``seconds_total``."""
        t0 = time.perf_counter()
        out = self._run(np.ascontiguousarray(pixel_values, dtype=np.float32))
        self.seconds_total += time.perf_counter() - t0
        self.calls += 1
        return out

    def describe(self) -> str:
        """e.g. ``ONNX Runtime 1.32.0 (CPUExecutionProvider)`` or ``torch eager (cpu float32)``."""
        if self.backend == "onnxruntime":
            import onnxruntime as ort

            return f"ONNX Runtime {ort.__version__} ({self.provider})"
        return f"torch eager ({self.provider})"


def ort_session(onnx_path: str, providers: Sequence[str], device: DeviceChoice):
    """An ``InferenceSession`` with graph optimisation ALL and intra-op threads = physical cores."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = physical_cores()
    opts.log_severity_level = 3  # errors only: provider load failures are reported by us, once
    if not device.is_cuda:
        # The CPU memory arena stays on: without it ORT also drops its memory-pattern planning and one
        # real-size run peaks at +0.7-1.1 GiB instead of +0.35 GiB (measured VmHWM).
        # No spin-waiting: ORT's idle workers otherwise busy-wait after each run and steal the cores
        # from torch's LLM threads that run next (measured: generate 2x slower right after an ORT run).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    plist = [(p, _provider_options(p, device)) for p in providers]
    with warnings.catch_warnings():
        # "Specified provider ... is not in available provider names": reported by onnx_runtime(), once
        warnings.simplefilter("ignore", UserWarning)
        return ort.InferenceSession(onnx_path, opts, providers=plist)


def onnx_runtime(
    onnx_path: str, device: DeviceChoice, available: Sequence[str] | None = None
) -> VisionEncoderRuntime:
    """An ONNX Runtime encoder; falls back to the CPU provider (with a warning) when GPU providers fail."""
    import onnxruntime as ort

    providers, warnings = select_providers(
        device, available if available is not None else ort.get_available_providers()
    )
    try:
        sess = ort_session(onnx_path, providers, device)
    except Exception as exc:  # a GPU provider whose CUDA/cuDNN libraries do not load
        if providers == [CPU_PROVIDER]:
            raise
        warnings.append(
            f"onnxruntime could not start {providers[0]} ({str(exc).splitlines()[0]}): "
            "the vision encoder runs on the CPU"
        )
        sess = ort_session(onnx_path, [CPU_PROVIDER], device)
    used = sess.get_providers()[0]
    if device.is_cuda and used == CPU_PROVIDER and not warnings:
        warnings.append(
            "onnxruntime fell back to the CPU provider (CUDA libraries not found?): "
            "the vision encoder runs on the CPU"
        )

    run_options = ort.RunOptions()
    if used == CPU_PROVIDER:
        # Give the arena's ~0.35 GiB of encoder activations back after each tile, so they are not
        # resident while the LLM runs (peak = the larger of the two instead of their sum).
        run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(x: np.ndarray):
        feat, emb = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: x}, run_options)
        return feat, emb

    return VisionEncoderRuntime("onnxruntime", used, onnx_path, warnings, _run=run)


def torch_runtime(module, device: DeviceChoice) -> VisionEncoderRuntime:
    """The encoder ``module`` in torch eager mode on its own device/dtype."""
    import torch

    param = next(module.parameters())

    def run(x: np.ndarray):
        with torch.inference_mode():
            feat, emb = module(torch.from_numpy(x).to(param.device, param.dtype))
        return feat.float().cpu().numpy(), emb.float().cpu().numpy()

    dtype = str(param.dtype).replace("torch.", "")
    return VisionEncoderRuntime("torch", f"{param.device} {dtype}", None, [], _run=run)


def backend_preference() -> str:
    """``SPEX_VISION_BACKEND``: ``auto`` (default), ``onnx`` or ``torch``."""
    value = os.environ.get("SPEX_VISION_BACKEND", "auto").strip().lower() or "auto"
    if value not in ("auto", "onnx", "torch"):
        raise SpexInputError(f"SPEX_VISION_BACKEND={value!r} is not understood: use auto, onnx or torch")
    return value


#: What ``auto`` picks on the CPU. Measured on the 2-core build machine (bench ``encoders``: same process,
#: alternating runs, median of 3; docs/spex_runtime.md): ONNX Runtime's CPU provider 3.2-4.1 s vs torch
#: eager 3.8-4.7 s per tile (ORT 1.15-1.18x faster). The torch encoder is then not loaded at all, so
#: either way one fp32 copy of the encoder is resident.
CPU_AUTO_BACKEND = "onnx"


def auto_backend(device: DeviceChoice) -> str:
    """``onnx`` or ``torch`` for ``SPEX_VISION_BACKEND=auto`` on ``device`` (ONNX Runtime on CUDA)."""
    return "onnx" if device.is_cuda else CPU_AUTO_BACKEND


def try_onnx_runtime(
    model_dir: str, device: DeviceChoice, log: Callable[[str], None] | None = None, required: bool = False
) -> Tuple[VisionEncoderRuntime | None, List[str]]:
    """(ONNX Runtime encoder or None, notes saying why not). Makes the export when missing: the fp32
    encoder it needs is loaded from the folder and freed again before this returns.

    ``required``: raise instead of returning None (``SPEX_VISION_BACKEND=onnx``).
    """
    from .onnx_export import export_vision_encoder

    log = log or (lambda msg: None)
    info = ort_info()
    if not info.importable:
        if required:
            raise SpexInputError(
                "SPEX_VISION_BACKEND=onnx but onnxruntime is not installed: pip install onnxruntime"
            )
        return None, [
            "onnxruntime is not installed (pip install onnxruntime): the vision encoder runs in torch"
        ]
    try:
        result = export_vision_encoder(model_dir, device="cpu", log=log)
        if not result.reused:
            log(result.summary())
        return onnx_runtime(result.path, device, info.providers), []
    except (SpexError, OSError, ImportError, RuntimeError) as exc:
        if required:
            raise
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, [f"no ONNX vision encoder ({why}): it runs in torch"]


def load_vision_runtime(
    model_dir: str,
    device: DeviceChoice,
    torch_module_factory: Callable[[], object] | None = None,
    prefer: str | None = None,
    log: Callable[[str], None] | None = None,
) -> VisionEncoderRuntime:
    """The best available encoder runtime for ``model_dir`` (see module docstring).

    ``torch_module_factory()`` returns the torch encoder (e.g. the loaded ``SpexModel``'s); it is used for
    the torch backend and the eager fallback only (an export loads its own fp32 copy from the folder).
    """
    prefer = prefer or backend_preference()
    if prefer == "auto":
        prefer = auto_backend(device)
    notes: List[str] = []
    if prefer == "onnx":
        rt, notes = try_onnx_runtime(model_dir, device, log, required=backend_preference() == "onnx")
        if rt is not None:
            return rt
    if torch_module_factory is None:
        raise SpexInputError(
            "no vision encoder backend is available: pip install onnxruntime, or install torch"
        )
    rt = torch_runtime(torch_module_factory(), device)
    rt.warnings[:0] = notes
    return rt


def _fp32_copy_if_needed(module):
    """Export needs fp32 weights: a fp16/bf16 module (the GPU path) is copied to fp32 on the CPU."""
    import copy

    import torch

    param = next(module.parameters())
    if param.dtype == torch.float32 and param.device.type == "cpu":
        return module
    return copy.deepcopy(module).to(device="cpu", dtype=torch.float32)
