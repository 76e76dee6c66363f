"""The ``spex`` command line: ``spex extract``, ``spex info`` (+ ``export-onnx`` / ``doctor`` from the neural
engine when it is installed).

Exit status (model_runtime.errors): 0 success; 2 bad input (one line ``spex: error: ...`` on stderr, no
traceback; argparse errors too); 4 the environment lacks something (a package, a GPU...: one line naming what
to install); 130 interrupted (Ctrl-C) or cancelled; 143 stopped by SIGTERM; 1 an unexpected error (a bug: one
line naming the log file under ~/.cache/spex-qgis/logs/ that holds the traceback); ``spex batch`` also
returns 3 when some items failed. SIGINT and SIGTERM stop the job cleanly: temp files and the job folder are
removed.
``--json`` prints exactly one JSON object on stdout: while the job runs, anything else written to stdout (by
Python or by C libraries) goes to stderr. Progress goes to stderr, only when stderr is a terminal (and neither
``--quiet`` nor ``--json``), so scripts and logs see clean output. Library warnings are collected: shown as
``spex: warning:`` lines after a success, dropped on an error (whose output is exactly one line).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import sys
import threading
import warnings
from typing import Callable, List, Sequence

from . import __version__
from .errors import EXIT_ENVIRONMENT, ExtractionCancelled, SpexEnvironmentError, SpexInputError, write_bug_log
from .messages import one_line
from .options import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_AREA_M2,
    DEFAULT_SIMPLIFY,
    DEVICES,
    ENGINES,
    LANGUAGES,
    PRECISIONS,
    THRESHOLD_METHODS,
    cli_values,
)

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class _Terminated(KeyboardInterrupt):
    """Raised in the main thread by the SIGTERM handler: unwinds like Ctrl-C, so every cleanup runs."""


class _UsageError(Exception):
    """argparse error turned into an exception so main() prints one line and returns 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # noqa: D401 - argparse API
        """Raise instead of printing usage + exiting: main() prints one line."""
        raise _UsageError(f"{message} (see '{self.prog} --help')")


# ------------------------------------------------------------------------------------------- helpers


def _error(message: object) -> None:
    print(f"spex: error: {one_line(message) or 'unknown error'}", file=sys.stderr, flush=True)


def _float_arg(name: str) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a number, got '{text}': write e.g. 0.25 or 100"
            ) from None

    return convert


def _add_network_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-network",
        action="store_true",
        help="let GDAL read remote data (/vsicurl/, /vsis3/, URLs, WMS, remote VRT sources); off by default",
    )


class _TerminalProgress:
    """A single self-rewriting progress line on stderr."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.shown = False
        self.last = ""

    def __call__(self, fraction: float, message: str) -> None:
        text = f"\r[{fraction * 100:5.1f}%] {message}"[:120]
        if text == self.last:  # GDAL reports very often: only redraw when the line changes
            return
        self.last = text
        self.stream.write(text.ljust(60))
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the progress line (before any other output)."""
        if self.shown:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()
            self.shown = False
            self.last = ""


