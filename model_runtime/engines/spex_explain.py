"""The spex engine's texts: the run's explanation (the tiles' answers merged) and each feature's own."""

from __future__ import annotations

import os
from typing import Any, Dict, List

import numpy as np

from ..prompts import class_name
from ..spectral.explain import feature_heading
from ..spectral.feature_stats import polygon_means
from .base import EngineJob, EngineOutput


def feature_explanations(job: EngineJob, output: EngineOutput, polygons, regions) -> List[Dict]:
    """``{"explain", "confidence"}`` per polygon (see :meth:`.spex_engine.SpexEngine.feature_details`)."""
    items = polygons.polygons
    _counts, means = polygon_means(output.details["probability_path"], items, polygons.crs_wkt, ["p"],
                                   job.check_cancelled)  # fmt: skip
    language = getattr(job.request, "language", None) or job.target.language
    answered = [
        r for r in output.details.get("spex_tiles", [])
        if r.get("has_target") and (r.get("text") or "").strip()
    ]  # fmt: skip
    out = []
    for i, polygon in enumerate(items):
        pixels = float(polygon.area_px or 0)
        heading = feature_heading(job.target.target_class, i + 1, len(items), polygon.area_m2, pixels,
                                  regions[i], language)  # fmt: skip
        texts: Dict[str, List[str]] = {}
        for record in _tiles_over(answered, polygon.rings_px):
            texts.setdefault(record["text"].strip(), []).append(f"{record['tile']} ({record['extent']})")
        if language == "zh":
            said = " ".join(f"SPEX 对图块 {'、'.join(t)} 的回答（英文）：{x}" for x, t in texts.items())
        else:
            said = " ".join(f"SPEX on tile {', '.join(t)}: {x}" for x, t in texts.items())
        mean = float(means["p"][i])
        confidence = round(min(max(mean, 0.0), 1.0), 3) if np.isfinite(mean) else 0.0
        tail = f"置信度 {confidence:.2f}。" if language == "zh" else f"Confidence {confidence:.2f}."
        out.append({"explain": " ".join(p for p in (heading, said, tail) if p), "confidence": confidence})
    return out


def _tiles_over(records: List[Dict[str, Any]], rings_px) -> List[Dict[str, Any]]:
    """The tile records whose window (mask pixels) overlaps the bounding box of ``rings_px``."""
    if not len(rings_px):
        return []
    points = np.concatenate([np.asarray(ring, dtype=np.float64).reshape(-1, 2) for ring in rings_px])
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    hits = []
    for record in records:
        tx, ty, tw, th = record["window"]
        if x0 < tx + tw and x1 > tx and y0 < ty + th and y1 > ty:
            hits.append(record)
    return hits


def merge_tile_texts(details: Dict[str, Any], class_phrase: str, language: str = "en") -> str:
    """Readable explanation from ``details['spex_tiles']`` (see :meth:`SpexEngine.explain`)."""
    records = [
        r for r in details.get("spex_tiles", []) if r.get("has_target") and (r.get("text") or "").strip()
    ]
    groups: Dict[str, List[Dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["text"].strip(), []).append(r)
    n_tiles = int(details.get("tiles", 1))
    parts: List[str] = []
    if not groups:
        if language == "zh":
            parts.append(f"SPEX 模型在研究区内未发现{class_name(str(details.get('target_class')), 'zh')}。")
        else:
            parts.append(f"The SPEX model found no {class_phrase} in the area of interest.")
    elif n_tiles == 1:
        parts.extend(groups)
    else:
        for text, rs in groups.items():
            if len(rs) == 1:
                head = f"Tile {rs[0]['tile']} ({rs[0]['extent']})"
            else:
                head = "Tiles " + ", ".join(f"{r['tile']} ({r['extent']})" for r in rs)
            parts.append(f"{head}: {text}")
    footnote = (
        f"[SPEX model {os.path.basename(str(details.get('model_dir', '')).rstrip(os.sep))}; "
        f"vision encoder: {details.get('vision_runtime')}; language model: torch "
        f"{details.get('device')} {details.get('dtype')}"
        f"{' + int8 linears' if details.get('precision') == 'int8' else ''}; {n_tiles} tile(s) of "
        f"{details.get('tile_size')} px, overlap {details.get('tile_overlap')} px]"
    )
    if language == "zh":
        footnote += "（模型回答为英文）"
    return "\n\n".join(parts + [footnote])
