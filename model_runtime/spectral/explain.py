"""Human explanation of a spectral extraction, in English or Chinese.

The text says which indices and thresholds decided (and whether the threshold is the default, the user's or
Otsu's), what the guards removed, how many regions were found and where the largest are, how the indices
differ inside and outside the result, and which caveats apply. That run-level text goes to the result, the
layer metadata and the sidecar; each feature's ``explain`` is :func:`feature_explanation`, about that polygon.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ..prompts import class_name
from .thresholds import DARK_NIR_WHY, MOVED_NOTE

#: regions described one by one; the others are counted ("and N smaller regions")
DESCRIBED_REGIONS = 5

CAVEATS: Dict[str, Dict[str, str]] = {
    "fallback": {
        "en": "The raster lacks {missing}, so a weaker fallback rule was used; map the band with --bands "
        "if it exists.",
        "zh": "影像缺少 {missing} 波段，因此使用了较弱的备用规则；如果该波段存在，请在波段角色中指定。",
    },
    "shadow_water": {
        "en": "Deep shadows (terrain, buildings, clouds) are dark in every band and can pass a water index; "
        "check dark regions next to mountains, tall buildings or clouds.",
        "zh": "地形、建筑或云的深阴影在各波段都很暗，可能被水体指数误判为水体；请检查山体、高楼或云旁的暗区。",  # noqa: E501 (CJK characters count double)
    },
    "turbid_water": {
        "en": "Very turbid or algae-rich water reflects more NIR and may be partly missed.",
        "zh": "高浑浊或富含藻类的水体近红外反射较强，可能被部分遗漏。",
    },
    "no_swir_water": {
        "en": "Without a SWIR band the water test uses NDWI (green vs "
        "NIR), which also flags some dark built-up "
        "surfaces and shadows.",
        "zh": "没有短波红外波段时，水体判别使用 NDWI（绿光与近红外），部分暗色建筑表面和阴影也可能被识别为水体。",  # noqa: E501 (CJK characters count double)
    },
    "sparse_vegetation": {
        "en": "Sparse or senescent vegetation (NDVI between 0.1 and 0.35) "
        "is not included; lower the threshold "
        "(e.g. --threshold 0.2) to include it.",
        "zh": "稀疏或枯黄植被（NDVI 在 0.1 到 0.35 之间）未被包括；可将阈值降低（如 0.2）将其纳入。",
    },
    "built_vs_soil": {
        "en": "Built-up surfaces and bare soil are spectrally close: they are split by the visible-to-SWIR "
        "slope (soil rises steeply, MNDWI below -0.35), so red tile roofs can be missed as soil and pale "
        "sandy fields taken for built-up. Beach and dune sand is spectrally a pale concrete (no band ratio "
        "separates them): beaches are returned as built-up.",
        "zh": "建成区与裸土光谱相近：以可见光到短波红外的斜率区分（裸土上升陡峭，MNDWI 低于 -0.35），因此红瓦屋顶可能被当作裸土遗漏，浅色沙质农田可能被误判为建成区。海滩和沙丘的沙在光谱上与浅色混凝土相同（没有波段比值能区分）：海滩会被当作建成区返回。",  # noqa: E501 (CJK characters count double)
    },
    "soil_sparse": {
        "en": "Bare soil includes sparsely covered fields (NDVI up to 0.35, e.g. winter fields and stubble); "
        "wet dark soils with a flat spectrum can be missed.",
        "zh": "裸土包括植被稀疏的农田（NDVI 不超过 0.35，如冬季农田和残茬）；光谱平坦的湿润暗色土壤可能被遗漏。",  # noqa: E501 (CJK characters count double)
    },
    "built_roofs_paving": {
        "en": "Built-up means roofs AND paved surfaces (roads, car parks, squares): a spectral rule cannot "
        "tell them apart. Pixels that are up to about a third trees or lawn are kept (NDVI < 0.35).",
        "zh": "建成区包括屋顶以及道路、停车场、广场等铺装地面：光谱规则无法区分二者。树木或草地覆盖约三分之一以内的混合像元会被保留（NDVI < 0.35）。",  # noqa: E501 (CJK characters count double)
    },
    "no_cirrus_built": {
        "en": "Without a cirrus band (Sentinel-2 B10, Landsat 8/9 B9) thin cirrus over fields is not masked "
        "and can pass as built-up; thick clouds are excluded by the water and SWIR-shape tests.",
        "zh": "没有卷云波段（Sentinel-2 B10、Landsat 8/9 B9）时无法屏蔽农田上空的薄卷云，可能被误判为建成区；厚云由水体和短波红外形状测试排除。",  # noqa: E501 (CJK characters count double)
    },
    "no_swir2_built": {
        "en": "Without SWIR2 the SWIR-shape test (NBR2) is skipped: mixed vegetation can pass as built-up.",
        "zh": "没有 SWIR2 波段时跳过短波红外形状测试（NBR2）：混合植被可能被误判为建成区。",
    },
    "no_swir_built": {
        "en": "Without SWIR bands built-up is found as grey, non-vegetated and non-water surfaces: grey bare "
        "soil, rock and dry grass are included, red tile roofs are missed.",
        "zh": "没有短波红外波段时，建成区按灰色、非植被、非水体的地表识别：灰色裸土、岩石和枯草会被包括，红瓦屋顶会被遗漏。",  # noqa: E501 (CJK characters count double)
    },
    "spectral_resolution": {
        "en": "At 10-30 m pixels single buildings are mixed with their surroundings: the result is built-up "
        "area, not building footprints.",
        "zh": "在 10-30 米分辨率下单栋建筑与周围地物混合：结果是建成区范围，而非建筑轮廓。",
    },
    "cloud_simple": {
        "en": "Clouds are found with simple brightness/whiteness/haze tests (Fmask-like), without thermal or "
        "cirrus bands: bright roofs, sand and snow may be confused with thin clouds.",
        "zh": "云通过简单的亮度、白度和雾霾测试识别（类似 Fmask），未使用热红外或卷云波段：亮屋顶、沙地和冰雪可能与薄云混淆。",  # noqa: E501 (CJK characters count double)
    },
    "no_swir_cloud": {
        "en": "Without a SWIR band snow cannot be told apart from clouds.",
        "zh": "没有短波红外波段时无法区分冰雪与云。",
    },
    "snow_cloud": {
        "en": "Some clouds (ice clouds) share the snow signature; bright water bodies with ice are included.",
        "zh": "部分云（冰云）与冰雪光谱特征相似；结冰的水体也会被包括。",
    },
    "not_reflectance": {
        "en": "The band values do not look like reflectance (0..1), so the "
        "reflectance guards ({skipped}) were "
        "skipped; set --scaling to enable them.",
        "zh": "波段数值不像反射率（0..1），因此跳过了反射率约束（{skipped}）；可设置反射率缩放以启用。",
    },
    "scene_relative": {
        "en": "The band values are not calibrated reflectance, so the thresholds were set relative to this "
        "scene ({scene}), sampled over the area of interest and at least 2048 pixels around it. They assume "
        "that scene also holds ordinary land (roofs, soil, vegetation): on a raster that is almost all water "
        "or all forest they are unreliable; give --threshold there. Shadows as dark in NIR as water can "
        "pass, and turbid or shallow water brighter in NIR than a quarter of the scene's range is missed.",
        "zh": "波段数值不是经过定标的反射率，因此阈值根据本景影像自身设定（{scene}），"
        "采样范围为感兴趣区及其周围至少 2048 像元。这假定该范围内也有普通地物（屋顶、土壤、植被）："  # noqa: E501 (CJK characters count double)
        "若影像几乎全是水体或森林，阈值不可靠，请手动指定阈值。"
        "近红外与水体一样暗的深阴影可能被误判，近红外较亮的浑浊或浅水可能被遗漏。",
    },
    "nodata": {
        "en": "{nodata_pct} of the area of interest is no-data and was left out.",
        "zh": "感兴趣区内 {nodata_pct} 为无数据像元，已排除。",
    },
}

_METHOD = {
    "en": {
        "default": "default threshold",
        "user": "threshold set by the user",
        "otsu": "threshold chosen by Otsu's method from the histogram of {n} pixels (separability {sep})",
        "scene": "threshold relative to this scene: the median {index} of its brightest 10% of pixels "
        "(roofs, gravel, bare soil: {ref}) + {margin}",
    },
    "zh": {
        "default": "默认阈值",
        "user": "用户指定阈值",
        "otsu": "由 Otsu 方法根据 {n} 个像元的直方图自动选取的阈值（可分性 {sep}）",
        "scene": "相对本景影像的阈值：最亮 10% 像元（屋顶、砾石、裸土）的 {index} 中位数 {ref} 加 {margin}",
    },
}

#: Chinese for the ``why`` of each rule condition (thresholds.CLASS_RULES)
_WHY_ZH = {
    "excludes vegetation (NDVI >= 0.2)": "排除植被（NDVI >= 0.2）",
    "water absorbs NIR: excludes snow, cloud, bright soil and roofs": "水体强烈吸收近红外：排除冰雪、云、亮色土壤和屋顶",  # noqa: E501 (CJK characters count double)
    "excludes water": "排除水体",
    "separates built-up from bare soil (BSI >= 0.1)": "区分建成区与裸土（BSI >= 0.1 为裸土）",
    "clouds are bright": "云很亮",
    "clouds are white (flat visible spectrum)": "云呈白色（可见光光谱平坦）",
    "excludes snow (NDSI >= 0.4)": "排除冰雪（NDSI >= 0.4）",
    "excludes water (dark in NIR)": "排除水体（近红外暗）",
    "excludes dark surfaces": "排除暗色地表",
    "water reflects green and absorbs SWIR (Xu 2006)": "水体反射绿光、吸收短波红外（Xu 2006）",
    "water dominates the pixel: MNDWI exceeds NDVI (Zou et al. 2018)": "水体在像元中占优：MNDWI 大于 NDVI（Zou et al. 2018）",  # noqa: E501 (CJK characters count double)
    "no active vegetation canopy: EVI < 0.1 (Zou et al. 2018)": "无活跃植被冠层：EVI < 0.1（Zou et al. 2018）",  # noqa: E501 (CJK characters count double)
    "water reflects green and absorbs NIR (McFeeters 1996)": "水体反射绿光、吸收近红外（McFeeters 1996）",
    "green leaves reflect NIR and absorb red; above 0.35 a pixel is mostly plants (the built-up rule's NDVI cap)": "绿叶反射近红外、吸收红光；NDVI 高于 0.35 的像元以植物为主（与建成区规则的 NDVI 上限相同）",  # noqa: E501 (CJK characters count double)
    "built-up surfaces reflect about as much SWIR as NIR or more (Zha et al. 2003), still with a third of tree crown in the pixel; vegetation much less": "建成区地表的短波红外反射与近红外相当或更高（Zha et al. 2003），像元中有三分之一树冠时仍然如此；植被则低得多",  # noqa: E501 (CJK characters count double)
    "excludes vegetation (NDVI >= 0.35, the vegetation rule's threshold); mixed urban pixels stay": "排除植被（NDVI >= 0.35，即植被规则的阈值）；城市混合像元保留",  # noqa: E501 (CJK characters count double)
    "excludes water, snow and clouds (green well above SWIR1)": "排除水体、冰雪和云（绿光明显高于短波红外1）",
    "excludes bare soil: reflectance rising steeply from green to SWIR1 (Rasul et al. 2018)": "排除裸土：反射率从绿光到短波红外1陡峭上升（Rasul et al. 2018）",  # noqa: E501 (CJK characters count double)
    "excludes vegetation and moist surfaces (SWIR2 << SWIR1)": "排除植被和湿润地表（短波红外2远低于短波红外1）",  # noqa: E501 (CJK characters count double)
    "excludes cloud/terrain shadows and wet marsh (dark in NIR)": "排除云影、地形阴影和湿润沼泽（近红外暗）",
    "cirrus band: clear sky stays below 0.01 TOA reflectance, thin cirrus above": "卷云波段：晴空的大气层顶反射率低于 0.01，薄卷云高于此值",  # noqa: E501 (CJK characters count double)
    "excludes vegetation (NDVI >= 0.3)": "排除植被（NDVI >= 0.3）",
    "built-up surfaces have little vegetation: below the vegetation rule's threshold, so roofs and paving mixed with trees stay": "建成区地表植被很少：低于植被规则的阈值，因此混有树木的屋顶和铺装地面仍保留",  # noqa: E501 (CJK characters count double)
    "grey visible: excludes reddish-brown bare soil": "可见光呈灰色：排除红褐色裸土",
    "excludes blue-tinted water and shadows": "排除偏蓝的水体和阴影",
    "bare soil: SWIR + red exceed NIR + blue (Rikimaru et al. 2002)": "裸土：短波红外与红光之和超过近红外与蓝光之和（Rikimaru et al. 2002）",  # noqa: E501 (CJK characters count double)
    "soil reflectance rises steeply from green to SWIR1; grey built-up surfaces are flatter (Rasul et al. 2018)": "土壤反射率从绿光到短波红外1陡峭上升；灰色建成区地表较平缓（Rasul et al. 2018）",  # noqa: E501 (CJK characters count double)
    "haze/cloud are brighter in blue than red predicts": "雾霾和云在蓝光波段比红光预测的更亮",
    "snow is bright in green, dark in SWIR (Hall 1995)": "冰雪在绿光波段亮、在短波红外波段暗（Hall 1995）",
    DARK_NIR_WHY: "水体是影像中近红外最暗的地物之一：近红外须低于本景近红外范围（第 1 至第 90 百分位）最暗的 25%",  # noqa: E501 (CJK characters count double)
}


def why_zh(why: str) -> str:
    """The Chinese of a condition's reason (a guard moved with the scene keeps its reason plus a note)."""
    if why.endswith(MOVED_NOTE):
        return _WHY_ZH.get(why[: -len(MOVED_NOTE)], why[: -len(MOVED_NOTE)]) + "（随本场景亮地物平移）"
    return _WHY_ZH.get(why, why)