# ------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The full ``spex`` argument parser (optional subcommands registered when importable)."""
    parser = _Parser(
        prog="spex",
        description="Prompt-driven land-cover extraction from multispectral rasters (SPEX for QGIS).",
    )
    parser.add_argument("--version", action="version", version=f"spex {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    ex = sub.add_parser(
        "extract",
        help="extract polygons of a land-cover class named in a prompt",
        description="Extract the polygons of the class named in --prompt and write them with an explanation.",
    )
    ex.add_argument("raster", metavar="RASTER", help="multispectral raster (GeoTIFF or any GDAL raster)")
    ex.add_argument("--prompt", "-p", required=True, help='what to extract, e.g. "extract the water bodies"')
    ex.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output .gpkg (default format), .shp or .geojson"
    )
    ex.add_argument(
        "--aoi", metavar="BBOX|FILE", help="area of interest: xmin,ymin,xmax,ymax or a polygon vector file"
    )
    ex.add_argument("--aoi-crs", metavar="CRS", help="CRS of a --aoi bounding box (default: the raster's)")
    ex.add_argument("--engine", choices=ENGINES, default=ENGINES[0], help="spectral (default) or spex")
    ex.add_argument("--model", metavar="DIR", help="SPEX model folder (engine spex)")
    ex.add_argument(
        "--model-base", metavar="DIR", help="engine spex, LoRA checkpoint only: the base model folder"
    )
    ex.add_argument("--device", default=DEVICES[0], help=" | ".join(DEVICES) + " | cuda:N (engine spex)")
    ex.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=PRECISIONS[0],
        help="engine spex: auto (bf16/fp16 on GPU, fp32 on CPU) or int8 (CPU, faster, approximate)",
    )
    ex.add_argument(
        "--sensor", metavar="NAME", help="sensor preset (see 'spex info --sensors'); default: detect"
    )
    ex.add_argument("--bands", metavar="ROLE=N,...", help="band roles, 1-based: e.g. red=3,nir=4")
    ex.add_argument(
        "--scaling", metavar="MODE", help="auto | none | s2 | s2-offset | landsat-c2-l2 | GAIN,OFFSET"
    )
    # numbers are parsed by model_runtime.request_builder, like the panel's and Processing's values
    ex.add_argument("--threshold", metavar="T", help="primary index threshold override")
    ex.add_argument("--threshold-method", choices=THRESHOLD_METHODS, default=THRESHOLD_METHODS[0])
    ex.add_argument("--min-area", default=DEFAULT_MIN_AREA_M2, metavar="M2", help="drop smaller polygons")
    ex.add_argument("--simplify", default=DEFAULT_SIMPLIFY, metavar="TOL", help="tolerance, map units")
    ex.add_argument("--language", choices=LANGUAGES, help="explanation language (default: the prompt's)")
    ex.add_argument("--max-new-tokens", default=DEFAULT_MAX_NEW_TOKENS, help=argparse.SUPPRESS)
    ex.add_argument("--overwrite", action="store_true", help="replace an existing output")
    ex.add_argument(
        "--max-pixels",
        metavar="N",
        help=f"size guard: refuse to process more than N pixels (default {DEFAULT_MAX_PIXELS:_}, 0: none)",
    )
    _add_network_option(ex)
    ex.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ex.add_argument("--quiet", "-q", action="store_true", help="no progress and no summary (errors only)")
    ex.set_defaults(func=cmd_extract)

    info = sub.add_parser(
        "info", help="describe a raster: sensor, band roles, scaling", description="Describe a raster."
    )
    info.add_argument("raster", metavar="RASTER", nargs="?", help="raster to describe")
    info.add_argument("--sensor", metavar="NAME", help="sensor preset to assume")
    info.add_argument("--bands", metavar="ROLE=N,...", help="band roles to assume, e.g. red=3,nir=4")
    info.add_argument("--scaling", metavar="MODE", help="reflectance scaling to assume")
    info.add_argument("--sensors", action="store_true", help="list the sensor presets")
    _add_network_option(info)
    info.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    info.set_defaults(func=cmd_info)

    from .batching import cli as batch_cli  # `spex batch` (issue 13); dask is imported only when it runs

    batch_cli.register(sub, _float_arg)
    _register_optional_commands(sub)
    return parser


def _register_optional_commands(sub) -> None:
    """The neural engine's commands (export-onnx, doctor) when its package is present.

    ``model_runtime.spex.tools.cli_commands.register(subparsers)`` must not import torch at import time; each
    subparser sets ``func(args) -> int`` with ``set_defaults``.
    """
    try:
        from .spex.tools import cli_commands
    except ImportError:
        return
    cli_commands.register(sub)


# ------------------------------------------------------------------------------------------- commands


def _parse_bands(text: str | None):
    if not text:
        return {}
    from .io.bands import parse_band_mapping

    return parse_band_mapping(text)


def extract_values(args: argparse.Namespace) -> dict:
    """The option values (see :mod:`model_runtime.options`) of parsed ``spex extract`` arguments."""
    return cli_values(args)


