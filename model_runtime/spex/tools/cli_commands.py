"""The ``spex export-onnx`` and ``spex doctor`` subcommands (registered by ``model_runtime.cli``).

Each subparser sets ``func(args) -> int`` (exit status). Nothing imported here imports torch at import
time, so ``spex --help`` stays fast and works without it.
"""

from __future__ import annotations

import argparse
import sys

from ...errors import SpexInputError
from ..loading.device import resolve_device
from ..runtime.onnx_export import DEFAULT_OPSET, export_vision_encoder
from .doctor import run_doctor


def register(subparsers) -> None:
    """Add ``export-onnx`` and ``doctor`` to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "export-onnx",
        help="export the SPEX vision encoder to ONNX (cached next to the model)",
        description="Export the vision encoder of a SPEX checkpoint to "
        "<model>/onnx/vision_encoder-<hash>.onnx "
        "(or the user cache when the model folder is read-only), verify it against torch and print the "
        "difference. An export of the same weights is reused unless --force.",
    )
    p.add_argument("--model", required=True, metavar="DIR", help="SPEX checkpoint folder (with config.json)")
    p.add_argument(
        "--device", default="cpu", help="device used while exporting: auto, cpu, cuda, cuda:N (default cpu)"
    )
    p.add_argument(
        "--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset, >= 16 (default {DEFAULT_OPSET})"
    )
    p.add_argument("--force", action="store_true", help="export again even if a matching export exists")
    p.add_argument("--no-verify", action="store_true", help="skip the ONNX Runtime vs torch comparison")
    p.set_defaults(func=cmd_export_onnx)

    d = subparsers.add_parser(
        "doctor",
        help="check that the SPEX engine can run here (packages, GPU, model folder, ONNX cache)",
        description="One line per check; exit status 0 if the SPEX engine is usable, 2 otherwise.",
    )
    d.add_argument("--model", metavar="DIR", help="also check this SPEX checkpoint folder and its ONNX cache")
    d.add_argument("--model-base", metavar="DIR", help="LoRA checkpoint only: the base model folder")
    d.set_defaults(func=cmd_doctor)


def cmd_export_onnx(args: argparse.Namespace) -> int:
    """Handler of ``spex export-onnx``."""
    if args.opset < 16:
        raise SpexInputError(f"--opset {args.opset} is too old for GridSample: use --opset 16 or newer")
    device = resolve_device(args.device, "float32")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = export_vision_encoder(
        args.model,
        device=device.device,
        opset=args.opset,
        force=args.force,
        verify=not args.no_verify,
        log=log,
    )
    print(result.summary())
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Handler of ``spex doctor``."""
    return run_doctor(args.model, base_model_dir=args.model_base)
