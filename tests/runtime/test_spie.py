"""SPIE attributes: exact official prompt format, geometry of centroids and rotated rectangles."""

import ast
import math

import numpy as np
import pytest

from model_runtime.spectral import spie
from model_runtime.spectral.spie import (
    MAX_PROMPT_REGIONS,
    build_spex_prompt,
    convex_hull,
    format_spie,
    location_name,
    min_area_rect,
    omitted_regions,
    region_attributes,
    size_level,
)

# The shape of the official demo prompt (MiliLab/SPEX demo/m_3807504_ne_18_1_naip-new__512__0___2304.txt),
# first regions only. Note the literal backslash-n after <image>.
DEMO = (
    "<image>\\nBased on the provided image and the attributes of the vegetation regions, please provide a "
    "detailed description of them:[{'Size of area': 'huge', 'Centroid': [0.48, 0.422], 'Location': 'center', "
    "'Bounding box': [[0.09, 0.0], [0.998, 0.0], [0.998, 0.963], [0.09, 0.963]]}, {'Size of area': "
    "'somewhat large', 'Centroid': [0.965, 0.938], 'Location': 'bottom-right', 'Bounding box': "
    "[[0.914, 0.873], [0.998, 0.873], [0.998, 0.998], [0.914, 0.998]]}, {'Size of area': 'medium', "
    "'Centroid': [0.645, 0.771], "
    "'Location': 'bottom-center', 'Bounding box': [[0.611, 0.723], [0.699, 0.732], [0.689, 0.818], "
    "[0.602, 0.809]]}]"
)


