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

import ctypes
import importlib.metadata as metadata
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, List, Sequence, Tuple

import numpy as np

from ...errors import DependencyMissingError, SpexEnvironmentError, SpexError
from ...requirements import pip_install
from ..loading.device import DeviceChoice, physical_cores
from .onnx_export import INPUT_NAME, OUTPUT_NAMES, export_vision_encoder

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
#: the encoder's defaults on a CUDA provider (measured on an H100, docs/spex_runtime.md); env overrides in
#: :func:`gpu_onnx_settings`. fp16 is opt-in: DCNv3's sampling positions are computed in fp16 there (0.03 px
#: steps on the 128 px grid), which moves the outputs by about 1e-2 (relative norm) on random weights.
GPU_ONNX_PRECISION = "fp32"
#: Off: ONNX Runtime refuses to capture this export (its shape arithmetic runs on the CPU provider); asking
#: anyway (SPEX_ONNX_CUDA_GRAPH=1) falls back to the plain CUDA provider with a warning.
GPU_CUDA_GRAPH = False
FP16_BLOCKED_OPS = ("GridSample",)  # DCNv3 sampling positions need fp32 (sub-pixel offsets on a 128 grid)
ENCODER_STRIDE = 16  # 512 x 512 pixels -> 32 x 32 features (both outputs)
FP16_REL_TOLERANCE = 1e-2  # ||fp16 - fp32|| / ||fp32|| per output (fp16 rounding: ~1e-3)
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


