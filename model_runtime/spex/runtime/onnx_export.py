"""Export the SPEX vision encoder (InternImage + aggregator + SAM vision neck) to ONNX, cached by weights.

File: ``<model>/onnx/vision_encoder-<hash>.onnx``, where ``<hash>`` is the first 16 hex digits of a SHA-256
over the exporter version, the opset and, for every checkpoint tensor under
``model.vision_tower.vision_tower.vision_model.`` (sorted by name), its name, dtype, shape and raw bytes,
read straight from the safetensors files (no torch; ~0.44 GB for the released fp16 model, about a second).
Hashing the bytes rather than file dates means a copied or re-downloaded model reuses its export, and any
change to the encoder's weights produces a new name, so a stale export is never used. When the model
folder is read-only the export goes to ``$SPEX_CACHE_DIR`` or ``~/.cache/spex-qgis/onnx/`` (the hash names
the weights, so sharing that folder between models is safe).

Graph: inputs ``pixel_values`` float32 [B, 3, 512, 512] (dynamic batch); outputs ``feat_agg``
[B, 1024, 32, 32] and ``image_embeddings`` [B, 256, 32, 32]; opset 17 by default (>= 16 needed for
``GridSample``, which DCNv3's sampling exports to). The export is written to a temporary file in the target
folder, verified, then renamed into place, so a crash never leaves a half-written ``.onnx`` behind.

Verification: both outputs of ONNX Runtime (CPU) and torch eager (fp32) on one seeded random input.
Pass criterion: ``max|ort - torch| <= 1e-3 * max|torch|`` per output. fp32 reordering across the ~37
InternImage blocks and their LayerNorms gives relative differences around 1e-6..1e-5; a wrong operator
(layout, align_corners, padding mode of GridSample...) gives errors of order 1e-1..1, so 1e-3 separates the
two by two orders of magnitude either way.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from ...errors import DependencyMissingError, ModelLoadError, SpexEnvironmentError, SpexInputError
from ...requirements import pip_install
from ..loading.device import physical_cores
from ..loading.integrity import check_onnx_file, shard_path
from ..loading.safetensors_header import read_safetensors_header

VISION_PREFIX = "model.vision_tower.vision_tower.vision_model."
EXPORTER_VERSION = "spex-vision-onnx-1"  # bump when the exported graph changes for the same weights
DEFAULT_OPSET = 17
MIN_OPSET = 16  # GridSample
INPUT_NAME = "pixel_values"
OUTPUT_NAMES = ("feat_agg", "image_embeddings")
REL_TOLERANCE = 1e-3
FILE_PREFIX = "vision_encoder-"
_EXTERNAL_DATA_LIMIT = 1_900_000_000  # protobuf's 2 GiB cap, with margin


@dataclass
class OnnxCacheState:
    """Where the encoder export is, or should be, for a model folder."""

    status: str  # "present" | "stale" (only exports of other weights exist) | "missing"
    weights_hash: str
    path: str | None  # the usable export ("present"), else None
    expected_paths: List[str]  # where a fresh export would be looked for, in order
    stale_paths: List[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for ``spex doctor``."""
        if self.status == "present":
            return f"ONNX vision encoder present: {self.path}"
        if self.status == "stale":
            return (
                f"ONNX vision encoder stale ({len(self.stale_paths)} export(s) of other weights; "
                f"expected hash {self.weights_hash}): run spex export-onnx"
            )
        return (
            f"ONNX vision encoder missing (hash {self.weights_hash}): "
            "run spex export-onnx (or it is made on first use)"
        )


@dataclass
class ExportResult:
    """What :func:`export_vision_encoder` did."""

    path: str
    weights_hash: str
    reused: bool
    opset: int
    seconds: float = 0.0
    max_abs_diff: Dict[str, float] = field(default_factory=dict)
    rel_diff: Dict[str, float] = field(default_factory=dict)
    size_bytes: int = 0

    def summary(self) -> str:
        """Human-readable lines for the CLI."""
        if self.reused:
            return f"reused {self.path} (weights hash {self.weights_hash})"
        lines = [
            f"exported {self.path} ({self.size_bytes / 2**20:.1f} MiB, opset {self.opset}, "
            f"{self.seconds:.1f} s)"
        ]
        for name in OUTPUT_NAMES:
            if name in self.max_abs_diff:
                lines.append(
                    f"  verify {name}: max |onnx - torch| = {self.max_abs_diff[name]:.3e} "
                    f"({self.rel_diff[name]:.2e} of the output scale, limit {REL_TOLERANCE:.0e})"
                )
        return "\n".join(lines)