#: Chinese names of the indices (indices.INDEX_DEFINITIONS); the acronyms stay as they are
INDEX_NAMES_ZH = {
    "NDVI": "归一化植被指数",
    "NDWI": "归一化水体指数（McFeeters）",
    "MNDWI": "改进的归一化水体指数",
    "NDBI": "归一化建筑指数",
    "NDMI": "归一化湿度指数",
    "NDSI": "归一化积雪指数",
    "BI": "裸土指数",
    "AWEInsh": "自动水体提取指数（无阴影）",
    "AWEIsh": "自动水体提取指数（有阴影）",
    "EVI": "增强型植被指数",
    "NBR2": "归一化燃烧比 2（短波红外1 与短波红外2）",
    "MNDWI-NDVI": "水体优势度（MNDWI 减 NDVI）",
    "RBND": "红蓝归一化差值（可见光色调）",
    "BRIGHT": "可见光亮度",
    "WHITENESS": "白度",
    "HOT": "雾霾优化变换",
}
_ROLE_ZH = {
    "blue": "蓝光",
    "green": "绿光",
    "red": "红光",
    "nir": "近红外",
    "NIR": "近红外",
    "swir1": "短波红外1",
    "swir2": "短波红外2",
    "cirrus": "卷云波段",
}
#: qualifiers of condition labels (thresholds.Condition.label) and the rule's conjunction
_LABEL_ZH = (
    (" AND ", " 且 "),
    (" (visible-SWIR slope)", "（可见光-短波红外斜率）"),
    (" (scene-relative)", "（相对本景）"),
    (" (1.375 um)", "（1.375 微米）"),
    (" (blue tint)", "（蓝色调）"),
    (" reflectance", "反射率"),
)


