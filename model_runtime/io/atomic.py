"""Publishing files without losing anything: hidden temp names, fsync, no-replace renames, stale-temp cleanup.

Every output is first written under a hidden temporary name in the destination folder::

    .<stem>.spex-tmp-<host>-<pid>-<random><ext>   single-file outputs (GeoPackage, GeoJSON)
    .spex-tmp-<host>-<pid>-<random>/              a folder holding a Shapefile set while it is written

(``<host>``: 8 hex digits identifying the machine, so a folder shared over the network is only cleaned by
runs on the machine that wrote the temp)

and only published once complete, flushed to disk and verified. Without ``overwrite`` the publish step uses
``link()`` (or ``renameat2(RENAME_NOREPLACE)`` where hard links are unsupported), which fails when the target
exists, so a file that appears at the target while the job runs is never replaced. A process killed with
SIGKILL cannot clean up: the next run on the same machine that writes into the same folder removes the temp
entries whose ``<pid>`` is no longer running (any run removes those older than :data:`STALE_AFTER_S`).
Job folders in the system temp folder (``spex-job-<pid>-*``) follow the same rule.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from typing import Iterable, List, Sequence, Tuple

from ..errors import SpexInputError

TEMP_MARK = ".spex-tmp-"
JOB_PREFIX = "spex-job-"
#: a temp entry whose process still runs is left alone unless it is older than this (pid reuse, other hosts)
STALE_AFTER_S = 24 * 3600.0
_OUTPUT_TEMP_RE = re.compile(r"\.spex-tmp-([0-9a-f]{8})-(\d+)-")
_JOB_RE = re.compile(r"^spex-job-(\d+)-")
_RENAME_NOREPLACE = 1


def host_tag() -> str:
    """8 hex digits naming this machine in temp names."""
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _owner() -> str:
    return f"{host_tag()}-{os.getpid()}-"


def temp_file_name(path: str) -> str:
    """A hidden temp path beside ``path`` that :func:`clean_stale_temps` recognises."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f".{stem}{TEMP_MARK}{_owner()}{uuid.uuid4().hex[:12]}{ext}")


def make_temp_dir(folder: str) -> str:
    """A hidden temp folder inside ``folder`` (``.spex-tmp-<pid>-*``); SpexInputError when not writable."""
    try:
        return tempfile.mkdtemp(prefix=f"{TEMP_MARK}{_owner()}", dir=folder)
    except OSError as exc:
        raise write_error(folder, exc) from None