# ---------------------------------------------------------------- safetensors headers and the weights hash
def weight_files(model_dir: str) -> List[str]:
    """The checkpoint's safetensors files (index-listed shards, or every ``*.safetensors`` in the folder)."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as fh:
                names = sorted(set(json.load(fh)["weight_map"].values()), key=str)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelLoadError(f"{index} is unreadable ({exc}): re-download the model") from exc
        files = [shard_path(model_dir, n, index) for n in names]
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise ModelLoadError(
                f"model shard {os.path.basename(missing[0])} is missing in {model_dir}: "
                "re-download the complete model folder"
            )
        return files
    files = [
        shard_path(model_dir, os.path.basename(f), model_dir)
        for f in sorted(glob.glob(os.path.join(model_dir, "*.safetensors")))
    ]
    if not files:
        raise ModelLoadError(
            f"no *.safetensors weights in {model_dir}: point --model at the SPEX model folder"
        )
    return files


def _hash_file(h, path: str) -> None:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            h.update(chunk)


def vision_weights_hash(model_dir: str, opset: int = DEFAULT_OPSET) -> str:
    """16-hex-digit SHA-256 of the vision encoder's tensors (see module docstring).

    LoRA folders keep the vision encoder in the pickled ``non_lora_trainables.bin``: its whole file is hashed
    (the pickle is never unpickled here).
    """
    lora = os.path.join(model_dir, "non_lora_trainables.bin")
    if os.path.isfile(os.path.join(model_dir, "adapter_config.json")) and os.path.isfile(lora):
        h = hashlib.sha256(f"{EXPORTER_VERSION}|opset={opset}|lora|".encode())
        _hash_file(h, lora)
        return h.hexdigest()[:16]
    entries = []
    for path in weight_files(model_dir):
        header, data_start = read_safetensors_header(path)
        for key, info in header.items():
            if key.startswith(VISION_PREFIX):
                entries.append((key, path, data_start, info))
    if not entries:
        raise ModelLoadError(
            f"no vision encoder weights ({VISION_PREFIX}*) in {model_dir}: this is not a SPEX checkpoint"
        )
    entries.sort(key=lambda e: e[0])
    h = hashlib.sha256(f"{EXPORTER_VERSION}|opset={opset}|".encode())
    handles: Dict[str, object] = {}
    try:
        for key, path, data_start, info in entries:
            fh = handles.get(path) or open(path, "rb")  # noqa: SIM115 - closed below
            handles[path] = fh
            begin, end = info["data_offsets"]
            h.update(f"{key}|{info['dtype']}|{info['shape']}|".encode())
            fh.seek(data_start + begin)
            remaining = end - begin
            while remaining:
                chunk = fh.read(min(remaining, 1 << 24))
                if not chunk:
                    raise ModelLoadError(f"{path} is truncated: re-download the model")
                h.update(chunk)
                remaining -= len(chunk)
    finally:
        for fh in handles.values():
            fh.close()
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- where exports live
def user_cache_dir() -> str:
    """``$SPEX_CACHE_DIR/onnx`` or ``$XDG_CACHE_HOME/spex-qgis/onnx`` (``~/.cache/spex-qgis/onnx``)."""
    base = os.environ.get("SPEX_CACHE_DIR")
    if base:
        return os.path.join(base, "onnx")
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "spex-qgis", "onnx")


def candidate_dirs(model_dir: str) -> List[str]:
    """Folders searched for an export, in order: the model's ``onnx/`` then the user cache."""
    return [os.path.join(os.path.abspath(model_dir), "onnx"), user_cache_dir()]


def _writable_dir(path: str) -> bool:
    """Can we write in ``path``? A folder made only to probe is removed again when the answer is no."""
    created = not os.path.isdir(path)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
        return True
    except OSError:
        if created:
            _remove_if_empty(path)
        return False


