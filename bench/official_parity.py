#!/usr/bin/env python3
"""Official parity: our SpexModel against the official SPEX code's own outputs, stage by stage.

The reference (``../shared/spex_official_ref/``, see its README) holds what the official inference path
(transformers 4.46.0, torch 2.13.0 CPU, fp32) computed on a random-weight checkpoint in the released layout.
This script

1. makes that checkpoint with the reference's ``make_checkpoint.py`` in a cache outside the repository
   (``$SPEX_PARITY_CACHE`` or ``~/.cache/spex-for-qgis/official-ref-ckpt``), only when it is missing or
   wrong: a folder whose files' sizes and dates match the last successful sha256 check is reused,
   otherwise ``--only-check`` runs, and a failed check rebuilds it into a temporary folder renamed into place;
2. runs ``SpexModel.generate`` on ``reference_small.npz["image_f16"]`` and the reference prompt, once with
   the torch vision encoder and once with the ONNX Runtime (CPU) encoder export (made once, in a child
   process, into ``<cache>/official-ref-onnx/``), and captures every stage the reference holds with
   forward hooks on the real call;
3. prints one line per stage (max |diff|, relative = max |diff| / max |reference|) and exits 1 if any of:
   ids differ, a stage is off by more than 1e-4 relative, ``mask_logits`` by more than 1e-3 absolute, or
   the mask IoU is below 0.999.

Exit status: 0 pass, 1 fail, 3 skipped (printed reason): the reference folder is absent, or torch's random
stream on this CPU/build is not the one the checkpoint was made with (``make_checkpoint.py``'s canary), so
the weights cannot be rebuilt byte-identically. Peak memory is one fp32 copy of the model (~7 GiB): the ONNX
export runs in its own process, and the torch encoder is dropped before the ONNX Runtime one starts.

    .venv/bin/python bench/official_parity.py [--backends torch,onnx] [--device cpu|cuda] [--ref-dir DIR]
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REF = os.path.join(os.path.dirname(ROOT), "shared", "spex_official_ref")
REL_TOL = 1e-4
MASK_LOGITS_ABS_TOL = 1e-3
MIN_IOU = 0.999
EXIT_SKIP = 3
STAMP_NAME = "official-ref-ckpt.verified.json"


class Skip(Exception):
    """The check cannot run on this machine (reason in the message)."""


# ---------------------------------------------------------------- the reference checkpoint
def _file_stats(folder: str) -> dict:
    stats = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            st = os.stat(path)
            stats[os.path.relpath(path, folder)] = [st.st_size, st.st_mtime_ns]
    return stats


def _run_maker(maker: str, out: str, only_check: bool) -> tuple[int, str]:
    cmd = [sys.executable, maker, "--out", out] + (["--only-check"] if only_check else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def ensure_checkpoint(ref_dir: str, cache: str, log) -> str:
    """The verified reference checkpoint folder in ``cache`` (built or rebuilt only when needed)."""
    maker = os.path.join(ref_dir, "make_checkpoint.py")
    ckpt = os.path.join(cache, "official-ref-ckpt")
    stamp = os.path.join(cache, STAMP_NAME)
    if os.path.isdir(ckpt):
        try:
            with open(stamp, encoding="utf-8") as fh:
                if json.load(fh) == _file_stats(ckpt):
                    log(f"checkpoint: {ckpt} (unchanged since its last sha256 check)")
                    return ckpt
        except (OSError, ValueError):
            pass
        log(f"checkpoint: checking the sha256 of {ckpt} ...")
        rc, text = _run_maker(maker, ckpt, only_check=True)
        if rc == 0:
            _write_stamp(stamp, ckpt)
            return ckpt
        log("checkpoint: differs from the reference, rebuilding it")
    os.makedirs(cache, exist_ok=True)
    partial = ckpt + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    log(f"checkpoint: building {ckpt} with {maker} (about 40 s, 3.8 GB) ...")
    t0 = time.perf_counter()
    rc, text = _run_maker(maker, partial, only_check=False)
    if rc != 0:
        shutil.rmtree(partial, ignore_errors=True)
        if "canary differs" in text:
            line = next(x for x in text.splitlines() if "canary differs" in x)
            raise Skip(f"torch's random stream differs on this CPU/build ({line.strip()[:200]})")
        raise RuntimeError(f"make_checkpoint.py failed (exit {rc}):\n{text[-2000:]}")
    shutil.rmtree(ckpt, ignore_errors=True)
    os.replace(partial, ckpt)
    _write_stamp(stamp, ckpt)
    log(f"checkpoint: built and verified in {time.perf_counter() - t0:.0f} s")
    return ckpt


def _write_stamp(stamp: str, ckpt: str) -> None:
    tmp = stamp + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(_file_stats(ckpt), fh)
    os.replace(tmp, stamp)


# ---------------------------------------------------------------- the ONNX export (own process)
def onnx_path_for(ckpt: str, cache: str) -> str:
    """Where the export of this checkpoint's encoder lives (named by its weights hash)."""
    from model_runtime.spex.runtime.onnx_export import FILE_PREFIX, vision_weights_hash

    return os.path.join(cache, "official-ref-onnx", f"{FILE_PREFIX}{vision_weights_hash(ckpt)}.onnx")


