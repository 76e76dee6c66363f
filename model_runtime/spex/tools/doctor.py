"""``spex doctor``: can the SPEX engine run here? One line per check, exit 0 if usable, 2 otherwise.

Checks: Python, GDAL, torch (+ CUDA build, GPUs with memory), transformers, onnxruntime (version,
providers, ``onnxruntime`` vs ``onnxruntime-gpu`` conflict), onnx (needed to export), and with ``--model``:
the checkpoint folder with the loader's own checks (config.json and its memory need, tokenizer, shard paths,
safetensors headers, every tensor's shape, NaN/Inf in every tensor) and the ONNX export cache
(present / stale / missing / corrupt).
A ``warn`` line does not make the engine unusable (e.g. no onnxruntime: the encoder runs in torch).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import sys
from dataclasses import dataclass
from typing import Callable, List

from ...errors import SpexError
from ...requirements import pip_install
from ..loading.integrity import check_onnx_file
from ..runtime import fidelity
from ..runtime.onnx_export import onnx_cache_state
from ..runtime.vision_runtime import ort_info, tensorrt_libraries_present

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Check:
    """One doctor line."""

    level: str  # ok | warn | FAIL
    name: str
    message: str

    def line(self) -> str:
        """``[ok]   torch: 2.13.0+cpu`` style."""
        return f"[{self.level}]{' ' * (5 - len(self.level))}{self.name}: {self.message}"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check_environment() -> List[Check]:
    """Python, GDAL, torch/CUDA, transformers, onnxruntime, onnx."""
    checks = [Check(OK, "python", f"{platform.python_version()} ({sys.executable})")]
    try:
        from osgeo import gdal

        checks.append(Check(OK, "gdal", gdal.__version__))
    except ImportError as exc:
        checks.append(
            Check(FAIL, "gdal", f"GDAL Python bindings not importable ({exc}): install python3-gdal")
        )
    try:
        import torch

        checks.append(Check(OK, "torch", torch.__version__))
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                checks.append(
                    Check(
                        OK,
                        f"cuda:{i}",
                        f"{p.name}, {p.total_memory / 2**30:.1f} GiB, "
                        f"compute {p.major}.{p.minor}, CUDA {torch.version.cuda}",
                    )
                )
        elif torch.version.cuda:
            checks.append(
                Check(
                    WARN,
                    "cuda",
                    f"torch built for CUDA {torch.version.cuda} but no GPU is visible: "
                    "the model runs on the CPU",
                )
            )
        else:
            checks.append(
                Check(
                    OK,
                    "cuda",
                    "CPU-only torch build: the model runs on the CPU "
                    "(install a CUDA build of torch to use a GPU)",
                )
            )
    except ImportError:
        checks.append(Check(FAIL, "torch", f"not installed: {pip_install(['torch'])}"))
    tf = _version("transformers")
    try:
        import transformers  # noqa: F401

        checks.append(Check(OK, "transformers", tf or "?"))
    except ImportError:
        checks.append(Check(FAIL, "transformers", f"not installed: {pip_install(['transformers'])}"))
    checks.extend(check_fidelity())
    checks.extend(check_onnxruntime())
    if _version("onnx"):
        checks.append(Check(OK, "onnx", _version("onnx")))
    else:
        checks.append(
            Check(WARN, "onnx", f"not installed (needed to export the encoder): {pip_install(['onnx'])}")
        )
    return checks


def check_fidelity() -> List[Check]:
    """Versions vs the ones the official parity check passed on, and the library pieces it depends on."""
    checks = []
    for ok, dist, message in fidelity.version_checks():
        if ok:
            checks.append(Check(OK, f"parity {dist}", message))
        else:
            checks.append(
                Check(
                    WARN,
                    f"parity {dist}",
                    f"{message}: outputs may differ from the released model; "
                    f"{pip_install([dist])} or run bench/official_parity.py",
                )
            )
    for name, probe in (
        ("parity SAM decoder", fidelity.decoder_softmax_ok),
        ("parity SAM prompt", fidelity.positional_embedding_ok),
    ):
        try:
            ok, message = probe()
        except ImportError as exc:
            checks.append(Check(WARN, name, f"not checked ({exc.name} missing)"))
            continue
        checks.append(Check(OK if ok else FAIL, name, message if ok else f"{message}: report this bug"))
    return checks


def check_onnxruntime() -> List[Check]:
    """onnxruntime version, providers and the onnxruntime / onnxruntime-gpu conflict."""
    info = ort_info()
    checks = []
    if info.conflict:
        checks.append(
            Check(
                WARN,
                "onnxruntime",
                f"several builds installed ({', '.join(info.distributions)}): "
                "they overwrite each other; pip uninstall all of them, then install exactly one",
            )
        )
    if not info.importable:
        checks.append(
            Check(
                WARN,
                "onnxruntime",
                "not installed: the vision encoder runs in torch eager "
                f"({pip_install(['onnxruntime'])}, or onnxruntime-gpu on a CUDA machine)",
            )
        )
    elif info.error:
        checks.append(Check(WARN, "onnxruntime", f"broken install ({info.error}): reinstall onnxruntime"))
    else:
        checks.append(Check(OK, "onnxruntime", f"{info.version}, providers: {', '.join(info.providers)}"))
        if "TensorrtExecutionProvider" in info.providers:
            if tensorrt_libraries_present():
                checks.append(
                    Check(OK, "TensorRT", "libnvinfer loads: the encoder uses the TensorRT provider")
                )
            else:
                checks.append(
                    Check(OK, "TensorRT", "libraries not installed: the encoder uses the CUDA provider")
                )
        try:
            import torch

            if torch.cuda.is_available() and "CUDAExecutionProvider" not in info.providers:
                checks.append(
                    Check(
                        WARN,
                        "onnxruntime",
                        "a GPU is present but this onnxruntime has no CUDA "
                        "provider: pip uninstall onnxruntime && pip install onnxruntime-gpu",
                    )
                )
        except ImportError:
            pass
    return checks


def check_model(model_dir: str, base_model_dir: str | None = None) -> List[Check]:
    """The loader's own validation of the folder, step by step (no second copy of the rules), then the ONNX
    cache. Lines: model config (incl. memory), tokenizer, model weights (shard paths, safetensors headers),
    model shapes (every tensor of the architecture), model values (NaN/Inf: reads every tensor), onnx cache.
    """
    if not os.path.isdir(model_dir):
        return [Check(FAIL, "model", f"{model_dir} is not a folder: point --model at the SPEX model folder")]
    try:  # the loader needs torch, an optional dependency: its absence is a doctor line, not a crash
        import torch

        from ..loading import checkpoint, lora, placement, tensors
        from ..modeling.config import SpexConfig
    except ImportError as exc:
        return [Check(WARN, "model", f"not checked ({exc.name} is missing): install the SPEX dependencies")]

    checks: List[Check] = []

    def step(name: str, fn: Callable[[], str]):
        try:
            checks.append(Check(OK, name, fn()))
            return True
        except SpexError as exc:
            checks.append(Check(FAIL, name, str(exc)))
            return False

    state: dict = {}

    def config() -> str:
        cfg = SpexConfig.from_json_file(os.path.join(model_dir, "config.json"))
        state["expected"] = tensors.expected_tensors(checkpoint.build_empty_model(cfg))
        placement.check_model_memory(
            model_dir, state["expected"], torch.device("cpu"), torch.float32, int8=False
        )
        return f"llava_qwen, {cfg.text['num_hidden_layers']} LLM layers, hidden {cfg.hidden_size}"

    def tokenizer() -> str:
        tok = checkpoint.load_tokenizer(model_dir)
        return f"{type(tok).__name__}, {len(tok)} tokens"

    def weights() -> str:
        if lora.is_lora_folder(model_dir):
            state["getter"] = lora.lora_getter(model_dir, base_model_dir, state["expected"], torch.float32)
            return f"LoRA adapter on base {base_model_dir} (base + non-LoRA tensors match the architecture)"
        source = tensors.TensorSource(tensors.safetensors_files(model_dir))
        state["source"], state["getter"] = source, source.get
        n_el = sum(_numel(s) for s in source.shapes.values())
        dtypes = sorted({str(source.get_dtype(k)).replace("torch.", "") for k in source.shapes})
        return f"{len(source.shapes)} tensors, {n_el / 1e9:.3f} B parameters ({'/'.join(dtypes)})"

    def shapes() -> str:
        if "source" in state:
            tensors.check_keys(state["expected"], state["source"].shapes, where=f"checkpoint {model_dir}")
        return "every tensor matches the architecture of config.json"

    def values() -> str:
        for key in state["expected"]:
            state["getter"](key)
        return f"all {len(state['expected'])} tensors read, no NaN/Inf"

    config_ok = step("model config", config)
    step("tokenizer", tokenizer)
    if config_ok and step("model weights", weights) and step("model shapes", shapes):
        step("model values", values)
    if lora.is_lora_folder(model_dir):
        checks.append(Check(OK, "onnx cache", "not used: a LoRA checkpoint's vision encoder runs in torch"))
    else:
        checks.extend(check_onnx_cache(model_dir))
    return checks


def check_onnx_cache(model_dir: str) -> List[Check]:
    """Is the ONNX export present, and does ONNX accept it (as the engine checks before using it)?"""
    try:
        state = onnx_cache_state(model_dir)
    except SpexError as exc:
        return [Check(WARN, "onnx cache", str(exc))]
    if state.status == "present":
        try:
            check_onnx_file(state.path)
        except SpexError as exc:
            return [Check(WARN, "onnx cache", str(exc))]
    return [Check(OK if state.status == "present" else WARN, "onnx cache", state.describe())]


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def run_doctor(
    model_dir: str | None = None, out: Callable[[str], None] = print, base_model_dir: str | None = None
) -> int:
    """Print every check; 0 if the SPEX engine is usable, 2 otherwise."""
    checks = check_environment()
    if model_dir:
        checks.extend(check_model(model_dir, base_model_dir))
    for c in checks:
        out(c.line())
    bad = [c for c in checks if c.level == FAIL]
    out("SPEX engine: usable" if not bad else f"SPEX engine: NOT usable ({len(bad)} problem(s) above)")
    return 0 if not bad else 2