def _remove_if_empty(path: str) -> None:
    try:
        os.rmdir(path)  # only succeeds when empty: never removes an export
    except OSError:
        pass


def onnx_cache_state(
    model_dir: str, opset: int = DEFAULT_OPSET, weights_hash: str | None = None
) -> OnnxCacheState:
    """Is there a usable export for this model's current vision weights? (no torch needed)"""
    wh = weights_hash or vision_weights_hash(model_dir, opset)
    expected = [os.path.join(d, f"{FILE_PREFIX}{wh}.onnx") for d in candidate_dirs(model_dir)]
    for p in expected:
        if os.path.isfile(p):
            return OnnxCacheState("present", wh, p, expected)
    model_onnx = candidate_dirs(model_dir)[0]
    stale = sorted(glob.glob(os.path.join(model_onnx, f"{FILE_PREFIX}*.onnx")))
    return OnnxCacheState("stale" if stale else "missing", wh, None, expected, stale)


# ---------------------------------------------------------------- export
def _import_onnx_stack():
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise DependencyMissingError(
            f"exporting the vision encoder needs {exc.name}: run {pip_install(['onnx', 'torch'])}"
        ) from exc


def export_module(module, out_path: str, opset: int = DEFAULT_OPSET, image_size: int = 512) -> int:
    """Export a vision-encoder ``module`` to ``out_path`` atomically; returns the file size in bytes.

    External-data format (``<name>.onnx.data`` beside it) only when the graph exceeds protobuf's 2 GiB.
    """
    _import_onnx_stack()
    import onnx
    import torch

    if opset < MIN_OPSET:
        raise SpexInputError(f"opset {opset} is too old for GridSample: use --opset {MIN_OPSET} or newer")
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    tmpdir = tempfile.mkdtemp(prefix=".export-", dir=folder)
    try:
        raw = os.path.join(tmpdir, "raw.onnx")
        dummy = torch.zeros(
            1, 3, image_size, image_size, dtype=torch.float32, device=next(module.parameters()).device
        )
        with torch.inference_mode(), warnings.catch_warnings():
            # the tracer flags shape arithmetic as constants: intended, the input side is fixed at 512
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            torch.onnx.export(
                module,
                (dummy,),
                raw,
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_axes={INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in OUTPUT_NAMES}},
                do_constant_folding=True,
            )
        model = onnx.load(raw, load_external_data=True)
        model.producer_name = "spex-qgis"
        model.doc_string = f"SPEX vision encoder ({EXPORTER_VERSION})"
        size = model.ByteSize()
        final_tmp = os.path.join(tmpdir, os.path.basename(out_path))
        data_name = os.path.basename(out_path) + ".data"
        external = size > _EXTERNAL_DATA_LIMIT
        if external:
            onnx.save_model(
                model,
                final_tmp,
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=data_name,
                size_threshold=1024,
            )
            os.replace(os.path.join(tmpdir, data_name), os.path.join(folder, data_name))
        else:
            onnx.save_model(model, final_tmp)
        os.replace(final_tmp, out_path)  # last: the .onnx only appears once complete
        return os.path.getsize(out_path) + (os.path.getsize(out_path + ".data") if external else 0)
    finally:
        for name in os.listdir(tmpdir):
            os.remove(os.path.join(tmpdir, name))
        os.rmdir(tmpdir)


