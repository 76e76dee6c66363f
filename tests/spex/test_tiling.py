"""Tiling layout and seamless stitching (pure numpy)."""

import numpy as np
import pytest

from model_runtime.engines.tiling import StripStitcher, axis_starts, plan_tiles, tile_weights


def _box_filter(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window with zero padding: a per-tile function with a receptive field of r."""
    p = np.pad(a, r)
    out = np.zeros_like(a, dtype=np.float64)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out += p[r + dy : r + dy + a.shape[0], r + dx : r + dx + a.shape[1]]
    return (out / (2 * r + 1) ** 2).astype(np.float32)


def _run_tiled(image, fn, size, overlap, mode, valid=None):
    h, w = image.shape
    out = np.full((h, w), np.nan, dtype=np.float32)
    out_valid = np.zeros((h, w), dtype=bool)
    blocks = []

    def sink(yoff, values, ok):
        assert values.shape == (ok.shape[0], w)
        blocks.append((yoff, values.shape[0]))
        out[yoff : yoff + values.shape[0]] = values
        out_valid[yoff : yoff + values.shape[0]] = ok

    st = StripStitcher(h, w, sink, size=size, overlap=overlap, mode=mode)
    for t in plan_tiles(h, w, size, overlap):
        tile = np.zeros((size, size), dtype=np.float32)  # padded like the engine does
        tile[: t.ysize, : t.xsize] = image[t.yoff : t.yoff + t.ysize, t.xoff : t.xoff + t.xsize]
        tv = None
        if valid is not None:
            tv = np.zeros((size, size), dtype=bool)
            tv[: t.ysize, : t.xsize] = valid[t.yoff : t.yoff + t.ysize, t.xoff : t.xoff + t.xsize]
        st.add(t, fn(tile), tv)
    st.close()
    # rows are emitted once each, in order, covering the region
    assert [b[0] for b in blocks] == sorted(b[0] for b in blocks)
    assert sum(b[1] for b in blocks) == h
    return out, out_valid


@pytest.mark.parametrize(
    "length,size,overlap,expected",
    [
        (100, 64, 16, [0, 36]),
        (64, 64, 16, [0]),
        (30, 64, 16, [0]),
        (200, 64, 16, [0, 48, 96, 136]),
    ],
)
def test_axis_starts(length, size, overlap, expected):
    assert axis_starts(length, size, overlap) == expected


def test_axis_starts_rejects_bad_overlap():
    with pytest.raises(ValueError):
        axis_starts(100, 64, 64)


def test_cores_partition_region():
    h, w = 301, 187
    owner = np.zeros((h, w), dtype=int)
    for t in plan_tiles(h, w, 64, 16):
        y0, y1, x0, x1 = t.core
        owner[t.yoff + y0 : t.yoff + y1, t.xoff + x0 : t.xoff + x1] += 1
        assert 0 <= y0 < y1 <= t.ysize and 0 <= x0 < x1 <= t.xsize
    assert (owner == 1).all()


@pytest.mark.parametrize("h,w", [(301, 187), (40, 50), (64, 64), (130, 64)])
def test_center_stitch_equals_untiled_for_local_function(h, w):
    rng = np.random.default_rng(0)
    image = rng.random((h, w), dtype=np.float32)
    r = 7  # receptive field < overlap / 2
    fn = lambda a: _box_filter(a, r)  # noqa: E731
    tiled, ok = _run_tiled(image, fn, size=64, overlap=16, mode="center")
    untiled = _box_filter(image, r)
    np.testing.assert_array_equal(tiled, untiled)
    assert ok.all()


def test_center_stitch_differs_when_receptive_field_too_large():
    # guards the test above against being vacuous: a field wider than the overlap shows seams
    rng = np.random.default_rng(1)
    image = rng.random((200, 200), dtype=np.float32)
    tiled, _ = _run_tiled(image, lambda a: _box_filter(a, 12), size=64, overlap=16, mode="center")
    assert np.abs(tiled - _box_filter(image, 12)).max() > 1e-3


def test_feather_stitch_exact_for_pixelwise_function_and_blends_disagreement():
    rng = np.random.default_rng(2)
    image = rng.random((150, 170), dtype=np.float32)
    tiled, _ = _run_tiled(image, lambda a: a * 2.0 + 1.0, size=64, overlap=16, mode="feather")
    np.testing.assert_allclose(tiled, image * 2.0 + 1.0, rtol=1e-6, atol=1e-6)
    # tiles that each output a constant (their index) blend smoothly: no jump bigger than one ramp step
    counter = iter(range(1000))
    const, _ = _run_tiled(np.zeros((64, 112)), lambda a: np.full_like(a, next(counter)), 64, 16, "feather")
    assert const[0, 0] == 0 and const[0, -1] == 1
    assert np.abs(np.diff(const[0])).max() <= 1.0 / 16 + 1e-6


def test_feather_weights_positive_and_full_on_outer_edges():
    tiles = plan_tiles(200, 200, 64, 16)
    for t in tiles:
        w = tile_weights(t, "feather", 16)
        assert (w > 0).all() and w.max() == 1.0
    corner = tile_weights(tiles[0], "feather", 16)
    assert corner[0, 0] == 1.0 and corner[-1, -1] < 0.1


def test_invalid_pixels_excluded_and_reported():
    rng = np.random.default_rng(3)
    image = rng.random((100, 90), dtype=np.float32)
    valid = rng.random((100, 90)) > 0.2
    tiled, ok = _run_tiled(image, lambda a: a, 64, 16, "feather", valid=valid)
    np.testing.assert_array_equal(ok, valid)
    np.testing.assert_allclose(tiled[valid], image[valid], rtol=1e-6)
    assert (tiled[~valid] == 0).all()


def test_strip_memory_is_bounded():
    seen = []
    st = StripStitcher(5000, 300, lambda y, v, ok: seen.append(v.shape), size=64, overlap=16)
    assert st._acc.shape == (64, 300)
    for t in plan_tiles(5000, 300, 64, 16):
        st.add(t, np.ones((64, 64), np.float32))
    st.close()
    assert sum(s[0] for s in seen) == 5000 and max(s[0] for s in seen) <= 64


def test_out_of_order_tiles_rejected():
    tiles = plan_tiles(100, 100, 64, 16)
    st = StripStitcher(100, 100, lambda *a: None, size=64, overlap=16)
    st.add(tiles[1], np.zeros((64, 64)))
    with pytest.raises(ValueError):
        st.add(tiles[0], np.zeros((64, 64)))