def condition_text(text: str, language: str = "en") -> str:
    """A rule or condition text (``"nir reflectance < 0.2 AND ..."``) in ``language``: band roles and
    qualifiers in Chinese for ``zh``, index acronyms kept."""
    if language != "zh":
        return text
    for en, zh in _LABEL_ZH:
        text = text.replace(en, zh)
    parts = []
    for part in text.split(" 且 "):
        head, _, rest = part.partition(" ")
        for role, zh in _ROLE_ZH.items():
            if head == role or head.startswith((role + "反射率", role + "（")):
                head = zh + head[len(role) :]
                break
        parts.append(f"{head} {rest}" if rest else head)
    return " 且 ".join(parts)


_SIZE_ZH = {
    "huge": "巨大",
    "large": "大",
    "somewhat large": "较大",
    "medium": "中等",
    "small": "小",
    "very tiny": "极小",
}
_LOC_ZH = {
    "top-left": "左上",
    "top-center": "上方中部",
    "top-right": "右上",
    "middle-left": "左侧中部",
    "center": "中央",
    "middle-right": "右侧中部",
    "bottom-left": "左下",
    "bottom-center": "下方中部",
    "bottom-right": "右下",
}


def _fmt_area(m2: float, language: str) -> str:
    if language == "zh":
        return f"{m2 / 1e6:,.3f} 平方公里" if m2 >= 1e6 else f"{m2 / 1e4:,.2f} 公顷"
    return f"{m2 / 1e6:,.3f} km²" if m2 >= 1e6 else f"{m2 / 1e4:,.2f} ha"


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "0%"


