"""The ``spex`` engine: the SPEX vision-language model over 512 x 512 tiles.

Per run: pick the composite bands and the percentile stretch over the AOI (``composite``), load the model
once per (folder, device, dtype) and the vision-encoder runtime (``spex.runtime.vision_runtime``: ONNX
Runtime, else torch), then for every tile (``tiling``, 64 px overlap, row-major):

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
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

import numpy as np

from ..errors import DependencyMissingError, SpexInputError
from ..io.raster import Window
from ..requirements import pip_install, required_modules
from ..spectral.spie import MAX_PROMPT_REGIONS, build_spex_prompt, omitted_regions, region_attributes
from ..spectral.thresholds import evaluate, looks_like_reflectance, select_variant
from ..spex.loading.device import physical_cores, resolve_precision
from ..spex.modeling.config import MASK_THRESHOLD
from ..spex.modeling.preprocess import pixel_values
from ..vector.geometry import signed_area
from ..vector.vectorize import regions_from_array
from .base import MASK_BACKGROUND, MASK_NODATA, MASK_TARGET, EngineJob, EngineOutput, create_mask
from .composite import (
    CompositeBands,
    Stretch,
    choose_composite_bands,
    compute_stretch,
    pad_to,
    source_blocks,
    stretch_to_uint8,
)
from .spex_explain import feature_explanations, merge_tile_texts
from .tiling import TILE_OVERLAP, TILE_SIZE, StripStitcher, plan_tiles

MIN_PROMPT_REGION_PX = 16
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


def check_dependencies() -> List[str]:
    """Raise :class:`DependencyMissingError` (with the pip command) if a required package of the spex
    feature (model_runtime.requirements) is missing or broken; return warnings for optional ones
    (onnxruntime)."""
    missing = []
    for mod in required_modules("spex"):
        try:
            __import__(mod)
        except ImportError as exc:
            if isinstance(exc, ModuleNotFoundError) and exc.name == mod:
                missing.append(mod)
                continue
            # installed but broken: one of its own imports is missing, or an old system copy shadows it
            cause = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise DependencyMissingError(
                f"import {mod} failed ({cause}): an installed package is broken or shadowed by an older "
                f"copy; reinstall it with {PIP_SPEX} (in QGIS: Raster > SPEX > Install SPEX engine "
                "dependencies)"
            ) from None
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
    # Imported here, not at the top: they import torch, and the spectral path imports this module.
    from ..spex.loading.lora import is_lora_folder
    from ..spex.loading.pretrained import SpexModel
    from ..spex.runtime.vision_runtime import select_vision_runtime, torch_runtime

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
        # a LoRA folder's encoder lives in non_lora_trainables.bin: no ONNX export of it
        vision, notes = select_vision_runtime(
            model_dir, device, log, onnx_allowed=not is_lora_folder(model_dir)
        )
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
            vision = torch_runtime(model.vision_encoder, device, notes)
        loaded = LoadedModel(model, device, vision, time.perf_counter() - t0)
        _CACHE[key] = loaded
        return loaded


def _set_cpu_threads(device) -> None:
    """torch intra-op threads = physical cores on the CPU (hyper-threads slow the matmul-bound LLM down),
    unless the user pinned them with OMP_NUM_THREADS / MKL_NUM_THREADS."""
    if device.is_cuda or os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return
    import torch  # only on the spex path (see load_model)

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


@dataclass
class _RunPlan:
    """What a run feeds every tile: the composite bands and stretch, the SPIE rule and the loaded model."""

    bands: CompositeBands
    variant: Any  # the spectral rule (thresholds.RuleVariant) for the SPIE prompt, or None
    read_roles: List[str]
    stretch: Stretch
    loaded: LoadedModel
    timings: Dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("stretch", "read", "spie", "vision", "llm_and_mask", "write"), 0.0
        )
    )
    reflectance: bool | None = None  # decided on the first tile with valid pixels
    tokens: int = 0
    omitted_regions: int = 0


class SpexEngine:
    """SPEX vision-language segmentation, tile by tile (see module docstring)."""

    name = "spex"

    def run(self, job: EngineJob) -> EngineOutput:
        """Mask of ``job.target`` over ``job.region`` from the SPEX model."""
        _check_model_folder(job.request)
        warnings = check_dependencies()
        plan = _prepare(job, warnings)
        win = job.region.window
        tiles = plan_tiles(win.ysize, win.xsize, TILE_SIZE, TILE_OVERLAP)
        mask_path = os.path.join(job.workdir, "spex_mask.tif")
        # the soft mask too: each feature's confidence is its mean inside the polygon (feature_details)
        probability_path = os.path.join(job.workdir, "spex_probability.tif")
        records = _run_tiles(job, plan, tiles, mask_path, probability_path)
        warnings.extend(_closing_warnings(plan, records, job.request.max_new_tokens))
        details = _run_details(job, plan, len(tiles), records)
        details["probability_path"] = probability_path
        return EngineOutput(mask_path=mask_path, details=details, warnings=warnings)

    def explain(self, job: EngineJob, output: EngineOutput, regions: List[Dict[str, Any]]) -> str:
        """The model's text per tile with target pixels (identical texts merged) + a runtime footnote."""
        return merge_tile_texts(output.details, job.target.class_phrase, job.target.language)

    def feature_details(self, job: EngineJob, output: EngineOutput, polygons, regions) -> List[Dict]:
        """``{"explain", "confidence"}`` per polygon (aligned with ``polygons.polygons``): its size and place,
        then the SPEX answer of the tile(s) it lies in; confidence = the mean of the model's stitched soft
        mask inside the polygon (1: every pixel deep inside the model's mask; thin or edge-only polygons
        score lower)."""
        return feature_explanations(job, output, polygons, regions)


