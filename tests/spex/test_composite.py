"""True-colour composite: band choice, streamed percentile stretch, official pixel normalisation."""

import numpy as np
import pytest

from model_runtime.engines.composite import (
    Stretch,
    choose_composite_bands,
    compute_stretch,
    stretch_to_uint8,
)
from model_runtime.spex.modeling.config import IMAGENET_MEAN, IMAGENET_STD
from model_runtime.spex.modeling.preprocess import normalize_image, pixel_values


def _blocks(channels, valid, block=37):
    """Re-iterable stream of row blocks, like RasterSource.iter_windows would give."""

    def factory():
        for y in range(0, valid.shape[0], block):
            yield [c[y : y + block] for c in channels], valid[y : y + block]

    return factory


def test_band_choice_true_pseudo_false_grey():
    assert choose_composite_bands(["blue", "green", "red", "nir"]).roles == ("red", "green", "blue")
    assert choose_composite_bands(["blue", "green", "red"]).note == ""
    pseudo = choose_composite_bands(["green", "red", "nir"])
    assert pseudo.roles == ("red", "green", "green") and "blue" in pseudo.note
    false = choose_composite_bands(["nir", "swir1", "swir2"])
    assert false.kind == "false colour" and false.roles == ("nir", "swir1", "swir2") and false.note
    grey = choose_composite_bands(["nir"])
    assert grey.roles == ("nir",) * 3 and grey.kind == "grey"
    with pytest.raises(ValueError):
        choose_composite_bands([])


def test_stretch_matches_numpy_percentiles_and_ignores_nodata():
    rng = np.random.default_rng(0)
    h, w = 300, 200
    chans = [rng.gamma(2.0, 0.05, (h, w)).astype(np.float32) for _ in range(3)]
    valid = rng.random((h, w)) > 0.1
    for c in chans:
        c[~valid] = 50.0  # huge no-data fill values must not move the percentiles
    chans[1][5, 5] = np.nan
    valid_nan = valid & np.isfinite(chans[1])
    st = compute_stretch(_blocks(chans, valid))
    for i, c in enumerate(chans):
        vals = c[valid_nan if i == 1 else valid]
        rng_width = (vals.max() - vals.min()) / 4096
        assert abs(st.low[i] - np.percentile(vals, 2)) <= 2 * rng_width
        assert abs(st.high[i] - np.percentile(vals, 98)) <= 2 * rng_width
    rgb = stretch_to_uint8(chans, valid, st)
    assert rgb.dtype == np.uint8 and rgb.shape == (h, w, 3)
    assert (rgb[~valid] == 0).all()
    # ~2 % of valid pixels saturate at each end
    frac_top = (rgb[..., 0][valid] == 255).mean()
    assert 0.01 < frac_top < 0.03


def test_stretch_known_linear_values():
    st = Stretch(np.array([0.1, 0.0, 1000.0]), np.array([0.3, 1.0, 3000.0]))
    chans = [
        np.array([[0.1, 0.2, 0.3, 0.5]], np.float32),
        np.array([[0.0, 0.5, 1.0, -1.0]], np.float32),
        np.array([[1000, 2000, 3000, np.nan]], np.float32),
    ]
    rgb = stretch_to_uint8(chans, None, st)
    assert rgb[0, :, 0].tolist() == [0, 128, 255, 255]
    assert rgb[0, :, 1].tolist() == [0, 128, 255, 0]
    assert rgb[0, :, 2].tolist() == [0, 128, 255, 0]


def test_constant_and_empty_bands():
    ones = np.ones((10, 10), np.float32)
    st = compute_stretch(_blocks([ones, ones * 2, ones], np.ones((10, 10), bool)))
    assert (st.high > st.low).all() and st.notes
    empty = compute_stretch(_blocks([ones] * 3, np.zeros((10, 10), bool)))
    assert "no valid pixels" in empty.notes[0]


def test_pixel_values_match_official_torchvision_math():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    px = pixel_values(rgb)
    assert px.shape == (1, 3, 16, 24) and px.dtype == np.float32
    # ToTensor: permute + float / 255; Normalize: (x - mean) / std, in float32 torch ops
    t = torch.from_numpy(rgb).permute(2, 0, 1).float().div(255)
    t = (t - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    np.testing.assert_allclose(px[0], t.numpy(), rtol=0, atol=1e-6)
    assert abs(px[0, 0, 0, 0] - (rgb[0, 0, 0] / 255 - 0.485) / 0.229) < 1e-5
    with pytest.raises(TypeError):
        pixel_values(rgb.astype(np.float32))
    # the model's own entry (normalize_image) is the same normalisation, checked
    tile = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    assert np.array_equal(normalize_image(tile).numpy(), pixel_values(tile))
