"""What runs on a dask worker: one item = one :func:`model_runtime.extract` call, and the worker plugin
that loads the SPEX model once per worker.

:func:`run_item` never raises: a bad input (``SpexInputError``) or a crash inside the extraction becomes a
``failed`` record with a one-line reason, so one bad raster never stops the batch and dask never retries a
deterministic failure. Only plain dicts cross the network.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any, Dict

#: message start of the pipeline's "only no-data pixels" error: for a chunk of a mosaic (a corner of a
#: Sentinel-2 tile) that is an empty chunk, not a failure
NODATA_ONLY = "the area of interest holds only no-data pixels"
#: tokens of the batches cancelled in this process: items running on in-process (thread) workers, as in
#: QGIS, stop at their next window instead of running to the end; worker processes are stopped by dask
CANCELLED_BATCHES: set = set()


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def _small_details(details: Dict[str, Any]) -> Dict[str, Any]:
    """The few engine facts a batch compares between chunks (the full details stay in each output)."""
    threshold = details.get("threshold") or {}
    return {
        "rule_text": details.get("rule_text"),
        "threshold": threshold.get("value"),
        "threshold_method": threshold.get("method"),
        "reflectance_like": details.get("reflectance_like"),
        "sensor": details.get("sensor"),
    }


def run_item(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Run one item on a worker: ``spec`` holds ``item_id``, ``request`` (an ExtractRequest) and
    ``is_chunk``. Returns the record fields to update (status, timing, features, error...)."""
    from ..errors import SpexError
    from ..pipeline import extract

    started = time.time()
    t0 = time.perf_counter()
    out: Dict[str, Any] = {"item_id": spec["item_id"], "started": started, "worker": _worker_name()}
    token = spec.get("token")
    try:
        result = extract(spec["request"], is_cancelled=lambda: token in CANCELLED_BATCHES)
    except SpexError as error:
        message = " ".join(str(error).split()) or type(error).__name__
        if spec.get("is_chunk") and message.startswith(NODATA_ONLY):
            out.update(status="done", features=0, area_m2=0.0, details={"nodata_only": True})
        else:
            out.update(status="failed", error=message)
    except MemoryError:
        out.update(status="failed", error="out of memory: use fewer workers per machine or smaller chunks")
    except Exception as error:  # noqa: BLE001 - reported per item; the batch goes on
        where = traceback.extract_tb(error.__traceback__)[-1]
        out.update(
            status="failed",
            error=f"internal error {type(error).__name__}: {' '.join(str(error).split())} "
            f"({os.path.basename(where.filename)}:{where.lineno}; a bug, please report it)",
        )
    else:
        details = _small_details(result.details or {})
        out.update(
            status="done",
            features=int(result.features),
            area_m2=float(result.area_m2),
            details=details,
            warnings=list(result.warnings),
        )
    out["finished"] = time.time()
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - the batch module checks for dask before using this
    _WorkerPlugin = object


class SpexModelPlugin(_WorkerPlugin):
    """Loads the SPEX model once when a worker starts (and on workers that join later): every item the
    worker runs then finds it in the engine's per-process cache instead of loading 1.8 B parameters."""

    name = "spex-model"

    def __init__(self, model_dir: str, device: str = "auto", precision: str = "auto"):
        self.model_dir = model_dir
        self.device = device
        self.precision = precision

    def setup(self, worker=None):
        """Load the model into this worker process (errors surface in the items, one line each)."""
        from ..engines.spex_engine import load_model
        from ..errors import SpexError

        try:
            load_model(self.model_dir, self.device, precision=self.precision)
        except SpexError:
            pass  # the same error reaches every item, as a one-line failure, from extract()
