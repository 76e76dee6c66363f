"""GPU-side paths: the fp16 ONNX copy (CPU-checkable parts), and, on a CUDA machine, the ONNX Runtime
CUDA variants and accelerate offload. The CUDA tests run where a GPU is (``pytest tests/spex -k gpu``)."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from model_runtime.errors import SpexEnvironmentError, SpexError  # noqa: E402
from model_runtime.spex.loading.device import DeviceChoice, resolve_device  # noqa: E402
from model_runtime.spex.modeling.preprocess import normalize_image  # noqa: E402
from model_runtime.spex.runtime import vision_runtime  # noqa: E402
from model_runtime.spex.runtime.onnx_export import export_vision_encoder  # noqa: E402

CPU = DeviceChoice("cpu", "float32", "CPU", "cpu")
ORT_CUDA = torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers()


def _rel(got, want) -> float:
    """max over outputs of ||got - want|| / ||want||"""
    return max(float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-12)) for a, b in zip(got, want))


def _pixels(seed: int) -> np.ndarray:
    rgb = np.random.default_rng(seed).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    return normalize_image(rgb).numpy()


def test_fp16_copy_is_made_once_checked_and_beside_the_export(model_copy, monkeypatch):
    # fp16 DCNv3 sampling positions move the tiny random model's outputs by about 1e-2: loosen the check
    # here to test the mechanics (the GPU tests below keep the real tolerance)
    monkeypatch.setattr(vision_runtime, "FP16_REL_TOLERANCE", 5e-2)
    res = export_vision_encoder(model_copy)
    path = vision_runtime.ensure_fp16_export(res.path, ["CPUExecutionProvider"], CPU)
    assert path == res.path[: -len(".onnx")] + ".fp16.onnx" and os.path.isfile(path)
    assert os.stat(path).st_mode & 0o777 == os.stat(res.path).st_mode & 0o777
    stamp = os.stat(path).st_mtime_ns
    assert vision_runtime.ensure_fp16_export(res.path, ["CPUExecutionProvider"], CPU) == path
    assert os.stat(path).st_mtime_ns == stamp  # reused
    import onnx

    types = {t.data_type for t in onnx.load(path).graph.initializer}
    assert onnx.TensorProto.FLOAT16 in types  # really converted
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = _pixels(1)
    half = sess.run(None, {"pixel_values": x})
    full = ort.InferenceSession(res.path, providers=["CPUExecutionProvider"]).run(None, {"pixel_values": x})
    assert _rel(half, full) < vision_runtime.FP16_REL_TOLERANCE


def test_fp16_copy_failing_its_check_leaves_nothing(model_copy, monkeypatch):
    res = export_vision_encoder(model_copy)
    monkeypatch.setattr(vision_runtime, "FP16_REL_TOLERANCE", 1e-9)
    with pytest.raises(SpexError, match="fp16"):
        vision_runtime.ensure_fp16_export(res.path, ["CPUExecutionProvider"], CPU)
    assert sorted(f for f in os.listdir(os.path.dirname(res.path)) if "fp16" in f or f.startswith(".")) == []


def test_cpu_provider_ignores_gpu_settings(model_copy, monkeypatch):
    monkeypatch.setenv("SPEX_ONNX_GPU_PRECISION", "fp16")
    monkeypatch.setenv("SPEX_ONNX_CUDA_GRAPH", "1")
    res = export_vision_encoder(model_copy)
    rt = vision_runtime.onnx_runtime(res.path, CPU)
    assert rt.provider == "CPUExecutionProvider" and rt.onnx_path == res.path


@pytest.mark.parametrize("name,value", [("SPEX_ONNX_GPU_PRECISION", "int4"), ("SPEX_ONNX_CUDA_GRAPH", "yes")])
def test_gpu_setting_errors(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SpexEnvironmentError, match=name):
        vision_runtime.gpu_onnx_settings()


def test_gpu_memory_cap_is_validated(monkeypatch):
    from model_runtime.spex.loading.placement import gpu_memory_budget

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    monkeypatch.setenv("SPEX_GPU_MEMORY_GIB", "lots")
    with pytest.raises(SpexEnvironmentError, match="SPEX_GPU_MEMORY_GIB"):
        gpu_memory_budget(torch.device("cuda:0"))
    monkeypatch.setenv("SPEX_GPU_MEMORY_GIB", "0.5")
    assert gpu_memory_budget(torch.device("cuda:0")) <= 2**29


@pytest.mark.skipif(not ORT_CUDA, reason="needs onnxruntime-gpu and a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("graph", [False, True])
def test_gpu_onnx_variants_match_torch(model_copy, precision, graph):
    from model_runtime.spex.loading.checkpoint import load_vision_encoder

    device = resolve_device("cuda", "float32")
    res = export_vision_encoder(model_copy)
    rt = vision_runtime.onnx_runtime(res.path, device, precision=precision, cuda_graph=graph)
    assert rt.provider.startswith("CUDAExecutionProvider")
    said = [w for w in rt.warnings if "TensorrtExecutionProvider" not in w]  # TensorRT libraries absent
    if graph and ", CUDA graph" not in rt.provider:  # capture refused: said, and the plain provider runs
        refused = [w for w in said if "CUDA graph unavailable" in w]
        assert len(refused) == 1, rt.warnings
        said.remove(refused[0])
    assert (", CUDA graph" in rt.provider) == (graph and not any("graph" in w for w in rt.warnings))
    if precision == "fp16" and "fp32" in rt.provider:  # the fp16 copy failed its check: said, and fp32 runs
        assert len(said) == 1 and "no fp16 ONNX encoder" in said[0], rt.warnings
        precision, said = "fp32", []
    assert precision in rt.provider and (precision == "fp32") == (rt.onnx_path == res.path)
    assert not said, rt.warnings
    ref = vision_runtime.torch_runtime(load_vision_encoder(model_copy, device="cuda"), device)
    tol = 2e-3 if precision == "fp32" else vision_runtime.FP16_REL_TOLERANCE  # fp32: TF32 convolutions
    for seed in (1, 2, 1):  # new inputs into the same bound buffers / captured graph
        x = _pixels(seed)
        assert _rel(rt(x), ref(x)) < tol


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_offload_when_memory_is_short(tiny_checkpoint, monkeypatch):
    from model_runtime.spex import SpexModel

    x = torch.from_numpy(_pixels(4))
    prompt = "<image>\\nPlease segment the water bodies."
    full = SpexModel.from_pretrained(tiny_checkpoint, device="cuda", dtype=torch.float32)
    want = full.generate(x, prompt, max_new_tokens=6)
    assert not getattr(full, "hf_device_map", None)
    del full
    monkeypatch.setenv("SPEX_GPU_MEMORY_GIB", "0.002")  # 2 MiB: most decoder layers go to the CPU
    part = SpexModel.from_pretrained(tiny_checkpoint, device="cuda", dtype=torch.float32)
    placed = set(part.hf_device_map.values())
    assert "cpu" in placed and any(v != "cpu" for v in placed), part.hf_device_map
    got = part.generate(x, prompt, max_new_tokens=6)
    assert got.info["decode_backend"] == "eager"  # no CUDA graph over offloaded layers
    assert got.sequences.tolist() == want.sequences.tolist()
    np.testing.assert_allclose(got.mask_logits, want.mask_logits, atol=1e-3)
