"""What the scripts QGIS runs with ``--code`` share (screenshots, walkthrough): logging, a hard exit, and
a guard that turns an exception in a timer step into a traceback and an exit instead of a hung desktop.

Those scripts import it from their own folder (``scripts/``); they put that folder, not the repository,
on ``sys.path``, so the spex engine screenshot still loads the plugin from its QGIS profile.
"""

import os
import sys
import traceback


def make_log(tag: str):
    """A ``log(message)`` that writes ``[tag] message`` on stderr (xvfb-run passes it through)."""

    def log(message: str) -> None:
        """Progress on stderr."""
        sys.stderr.write(f"[{tag}] {message}\n")
        sys.stderr.flush()

    return log


def hard_exit(status: int) -> None:
    """Leave QGIS with ``status`` now: QGIS's own exit path can hang under Xvfb while plugins unload."""
    os._exit(status)


def guarded_by(on_error):
    """A decorator for timer steps: an exception prints its traceback, then ``on_error()`` ends the run."""

    def guarded(func):
        def wrapper(*args):
            try:
                func(*args)
            except Exception:
                traceback.print_exc()
                on_error()

        return wrapper

    return guarded
