"""Explanation text: what decided, how the threshold was chosen, regions, statistics, caveats; en and zh."""

from model_runtime.prompts import parse_prompt
from model_runtime.spectral.explain import DESCRIBED_REGIONS, spectral_explanation


def details(method="default", caveats=("shadow_water", "nodata", "fallback"), **thr):
    return {
        "rule_text": "NDWI > 0 AND nir reflectance < 0.2",
        "threshold": {
            "index": "NDWI",
            "op": ">",
            "value": thr.get("value", 0.0),
            "default": 0.0,
            "method": method,
            "separability": 0.91,
            "histogram_pixels": 12345,
        },
        "indices": {
            "NDWI": {
                "formula": "(G - N) / (G + N)",
                "long_name": "Normalized Difference Water Index",
                "reference": "McFeeters 1996",
            }
        },
        "guards": [
            {
                "test": "nir reflectance < 0.2",
                "rejected_px": 42,
                "why": "water absorbs NIR: excludes snow, cloud, bright soil and roofs",
            }
        ],
        "pixels": {"target": 250, "background": 750, "nodata": 100, "outside_aoi": 0, "total": 1100},
        "pixel_area_m2": 100.0,
        "stats": {
            "NDWI": {
                "inside": {"count": 250, "mean": 0.41, "p10": 0.2, "p50": 0.4, "p90": 0.6},
                "outside": {"count": 750, "mean": -0.3, "p10": -0.5, "p50": -0.3, "p90": -0.1},
            }
        },
        "cleanup": {"removed_region_px": 3, "filled_hole_px": 2, "min_region_px": 2, "fill_holes_px": 2},
        "fallback_missing_roles": ["swir1"],
        "skipped_guards": [],
        "caveats": list(caveats),
    }


def regions(n):
    locs = ["center", "top-left", "bottom-right"]
    return [
        {
            "Size of area": "medium",
            "Centroid": [0.1 * (i % 10), 0.5],
            "Location": locs[i % 3],
            "Bounding box": [[0, 0]] * 4,
        }
        for i in range(n)
    ]


def test_english_text_names_rule_threshold_regions_stats_and_caveats():
    text = spectral_explanation(parse_prompt("water bodies"), details(), regions(8), "en")
    assert "NDWI > 0" in text and "(G - N) / (G + N)" in text and "McFeeters 1996" in text
    assert "default threshold" in text
    assert "removed 42 pixels" in text
    assert "8 regions" in text and "2.50 ha" in text and "25.0% of the valid area" in text
    assert text.count("medium region") == DESCRIBED_REGIONS and "3 smaller regions" in text
    assert "inside mean 0.410" in text and "outside mean -0.300" in text
    assert "shadows" in text and "swir1" in text and "9.1% of the area of interest is no-data" in text
    assert "Cleanup: removed specks under 2 pixels (3 px)" in text


def test_threshold_origin_is_stated():
    otsu = spectral_explanation("water", details("otsu", value=0.12), regions(1), "en")
    assert "Otsu" in otsu and "12,345 pixels" in otsu and "0.91" in otsu and "(default 0.0)" in otsu
    user = spectral_explanation("water", details("user", value=0.3), regions(1), "en")
    assert "set by the user" in user and "NDWI > 0.3" in user
    assert "1 region;" in user


def test_chinese_text():
    text = spectral_explanation(parse_prompt("提取水体"), details(), regions(2), "zh")
    assert text.startswith("使用光谱引擎") and "水体" in text and "默认阈值" in text
    assert "中央" in text and "左上" in text and "阴影" in text and "无数据" in text
    assert "水体强烈吸收近红外" in text  # guard reasons translated
    assert "Extracted" not in text


def test_no_regions_and_no_caveats():
    text = spectral_explanation("vegetation", details(caveats=()), [], "en")
    assert "0 regions" in text and "Caveats" not in text and "Largest regions" not in text


def test_full_text_is_not_truncated():
    many = regions(5000)
    text = spectral_explanation("water", details(), many, "en")
    assert text.endswith("map the band with --bands if it exists.")
    assert "4,995 smaller regions" in text