def tensorrt_libraries_present() -> bool:
    """True when TensorRT's runtime library loads. onnxruntime-gpu lists its TensorRT provider whether or not
    TensorRT is installed, and a session asked for it without the library logs a screenful of errors."""
    names = ("nvinfer_10.dll", "nvinfer.dll") if os.name == "nt" else ("libnvinfer.so.10", "libnvinfer.so")
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def select_providers(device: DeviceChoice, available: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(providers in preference order, warnings) for running the encoder next to ``device``."""
    warnings: List[str] = []
    if not device.is_cuda:
        return [CPU_PROVIDER], warnings
    chosen = [p for p in GPU_PROVIDERS if p in available]
    if "TensorrtExecutionProvider" in chosen and not tensorrt_libraries_present():
        chosen.remove("TensorrtExecutionProvider")
    if "CUDAExecutionProvider" not in chosen:
        warnings.append(
            "onnxruntime has no CUDA provider (pip install onnxruntime-gpu instead of onnxruntime): "
            "the vision encoder runs on the CPU"
        )
    return chosen + [CPU_PROVIDER], warnings


def _provider_options(name: str, device: DeviceChoice, onnx_path: str, cuda_graph: bool = False):
    if name == "CUDAExecutionProvider":
        opts = {"device_id": device.index}
        if cuda_graph:
            opts["enable_cuda_graph"] = "1"
        return opts
    if name == "TensorrtExecutionProvider":
        # TensorRT builds an engine per model on first use (minutes): keep it beside the export
        return {
            "device_id": device.index,
            "trt_fp16_enable": device.dtype != "float32",
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": os.path.join(os.path.dirname(onnx_path), "trt"),
        }
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


def ort_session(onnx_path: str, providers: Sequence[str], device: DeviceChoice, cuda_graph: bool = False):
    """An ``InferenceSession`` with graph optimisation ALL and intra-op threads = physical cores
    (``cuda_graph``: the CUDA provider captures the whole run once and replays it, see :func:`_bound_run`)."""
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
    plist = [(p, _provider_options(p, device, onnx_path, cuda_graph)) for p in providers]
    with warnings.catch_warnings():
        # "Specified provider ... is not in available provider names": reported by onnx_runtime(), once
        warnings.simplefilter("ignore", UserWarning)
        return ort.InferenceSession(onnx_path, opts, providers=plist)


def gpu_onnx_settings() -> Tuple[str, bool]:
    """(precision "fp16" | "fp32", CUDA graph on/off) of the encoder on a CUDA provider.

    ``SPEX_ONNX_GPU_PRECISION`` (auto | fp16 | fp32) and ``SPEX_ONNX_CUDA_GRAPH`` (auto | 1 | 0) override
    :data:`GPU_ONNX_PRECISION` and :data:`GPU_CUDA_GRAPH`.
    """
    prec = (os.environ.get("SPEX_ONNX_GPU_PRECISION") or "auto").strip().lower()
    if prec not in ("auto", "fp16", "fp32"):
        raise SpexEnvironmentError(
            f"SPEX_ONNX_GPU_PRECISION={prec!r} is not understood: use auto, fp16 or fp32"
        )
    graph = (os.environ.get("SPEX_ONNX_CUDA_GRAPH") or "auto").strip().lower()
    if graph not in ("auto", "1", "0"):
        raise SpexEnvironmentError(f"SPEX_ONNX_CUDA_GRAPH={graph!r} is not understood: use auto, 1 or 0")
    return (
        GPU_ONNX_PRECISION if prec == "auto" else prec,
        GPU_CUDA_GRAPH if graph == "auto" else graph == "1",
    )


def onnx_runtime(
    onnx_path: str,
    device: DeviceChoice,
    available: Sequence[str] | None = None,
    precision: str | None = None,
    cuda_graph: bool | None = None,
) -> VisionEncoderRuntime:
    """An ONNX Runtime encoder; falls back to the CPU provider (with a warning) when GPU providers fail.

    On a CUDA provider: ``precision`` "fp16" runs the fp16 copy of the export (:func:`ensure_fp16_export`,
    checked against fp32 when made), inputs and outputs are bound to device buffers, and ``cuda_graph``
    replays one captured run per tile (defaults: :func:`gpu_onnx_settings`). Each step that cannot be had
    falls back to the simpler one with a warning.
    """
    import onnxruntime as ort

    providers, warnings = select_providers(
        device, available if available is not None else ort.get_available_providers()
    )
    gpu = providers[0] in GPU_PROVIDERS
    if gpu and hasattr(ort, "preload_dlls"):
        try:  # CUDA/cuDNN from the nvidia-* pip packages that torch also uses (onnxruntime-gpu >= 1.21)
            ort.preload_dlls()
        except Exception:  # noqa: BLE001 - the session start below reports what is really missing
            pass
    want_prec, want_graph = gpu_onnx_settings() if gpu else ("fp32", False)
    precision = precision or want_prec
    cuda_graph = want_graph if cuda_graph is None else cuda_graph
    path = onnx_path
    if gpu and precision == "fp16":
        try:
            path = ensure_fp16_export(onnx_path, providers, device)
        except (SpexError, OSError, ImportError, RuntimeError, ValueError) as exc:
            warnings.append(f"no fp16 ONNX encoder ({str(exc).splitlines()[0]}): running the fp32 one")
            precision = "fp32"
    if not gpu:
        precision, cuda_graph = "fp32", False
    sess, chain, cuda_graph = _start_session(path, onnx_path, providers, device, gpu and cuda_graph, warnings)
    used = sess.get_providers()[0]
    if used == CPU_PROVIDER:
        path, precision, cuda_graph = onnx_path, "fp32", False
    if device.is_cuda and used == CPU_PROVIDER and not warnings:
        warnings.append(
            "onnxruntime fell back to the CPU provider (CUDA libraries not found?): "
            "the vision encoder runs on the CPU"
        )

    if used == "CUDAExecutionProvider":
        run = _bound_run(sess, device, cuda_graph)
        try:
            run(np.zeros((1, 3, 512, 512), np.float32))  # first run: cuDNN choice, graph capture
        except Exception as exc:
            if not cuda_graph:
                raise
            warnings.append(f"ONNX Runtime CUDA graph unavailable ({str(exc).splitlines()[0]}): not used")
            cuda_graph = False
            sess = ort_session(path, chain, device)
            run = _bound_run(sess, device, False)
        label = f"{used}, {precision}" + (", CUDA graph" if cuda_graph else "")
        return VisionEncoderRuntime("onnxruntime", label, path, warnings, _run=run)

    run_options = ort.RunOptions()
    if used == CPU_PROVIDER:
        # Give the arena's ~0.35 GiB of encoder activations back after each tile, so they are not
        # resident while the LLM runs (peak = the larger of the two instead of their sum).
        run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(x: np.ndarray):
        feat, emb = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: x}, run_options)
        return feat, emb

    return VisionEncoderRuntime("onnxruntime", used, path, warnings, _run=run)


def _start_session(path: str, fp32_path: str, providers: List[str], device: DeviceChoice, cuda_graph: bool,
                   warnings: List[str]):  # fmt: skip
    """The first provider chain that starts (TensorRT > CUDA > CPU, dropping the first that fails; the CPU
    provider always gets ``fp32_path``), saying why in ``warnings``: (session, chain, cuda_graph kept)."""
    for start in range(len(providers)):
        chain = providers[start:]
        model_path = path if chain[0] != CPU_PROVIDER else fp32_path
        try:
            return ort_session(model_path, chain, device, cuda_graph=cuda_graph), chain, cuda_graph
        except Exception as exc:  # a GPU provider whose libraries (TensorRT, CUDA, cuDNN) do not load
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if cuda_graph and "graph capture" in why:
                # some nodes (shape arithmetic) run on the CPU provider, so no whole-run capture
                warnings.append(f"ONNX Runtime CUDA graph unavailable ({why}): running without it")
                cuda_graph = False
                try:
                    return ort_session(model_path, chain, device), chain, cuda_graph
                except Exception as exc2:  # noqa: BLE001 - reported like the first failure
                    why = str(exc2).splitlines()[0] if str(exc2) else type(exc2).__name__
            if chain == [CPU_PROVIDER]:
                raise
            nxt = chain[1]
            warnings.append(
                f"onnxruntime could not start {chain[0]} ({why}): "
                + ("the vision encoder runs on the CPU" if nxt == CPU_PROVIDER else f"trying {nxt}")
            )
    raise RuntimeError("internal error: no ONNX Runtime provider to try")


def _bound_run(sess, device: DeviceChoice, cuda_graph: bool) -> Callable:
    """Run with inputs and outputs bound to preallocated GPU buffers (``IOBinding``): one host-to-device
    copy in, two device-to-host copies out, no per-run allocation. A CUDA-graph session needs exactly this
    (fixed buffer addresses), so with ``cuda_graph`` the batch size is fixed by the first call."""
    import onnxruntime as ort

    binding = sess.io_binding()
    state: dict = {}

    def run(x: np.ndarray):
        if state.get("shape") != x.shape:
            if cuda_graph and "shape" in state:
                raise SpexEnvironmentError(
                    f"this CUDA-graph ONNX encoder was captured for {state['shape']}, got {x.shape}: "
                    "set SPEX_ONNX_CUDA_GRAPH=0"
                )
            state["input"] = ort.OrtValue.ortvalue_from_numpy(x, "cuda", device.index)
            # Output shapes from the encoder's geometry (batch, channels, H / 16, W / 16): the export's
            # spatial dims are symbolic after GridSample, and a plain run to learn them would be the one a
            # CUDA-graph session captures, with buffers that are gone afterwards.
            shapes = {
                o.name: [d if isinstance(d, int) else size for d, size in zip(o.shape, _feature_shape(x))]
                for o in sess.get_outputs()
            }
            state["outputs"] = [
                ort.OrtValue.ortvalue_from_shape_and_type(shapes[name], np.float32, "cuda", device.index)
                for name in OUTPUT_NAMES
            ]
            binding.clear_binding_inputs()
            binding.clear_binding_outputs()
            binding.bind_ortvalue_input(INPUT_NAME, state["input"])
            for name, value in zip(OUTPUT_NAMES, state["outputs"]):
                binding.bind_ortvalue_output(name, value)
            state["shape"] = x.shape
        else:
            state["input"].update_inplace(x)
        sess.run_with_iobinding(binding)
        return tuple(v.numpy() for v in state["outputs"])

    return run


def _feature_shape(x: np.ndarray) -> Tuple[int, int, int, int]:
    """(batch, channels placeholder, H / 16, W / 16): the encoder's outputs for pixel values ``x``."""
    return (x.shape[0], 0, x.shape[2] // ENCODER_STRIDE, x.shape[3] // ENCODER_STRIDE)


def ensure_fp16_export(onnx_path: str, providers: Sequence[str], device: DeviceChoice) -> str:
    """The fp16 copy of an fp32 export (``<name>.fp16.onnx`` beside it), made once on first GPU use.

    Conversion: ONNX Runtime's ``float16`` tool, inputs/outputs kept float32, ``GridSample`` (DCNv3's
    sampling) and ORT's default list kept in fp32. Check when made: fp16 vs fp32 on ``providers`` on one
    seeded random input, ``||fp16 - fp32|| / ||fp32||`` at most :data:`FP16_REL_TOLERANCE` per output,
    else the copy is deleted and :class:`SpexError` raised (the caller then runs the fp32 export).
    """
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    base, ext = os.path.splitext(onnx_path)
    out = f"{base}.fp16{ext}"
    if os.path.isfile(out):
        return out
    model = onnx.load(onnx_path)
    half = convert_float_to_float16(
        model, keep_io_types=True, op_block_list=list(DEFAULT_OP_BLOCK_LIST) + list(FP16_BLOCKED_OPS)
    )
    fd, tmp = tempfile.mkstemp(prefix=".fp16-", suffix=".onnx", dir=os.path.dirname(out))
    os.close(fd)
    try:
        onnx.save_model(half, tmp)
        x = np.random.default_rng(0).standard_normal((1, 3, 512, 512)).astype(np.float32)
        ref = ort_session(onnx_path, providers, device).run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        got = ort_session(tmp, providers, device).run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        for name, a, b in zip(OUTPUT_NAMES, got, ref):
            rel = float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-12))
            if not rel <= FP16_REL_TOLERANCE:
                raise SpexError(f"fp16 {name} differs from fp32 by {rel:.1e} (> {FP16_REL_TOLERANCE:.0e})")
        shutil.copymode(onnx_path, tmp)  # mkstemp's 0600 would hide it from other users of a shared model
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return out