def export_onnx(ckpt: str, out: str) -> None:
    """Export + verify the checkpoint's vision encoder to ``out`` (called in a child process)."""
    from model_runtime.spex.loading.checkpoint import load_vision_encoder
    from model_runtime.spex.runtime.onnx_export import REL_TOLERANCE, export_module, verify_export

    module = load_vision_encoder(ckpt)
    export_module(module, out)
    _, rel = verify_export(module, out)
    bad = {k: v for k, v in rel.items() if not v <= REL_TOLERANCE}
    if bad:
        os.remove(out)
        raise SystemExit(f"ONNX export disagrees with torch: {bad}")
    print(f"exported {out}; verify relative diffs {rel}")


def ensure_onnx(ckpt: str, cache: str, log) -> str:
    """The ONNX export of the reference checkpoint's encoder, made in a child process when missing."""
    out = onnx_path_for(ckpt, cache)
    if os.path.isfile(out):
        log(f"onnx: {out} (cached)")
        return out
    log(f"onnx: exporting the vision encoder to {out} ...")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--export-onnx-to", out, "--checkpoint", ckpt],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not os.path.isfile(out):
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise RuntimeError(f"ONNX export failed (exit {proc.returncode}):\n{tail}")
    log(f"onnx: exported in {time.perf_counter() - t0:.0f} s")
    return out


# ---------------------------------------------------------------- running our model with probes
class Probes:
    """Forward hooks and an LM-head wrapper that record each stage of one ``generate`` call."""

    def __init__(self, model):
        self.model = model
        self.seen: dict = {}
        self.step_logits: list = []
        self._handles = []
        tower = model.model.vision_tower
        enc = tower.vision_tower
        if enc is not None:
            vm = enc.vision_model
            self._hook(vm.feat_aggregator, self._on_aggregator)
            self._hook(vm.visionneck, lambda m, i, o: self.seen.__setitem__("sam_image_embedding", o))
        self._hook(model.model.mm_projector, lambda m, i, o: self.seen.__setitem__("projected", o))
        self._hook(tower.lan_neck, lambda m, i, o: self.seen.__setitem__("sparse", o))
        self._hook(tower.mask_decoder, lambda m, i, o: self.seen.__setitem__("iou_pred", o[1]))
        original = type(model).logits

        def logits(hidden):
            out = original(model, hidden)
            self.step_logits.append(out.detach().float().reshape(-1).cpu())
            return out

        model.logits = logits

    def _hook(self, module, fn):
        self._handles.append(module.register_forward_hook(fn))

    def _on_aggregator(self, module, inputs, output):
        self.seen["stages"] = inputs[0]
        self.seen["feat_agg"] = output

    def close(self):
        """Remove the hooks and the wrapper."""
        for h in self._handles:
            h.remove()
        del self.model.logits