def _stat_line(name: str, st: Mapping[str, Any], language: str) -> str:
    ins, out = st.get("inside", {}), st.get("outside", {})

    def one(s: Mapping[str, Any]) -> str:
        if not s.get("count"):
            return "n/a" if language == "en" else "无"
        if language == "zh":
            return f"均值 {s['mean']:.3f}（P10 {s['p10']:.3f}，中位数 {s['p50']:.3f}，P90 {s['p90']:.3f}）"
        return f"mean {s['mean']:.3f} (p10 {s['p10']:.3f}, median {s['p50']:.3f}, p90 {s['p90']:.3f})"

    if language == "zh":
        return f"- {name}：结果内 {one(ins)}；结果外 {one(out)}。"
    return f"- {name}: inside {one(ins)}; outside {one(out)}."


def _scene_text(scene: Mapping[str, Any], language: str) -> str:
    parts = []
    if "bright_reference" in scene:
        ref = f"{scene['bright_reference']:g} + {scene['margin']:g}"
        parts.append(f"亮地物参考 {ref}" if language == "zh" else f"bright-surface reference {ref}")
    if "nir_dark_limit" in scene:
        if language == "zh":
            lim = f"{scene['nir_dark_limit']:g}（P1 {scene['nir_p1']:g}，P90 {scene['nir_p90']:g}）"
            parts.append(f"近红外上限 {lim}")
        else:
            lim = f"{scene['nir_dark_limit']:g} (p1 {scene['nir_p1']:g}, p90 {scene['nir_p90']:g})"
            parts.append(f"NIR limit {lim}")
    moved = [(k.split(":", 1)[1], v) for k, v in scene.items() if k.startswith("guard_reference:")]
    if moved:
        refs = ", ".join(f"{name} {value:g}" for name, value in moved)
        if language == "zh":
            parts.append(f"约束随亮地物平移（{refs}）")
        else:
            parts.append(f"guards moved with bright surfaces ({refs})")
    n = f"{scene.get('sample_pixels', 0):,}"
    parts.append(f"样本 {n} 像元" if language == "zh" else f"from {n} sampled pixels")
    return ("；" if language == "zh" else "; ").join(parts)