def torch_runtime(module, device: DeviceChoice, notes: Sequence[str] = ()) -> VisionEncoderRuntime:
    """The encoder ``module`` in torch eager mode on its own device/dtype; ``notes`` (why not ONNX, from
    :func:`select_vision_runtime`) become its first warnings."""
    import torch

    param = next(module.parameters())

    def run(x: np.ndarray):
        with torch.inference_mode():
            feat, emb = module(torch.from_numpy(x).to(param.device, param.dtype))
        return feat.float().cpu().numpy(), emb.float().cpu().numpy()

    dtype = str(param.dtype).replace("torch.", "")
    return VisionEncoderRuntime("torch", f"{param.device} {dtype}", None, list(notes), _run=run)


def backend_preference() -> str:
    """``SPEX_VISION_BACKEND``: ``auto`` (default), ``onnx`` or ``torch``."""
    value = os.environ.get("SPEX_VISION_BACKEND", "auto").strip().lower() or "auto"
    if value not in ("auto", "onnx", "torch"):
        raise SpexEnvironmentError(
            f"SPEX_VISION_BACKEND={value!r} is not understood: use auto, onnx or torch"
        )
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
    log = log or (lambda msg: None)
    info = ort_info()
    if not info.importable:
        if required:
            raise DependencyMissingError(
                f"SPEX_VISION_BACKEND=onnx but onnxruntime is not installed: {pip_install(['onnxruntime'])}"
            )
        return None, [
            f"onnxruntime is not installed ({pip_install(['onnxruntime'])}): the vision encoder runs in torch"
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


def select_vision_runtime(
    model_dir: str, device: DeviceChoice, log: Callable[[str], None] | None = None, onnx_allowed: bool = True
) -> Tuple[VisionEncoderRuntime | None, List[str]]:
    """The vision-encoder backend for ``model_dir`` on ``device``: (the ONNX Runtime encoder, []) when
    ``SPEX_VISION_BACKEND`` (``auto``: :func:`auto_backend`) picks ONNX and it can be made, else
    (None, notes saying why): the torch encoder serves (:func:`torch_runtime`), so load the model with it.

    Called before the LLM is loaded, so that an ONNX-served model never materialises its torch encoder.
    ``onnx_allowed=False`` (a LoRA folder: its encoder lives in ``non_lora_trainables.bin``) means torch.
    """
    preference = backend_preference()
    prefer = auto_backend(device) if preference == "auto" else preference
    if prefer != "onnx" or not onnx_allowed:
        return None, []
    return try_onnx_runtime(model_dir, device, log, required=preference == "onnx")