def scene_details():
    d = details("scene", value=0.4624, caveats=("fallback", "scene_relative"))
    d["threshold"]["scene"] = {
        "sample_pixels": 207545,
        "bright_reference": 0.1124,
        "margin": 0.35,
        "nir_p1": 0.1098,
        "nir_p90": 0.6471,
        "nir_dark_limit": 0.2441,
    }
    return d


def test_scene_relative_threshold_is_explained():
    text = spectral_explanation("water", scene_details(), regions(1), "en")
    assert "relative to this scene" in text and "brightest 10%" in text and "0.1124) + 0.35" in text
    assert "not calibrated reflectance" in text and "NIR limit 0.2441 (p1 0.1098, p90 0.6471)" in text
    assert "207,545 sampled pixels" in text and "shadows" in text.lower()
    zh = spectral_explanation(parse_prompt("提取水体"), scene_details(), regions(1), "zh")
    assert "相对本景影像的阈值" in zh and "近红外上限 0.2441" in zh and "Extracted" not in zh


# ------------------------------------------------------------------------- Chinese scientific terms (#12)
import re  # noqa: E402

import pytest  # noqa: E402

from model_runtime.spectral.explain import _WHY_ZH, INDEX_NAMES_ZH, condition_text  # noqa: E402
from model_runtime.spectral.indices import INDEX_DEFINITIONS  # noqa: E402
from model_runtime.spectral.thresholds import CLASS_RULES  # noqa: E402

#: ASCII words a Chinese text may keep: proper names of sensors and methods, pixel coordinates
ALLOWED_ASCII = {"Landsat", "Sentinel-2", "Otsu", "Fmask", "x", "y"}
_CITATION = re.compile(r"[A-Z][A-Za-z\-]+(?: et al\.| & [A-Z][A-Za-z\-]+)? \d{4}")


def english_words(text: str):
    """ASCII words of ``text`` other than index/band acronyms (all capitals and digits), numbers, allowed
    names and literature citations (the indices' references, "Author [et al.] YEAR")."""
    for definition in INDEX_DEFINITIONS.values():
        text = text.replace(definition.reference, "")
    text = _CITATION.sub("", text)
    words = re.findall(r"[A-Za-z][A-Za-z0-9\-\.]*", text)
    acronym = re.compile(r"[A-Z0-9][A-Z0-9\-]*")
    return sorted({w for w in words if not acronym.fullmatch(w) and w not in ALLOWED_ASCII})


def test_every_rule_text_has_chinese():
    """Every condition's reason and label, and every index name, has a Chinese form (test fails before: 21
    reasons and every band label stayed English in the Chinese text)."""
    for rule in CLASS_RULES.values():
        for variant in rule.variants:
            for cond in variant.conditions:
                assert cond.why in _WHY_ZH, cond.why
                assert english_words(_WHY_ZH[cond.why]) == [], _WHY_ZH[cond.why]
                assert english_words(condition_text(cond.text(), "zh")) == [], cond.text()
    assert set(INDEX_NAMES_ZH) == set(INDEX_DEFINITIONS)
    assert condition_text("nir reflectance < 0.2 AND MNDWI > 0", "zh") == "近红外反射率 < 0.2 且 MNDWI > 0"


@pytest.mark.parametrize("prompt", ["提取水体", "提取植被", "提取建筑", "提取裸土"])
def test_chinese_explanations_keep_only_acronyms(prompt, l7_sample, s2_l1c_sample, tmp_path):
    """The Chinese run text and every feature's text, on both real samples (an 8-bit scene-relative run
    and a reflectance run with every guard), hold no English word but index acronyms and citations."""
    from osgeo import ogr

    from model_runtime import ExtractRequest, extract
    from model_runtime.request import AreaOfInterest

    runs = [
        (l7_sample, None),
        (s2_l1c_sample, AreaOfInterest(bbox=(435730, 4169460, 439730, 4173460))),  # town, creeks, fields
    ]
    for i, (raster, aoi) in enumerate(runs):
        out = str(tmp_path / f"{i}.gpkg")
        result = extract(ExtractRequest(raster=raster, prompt=prompt, output=out, aoi=aoi))
        texts = [result.explanation]
        ds = ogr.Open(out)  # kept alive while its layer is read
        texts += [f.GetField("explain") for f in ds.GetLayer(0)][:20]
        ds = None
        assert len(texts) > 1, (raster, prompt)
        for text in texts:
            assert english_words(text) == [], text