def _check_model_folder(req) -> None:
    """The request names an existing model folder, else a one-line SpexInputError."""
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


def _prepare(job: EngineJob, warnings: List[str]) -> _RunPlan:
    """Composite bands, SPIE rule, the composite stretch over the AOI and the loaded model (+ their notes)."""
    bands = choose_composite_bands(job.source.roles)
    if bands.note:
        warnings.append(bands.note)
    try:
        variant, _missing = select_variant(job.target.target_class, job.source.roles)
    except SpexInputError as exc:
        variant = None
        warnings.append(f"no spectral attributes for the prompt ({exc}); the model sees the image only")
    read_roles = list(dict.fromkeys(list(bands.roles) + (list(variant.roles) if variant else [])))

    job.progress(0.0, "computing the composite stretch")
    t0 = time.perf_counter()
    stretch = compute_stretch(source_blocks(job.source, bands.roles, job.region))
    seconds = time.perf_counter() - t0
    warnings.extend(stretch.notes)
    job.check_cancelled()

    job.progress(0.03, "loading the SPEX model")
    req = job.request
    loaded = load_model(
        req.model_dir,
        req.device,
        log=lambda msg: job.progress(0.04, msg.splitlines()[0][:100]),
        precision=getattr(req, "precision", "auto") or "auto",
        base_model_dir=getattr(req, "model_base_dir", None),
    )
    warnings.extend(w for w in loaded.vision.warnings if w not in warnings)
    job.check_cancelled()
    plan = _RunPlan(bands, variant, read_roles, stretch, loaded)
    plan.timings["stretch"] = seconds
    return plan


def _run_tiles(job: EngineJob, plan: _RunPlan, tiles, mask_path: str, probability_path: str) -> List[Dict]:
    """Every tile through the model, the soft masks feather-blended into the mask and probability GeoTIFFs
    (streamed row block by row block); returns one record per tile."""
    win = job.region.window
    ds = create_mask(mask_path, job.source, win)
    prob_ds = create_mask(probability_path, job.source, win, probability=True)
    band, prob_band = ds.GetRasterBand(1), prob_ds.GetRasterBand(1)

    def sink(yoff: int, values: np.ndarray, ok: np.ndarray) -> None:
        t = time.perf_counter()
        out = np.where(values >= MASK_THRESHOLD, MASK_TARGET, MASK_BACKGROUND).astype(np.uint8)
        out[~ok] = MASK_NODATA
        band.WriteArray(out, 0, yoff)
        prob_band.WriteArray(np.where(ok, values, np.nan).astype(np.float32), 0, yoff)
        plan.timings["write"] += time.perf_counter() - t

    stitcher = StripStitcher(win.ysize, win.xsize, sink, TILE_SIZE, TILE_OVERLAP, mode="feather")
    records: List[Dict[str, Any]] = []
    try:
        for i, tile in enumerate(tiles):
            job.check_cancelled()
            records.append(_run_tile(job, plan, tile, i + 1, stitcher))
            job.progress(0.05 + 0.95 * (i + 1) / len(tiles), f"SPEX tile {i + 1}/{len(tiles)}")
        stitcher.close()
        band.FlushCache()
        prob_band.FlushCache()
    finally:
        band = prob_band = None
        ds = prob_ds = None
    return records