def box(x0, y0, x1, y1):
    """A closed rectangular ring in pixel-edge coordinates."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], float)


def test_demo_prompt_round_trips_exactly():
    head, attrs_text = DEMO.split("them:", 1)
    attrs = ast.literal_eval(attrs_text)
    assert build_spex_prompt("vegetation", attrs) == DEMO
    assert "\\n" in DEMO and "\n" not in build_spex_prompt("vegetation", attrs)


def test_our_attributes_have_the_demo_shape():
    regions = [[box(46, 0, 512, 494)], [box(468, 447, 512, 512)], [box(10, 10, 11, 11)]]
    attrs = region_attributes(regions, 512, 512)
    text = format_spie(attrs)
    parsed = ast.literal_eval(text)
    assert parsed == attrs
    assert [list(a) for a in attrs] == [["Size of area", "Centroid", "Location", "Bounding box"]] * 3
    # upright box: [top-left, top-right, bottom-right, bottom-left], pixel-index convention (511/512 = 0.998)
    assert attrs[0]["Bounding box"] == [[0.09, 0.0], [0.998, 0.0], [0.998, 0.963], [0.09, 0.963]]
    assert attrs[0]["Size of area"] == "huge" and attrs[0]["Location"] in ("center", "middle-right")
    assert attrs[1]["Bounding box"] == [[0.914, 0.873], [0.998, 0.873], [0.998, 0.998], [0.914, 0.998]]
    assert attrs[1]["Location"] == "bottom-right"
    # a single pixel: 4 equal corners at the pixel index, centroid at the pixel (not OpenCV's [0, 0])
    assert attrs[2]["Bounding box"] == [[0.02, 0.02]] * 4 and attrs[2]["Centroid"] == [0.02, 0.02]
    assert attrs[2]["Size of area"] == "very tiny"
    prompt = build_spex_prompt("water bodies", attrs)
    assert prompt.startswith(
        "<image>\\nBased on the provided image and the attributes of the water bodies regions"
    )
    assert prompt.endswith("]") and "'Size of area': 'huge'" in prompt


def test_sorted_largest_first_and_centroid_with_hole():
    small = [box(0, 0, 4, 4)]
    big = [box(10, 10, 30, 30), box(12, 12, 20, 20)[::-1]]  # hole with opposite orientation
    attrs = region_attributes([small, big], 100, 100)
    assert attrs[0]["Centroid"] != attrs[1]["Centroid"]
    # big: area 400 - 64 = 336; centroid by moments; pixel index convention = edge centroid - 0.5
    cx = (400 * 20 - 64 * 16) / 336 - 0.5
    assert attrs[0]["Centroid"] == [round(cx / 100, 3), round(cx / 100, 3)]
    assert attrs[1]["Centroid"] == [0.015, 0.015]


def test_hole_with_same_orientation_is_detected_by_nesting():
    region = [box(0, 0, 10, 10), box(2, 2, 8, 8)]  # both rings oriented alike
    pix = np.ones((10, 10), bool)
    pix[2:8, 2:8] = False
    ys, xs = np.nonzero(pix)
    attrs = region_attributes([region], 10, 10)
    assert attrs[0]["Centroid"] == [round(xs.mean() / 10, 3), round(ys.mean() / 10, 3)]


def test_parts_touching_at_corners_are_not_taken_for_holes():
    """A repaired 8-connected region: parts meeting at corners, all exteriors (no hole), same orientation."""
    # the second part's ring starts at the shared corner, where an even-odd test of a vertex is ambiguous
    corner_first = np.roll(box(-2, -2, 0, 0)[:-1], -2, axis=0)
    second = np.vstack([corner_first, corner_first[:1]])
    parts = [box(0, 0, 2, 2), second, box(2, 2, 4, 4), box(10, 10, 13, 12)]
    area, cx, cy = spie.region_area_centroid(parts)
    assert area == 4 + 4 + 4 + 6
    assert (cx, cy) == pytest.approx((((1 - 1 + 3) * 4 + 11.5 * 6) / 18, ((1 - 1 + 3) * 4 + 11 * 6) / 18))
    # and a real hole among such parts is still found by nesting
    area, _, _ = spie.region_area_centroid([box(0, 0, 10, 10), box(10, 10, 12, 12), box(2, 2, 4, 4)])
    assert area == 100 + 4 - 4


def test_centroid_equals_pixel_moments_on_an_irregular_region():
    rng = np.random.default_rng(0)
    pix = np.zeros((20, 20), bool)
    pix[3:15, 4:9] = True
    pix[10:18, 8:17] = True
    pix[rng.integers(0, 20, 5), rng.integers(0, 20, 5)] = False
    ys, xs = np.nonzero(pix)
    # build the outline as a union of pixel squares is complex; use its rows as separate rectangles instead
    # (a region may hold several exterior rings, e.g. after MakeValid)
    rings = [box(x, y, x + 1, y + 1) for y, x in zip(ys, xs)]
    a = region_attributes([rings], 20, 20)[0]
    assert a["Centroid"] == [round(xs.mean() / 20, 3), round(ys.mean() / 20, 3)]


def test_rotated_square_corners():
    t = math.radians(30)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    square = np.array([[0, 0], [4, 0], [4, 4], [0, 4]], float) @ rot.T + 10
    interior = np.random.default_rng(1).uniform(0.5, 3.5, (50, 2)) @ rot.T + 10
    corners = min_area_rect(np.vstack([square, interior]))
    # same corner set as the square
    for c in square:
        assert np.min(np.hypot(*(corners - c).T)) < 1e-9
    # clockwise on screen (y down) -> positive shoelace sum in image coordinates
    x, y = corners[:, 0], corners[:, 1]
    assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
    # first side points along ~+x: 30 degrees here
    side = corners[1] - corners[0]
    assert math.degrees(math.atan2(side[1], side[0])) == pytest.approx(30)


def test_min_area_rect_beats_axis_aligned_box_on_a_diagonal_bar():
    t = math.radians(45)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    bar = np.array([[0, 0], [20, 0], [20, 2], [0, 2]], float) @ rot.T
    c = min_area_rect(bar)
    sides = np.hypot(*(np.roll(c, -1, 0) - c).T)
    assert sorted(np.round(sides, 6))[::2] == [2.0, 20.0]


def test_degenerate_inputs():
    assert min_area_rect(np.array([[3.0, 4.0]])).tolist() == [[3.0, 4.0]] * 4
    line = min_area_rect(np.array([[0.0, 0.0], [5.0, 0.0], [2.0, 0.0]]))
    assert np.allclose(sorted(line[:, 0]), [0, 0, 5, 5]) and np.allclose(line[:, 1], 0)


@pytest.mark.parametrize(
    ("fraction", "level"),
    [
        (0.6, "huge"),
        (0.25, "huge"),
        (0.1, "large"),
        (0.02, "somewhat large"),
        (0.007, "medium"),
        (0.003, "small"),
        (0.0005, "very tiny"),
        (0.0, "very tiny"),
    ],
)
def test_size_levels(fraction, level):
    assert size_level(fraction) == level


@pytest.mark.parametrize(
    ("cx", "cy", "name"),
    [
        (0.1, 0.1, "top-left"),
        (0.5, 0.1, "top-center"),
        (0.9, 0.2, "top-right"),
        (0.2, 0.5, "middle-left"),
        (0.5, 0.5, "center"),
        (0.8, 0.5, "middle-right"),
        (0.0, 0.9, "bottom-left"),
        (0.5, 1.0, "bottom-center"),
        (1.0, 1.0, "bottom-right"),
    ],
)
def test_location_grid(cx, cy, name):
    assert location_name(cx, cy) == name


def test_prompt_cap_is_reported():
    attrs = region_attributes([[box(i * 3, 0, i * 3 + 1 + (i % 2), 2)] for i in range(15)], 64, 64)
    prompt = build_spex_prompt("vegetation", attrs)
    assert len(ast.literal_eval(prompt.split("them:", 1)[1])) == MAX_PROMPT_REGIONS
    assert omitted_regions(attrs) == 5
    assert omitted_regions(attrs[:3]) == 0


@pytest.mark.parametrize("kind", ["grid", "normal", "staircase"])
def test_convex_hull_matches_the_monotone_chain(kind):
    """The GEOS hull (with the interior-point filter) follows the monotone chain's exact conventions:
    counter-clockwise in a y-up frame, starting at the smallest (x, y), no duplicate or collinear point."""
    rng = np.random.default_rng(len(kind))
    for n in (3, 5, 40, 70, 500, 5000):
        if kind == "grid":  # many duplicates and collinear points, as on pixel outlines
            pts = rng.integers(0, max(3, n // 10), (n, 2)).astype(float)
        elif kind == "normal":
            pts = rng.normal(size=(n, 2)) * 100
        else:  # a pixel staircase outline (integer corners, long straight runs)
            steps = np.cumsum(rng.integers(0, 2, (n, 2)), axis=0).astype(float)
            pts = np.vstack([steps, steps + [0, 3]])
        hull = convex_hull(pts)
        assert np.array_equal(hull, spie._monotone_chain(pts)), (kind, n)
        if len(hull) >= 3:
            x, y = hull[:, 0], hull[:, 1]
            assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
    assert convex_hull(np.array([[2.0, 2.0], [1.0, 1.0], [0.0, 0.0]])).tolist() == [[0, 0], [2, 2]]
    assert convex_hull(np.array([[1.0, 1.0]] * 4)).tolist() == [[1, 1]]
