"""Model parts against independent references: DCNv3 sampling, norms, condensation, SAM decoding, ONNX."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_runtime.spex.modeling.aggregator import FeatureAggregator, LayerNorm2d  # noqa: E402
from model_runtime.spex.modeling.condensation import TokenCondensation  # noqa: E402
from model_runtime.spex.modeling.config import InternImageConfig, SamDecoderConfig  # noqa: E402
from model_runtime.spex.modeling.dcnv3 import DCNv3, dcnv3_sample  # noqa: E402
from model_runtime.spex.modeling.sam import (  # noqa: E402
    build_sam,
    decode_mask_logits,
    image_positional_embeddings,
    upsample_mask,
)
from model_runtime.spex.modeling.vision_tower import SpexVisionEncoder  # noqa: E402


def _bilinear_zero(img: np.ndarray, y: float, x: float) -> np.ndarray:
    """img [H, W, C] sampled at pixel coordinates (y, x), pixel centres at integers, zeros outside."""
    h, w, c = img.shape
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    out = np.zeros(c)
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                out += wy * wx * img[yy, xx]
    return out


def _dcnv3_reference(value, offset, mask, k, stride, pad, dil, group, offset_scale):
    """Loop version of the official semantics: zero-pad, reference points at padded pixel centres,
    kernel points x-major and scaled by offset_scale, offsets in pixels * offset_scale."""
    n, h, w, c = value.shape
    gc = c // group
    padded = np.pad(value, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    h_out = (h + 2 * pad - (dil * (k - 1) + 1)) // stride + 1
    w_out = (w + 2 * pad - (dil * (k - 1) + 1)) // stride + 1
    centre = (dil * (k - 1)) // 2
    out = np.zeros((n, h_out, w_out, c))
    for b in range(n):
        for ho in range(h_out):
            for wo in range(w_out):
                for g in range(group):
                    acc = np.zeros(gc)
                    for i in range(k):  # kernel column (x)
                        for j in range(k):  # kernel row (y)
                            p = i * k + j
                            ox = offset[b, ho, wo, (g * k * k + p) * 2]
                            oy = offset[b, ho, wo, (g * k * k + p) * 2 + 1]
                            # padded pixel-centre coords, -0.5 -> pixel indices (align_corners=False)
                            px = (
                                centre
                                + 0.5
                                + wo * stride
                                + (i * dil - centre) * offset_scale
                                + ox * offset_scale
                            )
                            py = (
                                centre
                                + 0.5
                                + ho * stride
                                + (j * dil - centre) * offset_scale
                                + oy * offset_scale
                            )
                            s = _bilinear_zero(padded[b, :, :, g * gc : (g + 1) * gc], py - 0.5, px - 0.5)
                            acc += mask[b, ho, wo, g * k * k + p] * s
                    out[b, ho, wo, g * gc : (g + 1) * gc] = acc
    return out


@pytest.mark.parametrize("offset_scale", [1.0, 2.0])
def test_dcnv3_matches_loop_reference_with_random_offsets(offset_scale):
    rng = np.random.default_rng(1)
    n, h, w, group, gc, k = 1, 5, 6, 2, 3, 3
    value = rng.standard_normal((n, h, w, group * gc))
    offset = rng.standard_normal((n, h, w, group * k * k * 2)) * 1.5
    logits = rng.standard_normal((n, h, w, group, k * k))
    mask = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).reshape(n, h, w, -1)
    ref = _dcnv3_reference(value, offset, mask, k, 1, 1, 1, group, offset_scale)
    got = dcnv3_sample(
        *(torch.tensor(a, dtype=torch.float64) for a in (value, offset, mask)),
        k,
        k,
        1,
        1,
        1,
        1,
        1,
        1,
        group,
        gc,
        offset_scale,
    ).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-10)


@pytest.mark.parametrize("offset_scale,spread", [(1.0, 1), (2.0, 2)])
def test_dcnv3_zero_offsets_uniform_mask_is_a_box_filter(offset_scale, spread):
    # zero offsets + uniform mask: the mean of the 3x3 neighbourhood at distance `spread`, zeros outside
    rng = np.random.default_rng(2)
    h, w, c = 7, 8, 4
    x = rng.standard_normal((1, h, w, c)).astype(np.float32)
    padded = np.pad(x[0], ((spread, spread), (spread, spread), (0, 0)))
    expect = np.zeros((h, w, c), np.float32)
    for dy in (-spread, 0, spread):
        for dx in (-spread, 0, spread):
            expect += padded[spread + dy : spread + dy + h, spread + dx : spread + dx + w] / 9.0
    offset = torch.zeros(1, h, w, 2 * 9 * 2)
    mask = torch.full((1, h, w, 2 * 9), 1.0 / 9.0)
    got = dcnv3_sample(torch.tensor(x), offset, mask, group=2, offset_scale=offset_scale)[0].numpy()
    np.testing.assert_allclose(got, expect, atol=1e-5)


def test_dcnv3_integer_offset_shifts_the_image():
    # every point displaced by +1 pixel in x (offset_scale 1) and a one-hot mask on the centre point
    x = torch.arange(1 * 4 * 5 * 2, dtype=torch.float32).reshape(1, 4, 5, 2)
    offset = torch.zeros(1, 4, 5, 9 * 2)
    offset[..., 0::2] = 1.0
    mask = torch.zeros(1, 4, 5, 9)
    mask[..., 4] = 1.0  # centre point (i = j = 1)
    got = dcnv3_sample(x, offset, mask, group=1, offset_scale=1.0)
    expect = torch.zeros_like(x)
    expect[:, :, :-1] = x[:, :, 1:]
    torch.testing.assert_close(got, expect)


def test_dcnv3_module_exports_to_onnx_and_matches_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    mod = DCNv3(channels=8, group=2, offset_scale=2.0).eval()
    with torch.no_grad():  # non-trivial offsets and masks (the official init makes them zero)
        for p in (mod.offset.weight, mod.mask.weight, mod.offset.bias):
            p.normal_(0, 0.5)
    x = torch.randn(1, 12, 10, 8)
    path = str(tmp_path / "dcn.onnx")
    torch.onnx.export(mod, (x,), path, dynamo=False, opset_version=17, input_names=["x"], output_names=["y"])
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        want = mod(x).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_layernorm2d_normalises_channels_in_fp32():
    ln = LayerNorm2d(6)
    with torch.no_grad():
        ln.weight.copy_(torch.arange(6.0))
        ln.bias.fill_(0.5)
    x = torch.randn(2, 6, 3, 4) * 5 + 3
    ref = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,), ln.weight, ln.bias, 1e-6).permute(
        0, 3, 1, 2
    )
    torch.testing.assert_close(ln(x), ref, atol=1e-5, rtol=1e-5)
    assert ln.half()(x.half()).dtype == torch.float16  # affine in the model dtype after fp32 statistics


def test_aggregator_concatenation_order_is_stage2_first():
    agg = FeatureAggregator(in_channels=4, out_channels=16, groups=16).eval()
    stages = [torch.full((1, 1, s, s), float(i + 1)) for i, s in enumerate((32, 16, 8, 4))]
    with torch.no_grad():
        w = torch.zeros(16, 4, 1, 1)
        w[0, 0] = 1.0  # output channel 0 copies concatenated channel 0 -> must come from stage 2
        agg.fuse_all[0].weight.copy_(w)
        agg.fuse_all[0].bias.zero_()
        captured = {}
        agg.fuse_all[0].register_forward_hook(lambda m, i, o: captured.update(inp=i[0]))
        out = agg(stages)
    assert out.shape[-2:] == stages[2].shape[-2:]
    assert torch.allclose(captured["inp"][0, :, 0, 0], torch.tensor([3.0, 1.0, 2.0, 4.0]))


def test_condensation_pools_any_token_count_to_four():
    neck = TokenCondensation(in_channels=12, out_channels=8, num_seq=4)
    for t in (1, 3, 4, 9):
        assert neck(torch.randn(1, t, 12)).shape == (1, 4, 8)
    # pooling really averages: constant tokens give four identical prompts
    out = neck(torch.ones(1, 7, 12))
    assert torch.allclose(out[0, 0], out[0, 3])


def test_sam_decoder_shapes_and_positional_grid():
    cfg = SamDecoderConfig(
        hidden_size=32, num_pos_feats=16, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32
    )
    prompt_encoder, decoder = build_sam(cfg)
    pos = image_positional_embeddings(prompt_encoder, 32)
    assert pos.shape == (1, 32, 32, 32)
    # grid cell (row 0, col 5) encodes x = 5.5/32, y = 0.5/32 through the random Fourier features
    coords = torch.tensor([5.5 / 32, 0.5 / 32]) * 2 - 1
    proj = 2 * np.pi * (coords @ prompt_encoder.shared_embedding.positional_embedding)
    torch.testing.assert_close(pos[0, :, 0, 5], torch.cat([proj.sin(), proj.cos()]), atol=2e-4, rtol=0)
    logits = decode_mask_logits(prompt_encoder, decoder, torch.randn(1, 32, 32, 32), torch.randn(1, 4, 32))
    assert logits.shape == (1, 128, 128)
    soft = upsample_mask(logits, 512)
    assert soft.shape == (1, 512, 512) and float(soft.min()) >= 0 and float(soft.max()) <= 1
    # x4 bilinear of the binary mask: output pixels 4i+1 sample 7/8 of cell i, so >= 0.5 iff logits > 0 there
    assert torch.equal(soft[0, 1::4, 1::4] >= 0.5, logits[0] > 0)


def test_vision_encoder_output_shapes_and_released_parameter_count():
    cfg = InternImageConfig(channels=16, depths=[1, 1, 1, 1], groups=[1, 2, 4, 8], aggregator_channels=64)
    enc = SpexVisionEncoder(cfg).eval()
    with torch.no_grad():
        feat, emb = enc(torch.randn(1, 3, 512, 512))
    assert feat.shape == (1, 64, 32, 32) and emb.shape == (1, 256, 32, 32)
    with torch.device("meta"):
        real = SpexVisionEncoder()
    assert sum(p.numel() for p in real.parameters()) == 222_266_034


def test_config_rejects_inconsistent_vision_settings():
    with pytest.raises(ValueError):
        InternImageConfig(channels=16, groups=[3, 2, 4, 8]).validate()
    with pytest.raises(ValueError):
        InternImageConfig(remove_center=True).validate()


def test_importing_the_package_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, model_runtime.spex, model_runtime.spex.modeling.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