def _region_line(i: int, r: Mapping[str, Any], language: str) -> str:
    cx, cy = r.get("Centroid", [0, 0])
    if language == "zh":
        size = _SIZE_ZH.get(r.get("Size of area"), r.get("Size of area"))
        loc = _LOC_ZH.get(r.get("Location"), r.get("Location"))
        return f"{i}. {size}区域，位于{loc}（质心 x={cx}, y={cy}）"
    return f"{i}. {r.get('Size of area')} region, {r.get('Location')} (centroid x={cx}, y={cy})"


def spectral_explanation(
    target: Any, details: Mapping[str, Any], regions: Sequence[Mapping[str, Any]], language: str = "en"
) -> str:
    """Full explanation text of a spectral extraction (``details`` from :class:`SpectralEngine`).

    ``target`` is a :class:`~model_runtime.prompts.PromptTarget` (or a class name string); ``regions`` are
    the SPIE attribute dicts of the final polygons, largest first.
    """
    lang = "zh" if language == "zh" else "en"
    name = class_name(getattr(target, "target_class", target), lang)
    lines = _rule_lines(name, details, lang)
    lines += _result_lines(details, regions, lang)
    lines += _statistics_lines(details, lang)
    lines += _caveat_lines(details, lang)
    return "\n".join(lines)


