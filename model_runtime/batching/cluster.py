"""Where a batch runs: an embedded dask ``LocalCluster`` sized to the machine, or an existing cluster.

``scheduler`` (or the ``DASK_SCHEDULER_ADDRESS`` environment variable) names a running scheduler
(``tcp://host:8786``); its workers need only this package installed. Otherwise a ``LocalCluster`` starts:
one single-threaded worker process per CPU core for the spectral engine (GDAL decoding and numpy each want
a core; processes sidestep the GIL), one worker per GPU (or one on a CPU-only machine, whose torch uses every
core) for the spex engine.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

from ..errors import DependencyMissingError, SpexInputError
from ..requirements import pip_install

PIP_BATCH = pip_install(feature="batch")


def require_dask() -> None:
    """Raise DependencyMissingError (one line, with the pip command) when dask.distributed is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise DependencyMissingError(
            f"batch extraction needs dask.distributed, not installed: run {PIP_BATCH}"
        ) from None


def _gpu_count() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def default_workers(engine: str) -> int:
    """Local workers for ``engine`` when none are asked for (see the module docstring)."""
    if engine == "spex":
        return max(1, _gpu_count())
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _dashboard_available() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def batch_client(
    engine: str = "spectral",
    workers: Optional[int] = None,
    threads_per_worker: Optional[int] = None,
    processes: bool = True,
    scheduler: Optional[str] = None,
    dashboard: bool = True,
) -> Iterator[Tuple[object, int, Optional[str]]]:
    """``(client, worker count, dashboard address or None)`` for the length of a batch; a local cluster is
    closed afterwards, an existing cluster is left running."""
    require_dask()
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        try:
            client = Client(address, timeout="15s")
        except (OSError, TimeoutError) as error:
            raise SpexInputError(
                f"cannot reach the dask scheduler at {address} ({error}): start it (dask scheduler) or "
                "drop --scheduler / DASK_SCHEDULER_ADDRESS to use local workers"
            ) from None
        try:
            count = len(client.scheduler_info().get("workers", {}))
            yield client, count, client.dashboard_link
        finally:
            client.close()
        return
    count = int(workers) if workers else default_workers(engine)
    if count < 1:
        raise SpexInputError(f"--workers {workers} is invalid: use 1 or more (or leave it out)")
    threads = int(threads_per_worker) if threads_per_worker else 1
    serve = dashboard and _dashboard_available()
    # a free port, never the fixed 8787: several batches (or users) may run on one machine. Worker logs
    # are silenced: every item reports its own error (tasks.run_item), a lost worker reaches the batch as
    # a failed future, and on Ctrl-C stopped workers log tracebacks about dropped connections
    kwargs = dict(dashboard_address=":0", silence_logs=logging.CRITICAL)
    if processes:
        cluster = LocalCluster(n_workers=count, threads_per_worker=threads, processes=True, **kwargs)
    else:  # threads of this process (inside QGIS: no worker process may start another QGIS)
        cluster = LocalCluster(n_workers=1, threads_per_worker=count * threads, processes=False, **kwargs)
    try:
        client = Client(cluster)
        try:
            yield client, count, client.dashboard_link if serve else None
        except BaseException:
            _quiet_shutdown()
            raise
        finally:
            client.close()
    finally:
        cluster.close()


def _quiet_shutdown() -> None:
    """After Ctrl-C the workers are stopped mid-task: the comms they drop are expected, so dask's and
    tornado's logged tracebacks about them would only hide the one-line message."""
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
