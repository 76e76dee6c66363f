"""Memory and precision modes: no-mmap loading, the torch encoder left out under ONNX, int8 LLM linears."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_runtime.errors import ModelLoadError, SpexInputError  # noqa: E402
from model_runtime.spex import SpexModel  # noqa: E402
from model_runtime.spex.loading.device import resolve_precision  # noqa: E402

PROMPT = "<image>\nBased on the provided image, extract the water bodies."


@pytest.fixture(scope="module")
def features(tiny_model):
    """Vision features of one seeded random tile from the fp32 tiny model."""
    g = torch.Generator().manual_seed(3)
    return tiny_model.encode_image(torch.randn(1, 3, 512, 512, generator=g))


@pytest.fixture(scope="module")
def int8_model(tiny_checkpoint):
    return SpexModel.from_pretrained(tiny_checkpoint, device="cpu", quantization="int8")


def _shard_mappings(model_dir: str) -> list[str]:
    with open("/proc/self/maps", encoding="ascii", errors="replace") as fh:
        return [line for line in fh if model_dir in line and ".safetensors" in line]


def test_loading_keeps_no_shard_memory_mapped(tiny_checkpoint):
    model = SpexModel.from_pretrained(tiny_checkpoint, device="cpu")
    assert not _shard_mappings(tiny_checkpoint)
    assert not any(p.is_meta for p in model.parameters())


def test_truncated_shard_is_a_clear_error(tiny_checkpoint, tmp_path):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(tiny_checkpoint, copy)
    with open(copy / "model.safetensors.index.json", encoding="utf-8") as fh:
        shard = sorted(set(json.load(fh)["weight_map"].values()))[-1]
    path = copy / shard
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelLoadError, match="beyond the end of the file.*re-download"):
        SpexModel.from_pretrained(str(copy), device="cpu")


def test_vision_encoder_not_materialised_and_loaded_on_demand(tiny_checkpoint, tiny_model, features):
    lean = SpexModel.from_pretrained(tiny_checkpoint, device="cpu", load_vision_encoder=False)
    assert lean.vision_encoder is None
    assert not any(p.is_meta for p in lean.parameters())
    enc_params = sum(p.numel() for p in tiny_model.vision_encoder.parameters())
    assert (
        sum(p.numel() for p in lean.parameters())
        == sum(p.numel() for p in tiny_model.parameters()) - enc_params
    )
    a = tiny_model.generate(prompt=PROMPT, max_new_tokens=4, vision_features=features)
    b = lean.generate(prompt=PROMPT, max_new_tokens=4, vision_features=features)
    assert torch.equal(a.sequences, b.sequences) and np.array_equal(a.mask_logits, b.mask_logits)
    # pixel input still works: the encoder is read from the folder when first needed
    px = torch.randn(1, 3, 512, 512, generator=torch.Generator().manual_seed(3))
    feat, _ = lean.encode_image(px)
    assert lean.vision_encoder is not None and torch.allclose(feat, features[0])
    lean.release_vision_encoder()
    assert lean.vision_encoder is None


def test_engine_with_onnx_runtime_never_loads_the_torch_encoder(tiny_checkpoint, monkeypatch):
    from model_runtime.engines import spex_engine

    spex_engine.clear_cache()
    monkeypatch.setenv("SPEX_VISION_BACKEND", "onnx")
    loaded = spex_engine.load_model(tiny_checkpoint, "cpu")
    assert loaded.vision.backend == "onnxruntime"
    assert loaded.model.vision_encoder is None
    spex_engine.clear_cache()
    monkeypatch.setenv("SPEX_VISION_BACKEND", "torch")
    loaded = spex_engine.load_model(tiny_checkpoint, "cpu")
    assert loaded.vision.backend == "torch" and loaded.model.vision_encoder is not None
    spex_engine.clear_cache()


def test_int8_replaces_decoder_linears_only(int8_model, tiny_model):
    from torch.ao.nn.quantized.dynamic import Linear as QLinear

    assert int8_model.precision == "int8" and tiny_model.precision == "fp32"
    layers = int8_model.model.layers
    assert not any(type(m) is torch.nn.Linear for m in layers.modules())
    assert sum(isinstance(m, QLinear) for m in layers.modules()) == 7 * len(layers)
    # embeddings (= tied lm_head), projector, SAM side: untouched float32
    assert int8_model.model.embed_tokens.weight.dtype == torch.float32
    assert type(int8_model.model.mm_projector[0]) is torch.nn.Linear
    assert torch.equal(int8_model.model.embed_tokens.weight, tiny_model.model.embed_tokens.weight)


def test_int8_stays_close_to_fp32(int8_model, tiny_model, features):
    ref = tiny_model.generate(prompt=PROMPT, max_new_tokens=6, vision_features=features)
    got = int8_model.generate(prompt=PROMPT, max_new_tokens=6, vision_features=features)
    assert got.mask.shape == (512, 512) and got.sequences.shape[-1] >= 2
    assert got.info["decode_steps"] == got.sequences.shape[-1] - 1 and got.info["prefill_seconds"] > 0
    if torch.equal(got.sequences, ref.sequences):
        rel = float((got.hidden_states - ref.hidden_states).norm() / ref.hidden_states.norm())
        assert 0 < rel < 0.15  # int8 is approximate, not a copy of fp32, and not far off
        inter = np.logical_and(got.mask, ref.mask).sum()
        union = np.logical_or(got.mask, ref.mask).sum()
        assert union == 0 or inter / union > 0.8
    else:  # a flipped greedy pick must at least agree on the first token (largest logit margin here)
        assert got.sequences[0, 0] == ref.sequences[0, 0]


def test_int8_refuses_non_fp32_model(tiny_checkpoint):
    with pytest.raises(SpexInputError, match="int8 runs on the CPU with a float32 model"):
        SpexModel.from_pretrained(tiny_checkpoint, device="cpu", dtype="bfloat16", quantization="int8")


@pytest.mark.parametrize(
    "precision, dtype, quant",
    [
        ("auto", "float32", None),
        ("fp32", "float32", None),
        ("bf16", "bfloat16", None),
        ("INT8", "float32", "int8"),
    ],
)
def test_resolve_precision_on_cpu(precision, dtype, quant):
    d = resolve_precision("cpu", precision)
    assert (d.dtype, d.quantization) == (dtype, quant)
    assert d.precision == (quant or {"float32": "fp32", "bfloat16": "bf16"}[dtype])


@pytest.mark.parametrize(
    "precision, match", [("fp16", "float16 is not supported on the CPU"), ("int4", "auto, fp32")]
)
def test_resolve_precision_errors(precision, match):
    with pytest.raises(SpexInputError, match=match):
        resolve_precision("cpu", precision)


def test_cli_extract_int8(s2_sample, tiny_checkpoint, tmp_path, capsys):
    from model_runtime.cli import main

    out = str(tmp_path / "w.gpkg")
    argv = [
        "extract",
        s2_sample,
        "-p",
        "extract the water bodies",
        "--engine",
        "spex",
        "--model",
        tiny_checkpoint,
    ]
    argv += ["--device", "cpu", "--precision", "int8", "--max-new-tokens", "4", "-o", out, "--json"]
    argv += ["--aoi", _small_aoi(s2_sample)]
    assert main(argv) == 0
    det = json.loads(capsys.readouterr().out)["details"]
    assert det["precision"] == "int8" and det["dtype"] == "float32"
    assert main(argv[:-2] + ["--precision", "fp16", "--overwrite"]) == 2  # fp16 on the CPU: input error
    # refused by the request builder, as in the panel and Processing, before the model loads
    assert "fp16 needs a GPU" in capsys.readouterr().err


def _small_aoi(path: str) -> str:
    """A bbox of ~300 x 300 pixels in the middle of the raster (one tile)."""
    from osgeo import gdal

    ds = gdal.Open(path)
    gt = ds.GetGeoTransform()
    cx, cy = ds.RasterXSize // 2, ds.RasterYSize // 2
    x0, x1 = gt[0] + (cx - 150) * gt[1], gt[0] + (cx + 150) * gt[1]
    y0, y1 = gt[3] + (cy + 150) * gt[5], gt[3] + (cy - 150) * gt[5]
    return f"{x0},{y0},{x1},{y1}"


def test_cpu_onnx_session_does_not_spin_and_shrinks_its_arena(tiny_checkpoint):
    pytest.importorskip("onnxruntime")
    from model_runtime.spex.loading.device import resolve_device
    from model_runtime.spex.runtime.onnx_export import export_vision_encoder
    from model_runtime.spex.runtime.vision_runtime import CPU_PROVIDER, onnx_runtime, ort_session

    path = export_vision_encoder(tiny_checkpoint, verify=False).path
    opts = ort_session(path, [CPU_PROVIDER], resolve_device("cpu")).get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    rt = onnx_runtime(path, resolve_device("cpu"))
    feat, emb = rt(np.zeros((1, 3, 512, 512), np.float32))  # runs with arena shrinkage
    assert feat.shape[0] == emb.shape[0] == 1 and rt.calls == 1