def _rule_lines(name: str, details: Mapping[str, Any], lang: str) -> List[str]:
    """What was extracted, the rule, how its threshold was chosen, each index, each guard, mixed edges."""
    thr = details.get("threshold", {})
    scene = thr.get("scene") or {}
    method = _METHOD[lang].get(thr.get("method", "default"), thr.get("method", ""))
    method = method.format(
        n=f"{thr.get('histogram_pixels', 0):,}",
        sep=thr.get("separability", "?"),
        index=thr.get("index", ""),
        ref=scene.get("bright_reference", "?"),
        margin=scene.get("margin", "?"),
    )
    is_default = thr.get("method", "default") == "default"
    test = f"{thr.get('index')} {thr.get('op')} {thr.get('value')}"
    if lang == "zh":
        default = "" if is_default else f"（默认 {thr.get('default')}）"
        lines = [
            f"使用光谱引擎（无需模型权重）提取{name}。",
            f"判别规则：{condition_text(details.get('rule_text', ''), 'zh')}。",
            f"主阈值 {test}：{method}{default}。",
        ]
    else:
        default = "" if is_default else f" (default {thr.get('default')})"
        lines = [
            f"Extracted {name} with the spectral engine (no model weights).",
            f"Rule: {details.get('rule_text', '')}.",
            f"Primary test {test}: {method}{default}.",
        ]
    for idx, info in details.get("indices", {}).items():
        if lang == "zh":
            long_name = INDEX_NAMES_ZH.get(idx, info["long_name"])
            lines.append(f"- {idx} = {info['formula']}（{long_name}；{info['reference']}）")
        else:
            lines.append(f"- {idx} = {info['formula']} ({info['long_name']}; {info['reference']})")
    for g in details.get("guards", []):
        if lang == "zh":
            lines.append(
                f"- 约束 {condition_text(g['test'], 'zh')}：{why_zh(g['why'])}；排除了 {g['rejected_px']:,} 个通过主测试的像元。"  # noqa: E501 (CJK characters count double)
            )
        else:
            lines.append(
                f"- Guard {g['test']}: {g['why']}; it removed {g['rejected_px']:,} pixels that passed "
                "the primary test."
            )
    edges = details.get("pixels", {}).get("mixed_edge_px", 0)
    if edges and lang == "zh":
        lines.append(
            f"- 混合像元：{edges:,} 个紧邻确定水体、通过主测试但未通过全部约束的像元，"
            "经局部线性解混（两侧水体与陆地的平均光谱）判定水体占一半以上，已加入结果。"
        )
    elif edges:
        lines.append(
            f"- Mixed shoreline pixels: {edges:,} pixels next to confident water that passed the primary "
            "test but not every guard were added, as local linear unmixing (between the mean spectra of "
            "the water and the land around them) puts water at half of them or more."
        )
    lines.extend(_mixed_urban_lines(details, lang))
    return lines


def _mixed_urban_lines(details: Mapping[str, Any], lang: str) -> List[str]:
    """The vegetation / built-up split of mixed edge pixels (mixed_urban), when it moved any."""
    moved = details.get("pixels", {}).get("mixed_urban_px", 0)
    if not moved or not details.get("mixed_urban"):
        return []
    vegetation = details.get("target_class") == "vegetation"
    if lang == "zh":
        fate = "已从植被中去除（归入建成区）" if vegetation else "已归入建成区"
        return [
            f"- 植被/建成区混合像元：{moved:,} 个紧邻建成区、通过植被规则的像元，经本场景植被与建成区光谱的"
            f"线性解混判定植被不足一半，{fate}。"
        ]
    fate = "were left out (built-up covers most of each)" if vegetation else "were added"
    return [
        f"- Mixed vegetation / built-up pixels: {moved:,} pixels next to built-up that the vegetation rule "
        f"takes {fate}, as linear unmixing between the scene's vegetation and built-up spectra puts "
        "vegetation at less than half of each."
    ]


