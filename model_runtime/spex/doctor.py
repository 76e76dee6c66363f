"""``spex doctor``: can the SPEX engine run here? One line per check, exit 0 if usable, 2 otherwise.

Checks: Python, GDAL, torch (+ CUDA build, GPUs with memory), transformers, onnxruntime (version,
providers, ``onnxruntime`` vs ``onnxruntime-gpu`` conflict), onnx (needed to export), and with ``--model``:
the checkpoint folder (config.json, safetensors headers and the expected tensor groups, tokenizer files;
read from headers only, no weights loaded) and the ONNX export cache (present / stale / missing).
A ``warn`` line does not make the engine unusable (e.g. no onnxruntime: the encoder runs in torch).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import sys
from dataclasses import dataclass
from typing import Callable, List

OK, WARN, FAIL = "ok", "warn", "FAIL"

# tensor groups every SPEX checkpoint has (prefix -> what it is)
REQUIRED_GROUPS = {
    "model.vision_tower.vision_tower.vision_model.": "vision encoder",
    "model.vision_tower.mask_decoder.": "SAM mask decoder",
    "model.vision_tower.sampromptencoder.": "SAM prompt encoder",
    "model.vision_tower.lan_neck.": "token condensation neck",
    "model.mm_projector.": "projector",
    "model.embed_tokens.": "LLM embeddings",
    "model.layers.": "LLM layers",
}


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
        checks.append(Check(FAIL, "torch", 'not installed: pip install "torch==2.13.0"'))
    tf = _version("transformers")
    try:
        import transformers  # noqa: F401

        checks.append(Check(OK, "transformers", tf or "?"))
    except ImportError:
        checks.append(Check(FAIL, "transformers", 'not installed: pip install "transformers>=4.46,<5"'))
    checks.extend(check_onnxruntime())
    if _version("onnx"):
        checks.append(Check(OK, "onnx", _version("onnx")))
    else:
        checks.append(
            Check(WARN, "onnx", 'not installed (needed to export the encoder): pip install "onnx>=1.16"')
        )
    return checks


def check_onnxruntime() -> List[Check]:
    """onnxruntime version, providers and the onnxruntime / onnxruntime-gpu conflict."""
    from .vision_runtime import ort_info

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
                "(pip install onnxruntime, or onnxruntime-gpu on a CUDA machine)",
            )
        )
    elif info.error:
        checks.append(Check(WARN, "onnxruntime", f"broken install ({info.error}): reinstall onnxruntime"))
    else:
        checks.append(Check(OK, "onnxruntime", f"{info.version}, providers: {', '.join(info.providers)}"))
        if "TensorrtExecutionProvider" in info.providers:
            from .vision_runtime import tensorrt_libraries_present

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


def check_model(model_dir: str) -> List[Check]:
    """Checkpoint folder validity from file headers, and the ONNX cache state."""
    from ..errors import SpexError
    from .config import SpexConfig
    from .onnx_export import onnx_cache_state, weight_files
    from .safetensors_header import read_safetensors_header

    checks: List[Check] = []
    if not os.path.isdir(model_dir):
        return [Check(FAIL, "model", f"{model_dir} is not a folder: point --model at the SPEX model folder")]
    try:
        cfg = SpexConfig.from_json_file(os.path.join(model_dir, "config.json"))
        checks.append(
            Check(
                OK,
                "model config",
                f"llava_qwen, {cfg.text['num_hidden_layers']} LLM layers, hidden {cfg.hidden_size}",
            )
        )
    except SpexError as exc:
        checks.append(Check(FAIL, "model config", str(exc)))
    try:
        keys = {}
        for path in weight_files(model_dir):
            header, _ = read_safetensors_header(path)
            keys.update({k: v for k, v in header.items()})
        missing = [
            what for prefix, what in REQUIRED_GROUPS.items() if not any(k.startswith(prefix) for k in keys)
        ]
        n_el = sum(_numel(v["shape"]) for v in keys.values())
        if missing:
            checks.append(
                Check(
                    FAIL,
                    "model weights",
                    f"{len(keys)} tensors but no {', '.join(missing)}: "
                    "the folder is not a complete SPEX checkpoint, re-download it",
                )
            )
        else:
            dtypes = sorted({v["dtype"] for v in keys.values()})
            checks.append(
                Check(
                    OK,
                    "model weights",
                    f"{len(keys)} tensors, {n_el / 1e9:.3f} B parameters ({'/'.join(dtypes)})",
                )
            )
    except SpexError as exc:
        checks.append(Check(FAIL, "model weights", str(exc)))
        keys = None
    has_slow = all(os.path.isfile(os.path.join(model_dir, f)) for f in ("vocab.json", "merges.txt"))
    has_fast = os.path.isfile(os.path.join(model_dir, "tokenizer.json"))
    if has_slow or has_fast:
        checks.append(Check(OK, "tokenizer", "tokenizer.json" if has_fast else "vocab.json + merges.txt"))
    else:
        checks.append(
            Check(
                FAIL,
                "tokenizer",
                f"no tokenizer.json nor vocab.json + merges.txt in {model_dir}: "
                "copy the tokenizer files shipped with the model",
            )
        )
    if keys and all(c.level != FAIL for c in checks):
        checks.append(check_shapes(model_dir, {k: tuple(v["shape"]) for k, v in keys.items()}))
    if keys:
        try:
            state = onnx_cache_state(model_dir)
            level = OK if state.status == "present" else WARN
            checks.append(Check(level, "onnx cache", state.describe()))
        except SpexError as exc:
            checks.append(Check(WARN, "onnx cache", str(exc)))
    return checks


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def check_shapes(model_dir: str, found: dict) -> Check:
    """Every tensor the architecture of config.json needs, with its shape (model built on the meta device)."""
    from ..errors import SpexError

    try:
        from .checkpoint import _expected_tensors, build_empty_model, check_keys
        from .config import SpexConfig

        config = SpexConfig.from_json_file(os.path.join(model_dir, "config.json"))
        check_keys(_expected_tensors(build_empty_model(config)), found, where=f"checkpoint {model_dir}")
    except ImportError as exc:
        return Check(WARN, "model shapes", f"not checked ({exc.name} missing)")
    except SpexError as exc:
        return Check(FAIL, "model shapes", str(exc))
    return Check(OK, "model shapes", "every tensor matches the architecture of config.json")


def run_doctor(model_dir: str | None = None, out: Callable[[str], None] = print) -> int:
    """Print every check; 0 if the SPEX engine is usable, 2 otherwise."""
    checks = check_environment()
    if model_dir:
        checks.extend(check_model(model_dir))
    for c in checks:
        out(c.line())
    bad = [c for c in checks if c.level == FAIL]
    out("SPEX engine: usable" if not bad else f"SPEX engine: NOT usable ({len(bad)} problem(s) above)")
    return 0 if not bad else 2
