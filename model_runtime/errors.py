"""Exceptions that reach the user, the exit status of each kind, and the log a bug's traceback goes to.

Four kinds, each with its own exit status in the ``spex`` command (README "Exit status"):

* **bad input** -- :class:`SpexInputError` (and :class:`ModelLoadError`, a model folder the user named that is
  missing, incomplete or corrupt: the fix is in the user's hands, re-download or point at another folder).
  ONE line naming the problem and the fix; exit status 2.
* **environment** -- :class:`SpexEnvironmentError`: the machine lacks something the request needs (a
  package: :class:`DependencyMissingError`; no CUDA GPU, no int8 backend, a ``SPEX_*`` environment variable
  that is not understood, an unwritable cache). ONE line naming what to install or set; exit status 4. (3 is
  ``spex batch``'s "some items failed".)
* **cancelled** -- :class:`ExtractionCancelled` (exit 130; SIGTERM 143).
* **bug** -- any other exception: exit status 1, one console line naming the log file that holds the
  traceback (:func:`write_bug_log`), never the traceback itself.

The QGIS plugin shows the message of a :class:`SpexError` in its message bar (an environment error also says
how to install the packages from QGIS); Processing raises it as a ``QgsProcessingException``.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import traceback

EXIT_OK = 0
EXIT_BUG = 1
EXIT_INPUT = 2
EXIT_ENVIRONMENT = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class SpexError(Exception):
    """Base class of the errors raised on purpose by :mod:`model_runtime`."""


class SpexInputError(SpexError):
    """Bad input from the user: one-line message with the problem and the fix (CLI exit status 2).

    ``option``: the option at fault (an ExtractRequest field name, see :mod:`model_runtime.options`), when
    one is; each front end names it in its own words (CLI flag, panel label, Processing parameter).
    """

    option = None

    def __init__(self, *args, option=None):
        super().__init__(*args)
        if option is not None:
            self.option = option


class ModelLoadError(SpexInputError):
    """The model folder is missing, incomplete or inconsistent (missing/unexpected keys, bad shapes...).

    Bad input, not environment: the user named the folder, and the fix (re-download, another folder) is the
    same on any machine. ``spex doctor --model`` prints the very same line as a FAIL.
    """


class SpexEnvironmentError(SpexError):
    """This machine lacks what the request needs (package, GPU, backend, environment variable): one line
    naming what to install or set (CLI exit status 4)."""


class DependencyMissingError(SpexEnvironmentError):
    """A package (torch, transformers, dask...) needed for the requested path is missing or broken."""


class ExtractionCancelled(SpexError):
    """Raised from a progress/cancel checkpoint when the caller asked to stop."""


def exit_status(exc: BaseException) -> int:
    """The ``spex`` exit status of ``exc`` (see the module docstring)."""
    if isinstance(exc, SpexInputError):
        return EXIT_INPUT
    if isinstance(exc, SpexEnvironmentError):
        return EXIT_ENVIRONMENT
    if isinstance(exc, (ExtractionCancelled, KeyboardInterrupt)):
        return EXIT_INTERRUPTED
    return EXIT_BUG


def log_dir() -> str:
    """Where bug logs go: ``$SPEX_CACHE_DIR/logs`` or ``$XDG_CACHE_HOME/spex-qgis/logs``
    (``~/.cache/spex-qgis/logs``), the cache the ONNX exports use; never an output folder."""
    base = os.environ.get("SPEX_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "spex-qgis")
    return os.path.join(base, "logs")


def write_bug_log(exc: BaseException, context: str = "") -> str | None:
    """Write ``exc``'s traceback (with ``context``, e.g. the command line) to a new file under
    :func:`log_dir`; returns its path, None when no log can be written (a read-only home).

    The file appears complete or not at all (written under a temporary name, then renamed).
    """
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if context:
        text = context.rstrip("\n") + "\n\n" + text
    folder = log_dir()
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".bug-{stamp}-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            path = os.path.join(folder, os.path.basename(tmp)[1:-len(".tmp")] + ".log")
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    except OSError:
        return None
    return path