def _result_lines(details: Mapping[str, Any], regions: Sequence[Mapping[str, Any]], lang: str) -> List[str]:
    """How much was found and where the largest regions are."""
    pixels = details.get("pixels", {})
    px_area = details.get("pixel_area_m2")
    valid = pixels.get("target", 0) + pixels.get("background", 0)
    tgt = pixels.get("target", 0)
    area_txt = f" ≈ {_fmt_area(tgt * px_area, lang)}" if px_area else ""
    n = len(regions)
    if lang == "zh":
        lines = [f"结果：{n} 个区域；{tgt:,} 个像元{area_txt}，占有效区域的 {_pct(tgt, valid)}。"]
    else:
        lines = [
            f"Result: {n} region{'s' if n != 1 else ''}; {tgt:,} pixels{area_txt}, "
            f"{_pct(tgt, valid)} of the valid area."
        ]
    if n:
        lines.append("最大的区域：" if lang == "zh" else "Largest regions:")
        for i, r in enumerate(regions[:DESCRIBED_REGIONS], 1):
            lines.append(_region_line(i, r, lang))
        if n > DESCRIBED_REGIONS:
            rest = n - DESCRIBED_REGIONS
            lines.append(
                f"另有 {rest:,} 个较小区域。" if lang == "zh" else f"... and {rest:,} smaller regions."
            )
    return lines


def _statistics_lines(details: Mapping[str, Any], lang: str) -> List[str]:
    """Index statistics inside / outside the result, and what the cleanup changed."""
    lines: List[str] = []
    stats = details.get("stats", {})
    if stats:
        lines.append(
            "指数统计（结果内 / 结果外）："
            if lang == "zh"
            else "Index statistics (inside / outside the result):"
        )
        for idx, st in stats.items():
            lines.append(_stat_line(idx, st, lang))
    cleanup = details.get("cleanup") or {}
    if cleanup.get("removed_region_px") or cleanup.get("filled_hole_px"):
        lines.append(_cleanup_line(cleanup, lang))
    return lines


def _cleanup_line(cleanup: Mapping[str, Any], lang: str) -> str:
    """What the sieve did; a class whose objects can be one pixel (water) keeps its lone pixels."""
    min_px, removed = cleanup.get("min_region_px"), cleanup.get("removed_region_px", 0)
    fill_px, filled = cleanup.get("fill_holes_px"), cleanup.get("filled_hole_px", 0)
    if lang == "zh":
        specks = (f"去除小于 {min_px} 像元的斑块（{removed:,} 像元）" if (min_px or 0) >= 2
                  else "保留单像元目标（小池塘可能只有一个像元）")  # fmt: skip
        return f"清理：{specks}，填充小于 {fill_px} 像元的孔洞（{filled:,} 像元）。"
    specks = (f"removed specks under {min_px} pixels ({removed:,} px)" if (min_px or 0) >= 2
              else "kept single-pixel objects (a pond can be one pixel)")  # fmt: skip
    return f"Cleanup: {specks} and filled holes under {fill_px} pixels ({filled:,} px)."


def _caveat_lines(details: Mapping[str, Any], lang: str) -> List[str]:
    """The caveats of the rule and of this run, with their numbers filled in."""
    pixels = details.get("pixels", {})
    total = pixels.get("total", 0) - pixels.get("outside_aoi", 0)
    fields = {
        "missing": ", ".join(details.get("fallback_missing_roles", [])) or "?",
        "skipped": ", ".join(details.get("skipped_guards", [])) or "-",
        "nodata_pct": _pct(pixels.get("nodata", 0), total),
        "scene": _scene_text(details.get("threshold", {}).get("scene") or {}, lang),
    }
    lines = []
    for key in details.get("caveats", []):
        text = CAVEATS.get(key, {}).get(lang)
        if text:
            lines.append("- " + text.format(**fields))
    if lines:
        lines.insert(0, "注意事项：" if lang == "zh" else "Caveats:")
    return lines


