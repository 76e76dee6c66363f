"""The ``spex`` engine: the SPEX vision-language model over 512 x 512 tiles.

Per run: pick the composite bands and the percentile stretch over the AOI (``composite``), load the model
once per (folder, device, dtype) and the vision-encoder runtime (``spex.vision_runtime``: ONNX Runtime, else
torch), then for every tile (``tiling``, 64 px overlap, row-major):

1. read the tile's bands; validity = raster no-data & inside the AOI polygon;
2. composite -> 8-bit RGB -> ImageNet-normalised pixel values (edge tiles padded with black);
3. SPIE: the spectral engine's rule for the class (``thresholds``) on the tile -> connected regions
   (``vectorize.regions_from_array``) -> ``spie.region_attributes`` -> ``spie.build_spex_prompt``; at most
   :data:`MAX_PROMPT_REGIONS` regions (largest first), regions under :data:`MIN_PROMPT_REGION_PX` pixels
   ignored, so a speckled tile cannot overflow the LLM context;
4. vision encoder -> ``SpexModel.generate(prompt, vision_features=...)`` -> text + soft mask [512, 512];
5. the soft masks are feather-blended across overlaps (``tiling.StripStitcher``) and binarised at 0.5
   (the model's own threshold) into the uint8 mask GeoTIFF, streamed row block by row block.

``explain()`` merges the tiles' texts (only tiles whose mask has target pixels; identical texts once) and
adds a footnote naming the model and the runtimes used. Details carry provider, device, dtype and the time
spent per stage.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any, Dict, List, Tuple

import numpy as np

from ..composite import (
    choose_composite_bands,
    compute_stretch,
    pad_to,
    pixel_values,
    source_blocks,
    stretch_to_uint8,
)
from ..errors import DependencyMissingError, SpexInputError
from ..requirements import pip_install, required_modules
from ..tiling import TILE_OVERLAP, TILE_SIZE, StripStitcher, plan_tiles
from .base import MASK_BACKGROUND, MASK_NODATA, MASK_TARGET, EngineJob, EngineOutput

MAX_PROMPT_REGIONS = 10  # regions per SPIE prompt (largest first), as spie.MAX_PROMPT_REGIONS
MIN_PROMPT_REGION_PX = 16
MASK_THRESHOLD = 0.5
PIP_SPEX = pip_install(feature="spex")  # model_runtime/requirements.py: the one list

_CACHE_LOCK = threading.Lock()
_CACHE: Dict[Tuple[str, ...], LoadedModel] = {}


class LoadedModel:
    """A loaded ``SpexModel`` with its device choice and vision-encoder runtime."""

    def __init__(self, model, device, vision, seconds: float):
        self.model, self.device, self.vision, self.load_seconds = model, device, vision, seconds

    def runtime(self) -> Dict[str, str]:
        """What runs where, for display: ``{"vision": "onnxruntime-cpu" | "onnxruntime-cuda" |
        "onnxruntime-tensorrt" | "torch-cpu" | "torch-cuda", "vision_provider": e.g. "CPUExecutionProvider",
        "llm_device": "cpu" | "cuda:0", "precision": "fp32" | "bf16" | "fp16" | "int8",
        "label": one line, e.g. "vision onnxruntime-cpu, LLM cpu fp32"}``."""
        provider = str(self.vision.provider)
        if self.vision.backend == "onnxruntime":
            kind = "tensorrt" if "Tensorrt" in provider else "cuda" if "CUDA" in provider else "cpu"
        else:
            kind = "cuda" if "cuda" in provider else "cpu"
        vision = f"{self.vision.backend}-{kind}"
        llm = str(self.device.device)
        precision = str(self.device.precision)
        return {
            "vision": vision,
            "vision_provider": provider,
            "llm_device": llm,
            "precision": precision,
            "label": f"vision {vision}, LLM {llm} {precision}",
        }


def _broken_import(module: str, exc: ImportError) -> str:
    """One line naming the real cause of a failed import of an installed package."""
    cause = " ".join(f"{type(exc).__name__}: {exc}".split())
    return (
        f"import {module} failed ({cause}): an installed package is broken or shadowed by an older copy; "
        f"reinstall it with {PIP_SPEX} (in QGIS: Raster > SPEX > Install SPEX engine dependencies)"
    )


def check_dependencies() -> List[str]:
    """Raise :class:`DependencyMissingError` (with the pip command) if a required package of the spex
    feature (model_runtime.requirements) is missing or broken; return warnings for optional ones
    (onnxruntime)."""
    missing = []
    for mod in required_modules("spex"):
        try:
            __import__(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:  # the package is there, one of its own imports is not: say which
                raise DependencyMissingError(_broken_import(mod, exc)) from None
            missing.append(mod)
        except ImportError as exc:  # installed but broken (e.g. an old system copy shadows what it needs)
            raise DependencyMissingError(_broken_import(mod, exc)) from None
    if missing:
        raise DependencyMissingError(
            f"the SPEX engine needs {', '.join(missing)}, not installed: run {PIP_SPEX} "
            "(or use --engine spectral)"
        )
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return [
            f"onnxruntime is not installed ({pip_install(['onnxruntime'])}): the vision encoder runs in "
            "torch, slower"
        ]
    return []


def load_model(
    model_dir: str,
    device_spec: str = "auto",
    log=None,
    precision: str = "auto",
    base_model_dir: str | None = None,
) -> LoadedModel:
    """Load (or reuse) the model for ``model_dir`` on ``device_spec`` at ``precision``; one model is kept
    at a time. ``base_model_dir``: the base model of a LoRA checkpoint (``--model-base``).

    Order matters for peak memory: the vision-encoder runtime comes first (an ONNX export, when one must
    be made, loads and frees its own fp32 encoder), then the LLM, without the torch vision encoder when
    ONNX Runtime serves it.
    """
    from ..spex.checkpoint import is_lora_folder
    from ..spex.device import resolve_precision
    from ..spex.modeling import SpexModel
    from ..spex.vision_runtime import auto_backend, backend_preference, torch_runtime, try_onnx_runtime

    device = resolve_precision(device_spec, precision)
    base_key = os.path.realpath(base_model_dir) if base_model_dir else ""
    key = (os.path.realpath(model_dir), base_key, device.device, device.dtype, device.quantization or "")
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        _CACHE.clear()  # one 1.8 B-parameter model in memory is plenty
        gc.collect()
        _set_cpu_threads(device)
        t0 = time.perf_counter()
        prefer = backend_preference()
        if prefer == "auto":
            prefer = auto_backend(device)
        vision, notes = None, []
        if is_lora_folder(model_dir):  # its encoder lives in non_lora_trainables.bin: no ONNX export
            prefer = "torch"
        if prefer == "onnx":
            vision, notes = try_onnx_runtime(model_dir, device, log, required=backend_preference() == "onnx")
        model = SpexModel.from_pretrained(
            model_dir,
            base_model_dir=base_model_dir,
            device=device.device,
            dtype=device.torch_dtype,
            load_vision_encoder=vision is None,
            quantization=device.quantization,
        )
        model.eval()
        if vision is None:
            vision = torch_runtime(model.vision_encoder, device)
            vision.warnings[:0] = notes
        loaded = LoadedModel(model, device, vision, time.perf_counter() - t0)
        _CACHE[key] = loaded
        return loaded


def _set_cpu_threads(device) -> None:
    """torch intra-op threads = physical cores on the CPU (hyper-threads slow the matmul-bound LLM down),
    unless the user pinned them with OMP_NUM_THREADS / MKL_NUM_THREADS."""
    if device.is_cuda or os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return
    import torch

    from ..spex.device import physical_cores

    torch.set_num_threads(physical_cores())


def current_runtime() -> Dict[str, str] | None:
    """:meth:`LoadedModel.runtime` of the model kept in memory, or None when none is loaded (cheap: for
    a status line in the plugin)."""
    with _CACHE_LOCK:
        loaded = next(iter(_CACHE.values()), None)
    return loaded.runtime() if loaded is not None else None


def clear_cache() -> None:
    """Forget the cached model (frees its memory once nothing else holds it)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _create_mask(path: str, source, window, probability: bool = False) -> Any:
    """The mask GeoTIFF of ``window`` (uint8, MASK_NODATA), or with ``probability`` the model's stitched soft
    mask (float32 0-1, NaN = no data) on the same grid."""
    from osgeo import gdal

    gt = source.geotransform
    x0 = gt[0] + window.xoff * gt[1] + window.yoff * gt[2]
    y0 = gt[3] + window.xoff * gt[4] + window.yoff * gt[5]
    ds = gdal.GetDriverByName("GTiff").Create(
        path,
        window.xsize,
        window.ysize,
        1,
        gdal.GDT_Float32 if probability else gdal.GDT_Byte,
        ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"],
    )
    ds.SetGeoTransform((x0, gt[1], gt[2], y0, gt[4], gt[5]))
    if source.crs_wkt:
        ds.SetProjection(source.crs_wkt)
    ds.GetRasterBand(1).SetNoDataValue(float("nan") if probability else MASK_NODATA)
    return ds


