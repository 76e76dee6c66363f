"""The batch manifest: one JSON file beside the outputs that says, per item, what was asked and what happened.

Each item records its input, the input's fingerprint (:func:`input_hash`), the hash of the parameters that
decide its result, status (``pending``, ``running``, ``done``, ``failed``), output, timing and the error.
Only the coordinating process writes it, and every write goes to a temporary file in the same folder,
flushed to disk and renamed over the old one, so a kill at any moment leaves the previous or the new
manifest, never a torn one. A re-run skips the items whose input, parameters and output are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, Optional

from ..errors import SpexInputError

MANIFEST_NAME = "spex-batch.json"
MANIFEST_VERSION = 1
STATUSES = ("pending", "running", "done", "failed")
#: inputs up to this size are hashed whole; larger ones by size + three 4 MiB samples (head, middle, tail),
#: so resuming a batch of multi-GB scenes does not re-read them all
FULL_HASH_BYTES = 64 * 1024 * 1024
_SAMPLE_BYTES = 4 * 1024 * 1024


def input_hash(path: str) -> str:
    """Content fingerprint of ``path`` (sha256, sampled above :data:`FULL_HASH_BYTES`); a VRT also covers
    the files it names only through its own text, so edit-in-place of a source is not seen."""
    digest = hashlib.sha256()
    size = os.path.getsize(path)
    digest.update(str(size).encode())
    with open(path, "rb") as handle:
        if size <= FULL_HASH_BYTES:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        else:
            for offset in (0, size // 2 - _SAMPLE_BYTES // 2, size - _SAMPLE_BYTES):
                handle.seek(offset)
                digest.update(handle.read(_SAMPLE_BYTES))
    return ("sha256:" if size <= FULL_HASH_BYTES else "sha256-sampled:") + digest.hexdigest()


def params_hash(params: Dict[str, Any]) -> str:
    """Stable hash of the JSON-serialisable parameters that decide an item's result."""
    text = json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class ItemRecord:
    """What the manifest knows about one item (a raster, or one chunk of a mosaic)."""

    item_id: str
    input: str
    output: str
    input_hash: str = ""
    params_hash: str = ""
    status: str = "pending"
    chunk: Optional[Dict[str, int]] = None  # xoff, yoff, xsize, ysize (core) + overlap, for a mosaic chunk
    prompt: str = ""
    attempts: int = 0
    started: Optional[float] = None  # unix time
    finished: Optional[float] = None
    seconds: Optional[float] = None
    features: Optional[int] = None
    area_m2: Optional[float] = None
    error: Optional[str] = None
    worker: Optional[str] = None
    details: Dict[str, Any] = field(default_factory=dict)  # small engine facts (threshold, rule)


class Manifest:
    """The manifest file of one output folder (see the module docstring)."""

    def __init__(self, path: str, params: Dict[str, Any] | None = None):
        self.path = os.path.abspath(path)
        self.params: Dict[str, Any] = dict(params or {})
        self.items: Dict[str, ItemRecord] = {}
        self.created = time.time()
        self.runs = 0

    @classmethod
    def load(cls, path: str) -> Manifest:
        """Read ``path`` (an empty manifest when it does not exist); SpexInputError when it is not ours."""
        manifest = cls(path)
        if not os.path.exists(path):
            return manifest
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            if data.get("version") != MANIFEST_VERSION or not isinstance(data.get("items"), dict):
                raise ValueError("unknown layout")
            manifest.params = dict(data.get("params") or {})
            manifest.created = float(data.get("created") or time.time())
            manifest.runs = int(data.get("runs") or 0)
            known = set(ItemRecord.__dataclass_fields__)
            for item_id, record in data["items"].items():
                manifest.items[item_id] = ItemRecord(**{k: v for k, v in record.items() if k in known})
        except (OSError, ValueError, TypeError) as error:
            raise SpexInputError(
                f"batch manifest {path} is unreadable ({error}): move it away to start the batch afresh"
            ) from None
        return manifest

    def to_json(self) -> Dict[str, Any]:
        """The manifest as written to disk."""
        return {
            "version": MANIFEST_VERSION,
            "created": self.created,
            "updated": time.time(),
            "runs": self.runs,
            "params": self.params,
            "counts": self.counts(),
            "items": {item_id: asdict(record) for item_id, record in self.items.items()},
        }

    def counts(self) -> Dict[str, int]:
        """Number of items per status."""
        counts = {status: 0 for status in STATUSES}
        for record in self.items.values():
            counts[record.status] = counts.get(record.status, 0) + 1
        return counts

    def save(self) -> None:
        """Write atomically: temporary file in the same folder, fsync, rename over the old manifest."""
        folder = os.path.dirname(self.path)
        handle, temp = tempfile.mkstemp(prefix=".spex-batch-", suffix=".json.tmp", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(self.to_json(), out, ensure_ascii=False, indent=1, default=str)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            try:
                os.remove(temp)
            except OSError:
                pass
            raise

    def is_finished(self, record: ItemRecord) -> bool:
        """True when ``record`` (as planned now) was done before with the same input and parameters and
        its output is still there: the item is skipped."""
        old = self.items.get(record.item_id)
        return (
            old is not None
            and old.status == "done"
            and old.input_hash == record.input_hash
            and old.params_hash == record.params_hash
            and os.path.abspath(old.output) == os.path.abspath(record.output)
            and (os.path.exists(old.output) or bool(old.details.get("nodata_only")))
        )

    def owns(self, output: str) -> bool:
        """True when ``output`` was written (or was being written) by an earlier run of this batch: it may
        be replaced without --overwrite."""
        target = os.path.abspath(output)
        return any(os.path.abspath(r.output) == target for r in self.items.values())

    def update(self, records: Iterable[ItemRecord]) -> None:
        """Replace/insert records (in memory; call :meth:`save`)."""
        for record in records:
            self.items[record.item_id] = record