# --------------------------------------------------------------------------------------------- per feature
#: a condition is "clearly" met when the polygon's mean lies this share of the value's range beyond it
CLEAR_MARGIN_SHARE = 0.1
#: polygons smaller than this many pixels are mostly mixed edge pixels: their confidence is scaled down
SMALL_POLYGON_PX = 4
SMALL_POLYGON_FACTOR = 0.8


def condition_margin(mean: float, op: str, threshold: float, value_range: Tuple[float, float]) -> float:
    """How far ``mean`` lies on the passing side of ``op threshold``, as a share of a clear margin
    (:data:`CLEAR_MARGIN_SHARE` of ``value_range``); negative on the failing side."""
    scale = CLEAR_MARGIN_SHARE * (value_range[1] - value_range[0]) or 1.0
    margin = (mean - threshold) if op == ">" else (threshold - mean)
    return margin / scale


def feature_confidence(margins: Sequence[float], pixels: float) -> float:
    """Confidence 0-1 of one polygon (documented in docs/spectral.md).

    0.5 + 0.5 x the smallest clear-margin share over the rule's conditions (clipped to 0..1): 0.5 when the
    polygon's mean sits on a threshold, 1.0 when every mean is at least a clear margin beyond its threshold;
    x 0.8 for polygons under :data:`SMALL_POLYGON_PX` pixels (mostly mixed edge pixels).
    """
    finite = [m for m in margins if math.isfinite(m)]
    base = 0.5 + 0.5 * min(1.0, max(0.0, min(finite))) if finite else 0.5
    if pixels < SMALL_POLYGON_PX:
        base *= SMALL_POLYGON_FACTOR
    return round(base, 3)


def feature_heading(
    target_class: str, rank: int, total: int, area_m2: float, pixels: float, attrs: Mapping[str, Any],
    language: str = "en",
) -> str:
    """The first sentence about one polygon (any engine): rank, area, pixels, size level and place."""
    lang = "zh" if language == "zh" else "en"
    name = class_name(target_class, lang)
    place = attrs.get("Location", "")
    size = attrs.get("Size of area", "")
    if lang == "zh":
        size, place = _SIZE_ZH.get(size, size), _LOC_ZH.get(place, place)
        area = f"{area_m2 / 10000:,.2f} 公顷" if area_m2 >= 10000 else f"{area_m2:,.0f} 平方米"
        return f"{name}区域 {rank}/{total}：{area}（{pixels:,.0f} 像元，{size}），位于{place}。"
    area = f"{area_m2 / 10000:,.2f} ha" if area_m2 >= 10000 else f"{area_m2:,.0f} m²"
    return f"{name.capitalize()} region {rank} of {total}: {area} ({pixels:,.0f} px, {size}), {place}."


def feature_explanation(
    target_class: str,
    rank: int,
    total: int,
    area_m2: float,
    pixels: float,
    attrs: Mapping[str, Any],
    conditions: Sequence[Mapping[str, Any]],
    confidence: float,
    language: str = "en",
) -> str:
    """Text about one polygon: size, place, the mean of each rule value inside it against its threshold,
    and its confidence. ``conditions``: dicts with ``label``, ``op``, ``threshold``, ``mean`` (None when the
    polygon holds no valid pixel of that value)."""
    heading = feature_heading(target_class, rank, total, area_m2, pixels, attrs, language)
    zh = language == "zh"
    parts = []
    for c in conditions:
        mean = c.get("mean")
        missing = "无" if zh else "n/a"
        shown = missing if mean is None or not math.isfinite(mean) else f"{mean:.3f}"
        label = condition_text(c["label"], language)
        parts.append(f"{label} {shown}（{c['op']} {c['threshold']:g}）" if zh else
                     f"{label} {shown} ({c['op']} {c['threshold']:g})")  # fmt: skip
    if zh:
        return f"{heading}区域内均值与阈值：{'；'.join(parts)}。置信度 {confidence:.2f}。"
    values = "; ".join(parts)
    return f"{heading} Mean inside vs rule: {values}. Confidence {confidence:.2f}."
