"""ONNX export of the vision encoder: parity with torch, cache reuse/invalidation, providers, fallbacks."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from model_runtime.errors import SpexEnvironmentError, SpexInputError  # noqa: E402
from model_runtime.spex.loading.device import DeviceChoice, physical_cores, resolve_device  # noqa: E402
from model_runtime.spex.runtime import vision_runtime  # noqa: E402
from model_runtime.spex.runtime.onnx_export import (  # noqa: E402
    REL_TOLERANCE,
    VISION_PREFIX,
    export_vision_encoder,
    onnx_cache_state,
    vision_weights_hash,
    weight_files,
)

CPU = DeviceChoice("cpu", "float32", "CPU", "cpu")
FAKE_GPU = DeviceChoice("cuda:0", "float16", "fake GPU", "cuda")


def _encoder(model_dir):
    from model_runtime.spex.loading.checkpoint import load_vision_encoder

    return load_vision_encoder(model_dir, dtype=torch.float32, device="cpu")


def _edit_tensor(model_dir, want_vision: bool):
    """Add 0.5 to the first tensor (vision encoder or not) in place, keeping the file's metadata."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    for path in weight_files(model_dir):
        with safe_open(path, "pt") as fh:
            meta = fh.metadata()
            keys = list(fh.keys())
            target = next((k for k in keys if k.startswith(VISION_PREFIX) == want_vision), None)
            if target is None:
                continue
            tensors = {k: fh.get_tensor(k) for k in keys}
        tensors[target] = tensors[target] + 0.5
        save_file(tensors, path, metadata=meta)
        return target
    raise AssertionError("no tensor to edit")


def test_export_parity_reuse_and_batch(model_copy, capsys):
    res = export_vision_encoder(model_copy)
    print(res.summary())
    assert not res.reused
    assert os.path.dirname(res.path) == os.path.join(model_copy, "onnx")
    assert os.path.basename(res.path) == f"vision_encoder-{res.weights_hash}.onnx"
    for name in ("feat_agg", "image_embeddings"):
        print(f"{name}: max abs diff {res.max_abs_diff[name]:.3e}, relative {res.rel_diff[name]:.3e}")
        assert res.rel_diff[name] < REL_TOLERANCE
    mtime = os.path.getmtime(res.path)
    again = export_vision_encoder(model_copy)
    assert again.reused and again.path == res.path and os.path.getmtime(res.path) == mtime
    assert onnx_cache_state(model_copy).status == "present"
    assert not [f for f in os.listdir(os.path.dirname(res.path)) if f.startswith(".")]  # no temp leftovers

    # the runtime on a batch of two real-looking tiles matches torch eager
    rt = vision_runtime.onnx_runtime(res.path, CPU)
    assert rt.backend == "onnxruntime" and rt.provider == "CPUExecutionProvider" and not rt.warnings
    x = np.random.default_rng(5).standard_normal((2, 3, 512, 512)).astype(np.float32)
    feat, emb = rt(x)
    with torch.inference_mode():
        ref_feat, ref_emb = _encoder(model_copy)(torch.from_numpy(x))
    for got, ref in ((feat, ref_feat.numpy()), (emb, ref_emb.numpy())):
        assert got.shape == ref.shape and got.shape[0] == 2
        assert np.abs(got - ref).max() <= REL_TOLERANCE * np.abs(ref).max()


def test_hash_tracks_vision_weights_only_and_stale_export_replaced(model_copy):
    first = export_vision_encoder(model_copy, verify=False)
    h0 = vision_weights_hash(model_copy)
    _edit_tensor(model_copy, want_vision=False)
    assert vision_weights_hash(model_copy) == h0  # LLM weights do not touch the encoder export
    _edit_tensor(model_copy, want_vision=True)
    h1 = vision_weights_hash(model_copy)
    assert h1 != h0
    state = onnx_cache_state(model_copy)
    assert state.status == "stale" and state.stale_paths == [first.path]
    second = export_vision_encoder(model_copy)
    assert not second.reused and second.weights_hash == h1
    assert second.rel_diff["feat_agg"] < REL_TOLERANCE
    assert not os.path.exists(first.path)  # the stale export was removed
    assert onnx_cache_state(model_copy).status == "present"