def make_job_dir() -> str:
    """The private job folder in the system temp folder (``spex-job-<pid>-*``), after removing stale ones."""
    base = tempfile.gettempdir()
    clean_stale_temps(base, pattern=JOB_PREFIX)
    try:
        return tempfile.mkdtemp(prefix=f"{JOB_PREFIX}{os.getpid()}-", dir=base)
    except OSError as exc:
        raise SpexInputError(
            f"cannot create a work folder in {base} ({exc.strerror or exc}): free space there or set TMPDIR "
            "to a writable folder"
        ) from None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temps(folder: str, pattern: str = TEMP_MARK) -> List[str]:
    """Remove temp entries left in ``folder`` by killed runs (dead ``<pid>`` or older than a day).

    ``pattern``: :data:`TEMP_MARK` for output folders, :data:`JOB_PREFIX` for the system temp folder.
    Never raises; returns the removed paths.
    """
    removed: List[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    now, here = time.time(), host_tag()
    for name in names:
        if pattern == TEMP_MARK:
            match = _OUTPUT_TEMP_RE.search(name)
            host, pid = (match.group(1), int(match.group(2))) if match else (None, 0)
        else:
            match = _JOB_RE.match(name)
            host, pid = here, int(match.group(1)) if match else 0
        if match is None:
            continue
        path = os.path.join(folder, name)
        try:
            age = now - os.lstat(path).st_mtime
        except OSError:
            continue
        ours_and_dead = host == here and not _pid_alive(pid)
        if not ours_and_dead and age < STALE_AFTER_S:
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            removed.append(path)
        except OSError:
            pass
    return removed


def fsync_path(path: str) -> None:
    """Flush a file to disk (OSError when that fails); for a folder (its entry list) best effort: some
    systems (Windows, some network file systems) cannot open or fsync a folder."""
    if os.path.isdir(path):
        if os.name == "nt":
            return
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _renameat2_noreplace(src: str, dst: str) -> bool:
    """renameat2(RENAME_NOREPLACE); False when the system does not offer it. FileExistsError if dst exists."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    rc = func(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), _RENAME_NOREPLACE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), dst)


def publish_no_replace(src: str, dst: str) -> None:
    """Move ``src`` to ``dst`` atomically, failing with FileExistsError when ``dst`` exists (even a file that
    appeared a moment ago): ``link`` + ``unlink``, else ``renameat2(RENAME_NOREPLACE)``, else an
    ``O_EXCL`` create + copy (not atomic for readers, but never replaces anything)."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        if _renameat2_noreplace(src, dst):
            return
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            os.remove(dst)
            raise
        os.remove(src)
        return
    os.remove(src)


def publish(src: str, dst: str, overwrite: bool) -> None:
    """Move ``src`` to ``dst``: replace with ``overwrite``, otherwise :func:`publish_no_replace`."""
    if overwrite:
        os.replace(src, dst)
    else:
        publish_no_replace(src, dst)


def publish_set(pairs: Sequence[Tuple[str, str]], overwrite: bool, stale: Iterable[str] = ()) -> None:
    """Publish several files as one set (a Shapefile's parts); the last pair is published last.

    Without ``overwrite`` a part whose target exists rolls back the parts already published by this call and
    raises FileExistsError. With ``overwrite`` the ``stale`` paths (parts of the old set that the new one
    lacks) are removed first.
    """
    if overwrite:
        for path in stale:
            if os.path.lexists(path):
                os.remove(path)
        for src, dst in pairs:
            os.replace(src, dst)
        return
    done: List[str] = []
    try:
        for src, dst in pairs:
            publish_no_replace(src, dst)
            done.append(dst)
    except BaseException:
        for dst in done:  # ours: the link succeeded, so nobody else owned that name
            try:
                os.remove(dst)
            except OSError:
                pass
        raise


def free_bytes(folder: str) -> int | None:
    """Free space in ``folder`` for this user, None when unknown."""
    try:
        return int(shutil.disk_usage(folder).free)
    except OSError:
        return None


def _size_text(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} GB"  # pragma: no cover


_IO_WORDS = ("space", "disk", "i/o", "input/output", "write", "full", "quota", "read-only", "permission")


def looks_like_io_error(folder: str, exc: BaseException, needed: int | None = None) -> bool:
    """Whether a GDAL RuntimeError raised while writing is the disk's fault (full, I/O) rather than a bug."""
    text = str(exc).lower()
    if any(word in text for word in _IO_WORDS):
        return True
    free = free_bytes(folder)
    return needed is not None and free is not None and free < needed


def write_error(folder: str, exc: BaseException | str, needed: int | None = None) -> SpexInputError:
    """One-line SpexInputError for a failed write in ``folder``: disk full (with the space needed) or I/O."""
    err = getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or str(exc)
    text = " ".join(str(text).split())[:200]
    free = free_bytes(folder)
    full = err in (errno.ENOSPC, errno.EDQUOT) or "space" in text.lower()
    if not full and needed is not None and free is not None and free < needed:
        full = True
    if full:
        need = f"about {_size_text(needed)} needed, " if needed else ""
        have = f"{_size_text(free)} free" if free is not None else "free space unknown"
        return SpexInputError(
            f"not enough space in folder {folder} ({need}{have}): free some space or write elsewhere"
        )
    return SpexInputError(f"cannot write in folder {folder} ({text}): choose a writable output location")
