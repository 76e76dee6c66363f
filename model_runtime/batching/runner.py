"""The batch itself: plan the items, skip those finished before, run the rest on dask, keep the manifest
current, merge chunks and write the merged GeoPackage.

Ctrl-C (KeyboardInterrupt) or ``is_cancelled()`` cancels what is queued, keeps every finished output and
leaves a valid manifest: the next run picks up where this one stopped.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..errors import ExtractionCancelled, SpexError, SpexInputError
from .inputs import Chunk, ChunkGrid, output_names, plan_chunks, resolve_inputs
from .manifest import MANIFEST_NAME, ItemRecord, Manifest, input_hash, params_hash
from .request import BatchRequest, BatchResult

#: the manifest is rewritten at most this often while items finish (and always at the end / on cancel)
SAVE_EVERY_S = 1.0


class BatchReporter:
    """What a batch tells its caller while it runs (the CLI draws a progress bar, QGIS a feedback);
    every method is optional to override."""

    def start(self, total: int, skipped: int, todo: int) -> None:
        """The plan: ``total`` items, ``skipped`` finished before, ``todo`` to run now."""

    def cluster(self, workers: int, dashboard: Optional[str]) -> None:
        """The cluster is up (dashboard address when one is served)."""

    def item(self, record: ItemRecord) -> None:
        """One item finished (``record.status`` done or failed)."""

    def message(self, text: str) -> None:
        """A stage message (merging chunks, writing the merged layer...)."""


@dataclass
class _Mosaic:
    raster: str
    prompt: str
    output: str
    item_id: str
    grid: ChunkGrid
    chunks: List[Tuple[Chunk, str]] = field(default_factory=list)  # (chunk, item id)


def _prompt_suffix(prompts: List[str], index: int, language: Optional[str]) -> str:
    if len(prompts) == 1:
        return ""
    from ..prompts import parse_prompt

    return f".{index + 1}_{parse_prompt(prompts[index], language).target_class}"


def _plan(request: BatchRequest, output_dir: str):
    """Items (records), their ExtractRequests, the mosaics to merge and the failures found while planning."""
    rasters = resolve_inputs(request.inputs, request.pattern, request.recursive)
    names = output_names(rasters)
    prompts = request.prompt_list()
    _check_prompts_and_engine(request, prompts)
    options = request.extract_options()
    records: List[ItemRecord] = []
    requests: Dict[str, Any] = {}
    mosaics: List[_Mosaic] = []
    for raster in rasters:
        stem = os.path.splitext(names[raster])[0]
        try:
            digest = input_hash(raster)
        except OSError:
            digest = ""  # missing/unreadable: extract() reports it as the item's failure
        grid = None
        if request.chunk_size and digest:
            try:
                grid = plan_chunks(
                    raster,
                    request.chunk_size,
                    request.overlap,
                    sensor=request.sensor,
                    bands=dict(request.bands or {}) or None,
                    scaling=request.scaling,
                )
            except SpexError as error:
                for k, prompt in enumerate(prompts):
                    suffix = _prompt_suffix(prompts, k, request.language)
                    records.append(
                        ItemRecord(
                            item_id=stem + suffix,
                            input=raster,
                            output=os.path.join(output_dir, stem + suffix + ".gpkg"),
                            input_hash=digest,
                            prompt=prompt,
                            status="failed",
                            error=" ".join(str(error).split()),
                        )
                    )
                continue
        for k, prompt in enumerate(prompts):
            name = stem + _prompt_suffix(prompts, k, request.language)
            if grid is None:
                output = os.path.join(output_dir, name + ".gpkg")
                records.append(
                    ItemRecord(
                        item_id=name,
                        input=raster,
                        output=output,
                        input_hash=digest,
                        prompt=prompt,
                        params_hash=params_hash({**options, "prompt": prompt}),
                    )
                )
                requests[name] = request.item_request(raster, prompt, output)
            else:
                mosaic = _Mosaic(raster, prompt, os.path.join(output_dir, name + ".gpkg"), name, grid)
                _plan_chunks(request, mosaic, digest, options, output_dir, records, requests)
                mosaics.append(mosaic)
    return records, requests, mosaics


def _check_prompts_and_engine(request: BatchRequest, prompts: List[str]) -> None:
    """The prompts and the engine are the same for every item: a bad one is the request's error, not a
    thousand item failures."""
    from ..prompts import parse_prompt
    from ..request import ENGINES

    if not prompts or not all(p.strip() for p in prompts):
        raise SpexInputError('no prompt given: pass --prompt "extract the water bodies" (once per prompt)')
    for prompt in prompts:
        parse_prompt(prompt, request.language)
    if request.engine not in ENGINES:
        raise SpexInputError(f"unknown engine {request.engine!r}: use one of {', '.join(ENGINES)}")


def _plan_chunks(request, mosaic, digest, options, output_dir, records, requests) -> None:
    """One item per chunk of ``mosaic.grid``, appended to ``records``/``requests`` and to the mosaic."""
    from ..request import AreaOfInterest

    grid, name, prompt, raster = mosaic.grid, mosaic.item_id, mosaic.prompt, mosaic.raster
    chunk_options = {**options, "simplify": 0.0, "min_area_m2": 0.0}
    for chunk in grid.chunks:
        item_id = f"{name}/r{chunk.row}c{chunk.col}"
        output = os.path.join(output_dir, "chunks", name, f"r{chunk.row}_c{chunk.col}.gpkg")
        window = dict(zip(("xoff", "yoff", "xsize", "ysize"), chunk.window))
        records.append(
            ItemRecord(
                item_id=item_id,
                input=raster,
                output=output,
                input_hash=digest,
                prompt=prompt,
                chunk={**dict(zip(("xoff", "yoff", "xsize", "ysize"), chunk.core)), "overlap": grid.overlap},
                params_hash=params_hash({**chunk_options, "prompt": prompt, "window": window}),
            )
        )
        # the polygons must stay on the pixel grid and whole until merged: simplify and the area
        # filter are applied to the merged regions, as a single run applies them to whole regions
        requests[item_id] = request.item_request(
            raster,
            prompt,
            output,
            aoi=AreaOfInterest(bbox=chunk.bbox(grid.geotransform)),
            simplify=0.0,
            min_area_m2=0.0,
        )
        mosaic.chunks.append((chunk, item_id))


def _validate(request: BatchRequest) -> Tuple[str, str]:
    if not request.output_dir or not str(request.output_dir).strip():
        raise SpexInputError("no output folder given: pass --output-dir FOLDER")
    output_dir = os.path.abspath(os.path.expanduser(str(request.output_dir)))
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise SpexInputError(f"output folder {output_dir} is a file: choose a folder")
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as error:
        raise SpexInputError(
            f"cannot create the output folder {output_dir} ({error.strerror}): choose a writable folder"
        ) from None
    if not os.access(output_dir, os.W_OK):
        raise SpexInputError(f"output folder {output_dir} is not writable: choose a writable folder")
    merged = os.path.abspath(
        os.path.expanduser(request.merged_output or os.path.join(output_dir, "merged.gpkg"))
    )
    if not merged.lower().endswith(".gpkg"):
        raise SpexInputError(f"merged output {merged} is not a .gpkg: the merged layer is a GeoPackage")
    if request.chunk_size:
        if request.aoi is not None:
            raise SpexInputError(
                "--aoi and --chunk-size together are not supported: clip the raster "
                "(gdal_translate -projwin) or drop one of them"
            )
        if (request.threshold_method or "fixed").lower() == "otsu":
            raise SpexInputError(
                "the Otsu threshold is computed over the area extracted, so every chunk "
                "would get its own: give --threshold, or drop --chunk-size"
            )
    return output_dir, merged


def _update(record: ItemRecord, outcome: Dict[str, Any]) -> None:
    record.attempts += 1
    for key in ("status", "started", "finished", "seconds", "features", "area_m2", "error", "worker"):
        if key in outcome:
            setattr(record, key, outcome[key])
    record.details = dict(outcome.get("details") or {})
    if outcome.get("warnings"):
        record.details["warnings"] = outcome["warnings"]
    if record.status == "done":
        record.error = None


def run_batch(
    request: BatchRequest,
    reporter: Optional[BatchReporter] = None,
    is_cancelled: Optional[Callable[[], bool]] = None,
    client=None,
) -> BatchResult:
    """Run ``request`` (see :class:`BatchRequest`); ``client``: an existing ``distributed.Client`` to use
    (the caller keeps it), else :func:`~model_runtime.batching.cluster.batch_client` makes one.

    Raises SpexInputError before any work for a bad request, ExtractionCancelled after a cancel (finished
    outputs kept, manifest saved); per-item problems never raise, they are ``failed`` items."""
    from .cluster import require_dask

    require_dask()
    started = time.perf_counter()
    reporter = reporter or BatchReporter()
    output_dir, merged = _validate(request)
    manifest = Manifest.load(os.path.join(output_dir, MANIFEST_NAME))
    owned_merged = manifest.params.get("merged_output") == merged
    if os.path.exists(merged) and not owned_merged and not request.overwrite:
        raise SpexInputError(f"merged output {merged} already exists: pass --overwrite or choose --merged")
    records, requests, mosaics = _plan(request, output_dir)
    manifest.runs += 1
    manifest.params = {
        "prompts": request.prompt_list(),
        "options": request.extract_options(),
        "chunk_size": request.chunk_size,
        "overlap": mosaics[0].grid.overlap if mosaics else request.overlap,
        "merged_output": merged,
    }
    todo, skipped = _items_to_run(records, manifest, request.overwrite)
    for record in todo:
        if record.chunk is not None:
            os.makedirs(os.path.dirname(record.output), exist_ok=True)
    manifest.update(records)
    manifest.save()
    reporter.start(len(records), skipped, len(todo))
    for record in records:
        if record.status == "failed":
            reporter.item(record)

    workers, dashboard = _execute(client, request, todo, requests, manifest, reporter, is_cancelled)

    warnings: List[str] = []
    mosaic_results = [_merge_mosaic(m, manifest, request, warnings, reporter, is_cancelled) for m in mosaics]
    merged_path, merged_features = _write_merged_layer(
        merged, records, mosaic_results, reporter, is_cancelled
    )
    manifest.save()
    counts = {
        "total": len(records),
        "done": sum(1 for r in records if r.status == "done") - skipped,
        "skipped": skipped,
        "failed": sum(1 for r in records if r.status == "failed"),
    }
    return BatchResult(
        output_dir=output_dir,
        manifest=manifest.path,
        merged_output=merged_path,
        merged_features=merged_features,
        items=[asdict(r) for r in records],
        counts=counts,
        seconds=round(time.perf_counter() - started, 3),
        workers=workers,
        dashboard=dashboard,
        mosaics=mosaic_results,
        warnings=warnings,
    )


def _items_to_run(records: List[ItemRecord], manifest: Manifest, overwrite: bool):
    """Split the planned ``records`` into those to run now and a count of those a previous run finished.

    A record whose output exists but that the manifest does not own fails here (nothing is overwritten
    without ``overwrite``); a record that failed while planning stays failed."""
    todo: List[ItemRecord] = []
    skipped = 0
    for record in records:
        previous = manifest.items.get(record.item_id)
        record.attempts = previous.attempts if previous is not None else 0
        if record.status == "failed":  # failed while planning (e.g. a raster that cannot be chunked)
            continue
        if manifest.is_finished(record):
            old = manifest.items[record.item_id]
            record.__dict__.update({k: v for k, v in asdict(old).items() if k not in ("item_id",)})
            skipped += 1
            continue
        if os.path.exists(record.output) and not manifest.owns(record.output) and not overwrite:
            record.status = "failed"
            record.error = f"output {record.output} already exists: pass --overwrite or another --output-dir"
            continue
        todo.append(record)
    return todo, skipped


def _execute(client, request, todo, requests, manifest, reporter, is_cancelled):
    """Run ``todo`` on ``client`` or on a cluster made for this batch; returns (workers, dashboard link)."""
    from .cluster import batch_client

    if not todo:
        return 0, None
    if client is not None:
        return _run_on(client, request, todo, requests, manifest, reporter, is_cancelled), None
    with batch_client(
        request.engine,
        request.workers,
        request.threads_per_worker,
        request.processes,
        request.scheduler,
        request.dashboard,
    ) as (own, count, link):
        reporter.cluster(count, link)
        _run_on(own, request, todo, requests, manifest, reporter, is_cancelled)
        return count, link


def _write_merged_layer(merged, records, mosaic_results, reporter, is_cancelled):
    """Write every finished output (or each mosaic) into the merged GeoPackage; returns (path, features)."""
    if mosaic_results:
        sources = [(m["input"], m["output"]) for m in mosaic_results if m.get("status") == "done"]
    else:
        sources = [(r.input, r.output) for r in records if r.status == "done" and os.path.exists(r.output)]
    if not sources:
        return None, 0
    from .merge import write_merged

    reporter.message(f"writing the merged layer of {len(sources)} outputs")
    return merged, write_merged(merged, sources, _checker(is_cancelled))


def _checker(is_cancelled):
    def check() -> None:
        if is_cancelled is not None and is_cancelled():
            raise ExtractionCancelled("batch cancelled")

    return check


def _run_on(client, request, todo, requests, manifest, reporter, is_cancelled) -> int:
    """Submit ``todo`` to ``client`` and record each outcome as it comes; returns the worker count."""
    from distributed import wait

    from .tasks import CANCELLED_BATCHES, SpexModelPlugin, run_item

    workers = len(client.scheduler_info().get("workers", {}))
    if request.engine == "spex" and request.model_dir:
        # one loaded model per worker, kept between its items (the engine caches it per process)
        client.register_plugin(SpexModelPlugin(request.model_dir, request.device, request.precision))
    by_id = {r.item_id: r for r in todo}
    token = uuid.uuid4().hex[:8]
    futures = {}
    for record in todo:
        spec = {
            "token": token,
            "item_id": record.item_id,
            "request": requests[record.item_id],
            "is_chunk": record.chunk is not None,
        }
        future = client.submit(run_item, spec, key=f"spex-item-{token}-{record.item_id}", pure=False)
        futures[future] = record.item_id
    pending = set(futures)
    last_save = time.monotonic()
    try:
        while pending:
            if is_cancelled is not None and is_cancelled():
                raise ExtractionCancelled("batch cancelled")
            try:
                done, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:
                continue
            for future in done:
                record = by_id[futures[future]]
                if future.status == "finished":
                    outcome = future.result()
                else:  # the worker died (out of memory, killed): dask gave up on the task
                    error = future.exception()
                    outcome = {"status": "failed", "error": f"worker lost ({type(error).__name__}: {error})"}
                _update(record, outcome)
                reporter.item(record)
            if time.monotonic() - last_save >= SAVE_EVERY_S or not pending:
                manifest.save()
                last_save = time.monotonic()
    except BaseException:
        CANCELLED_BATCHES.add(token)  # items running in this process stop at their next window
        client.cancel(list(pending), force=True)
        for future in pending:  # finished while we were told to stop: keep their record
            if future.status == "finished":
                outcome = future.result()
                if outcome.get("status") == "done":
                    _update(by_id[futures[future]], outcome)
        manifest.save()
        raise
    return workers


def _merge_mosaic(
    mosaic: _Mosaic,
    manifest: Manifest,
    request: BatchRequest,
    warnings: List[str],
    reporter: BatchReporter,
    is_cancelled,
) -> Dict[str, Any]:
    """Merge one chunked raster when all its chunks are done; its record goes into the manifest."""
    from .mosaic import merge_chunks

    chunk_records = [manifest.items[item_id] for _, item_id in mosaic.chunks]
    record = ItemRecord(
        item_id=mosaic.item_id,
        input=mosaic.raster,
        output=mosaic.output,
        input_hash=chunk_records[0].input_hash if chunk_records else "",
        prompt=mosaic.prompt,
    )
    failed = [r for r in chunk_records if r.status != "done"]
    if failed:
        record.status = "failed"
        record.error = (
            f"{len(failed)} of {len(chunk_records)} chunks failed (first: {failed[0].error}): "
            "re-run to retry them"
        )
    else:
        details = [r.details for r in chunk_records if not r.details.get("nodata_only")]
        rules = {(d.get("threshold"), d.get("rule_text")) for d in details}
        if len(rules) > 1:
            warnings.append(
                f"the chunks of {os.path.basename(mosaic.raster)} used {len(rules)} different "
                "thresholds/rules (scene-relative thresholds): borders may show; give --threshold "
                "(and --scaling) so every chunk uses the same rule"
            )
        reporter.message(f"merging {len(chunk_records)} chunks of {os.path.basename(mosaic.raster)}")
        t0 = time.perf_counter()
        outputs = [
            (chunk, None if r.details.get("nodata_only") else r.output)
            for (chunk, _), r in zip(mosaic.chunks, chunk_records)
        ]
        merged = merge_chunks(
            mosaic.grid,
            outputs,
            mosaic.output,
            prompt=mosaic.prompt,
            engine=request.engine,
            simplify=request.simplify,
            min_area_m2=request.min_area_m2,
            language=request.language,
            chunk_details=details,
            check_cancelled=_checker(is_cancelled),
        )
        record.status = "done"
        record.features, record.area_m2 = merged["features"], merged["area_m2"]
        record.seconds = round(time.perf_counter() - t0, 3)
        record.details = {
            k: merged[k] for k in ("chunks", "chunk_polygons", "pieces_joined", "dropped_small")
        }
    record.details["mosaic"] = True
    manifest.update([record])
    return {**asdict(record), "status": record.status}