def test_unwritable_model_folder_uses_user_cache(model_copy, tmp_path):
    # a plain file named "onnx" makes the model's onnx/ folder impossible to create (even for root)
    with open(os.path.join(model_copy, "onnx"), "w") as fh:
        fh.write("not a folder")
    res = export_vision_encoder(model_copy, verify=False)
    assert res.path.startswith(str(tmp_path / "cache" / "onnx"))
    assert onnx_cache_state(model_copy).path == res.path


def test_provider_order_and_warnings(monkeypatch):
    monkeypatch.setattr(vision_runtime, "tensorrt_libraries_present", lambda: True)
    assert vision_runtime.select_providers(CPU, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == (
        ["CPUExecutionProvider"],
        [],
    )
    provs, warns = vision_runtime.select_providers(
        FAKE_GPU, ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    )
    assert (
        provs == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"] and not warns
    )
    provs, warns = vision_runtime.select_providers(FAKE_GPU, ["CPUExecutionProvider"])
    assert provs == ["CPUExecutionProvider"] and "onnxruntime-gpu" in warns[0]
    # onnxruntime-gpu lists TensorRT even without its libraries: then it is not asked for
    monkeypatch.setattr(vision_runtime, "tensorrt_libraries_present", lambda: False)
    provs, warns = vision_runtime.select_providers(
        FAKE_GPU, ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    )
    assert provs == ["CUDAExecutionProvider", "CPUExecutionProvider"] and not warns


def test_gpu_request_falls_back_to_cpu_provider(model_copy):
    res = export_vision_encoder(model_copy, verify=False)
    # claim CUDA is available although this onnxruntime cannot start it: runs on the CPU, and says so
    rt = vision_runtime.onnx_runtime(res.path, FAKE_GPU, ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert rt.provider == "CPUExecutionProvider"
    assert rt.warnings and "CPU" in rt.warnings[0]
    feat, emb = rt(np.zeros((1, 3, 512, 512), np.float32))
    assert np.isfinite(feat).all() and np.isfinite(emb).all()


def test_torch_fallback_without_onnxruntime(model_copy, monkeypatch):
    enc = _encoder(model_copy)
    monkeypatch.setattr(
        vision_runtime, "ort_info", lambda: vision_runtime.OrtInfo(False, None, [], [], "ImportError")
    )
    onnx, notes = vision_runtime.select_vision_runtime(model_copy, CPU)
    assert onnx is None
    rt = vision_runtime.torch_runtime(enc, CPU, notes)
    assert rt.backend == "torch" and "onnxruntime is not installed" in rt.warnings[0]
    assert rt.describe().startswith("torch eager")
    assert not os.path.exists(os.path.join(model_copy, "onnx"))
    x = np.random.default_rng(0).standard_normal((1, 3, 512, 512)).astype(np.float32)
    feat, _ = rt(x)
    assert feat.shape[0] == 1


def test_backend_env_and_auto_export(model_copy, monkeypatch):
    enc = _encoder(model_copy)
    monkeypatch.setenv("SPEX_VISION_BACKEND", "torch")
    assert vision_runtime.select_vision_runtime(model_copy, CPU) == (None, [])  # torch serves
    monkeypatch.setenv("SPEX_VISION_BACKEND", "bogus")
    with pytest.raises(SpexEnvironmentError, match="SPEX_VISION_BACKEND"):
        vision_runtime.select_vision_runtime(model_copy, CPU)
    monkeypatch.setenv("SPEX_VISION_BACKEND", "auto")
    assert vision_runtime.select_vision_runtime(model_copy, CPU, onnx_allowed=False) == (None, [])  # LoRA
    assert not os.path.exists(os.path.join(model_copy, "onnx"))
    rt, notes = vision_runtime.select_vision_runtime(model_copy, CPU)  # exports on first use
    assert notes == [] and vision_runtime.torch_runtime(enc, CPU).backend == "torch"
    assert rt.backend == "onnxruntime" and onnx_cache_state(model_copy).status == "present"


def test_ort_info_reports_distributions():
    info = vision_runtime.ort_info()
    assert info.importable and info.version == ort.__version__
    assert "CPUExecutionProvider" in info.providers
    assert any(d.startswith("onnxruntime") for d in info.distributions) and not info.conflict


def test_device_resolution():
    cpu = resolve_device("cpu")
    assert (cpu.device, cpu.dtype) == ("cpu", "float32") and physical_cores() >= 1
    assert resolve_device("CPU", "bf16").dtype == "bfloat16"
    for bad in ("tpu", "cuda:x", "cpu:1", ""):
        if bad == "":
            assert resolve_device(bad).device in ("cpu", "cuda:0")  # empty means auto
            continue
        with pytest.raises(SpexInputError):
            resolve_device(bad)
    with pytest.raises(SpexInputError, match="float16"):
        resolve_device("cpu", "fp16")
    if not torch.cuda.is_available():
        assert resolve_device("auto").device == "cpu"
        with pytest.raises(SpexEnvironmentError, match="--device cpu"):
            resolve_device("cuda")
        with pytest.raises(SpexEnvironmentError, match="--device cpu"):
            resolve_device("cuda:1")
    else:
        gpu = resolve_device("auto")
        assert gpu.is_cuda and gpu.dtype in ("bfloat16", "float16")
        with pytest.raises(SpexEnvironmentError, match="does not exist"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_cli_export_onnx(model_copy, capsys):
    from model_runtime.cli import main

    assert main(["export-onnx", "--model", model_copy]) == 0
    out = capsys.readouterr().out
    assert "verify feat_agg" in out and "verify image_embeddings" in out
    assert main(["export-onnx", "--model", model_copy]) == 0
    assert "reused" in capsys.readouterr().out
    assert main(["export-onnx", "--model", model_copy, "--opset", "13"]) == 2
    assert main(["export-onnx", "--model", os.path.join(model_copy, "nope")]) == 2


def test_failed_export_leaves_no_empty_onnx_folder(model_copy):
    with pytest.raises(SpexInputError, match="opset"):
        export_vision_encoder(model_copy, opset=12, verify=False)
    assert not os.path.exists(os.path.join(model_copy, "onnx"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders: untestable as root")
def test_read_only_model_folder_exports_to_the_user_cache(model_copy, tmp_path):
    os.chmod(model_copy, 0o555)
    try:
        res = export_vision_encoder(model_copy, verify=False)
    finally:
        os.chmod(model_copy, 0o755)
    assert res.path.startswith(str(tmp_path / "cache" / "onnx")) and res.weights_hash in res.path
    assert not os.path.exists(os.path.join(model_copy, "onnx"))


def test_loaded_model_says_which_runtime_runs(model_copy, monkeypatch):
    from model_runtime.engines import spex_engine

    monkeypatch.setenv("SPEX_VISION_BACKEND", "onnx")
    spex_engine.clear_cache()
    try:
        loaded = spex_engine.load_model(model_copy, "cpu")
        info = loaded.runtime()
        assert info["vision"] == "onnxruntime-cpu" and info["vision_provider"] == "CPUExecutionProvider"
        assert info["llm_device"] == "cpu" and info["precision"] == "fp32"
        assert info["label"] == "vision onnxruntime-cpu, LLM cpu fp32"
        assert spex_engine.current_runtime() == info
        monkeypatch.setenv("SPEX_VISION_BACKEND", "torch")
        spex_engine.clear_cache()
        assert spex_engine.current_runtime() is None
        assert spex_engine.load_model(model_copy, "cpu").runtime()["vision"] == "torch-cpu"
    finally:
        spex_engine.clear_cache()
