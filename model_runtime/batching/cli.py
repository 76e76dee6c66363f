"""``spex batch``: the subcommand's arguments and what it runs (registered by :mod:`model_runtime.cli`).

Exit status: 0 when every item is done, 3 when some items failed (their reasons are in the table and the
manifest), 2 for a bad request (one line), 4 when the environment lacks something (dask not installed: one
line naming what to install), 130 on Ctrl-C (finished outputs and the manifest are kept), 1 a bug (one line
naming the log file with the traceback). :func:`model_runtime.cli.main` maps the exceptions to these.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_SOME_FAILED = 3


def register(sub, float_arg) -> None:
    """Add the ``batch`` subparser to ``sub`` (``float_arg(name)`` converts numbers with a clear error)."""
    from ..options import ENGINES, LANGUAGES, PRECISIONS, THRESHOLD_METHODS

    parser = sub.add_parser(
        "batch",
        help="run one prompt over many rasters (or one large raster in chunks) on dask",
        description="Extract over a folder, glob, list file or chunked raster; resumable; one merged "
        "GeoPackage with a 'source' field.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="folder, glob ('tiles/*.tif'), list file (.txt/.csv) or raster paths",
    )
    parser.add_argument(
        "--prompt", "-p", action="append", required=True, help="what to extract; repeat for several prompts"
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        required=True,
        metavar="DIR",
        help="folder for one GeoPackage per item, the manifest and merged.gpkg",
    )
    parser.add_argument("--merged", metavar="GPKG", help="merged GeoPackage (default DIR/merged.gpkg)")
    parser.add_argument(
        "--pattern", metavar="GLOB", help="file names taken from folders (default *.tif;*.vrt...)"
    )
    parser.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    parser.add_argument(
        "--chunk-size",
        type=int,
        metavar="PX",
        help="cut each raster into chunks of about PX pixels a side (on its block grid)",
    )
    parser.add_argument(
        "--overlap",
        type=int,
        metavar="PX",
        help="pixels around each chunk (default and minimum: what the mask cleanup needs)",
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="local workers (default: sized to the machine)"
    )
    parser.add_argument("--threads-per-worker", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="existing dask scheduler, e.g. tcp://host:8786 (default: $DASK_SCHEDULER_ADDRESS, "
        "else a local cluster)",
    )
    parser.add_argument("--no-dashboard", action="store_true", help="do not serve the local dask dashboard")
    parser.add_argument("--engine", choices=ENGINES, default=ENGINES[0])
    parser.add_argument("--model", metavar="DIR", help="SPEX model folder (engine spex)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", choices=PRECISIONS, default=PRECISIONS[0])
    parser.add_argument("--sensor", metavar="NAME")
    parser.add_argument("--bands", metavar="ROLE=N,...")
    parser.add_argument("--scaling", metavar="MODE")
    parser.add_argument("--threshold", type=float_arg("--threshold"))
    parser.add_argument("--threshold-method", choices=THRESHOLD_METHODS, default=THRESHOLD_METHODS[0])
    parser.add_argument("--min-area", type=float_arg("--min-area"), default=0.0, metavar="M2")
    parser.add_argument("--simplify", type=float_arg("--simplify"), default=0.0, metavar="TOL")
    parser.add_argument("--language", choices=LANGUAGES)
    parser.add_argument("--aoi", metavar="BBOX|FILE", help="area of interest applied to every raster")
    parser.add_argument("--aoi-crs", metavar="CRS")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace outputs this batch did not write itself"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (the result) on stdout")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no table")
    parser.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    """Run ``spex batch``; see the module docstring for the exit status."""
    from ..options import ITEM_OPTIONS, cli_values
    from ..request_builder import build_options
    from .request import EXTRACT_OPTIONS, BatchRequest
    from .runner import BatchReporter, run_batch

    options = build_options(cli_values(args, ITEM_OPTIONS))
    request = BatchRequest(
        inputs=args.inputs,
        prompts=args.prompt,
        output_dir=args.output_dir,
        pattern=args.pattern,
        recursive=args.recursive,
        chunk_size=args.chunk_size,
        overlap=args.overlap,
        merged_output=args.merged,
        aoi=options["aoi"],
        overwrite=args.overwrite,
        workers=args.workers,
        threads_per_worker=args.threads_per_worker,
        scheduler=args.scheduler,
        dashboard=not args.no_dashboard,
        **{name: options[name] for name in EXTRACT_OPTIONS},
    )
    quiet = args.quiet or args.json
    if quiet:
        reporter = BatchReporter()
    else:
        from .console import RichReporter

        reporter = RichReporter()
    try:
        result = run_batch(request, reporter=reporter)
    finally:
        if hasattr(reporter, "stop"):
            reporter.stop()
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=str))
    elif not args.quiet:
        from .console import summary_table

        summary_table(result)
    for warning in result.warnings:
        print(f"spex: warning: {' '.join(warning.split())}", file=sys.stderr)
    return EXIT_SOME_FAILED if result.counts["failed"] else 0