def verify_export(
    module, onnx_path: str, image_size: int = 512, seed: int = 0
) -> Tuple[Dict[str, float], Dict[str, float]]:
    """(max abs diff, diff relative to max |torch|) per output, ONNX Runtime CPU vs torch fp32."""
    import onnxruntime as ort  # optional, like torch: this module's cache checks need neither
    import torch

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 3, image_size, image_size)).astype(np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = physical_cores()
    sess = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
    got = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
    del sess
    dev = next(module.parameters()).device
    with torch.inference_mode():
        ref = module(torch.from_numpy(x).to(dev))
    abs_diff, rel = {}, {}
    for name, a, b in zip(OUTPUT_NAMES, got, ref):
        b = b.float().cpu().numpy()
        if a.shape != b.shape:
            raise ModelLoadError(f"ONNX output {name} has shape {a.shape}, torch {b.shape}: report this bug")
        d = float(np.abs(a - b).max())
        abs_diff[name] = d
        rel[name] = d / max(float(np.abs(b).max()), 1e-12)
    return abs_diff, rel


def _remove_stale(folder: str, keep: str) -> None:
    for p in glob.glob(os.path.join(folder, f"{FILE_PREFIX}*.onnx")):
        if os.path.abspath(p) != os.path.abspath(keep):
            for f in (p, p + ".data"):
                try:
                    os.remove(f)
                except OSError:
                    pass


def export_vision_encoder(
    model_dir: str,
    device: str = "cpu",
    opset: int = DEFAULT_OPSET,
    force: bool = False,
    verify: bool = True,
    log=None,
    module=None,
) -> ExportResult:
    """Make (or reuse) the ONNX export of ``model_dir``'s vision encoder; see the module docstring.

    ``module``: an already-loaded encoder with these weights (skips loading them again).
    Raises :class:`ModelLoadError` if verification fails (the bad file is deleted).
    """
    if not os.path.isdir(model_dir):
        raise ModelLoadError(
            f"model folder {model_dir} does not exist: point --model at the SPEX model folder"
        )
    if os.path.isfile(os.path.join(model_dir, "adapter_config.json")):
        raise SpexInputError(
            f"{model_dir} is a LoRA checkpoint: its vision encoder (in non_lora_trainables.bin) runs in "
            "torch, there is nothing to export; use the merged checkpoint folder to get an ONNX encoder"
        )
    log = log or (lambda msg: None)
    state = onnx_cache_state(model_dir, opset)
    if state.status == "present" and not force:
        try:
            check_onnx_file(state.path)
            return ExportResult(state.path, state.weights_hash, True, opset)
        except ModelLoadError as exc:  # a corrupt cached file is rebuilt, never used
            log(f"{exc}; rebuilding it")
            for f in (state.path, state.path + ".data"):
                if os.path.exists(f):
                    os.remove(f)
    target_dir = next((d for d in candidate_dirs(model_dir) if _writable_dir(d)), None)
    if target_dir is None:
        raise SpexEnvironmentError(
            f"cannot write the ONNX export to {candidate_dirs(model_dir)[0]} nor "
            f"{user_cache_dir()}: set SPEX_CACHE_DIR to a writable folder"
        )
    out = os.path.join(target_dir, f"{FILE_PREFIX}{state.weights_hash}.onnx")
    try:
        return _export_into(model_dir, out, state, device, opset, verify, log, module, target_dir)
    finally:
        _remove_if_empty(target_dir)  # a failed export never leaves an empty onnx/ in the model folder


def _export_into(model_dir, out, state, device, opset, verify, log, module, target_dir) -> ExportResult:
    """Export, verify (deleting a bad file) and clean stale exports; see :func:`export_vision_encoder`."""
    t0 = time.perf_counter()
    if module is None:
        _import_onnx_stack()
        # Imported here: the loader imports torch, and this module's cache checks (doctor, the engine's
        # status line) must work without it.
        from ..loading.checkpoint import load_vision_encoder

        log(f"loading the vision encoder from {model_dir} ...")
        module = load_vision_encoder(model_dir, device=device)
    module = module.float().eval()
    log(f"exporting to {out} (opset {opset}) ...")
    size = export_module(module, out, opset)
    result = ExportResult(out, state.weights_hash, False, opset, size_bytes=size)
    if verify:
        try:
            result.max_abs_diff, result.rel_diff = verify_export(module, out)
        except ImportError:
            log("onnxruntime is not installed: export not verified")
        bad = {k: v for k, v in result.rel_diff.items() if not v <= REL_TOLERANCE}
        if bad:
            for f in (out, out + ".data"):
                if os.path.exists(f):
                    os.remove(f)
            name, rel = next(iter(bad.items()))
            raise ModelLoadError(
                f"the ONNX export of the vision encoder disagrees with torch ({name}: relative "
                f"difference {rel:.2e} > {REL_TOLERANCE:.0e}): set SPEX_VISION_BACKEND=torch and "
                "report this bug"
            )
    _remove_stale(target_dir, out)
    result.seconds = time.perf_counter() - t0
    return result