def _np(t) -> np.ndarray:
    return t.detach().float().cpu().numpy() if hasattr(t, "detach") else np.asarray(t, dtype=np.float32)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def run_backend(
    model, ref, prompt: str, backend: str, onnx_path: str | None, device: str = "cpu"
) -> tuple[list, list]:
    """One generate() on the reference input; (rows of the stage table, failures)."""
    import torch

    x = torch.from_numpy(ref["image_f16"].astype(np.float32))
    probes = Probes(model)
    try:
        t0 = time.perf_counter()
        if backend == "torch":
            out = model.generate(pixel_values=x, prompt=prompt, max_new_tokens=ref["generated_ids"].shape[1])
            feat, emb = probes.seen["feat_agg"], probes.seen["sam_image_embedding"]
            stages = probes.seen["stages"]
        else:
            from model_runtime.spex.loading.device import resolve_device
            from model_runtime.spex.runtime.vision_runtime import onnx_runtime

            rt = onnx_runtime(onnx_path, resolve_device(device, "float32"), precision="fp32")
            feat, emb = rt(x.numpy())
            del rt
            gc.collect()
            out = model.generate(
                vision_features=(feat, emb), prompt=prompt, max_new_tokens=ref["generated_ids"].shape[1]
            )
            stages = None
        seconds = time.perf_counter() - t0
    finally:
        probes.close()

    rows, failures = [], []

    def exact(name, want, got):
        ok = np.array_equal(np.asarray(want), np.asarray(got))
        rows.append((name, "identical" if ok else "DIFFER", ""))
        if not ok:
            failures.append(f"{name}: ids differ ({np.asarray(got).tolist()} vs {np.asarray(want).tolist()})")

    def close(name, want, got, abs_tol=None):
        want, got = np.asarray(want, np.float32), _np(got).reshape(np.shape(want))
        diff = float(np.abs(got - want).max())
        rel = diff / max(float(np.abs(want).max()), 1e-12)
        ok = rel <= REL_TOL and (abs_tol is None or diff <= abs_tol)
        rows.append((name, f"max|diff| {diff:.3e}", f"rel {rel:.2e}" + ("" if ok else "  FAIL")))
        if not ok:
            failures.append(f"{name}: max|diff| {diff:.3e}, relative {rel:.2e}")

    exact("input_ids", ref["input_ids"][0], model.tokenize_prompt(prompt))
    if stages is not None:
        for i in range(3):
            close(f"stage{i}_slice", ref[f"stage{i}_slice"], stages[i][0, :8, :4, :4])
        close("stage3", ref["stage3"], stages[3])
    feat_t, emb_t = torch.as_tensor(np.asarray(_np(feat))), torch.as_tensor(np.asarray(_np(emb)))
    close("feat_agg_slice", ref["feat_agg_slice"], feat_t[0, :16, :8, :8])
    close("feat_agg_chanmean", ref["feat_agg_chanmean"], feat_t[0].mean(dim=(1, 2)))
    close("sam_image_embedding", ref["sam_image_embedding"], emb_t)
    proj = probes.seen["projected"]
    close("projected_image_tokens_slice", ref["projected_image_tokens_slice"], proj[0, :16, :64])
    close("projected_image_tokens_tokmean", ref["projected_image_tokens_tokmean"], proj[0].mean(dim=-1))
    steps = torch.stack(probes.step_logits[: ref["step_logits_top5_ids"].shape[0]])
    top_ids = torch.topk(steps, 5, dim=-1).indices.numpy()
    exact("step_logits_top5_ids", ref["step_logits_top5_ids"], top_ids)
    picked = torch.gather(steps, 1, torch.from_numpy(ref["step_logits_top5_ids"]))
    close("step_logits_top5", ref["step_logits_top5"], picked)
    exact("generated_ids", ref["generated_ids"][0], out.sequences[0].numpy())
    close("lan_feat", ref["lan_feat"], out.hidden_states[None])
    close("sparse_prompt_embeddings", ref["sparse_prompt_embeddings"], probes.seen["sparse"])
    close("mask_logits", ref["mask_logits"], out.mask_logits, abs_tol=MASK_LOGITS_ABS_TOL)
    close("iou_pred", ref["iou_pred"], probes.seen["iou_pred"])
    # the official upsampled mask was stored as float16: compare ours rounded the same way
    close("sam_pred_f16", ref["sam_pred_f16"].astype(np.float32), out.mask_soft.astype(np.float16)[None])
    iou_logits = _iou(ref["mask_logits"] > 0, out.mask_logits > 0)
    iou_mask = _iou(ref["sam_pred_f16"][0].astype(np.float32) >= 0.5, out.mask)
    ious = (("mask IoU (logits > 0, 128x128)", iou_logits), ("mask IoU (upsampled >= 0.5)", iou_mask))
    for name, value in ious:
        ok = value >= MIN_IOU
        rows.append((name, f"{value:.6f}", "" if ok else "  FAIL"))
        if not ok:
            failures.append(f"{name}: {value:.6f} < {MIN_IOU}")
    rows.append(("generate() seconds", f"{seconds:.1f}", ""))
    return rows, failures