class SpexEngine:
    """SPEX vision-language segmentation, tile by tile (see module docstring)."""

    name = "spex"

    def run(self, job: EngineJob) -> EngineOutput:
        """Mask of ``job.target`` over ``job.region`` from the SPEX model."""
        from ..raster import Window
        from ..spie import build_spex_prompt, omitted_regions, region_attributes
        from ..thresholds import evaluate, looks_like_reflectance, select_variant
        from ..vectorize import regions_from_array, signed_area

        req, source, region = job.request, job.source, job.region
        if not req.model_dir:
            raise SpexInputError(
                "the spex engine needs the SPEX model folder: pass --model DIR "
                "(or use --engine spectral, which needs no weights)"
            )
        if not os.path.isdir(req.model_dir):
            raise SpexInputError(
                f"model folder {req.model_dir} does not exist: point --model at the folder "
                "holding the SPEX config.json and weights"
            )
        warnings = check_dependencies()
        timings = {"stretch": 0.0, "read": 0.0, "spie": 0.0, "vision": 0.0, "llm_and_mask": 0.0, "write": 0.0}

        bands = choose_composite_bands(source.roles)
        if bands.note:
            warnings.append(bands.note)
        try:
            variant, _missing = select_variant(job.target.target_class, source.roles)
        except SpexInputError as exc:
            variant = None
            warnings.append(f"no spectral attributes for the prompt ({exc}); the model sees the image only")
        read_roles = list(dict.fromkeys(list(bands.roles) + (list(variant.roles) if variant else [])))

        job.progress(0.0, "computing the composite stretch")
        t0 = time.perf_counter()
        stretch = compute_stretch(source_blocks(source, bands.roles, region))
        timings["stretch"] = time.perf_counter() - t0
        warnings.extend(stretch.notes)
        job.check_cancelled()

        job.progress(0.03, "loading the SPEX model")
        loaded = load_model(
            req.model_dir,
            req.device,
            log=lambda msg: job.progress(0.04, msg.splitlines()[0][:100]),
            precision=getattr(req, "precision", "auto") or "auto",
            base_model_dir=getattr(req, "model_base_dir", None),
        )
        warnings.extend(w for w in loaded.vision.warnings if w not in warnings)
        job.check_cancelled()

        win = region.window
        tiles = plan_tiles(win.ysize, win.xsize, TILE_SIZE, TILE_OVERLAP)
        mask_path = os.path.join(job.workdir, "spex_mask.tif")
        ds = _create_mask(mask_path, source, win)
        band = ds.GetRasterBand(1)
        # the soft mask too: each feature's confidence is its mean inside the polygon (feature_details)
        probability_path = os.path.join(job.workdir, "spex_probability.tif")
        prob_ds = _create_mask(probability_path, source, win, probability=True)
        prob_band = prob_ds.GetRasterBand(1)

        def sink(yoff: int, values: np.ndarray, ok: np.ndarray) -> None:
            t = time.perf_counter()
            out = np.where(values >= MASK_THRESHOLD, MASK_TARGET, MASK_BACKGROUND).astype(np.uint8)
            out[~ok] = MASK_NODATA
            band.WriteArray(out, 0, yoff)
            prob_band.WriteArray(np.where(ok, values, np.nan).astype(np.float32), 0, yoff)
            timings["write"] += time.perf_counter() - t

        stitcher = StripStitcher(win.ysize, win.xsize, sink, TILE_SIZE, TILE_OVERLAP, mode="feather")
        tile_records: List[Dict[str, Any]] = []
        reflectance: bool | None = None
        tokens_total = 0
        omitted_total = 0
        try:
            for i, tile in enumerate(tiles):
                job.check_cancelled()
                t = time.perf_counter()
                window = Window(win.xoff + tile.xoff, win.yoff + tile.yoff, tile.xsize, tile.ysize)
                arrays, valid = source.read(read_roles, window)
                inside = region.mask(window)
                if inside is not None:
                    valid = valid & inside
                timings["read"] += time.perf_counter() - t
                valid_pad = pad_to(valid, TILE_SIZE, TILE_SIZE, False)
                if not valid.any():
                    stitcher.add(tile, np.zeros((TILE_SIZE, TILE_SIZE), np.float32), valid_pad)
                    tile_records.append(
                        {
                            "tile": i + 1,
                            "extent": tile.label(win.yoff, win.xoff),
                            "window": [tile.xoff, tile.yoff, tile.xsize, tile.ysize],
                            "skipped": True,
                        }
                    )
                    continue

                t = time.perf_counter()
                attrs: List[Dict[str, Any]] = []
                regions_total = 0
                if variant is not None:
                    if reflectance is None:
                        reflectance = looks_like_reflectance({r: arrays[r] for r in variant.roles}, valid)
                    hit, _ = evaluate(variant, arrays, req.threshold, use_reflectance_guards=reflectance)
                    hit = pad_to((hit & valid).astype(np.uint8), TILE_SIZE, TILE_SIZE, 0)
                    regions = regions_from_array(hit)
                    regions_total = len(regions)
                    kept = [
                        r for r in regions if sum(signed_area(ring) for ring in r) >= MIN_PROMPT_REGION_PX
                    ]
                    # attributes of a few more than fit, so omitted_regions() can count what was left out
                    attrs = region_attributes(kept[: 4 * MAX_PROMPT_REGIONS], TILE_SIZE, TILE_SIZE)
                    omitted = (
                        omitted_regions(attrs, MAX_PROMPT_REGIONS)
                        + len(regions)
                        - min(len(attrs), len(regions))
                    )
                    omitted_total += omitted
                prompt = build_spex_prompt(job.target.class_phrase, attrs, MAX_PROMPT_REGIONS)
                timings["spie"] += time.perf_counter() - t

                rgb = stretch_to_uint8([arrays[r] for r in bands.roles], valid, stretch)
                px = pixel_values(pad_to(rgb, TILE_SIZE, TILE_SIZE, 0))
                t = time.perf_counter()
                feat_agg, image_emb = loaded.vision(px)
                timings["vision"] += time.perf_counter() - t

                t = time.perf_counter()
                out = loaded.model.generate(
                    prompt=prompt,
                    max_new_tokens=int(req.max_new_tokens),
                    vision_features=_to_torch(feat_agg, image_emb, loaded),
                )
                timings["llm_and_mask"] += time.perf_counter() - t
                tokens_total += int(out.sequences.shape[-1])
                stitcher.add(tile, out.mask_soft, valid_pad)
                has_target = bool((out.mask_soft[: tile.ysize, : tile.xsize][valid] >= MASK_THRESHOLD).any())
                tile_records.append(
                    {
                        "tile": i + 1,
                        "extent": tile.label(win.yoff, win.xoff),
                        "window": [tile.xoff, tile.yoff, tile.xsize, tile.ysize],  # mask pixels
                        "text": out.text,
                        "has_target": has_target,
                        "finish_reason": out.finish_reason,
                        "tokens": int(out.sequences.shape[-1]),
                        "spie_regions": min(len(attrs), MAX_PROMPT_REGIONS),
                        "spie_regions_found": regions_total,
                    }
                )
                job.progress(0.05 + 0.95 * (i + 1) / len(tiles), f"SPEX tile {i + 1}/{len(tiles)}")
            stitcher.close()
            band.FlushCache()
            prob_band.FlushCache()
        finally:
            band = prob_band = None
            ds = prob_ds = None
        if omitted_total:
            warnings.append(
                f"{omitted_total} small spectral region(s) were left out of the SPIE prompts "
                f"(at most {MAX_PROMPT_REGIONS} per tile, none under {MIN_PROMPT_REGION_PX} px)"
            )
        if any(r.get("finish_reason") == "length" for r in tile_records):
            warnings.append(
                f"some tile answers reached max_new_tokens={req.max_new_tokens} and end mid-sentence"
            )
        details = {
            "engine": "spex",
            "target_class": job.target.target_class,
            "model_dir": os.path.abspath(req.model_dir),
            "device": loaded.device.device,
            "device_name": loaded.device.name,
            "dtype": loaded.device.dtype,
            "precision": loaded.device.precision,
            "vision_backend": loaded.vision.backend,
            "vision_provider": loaded.vision.provider,
            "vision_runtime": loaded.vision.describe(),
            "runtime": loaded.runtime(),
            "onnx_path": loaded.vision.onnx_path,
            "composite": {"roles": list(bands.roles), "kind": bands.kind, "stretch": stretch.to_dict()},
            "spectral_rule": variant.name if variant else None,
            "tiles": len(tiles),
            "tile_size": TILE_SIZE,
            "tile_overlap": TILE_OVERLAP,
            "max_new_tokens": int(req.max_new_tokens),
            "generated_tokens": tokens_total,
            "model_load_seconds": round(loaded.load_seconds, 3),
            "seconds": {k: round(v, 3) for k, v in timings.items()},
            "spex_tiles": tile_records,
            "probability_path": probability_path,
        }
        return EngineOutput(mask_path=mask_path, details=details, warnings=warnings)

    def explain(self, job: EngineJob, output: EngineOutput, regions: List[Dict[str, Any]]) -> str:
        """The model's text per tile with target pixels (identical texts merged) + a runtime footnote."""
        return merge_tile_texts(output.details, job.target.class_phrase, job.target.language)

    def feature_details(self, job: EngineJob, output: EngineOutput, polygons, regions) -> List[Dict]:
        """``{"explain", "confidence"}`` per polygon (aligned with ``polygons.polygons``): its size and place,
        then the SPEX answer of the tile(s) it lies in; confidence = the mean of the model's stitched soft
        mask inside the polygon (1: every pixel deep inside the model's mask; thin or edge-only polygons
        score lower)."""
        from ..explain import feature_heading
        from ..feature_stats import polygon_means

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
            from ..prompts import class_name

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


def _to_torch(feat_agg: np.ndarray, image_emb: np.ndarray, loaded: LoadedModel):
    import torch

    dev, dt = loaded.model.device, loaded.model.dtype
    return (torch.from_numpy(feat_agg).to(dev, dt), torch.from_numpy(image_emb).to(dev, dt))