def _run_tile(job: EngineJob, plan: _RunPlan, tile, number: int, stitcher: StripStitcher) -> Dict[str, Any]:
    """One tile: read, SPIE prompt, vision encoder, LLM + mask; its soft mask goes to ``stitcher``."""
    win = job.region.window
    record: Dict[str, Any] = {
        "tile": number,
        "extent": tile.label(win.yoff, win.xoff),
        "window": [tile.xoff, tile.yoff, tile.xsize, tile.ysize],  # mask pixels
    }
    t = time.perf_counter()
    window = Window(win.xoff + tile.xoff, win.yoff + tile.yoff, tile.xsize, tile.ysize)
    arrays, valid = job.source.read(plan.read_roles, window)
    inside = job.region.mask(window)
    if inside is not None:
        valid = valid & inside
    plan.timings["read"] += time.perf_counter() - t
    valid_pad = pad_to(valid, TILE_SIZE, TILE_SIZE, False)
    if not valid.any():
        stitcher.add(tile, np.zeros((TILE_SIZE, TILE_SIZE), np.float32), valid_pad)
        return {**record, "skipped": True}

    t = time.perf_counter()
    prompt, regions_used, regions_found = _spie_prompt(job, plan, arrays, valid)
    plan.timings["spie"] += time.perf_counter() - t

    rgb = stretch_to_uint8([arrays[r] for r in plan.bands.roles], valid, plan.stretch)
    px = pixel_values(pad_to(rgb, TILE_SIZE, TILE_SIZE, 0))
    t = time.perf_counter()
    feat_agg, image_emb = plan.loaded.vision(px)
    plan.timings["vision"] += time.perf_counter() - t

    t = time.perf_counter()
    out = plan.loaded.model.generate(
        prompt=prompt,
        max_new_tokens=int(job.request.max_new_tokens),
        vision_features=_to_torch(feat_agg, image_emb, plan.loaded),
    )
    plan.timings["llm_and_mask"] += time.perf_counter() - t
    tokens = int(out.sequences.shape[-1])
    plan.tokens += tokens
    stitcher.add(tile, out.mask_soft, valid_pad)
    has_target = bool((out.mask_soft[: tile.ysize, : tile.xsize][valid] >= MASK_THRESHOLD).any())
    return {
        **record,
        "text": out.text,
        "has_target": has_target,
        "finish_reason": out.finish_reason,
        "tokens": tokens,
        "spie_regions": regions_used,
        "spie_regions_found": regions_found,
    }


def _spie_prompt(job: EngineJob, plan: _RunPlan, arrays, valid: np.ndarray) -> Tuple[str, int, int]:
    """(SPIE prompt of the tile, regions described in it, regions the spectral rule found). At most
    :data:`MAX_PROMPT_REGIONS` regions (largest first), none under :data:`MIN_PROMPT_REGION_PX` pixels."""
    attrs: List[Dict[str, Any]] = []
    regions_found = 0
    variant = plan.variant
    if variant is not None:
        if plan.reflectance is None:
            plan.reflectance = looks_like_reflectance({r: arrays[r] for r in variant.roles}, valid)
        hit, _ = evaluate(variant, arrays, job.request.threshold, use_reflectance_guards=plan.reflectance)
        hit = pad_to((hit & valid).astype(np.uint8), TILE_SIZE, TILE_SIZE, 0)
        regions = regions_from_array(hit)
        regions_found = len(regions)
        kept = [r for r in regions if sum(signed_area(ring) for ring in r) >= MIN_PROMPT_REGION_PX]
        # attributes of a few more than fit, so omitted_regions() can count what was left out
        attrs = region_attributes(kept[: 4 * MAX_PROMPT_REGIONS], TILE_SIZE, TILE_SIZE)
        plan.omitted_regions += (
            omitted_regions(attrs, MAX_PROMPT_REGIONS) + len(regions) - min(len(attrs), len(regions))
        )
    prompt = build_spex_prompt(job.target.class_phrase, attrs, MAX_PROMPT_REGIONS)
    return prompt, min(len(attrs), MAX_PROMPT_REGIONS), regions_found


def _closing_warnings(plan: _RunPlan, records: List[Dict[str, Any]], max_new_tokens) -> List[str]:
    """Warnings about the whole run: regions left out of the prompts, answers cut at max_new_tokens."""
    warnings = []
    if plan.omitted_regions:
        warnings.append(
            f"{plan.omitted_regions} small spectral region(s) were left out of the SPIE prompts "
            f"(at most {MAX_PROMPT_REGIONS} per tile, none under {MIN_PROMPT_REGION_PX} px)"
        )
    if any(r.get("finish_reason") == "length" for r in records):
        warnings.append(f"some tile answers reached max_new_tokens={max_new_tokens} and end mid-sentence")
    return warnings


def _run_details(job: EngineJob, plan: _RunPlan, tiles: int, records: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The run's JSON-serialisable details: model, runtimes, composite, timings and the tile records."""
    req, loaded = job.request, plan.loaded
    return {
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
        "composite": {
            "roles": list(plan.bands.roles),
            "kind": plan.bands.kind,
            "stretch": plan.stretch.to_dict(),
        },
        "spectral_rule": plan.variant.name if plan.variant else None,
        "tiles": tiles,
        "tile_size": TILE_SIZE,
        "tile_overlap": TILE_OVERLAP,
        "max_new_tokens": int(req.max_new_tokens),
        "generated_tokens": plan.tokens,
        "model_load_seconds": round(loaded.load_seconds, 3),
        "seconds": {k: round(v, 3) for k, v in plan.timings.items()},
        "spex_tiles": records,
    }


def _to_torch(feat_agg: np.ndarray, image_emb: np.ndarray, loaded: LoadedModel):
    import torch  # only on the spex path (see load_model)

    dev, dt = loaded.model.device, loaded.model.dtype
    return (torch.from_numpy(feat_agg).to(dev, dt), torch.from_numpy(image_emb).to(dev, dt))