def control_single_softmax(model, ref) -> list:
    """The check must be able to fail: the decoder with one softmax (what transformers >= 4.47 computes)
    on the official decoder inputs has to miss the official mask_logits by more than the tolerance."""
    import copy

    import torch

    from model_runtime.spex.modeling.sam import decode_mask_logits
    from model_runtime.spex.modeling.sam_decoder import SamDecoderAttention

    tower = model.model.vision_tower
    single = copy.deepcopy(tower.mask_decoder)
    for module in single.modules():
        if isinstance(module, SamDecoderAttention):
            module.double_softmax = False
    with torch.no_grad():
        dev = next(single.parameters()).device
        emb = torch.from_numpy(ref["sam_image_embedding"]).to(dev)
        sparse = torch.from_numpy(ref["sparse_prompt_embeddings"]).to(dev)
        got = decode_mask_logits(tower.sampromptencoder, single, emb, sparse)[0].cpu().numpy()
    diff = float(np.abs(got - ref["mask_logits"]).max())
    iou = _iou(got > 0, ref["mask_logits"] > 0)
    print(f"control: single-softmax decoder on the official inputs: max|diff| {diff:.3e}, mask IoU {iou:.4f}")
    if diff <= MASK_LOGITS_ABS_TOL:
        return ["control: the single-softmax decoder is not distinguishable, the check cannot fail"]
    return []


# ---------------------------------------------------------------- main
def reference_prompt(ref_dir: str) -> str:
    """The user part of the reference's ChatML prompt (our generate() adds the template)."""
    with open(os.path.join(ref_dir, "reference_summary.json"), encoding="utf-8") as fh:
        chat = json.load(fh)["prompt"]
    head = "<|im_start|>user\n"
    start = chat.index(head) + len(head)
    return chat[start : chat.index("<|im_end|>", start)]


def parity(ref_dir: str, cache: str, backends: list, log=print, device: str = "cpu") -> int:
    """Run the check; returns the exit status (0 pass, 1 fail, 3 skip)."""
    if not os.path.isfile(os.path.join(ref_dir, "reference_small.npz")):
        print(f"SKIP: no official reference in {ref_dir}: pass --ref-dir or set SPEX_OFFICIAL_REF")
        return EXIT_SKIP
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "official-ref.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent runs (several worktrees) build the cache once
        try:
            ckpt = ensure_checkpoint(ref_dir, cache, log)
        except Skip as exc:
            print(f"SKIP: {exc}")
            return EXIT_SKIP
        onnx_path = ensure_onnx(ckpt, cache, log) if "onnx" in backends else None

    import torch

    from model_runtime.spex import SpexModel

    torch.manual_seed(0)
    if device != "cpu":  # fp32 means fp32: no TF32 convolutions or matmuls on the GPU
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    ref = dict(np.load(os.path.join(ref_dir, "reference_small.npz")))
    prompt = reference_prompt(ref_dir)
    t0 = time.perf_counter()
    model = SpexModel.from_pretrained(ckpt, device=device, load_vision_encoder="torch" in backends)
    log(f"model: loaded in {time.perf_counter() - t0:.0f} s (fp32, {device})")
    failures = control_single_softmax(model, ref)
    for backend in backends:
        if backend == "onnx":
            model.release_vision_encoder()  # one fp32 encoder at a time
            gc.collect()
        rows, bad = run_backend(model, ref, prompt, backend, onnx_path, device)
        label = "torch vision encoder" if backend == "torch" else f"ONNX Runtime ({device}) vision encoder"
        print(f"\n== {label}")
        for name, a, b in rows:
            print(f"  {name:34s} {a:22s} {b}")
        failures += [f"[{backend}] {f}" for f in bad]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    versions = f"transformers {_version('transformers')}, tokenizers {_version('tokenizers')}"
    print(f"\npeak RSS {peak:.2f} GiB; {versions}")
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print(f"PASS: {', '.join(backends)} match the official outputs")
    return 0


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def main(argv=None) -> int:
    """Command line; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref-dir", default=os.environ.get("SPEX_OFFICIAL_REF", DEFAULT_REF))
    ap.add_argument(
        "--cache",
        default=os.environ.get("SPEX_PARITY_CACHE")
        or os.path.join(os.path.expanduser("~"), ".cache", "spex-for-qgis"),
    )
    ap.add_argument("--backends", default="torch,onnx", help="comma-separated: torch, onnx")
    ap.add_argument(
        "--device",
        default="cpu",
        help="cpu (default) or cuda[:N]: fp32 on the GPU, ONNX Runtime CUDA provider, CUDA-graph decode",
    )
    ap.add_argument("--export-onnx-to", help=argparse.SUPPRESS)
    ap.add_argument("--checkpoint", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    if args.export_onnx_to:
        export_onnx(args.checkpoint, args.export_onnx_to)
        return 0
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"torch", "onnx"}
    if unknown or not backends:
        ap.error(f"--backends takes torch and/or onnx, not {sorted(unknown) or 'nothing'}")
    return parity(os.path.abspath(args.ref_dir), os.path.abspath(args.cache), backends, device=args.device)


if __name__ == "__main__":
    sys.exit(main())