def cmd_extract(args: argparse.Namespace) -> int:
    """``spex extract``: run one extraction, print the summary (or JSON)."""
    from .pipeline import extract
    from .request_builder import build_request

    request = build_request(extract_values(args))
    show_progress = not (args.quiet or args.json) and _isatty(sys.stderr)
    bar = _TerminalProgress() if show_progress else None
    try:
        with _stdout_to_stderr(args.json):
            result = extract(request, progress=bar)
    finally:
        if bar is not None:
            bar.clear()
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return EXIT_OK
    for warning in result.warnings:
        print(f"spex: warning: {one_line(warning)}", file=sys.stderr)
    if args.quiet:
        return EXIT_OK
    area = result.area_m2
    area_text = f"{area / 1e6:,.3f} km²" if area >= 1e5 else f"{area:,.0f} m²"
    print(
        f"{result.target_class}: {result.features} polygon{'s' if result.features != 1 else ''}, "
        f"{area_text} in {result.seconds:.1f} s ({result.engine} engine)"
    )
    print(f"output: {result.output} (layer {result.layer}, {result.output_format})")
    for sidecar in result.sidecars:
        print(f"sidecar: {sidecar}")
    print()
    print(result.explanation)
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    """``spex info``: describe a raster (or list sensor presets with --sensors)."""
    from . import info as info_module

    if args.sensors:
        if args.json:
            from .io.bands import SENSOR_PRESETS

            data = {
                name: {"title": p.title, "bands": dict(zip(p.band_names, p.roles))}
                for name, p in SENSOR_PRESETS.items()
            }
            print(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            print(info_module.format_sensors())
        return EXIT_OK
    if not args.raster:
        raise SpexInputError("no raster given: run 'spex info RASTER' (or 'spex info --sensors')")
    with _stdout_to_stderr(args.json):
        described = info_module.info_json(
            args.raster,
            sensor=args.sensor,
            bands=_parse_bands(args.bands) or None,
            scaling=args.scaling,
            allow_network=args.allow_network,
        )
    if args.json:
        print(json.dumps(described, ensure_ascii=False, indent=2, default=str))
    else:
        print(info_module.format_info(described))
    return EXIT_OK


# ------------------------------------------------------------------------------------------- entry point


_GDAL_QUIET = []


def _quiet_gdal() -> None:
    """GDAL warnings would break the one-line error contract: errors reach us as exceptions instead."""
    if _GDAL_QUIET:
        return
    try:
        from osgeo import gdal
    except ImportError:  # pragma: no cover - GDAL is a hard dependency of the runtime
        return
    gdal.UseExceptions()
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    # the handler stack is per thread: the global handler also quiets GDAL/PROJ in worker threads
    gdal.SetErrorHandler("CPLQuietErrorHandler")
    _GDAL_QUIET.append(True)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _check_argv(args_list: Sequence[str]) -> None:
    """Arguments that are not valid UTF-8 (raw bytes decoded with surrogateescape) cannot reach GDAL or a
    file: one clear error instead of 'not a string' deep inside."""
    for arg in args_list:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")[:80]
            raise SpexInputError(
                f"argument {shown!r} holds bytes that are not valid UTF-8: "
                "pass text (and file names) in UTF-8, e.g. rename the file"
            ) from None


@contextlib.contextmanager
def _signals_raise():
    """SIGTERM (and SIGINT) unwind the main thread with an exception, so every ``finally`` cleans up; a
    second signal during that cleanup is ignored. No-op outside the main thread (e.g. inside QGIS)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, _frame):
        if fired:
            return
        fired.append(signum)
        raise _Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # pragma: no cover - not settable here
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _stdout_to_stderr(active: bool):
    """While active, file descriptor 1 (and sys.stdout) point at stderr: C libraries that print cannot
    break ``--json``'s single object. The JSON is printed after the block."""
    if not active:
        yield
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # pragma: no cover - no fd 1
        yield
        return
    python_stdout = sys.stdout
    try:
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        yield
    finally:
        sys.stdout = python_stdout
        try:
            sys.stderr.flush()
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``spex`` command; returns the exit status (see the module docstring)."""
    args_list: List[str] = list(sys.argv[1:] if argv is None else argv)
    unraisable: List[str] = []
    saved_hook = sys.unraisablehook
    # errors raised in GDAL destructors (closing a file on a full disk) are "Exception ignored" reports with
    # a traceback: collected like warnings, so an error exit still prints exactly one line
    sys.unraisablehook = lambda info: unraisable.append(str(info.exc_value))
    try:
        with warnings.catch_warnings(record=True) as caught, _signals_raise():
            warnings.simplefilter("always")
            status = _main(args_list)
            gc.collect()  # GDAL objects held in reference cycles are closed here, inside the hook
            if status == EXIT_OK:
                for text in [str(w.message) for w in caught] + unraisable:
                    print(f"spex: warning: {one_line(text)}", file=sys.stderr)
    finally:
        sys.unraisablehook = saved_hook
    return status


def _main(args_list: List[str]) -> int:
    try:
        _check_argv(args_list)
        parser = build_parser()
        args = parser.parse_args(args_list)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        _quiet_gdal()
        return int(args.func(args) or 0)
    except _UsageError as exc:
        _error(exc)
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except SpexInputError as exc:
        _error(exc)
        return EXIT_USAGE
    except SpexEnvironmentError as exc:
        _error(exc)
        return EXIT_ENVIRONMENT
    except ExtractionCancelled:
        _error("cancelled")
        return EXIT_INTERRUPTED
    except _Terminated:
        print("spex: stopped (SIGTERM): temporary files removed", file=sys.stderr, flush=True)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("\nspex: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `spex extract ... --json | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:  # pragma: no cover
            pass
        return EXIT_OK
    except Exception as exc:
        _report_bug(exc, args_list)
        return EXIT_BUG


def _report_bug(exc: Exception, args_list: List[str]) -> None:
    """One line on stderr; the traceback goes to a log file (it would bury the line a user needs)."""
    context = f"spex {__version__}: {' '.join(args_list)}"
    path = write_bug_log(exc, context)
    where = f"the traceback is in {path}" if path else "no log could be written: " + one_line(repr(exc))
    print(
        f"spex: internal error (a bug), {type(exc).__name__}: please report it; {where}",
        file=sys.stderr,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
