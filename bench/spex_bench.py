"""SPEX per-tile benchmark: baseline (official inference cost) vs ours, exact fp32 and int8, one run.

    .venv/bin/python bench/spex_bench.py          # real size, CPU (minutes, < 8 GB RAM)
    .venv/bin/python bench/spex_bench.py --tiny   # quick check of the script itself
    .venv/bin/python bench/spex_bench.py --device cuda --new-tokens 64   # GPU figures (bf16/fp16)
    .venv/bin/python bench/spex_bench.py --rounds 2   # shared machine: best of 2 rounds per configuration

The real-size checkpoint (random weights, the released shapes: 1.78 B parameters, fp16 shards, 3.6 GB)
is made once with ``tests.spex.tools.make_test_checkpoint`` into ``data/bench/spex_real/`` and reused.
Random weights make the text gibberish but the cost per token is the real one.

Each configuration runs in its own child process, so its peak RSS (``VmHWM``) is its own:

* ``baseline`` - the official inference path's costs: fp32 model loaded whole (torch vision encoder
  included), torch eager encoder, prefill returning every layer's hidden states and the logits of ALL
  positions (LLaVA's ``forward`` applies ``lm_head`` to the whole sequence), decode steps also returning
  all hidden states, then the SAM mask decoder.
* ``exact`` - ours, fp32: the engine's loader (:func:`model_runtime.engines.spex_engine.load_model`:
  vision runtime first, LLM without the torch encoder when ONNX Runtime serves it), last-position logits.
* ``int8`` - ours with ``--precision int8`` (dynamic int8 LLM linears), plus its deviation from
  ``exact`` on the same vision features: hidden-state relative error (teacher-forced on the fp32 tokens),
  greedy token agreement, mask IoU.
* ``encoders`` - the vision encoder alone, ONNX Runtime vs torch eager, alternating runs, median (on CUDA:
  ONNX Runtime fp32/fp16, with and without a CUDA graph, vs torch eager bf16 and fp32).

On CUDA one untimed tile runs first (``--warmup-tiles``, default 1 there): the first tile pays for kernel
loading, cuDNN's algorithm search and the decode graph's capture, which a multi-tile job pays once.
``bench/gpu_check.sh`` runs the GPU tests and this benchmark together.

Stages: vision encoder, LLM prefill, decode (tokens/s), SAM mask decoder; end to end = encoder + generate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

CONFIGS = ("encoders", "baseline", "exact", "int8")


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (``VmHWM``, GiB)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def ensure_checkpoint(path: str, tiny: bool) -> str:
    """Make the random checkpoint once (skipped when ``config.json`` is already there)."""
    if os.path.isfile(os.path.join(path, "config.json")):
        return path
    from tests.spex.tools.make_test_checkpoint import write_checkpoint

    print(f"writing a {'tiny' if tiny else 'real-size'} random checkpoint to {path} (once) ...", flush=True)
    return write_checkpoint(path, tiny=tiny, seed=0, overwrite=True)


def synthetic_tile(size: int = 512):
    """A smooth RGB tile with a dark 'lake' and its SPIE prompt (3 regions)."""
    from model_runtime.spectral.spie import build_spex_prompt, region_attributes
    from model_runtime.spex.modeling.preprocess import pixel_values

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rgb = np.stack([90 + 60 * xx, 120 + 50 * yy, 80 + 40 * xx * yy], axis=-1)
    lake = ((xx - 0.3) ** 2 + (yy - 0.4) ** 2) < 0.04
    pond = ((xx - 0.8) ** 2 + (yy - 0.8) ** 2) < 0.004
    strip = (np.abs(yy - 0.9) < 0.01) & (xx < 0.5)
    water = lake | pond | strip
    rgb[water] = (30, 60, 90)
    try:
        from model_runtime.vector.vectorize import regions_from_array
    except ImportError:  # a GPU machine without GDAL: the same prompt, stored by a run that had it
        with open(os.path.join(HERE, "spex_bench_prompt.txt"), encoding="utf-8") as fh:
            return pixel_values(rgb.astype(np.uint8)), fh.read()
    attrs = region_attributes(regions_from_array(water.astype(np.uint8)), size, size)
    return pixel_values(rgb.astype(np.uint8)), build_spex_prompt("water bodies", attrs)


def _sync(device) -> None:
    if device.is_cuda:
        import torch

        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------------ children
def child_encoders(args, device) -> dict:
    """Vision encoder alone: ONNX Runtime variants vs torch eager, alternating, median of ``repeats``.

    CPU: ONNX Runtime (CPU provider) vs torch fp32. CUDA: ONNX Runtime fp32/fp16, each without and with a
    CUDA graph, vs torch eager in the model's dtype (bf16/fp16) and in fp32. Differences are relative to
    torch fp32 on the same device.
    """
    import torch

    from model_runtime.spex.loading.checkpoint import load_vision_encoder
    from model_runtime.spex.runtime.onnx_export import export_vision_encoder
    from model_runtime.spex.runtime.vision_runtime import gpu_onnx_settings, onnx_runtime, torch_runtime

    px, _ = synthetic_tile()
    t0 = time.perf_counter()
    res = export_vision_encoder(args.model)
    t_export = time.perf_counter() - t0
    runtimes, errors = {}, {}
    if device.is_cuda:
        default = gpu_onnx_settings()
        for prec in ("fp32", "fp16"):
            for graph in (False, True):
                name = f"onnxruntime {prec}" + (" + CUDA graph" if graph else "")
                try:
                    rt = onnx_runtime(res.path, device, precision=prec, cuda_graph=graph)
                    runtimes[name] = rt
                    if rt.warnings:
                        errors[name] = "; ".join(rt.warnings)
                except Exception as exc:  # report, measure the others
                    errors[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        default_name = f"onnxruntime {default[0]}" + (" + CUDA graph" if default[1] else "")
    else:
        runtimes["onnxruntime"] = onnx_runtime(res.path, device)
        default_name = "onnxruntime"
    enc32 = load_vision_encoder(args.model, dtype=torch.float32, device=device.device)
    torch_name = f"torch eager {device.dtype}"
    if device.torch_dtype != torch.float32:
        enc = load_vision_encoder(args.model, dtype=device.torch_dtype, device=device.device)
        runtimes[torch_name] = torch_runtime(enc, device)
        runtimes["torch eager float32"] = torch_runtime(enc32, device)
    else:
        runtimes[torch_name] = torch_runtime(enc32, device)
    for rt in runtimes.values():
        rt(px), rt(px)  # warm-up: session init, arena, cuDNN/oneDNN choices, graph capture
    times = {name: [] for name in runtimes}
    for _ in range(args.repeats):
        for name, rt in runtimes.items():
            _sync(device)
            t = time.perf_counter()
            rt(px)
            _sync(device)
            times[name].append(time.perf_counter() - t)
    ref = torch_runtime(enc32, device)(px)
    rel = {}
    for name, rt in runtimes.items():
        got = rt(px)
        rel[name] = max(float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-12)) for x, y in zip(got, ref))
    median = {name: statistics.median(v) for name, v in times.items()}
    torch.cuda.empty_cache() if device.is_cuda else None
    return {
        "export_seconds": t_export,
        "export_reused": res.reused,
        "median": median,
        "all": times,
        "rel_diff": rel,
        "providers": {name: rt.provider for name, rt in runtimes.items()},
        "errors": errors,
        "default": default_name if default_name in median else None,
        "torch": median[torch_name],
        "torch_name": torch_name,
    }


def child_baseline(args, device) -> dict:
    """The official path's cost (see module docstring), timed stage by stage."""
    import torch

    from model_runtime.spex import SpexModel

    px, prompt = synthetic_tile()
    t0 = time.perf_counter()
    model = SpexModel.from_pretrained(args.model, device=device.device, dtype=device.torch_dtype)
    t_load = time.perf_counter() - t0
    rss_load = peak_rss_gib()
    ids = model.tokenize_prompt(prompt)
    px_t = torch.from_numpy(px)
    with torch.inference_mode():
        model.encode_image(px_t)  # warm-up of the encoder (the LLM too with --warmup-tiles, as ours)
        for _ in range(args.warmup_tiles):
            baseline_tile(model, px_t, ids, args.new_tokens, device)
        _sync(device)
        cpu0 = time.process_time()
        t, prompt_tokens = baseline_tile(model, px_t, ids, args.new_tokens, device)
        cpu = time.process_time() - cpu0
    return {
        "load_seconds": t_load,
        "rss_after_load": rss_load,
        "vision": t["vision"] - t["start"],
        "prefill": t["prefill"] - t["vision"],
        "decode": t["decode"] - t["prefill"],
        "decode_steps": args.new_tokens - 1,
        "mask": t["mask"] - t["decode"],
        "total": t["mask"] - t["start"],
        "cpu_total": cpu,
        "prompt_tokens": prompt_tokens,
        "vision_runtime": f"torch eager ({device.device} {device.dtype})",
        "decode_backend": "eager",
    }


def baseline_tile(model, px_t, ids, new_tokens: int, device) -> tuple[dict, int]:
    """One tile of the baseline path: (stage timestamps, prompt tokens). Also the warm-up tile."""
    import torch
    from transformers import DynamicCache

    t = {"start": time.perf_counter()}
    f, e = model.encode_image(px_t)
    _sync(device)
    t["vision"] = time.perf_counter()
    x = model._embed_prompt(ids, f)
    cache = DynamicCache()
    o = model.model(inputs_embeds=x, past_key_values=cache, use_cache=True, output_hidden_states=True)
    all_logits = model.logits(o.last_hidden_state).float()  # [1, L, vocab]: the official cost
    lg = all_logits[:, -1]
    kept = [o.hidden_states]
    _sync(device)
    t["prefill"] = time.perf_counter()
    sts = []
    for _ in range(new_tokens - 1):
        tok = int(torch.argmax(lg, -1)[0])
        s = model.model(
            inputs_embeds=model.model.embed_tokens(torch.tensor([[tok]], device=model.device)),
            past_key_values=cache,
            use_cache=True,
            output_hidden_states=True,
        )
        kept.append(s.hidden_states)
        sts.append(s.last_hidden_state[:, -1])
        lg = model.logits(s.last_hidden_state).float()[:, -1]
    _sync(device)
    t["decode"] = time.perf_counter()
    model.model.vision_tower.decode(e.to(model.dtype), torch.stack(sts, dim=1))
    _sync(device)
    t["mask"] = time.perf_counter()
    return t, int(x.shape[1])


def child_ours(args, device, precision: str) -> dict:
    """Our engine's path: ``load_model`` (vision runtime + LLM) then encoder + ``generate``."""
    import torch

    from model_runtime.engines.spex_engine import load_model

    px, prompt = synthetic_tile()
    t0 = time.perf_counter()
    loaded = load_model(args.model, args.device, precision=precision)
    t_load = time.perf_counter() - t0
    rss_load = peak_rss_gib()
    model, rt = loaded.model, loaded.vision
    rt(px)  # warm-up of the encoder (the LLM too with --warmup-tiles: CUDA kernels, graph capture)
    for _ in range(args.warmup_tiles):
        feat, emb = rt(px)
        vf = (torch.from_numpy(feat), torch.from_numpy(emb))
        model.generate(prompt=prompt, max_new_tokens=args.new_tokens, vision_features=vf)
    _sync(device)
    cpu0 = time.process_time()
    t_start = time.perf_counter()
    feat, emb = rt(px)
    _sync(device)
    t_vision = time.perf_counter()
    vf = (
        torch.from_numpy(feat).to(model.device, model.dtype),
        torch.from_numpy(emb).to(model.device, model.dtype),
    )
    out = model.generate(prompt=prompt, max_new_tokens=args.new_tokens, vision_features=vf)
    _sync(device)
    t_end = time.perf_counter()
    cpu = time.process_time() - cpu0
    result = {
        "load_seconds": t_load,
        "rss_after_load": rss_load,
        "vision": t_vision - t_start,
        "prefill": out.info["prefill_seconds"],
        "decode": out.info["decode_seconds"],
        "decode_steps": out.info["decode_steps"],
        "mask": out.info["mask_seconds"],
        "total": t_end - t_start,
        "cpu_total": cpu,
        "prompt_tokens": out.prompt_tokens,
        "tokens": out.sequences[0].tolist(),
        "vision_runtime": rt.describe(),
        "vision_warnings": rt.warnings,
        "decode_backend": out.info.get("decode_backend", "eager"),
        "torch_vision_encoder_loaded": model.vision_encoder is not None,
    }
    ref_path = os.path.join(args.workdir, "exact.npz")
    if precision == "fp32" or (precision == "auto" and not device.quantization):
        # reference for the int8 deviation: same vision features, fp32 outputs
        np.savez(
            ref_path,
            feat=feat,
            emb=emb,
            tokens=out.sequences[0].numpy(),
            states=out.hidden_states.numpy(),
            mask_logits=out.mask_logits,
            mask=out.mask,
        )
    elif os.path.isfile(ref_path):
        result["fidelity"] = fidelity(model, prompt, np.load(ref_path), args.new_tokens)
    return result


def fidelity(model, prompt: str, ref, new_tokens: int) -> dict:
    """Deviation of ``model`` from the fp32 reference run on the same vision features."""
    import torch

    from model_runtime.spex.modeling.sam import upsample_mask

    vf = (torch.from_numpy(ref["feat"]), torch.from_numpy(ref["emb"]))
    free = model.generate(prompt=prompt, max_new_tokens=new_tokens, vision_features=vf)
    ref_tokens = ref["tokens"].tolist()
    got = free.sequences[0].tolist()
    prefix = 0
    for a, b in zip(ref_tokens, got):
        if a != b:
            break
        prefix += 1
    # teacher forcing: the fp32 answer fed to this model -> its states and greedy picks at the same positions
    with torch.inference_mode():
        ids = model.tokenize_prompt(prompt)
        embeds = model._embed_prompt(ids, vf[0].to(model.dtype))
        answer = model.model.embed_tokens(torch.tensor(ref_tokens[:-1], dtype=torch.long))[None]
        hidden = model.model(inputs_embeds=torch.cat([embeds, answer], dim=1)).last_hidden_state[0]
        n = len(ref_tokens)
        steps = hidden[-n:]  # state before generating token i, i = 0..n-1
        picks = torch.argmax(model.logits(steps).float(), -1).tolist()
        states = hidden[-(n - 1) :].float()  # states of tokens 0..n-2 = the mask prompt's input
        ref_states = torch.from_numpy(ref["states"])
        rel = float((states - ref_states).norm() / ref_states.norm())
        tower = model.model.vision_tower
        logits = tower.decode(vf[1].to(model.dtype), states[None].to(model.dtype))
        mask_tf = (upsample_mask(logits.float(), model.config.image_size)[0] >= 0.5).numpy()
    ref_mask = ref["mask"]

    def iou(a, b):
        union = np.logical_or(a, b).sum()
        return float(np.logical_and(a, b).sum() / union) if union else 1.0

    return {
        "hidden_rel_error": rel,
        "teacher_forced_token_agreement": sum(int(p == r) for p, r in zip(picks, ref_tokens)) / n,
        "free_run_identical_prefix": prefix,
        "free_run_tokens": len(got),
        "reference_tokens": n,
        "mask_iou_teacher_forced": iou(mask_tf, ref_mask),
        "mask_iou_free_run": iou(free.mask, ref_mask),
        "mask_logits_rel_error": float(
            np.linalg.norm(logits[0].float().numpy() - ref["mask_logits"])
            / np.linalg.norm(ref["mask_logits"])
        ),
    }


def run_child(args) -> int:
    """Child process entry: run one configuration, write its JSON."""
    import torch

    from model_runtime.spex.loading.device import physical_cores, resolve_precision

    torch.set_num_threads(physical_cores())
    device = resolve_precision(args.device, "int8" if args.child == "int8" else args.precision)
    if args.child == "encoders":
        data = child_encoders(args, device)
    elif args.child == "baseline":
        data = child_baseline(args, resolve_precision(args.device, args.precision))
    else:
        data = child_ours(args, device, "int8" if args.child == "int8" else args.precision)
    data["peak_rss_gib"] = peak_rss_gib()
    data["device"] = device.describe()
    with open(os.path.join(args.workdir, f"{args.child}.json"), "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return 0


# ------------------------------------------------------------------------------------------ parent
def main(argv=None) -> int:
    """Run every configuration in a child process and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random checkpoint (seconds; checks the script)")
    ap.add_argument("--model", help="checkpoint folder (default data/bench/spex_real or spex_tiny)")
    ap.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N (default cpu)")
    ap.add_argument("--precision", default="auto", help="precision of baseline/exact (default: device's)")
    ap.add_argument("--new-tokens", type=int, default=8, help="new tokens per tile (default 8)")
    ap.add_argument("--repeats", type=int, default=3, help="alternating encoder runs, median (default 3)")
    ap.add_argument(
        "--warmup-tiles",
        type=int,
        help="untimed whole tiles before the timed one (default: 1 on CUDA, where the first tile pays for "
        "kernel loading and graph capture; 0 on the CPU)",
    )
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"subset of {','.join(CONFIGS)}")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the configurations N times in turn and keep each one's fastest tile (shared machines)",
    )
    ap.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    ap.add_argument("--child", choices=CONFIGS, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.model = args.model or os.path.join(ROOT, "data", "bench", "spex_tiny" if args.tiny else "spex_real")
    if args.warmup_tiles is None:
        args.warmup_tiles = 1 if args.device.startswith(("cuda", "gpu")) else 0
    if args.child:
        return run_child(args)

    ensure_checkpoint(args.model, args.tiny)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if "int8" in configs and args.device.startswith(("cuda", "gpu")):
        configs.remove("int8")  # int8 is the CPU mode
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="spex-bench-") as work:
        for rnd in range(max(1, args.rounds)):
            for name in configs:
                if name == "encoders" and rnd:
                    continue  # already a median of alternating runs
                cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--workdir", work]
                cmd += ["--model", args.model, "--device", args.device, "--precision", args.precision]
                cmd += ["--new-tokens", str(args.new_tokens), "--repeats", str(args.repeats)]
                cmd += ["--warmup-tiles", str(args.warmup_tiles)]
                print(f"running {name} (round {rnd + 1}) ...", flush=True)
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, check=False)
                if proc.returncode != 0:
                    print(f"  {name} failed (exit {proc.returncode})", flush=True)
                    continue
                with open(os.path.join(work, f"{name}.json"), encoding="utf-8") as fh:
                    data = json.load(fh)
                totals = results.get(name, {}).get("round_totals", []) + [data.get("total")]
                if name not in results or data.get("total", 0) < results[name].get("total", 0):
                    results[name] = data
                results[name]["round_totals"] = totals
                print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)
    print_table(results, args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 0 if len(results) == len(configs) else 1


def print_table(results: dict, args) -> None:
    """Stage table, ratios vs baseline, peak RSS per configuration, int8 deviation."""
    import torch

    from model_runtime.spex.loading.device import physical_cores

    any_r = next(iter(results.values()), {})
    print()
    print(
        f"SPEX benchmark: {args.model}; {any_r.get('device', args.device)}; torch {torch.__version__}, "
        f"{physical_cores()} physical cores; {args.new_tokens} new tokens"
    )
    enc = results.get("encoders")
    if enc:
        print(
            f"vision encoder alone, median of {args.repeats} alternating runs ("
            + ("export reused" if enc["export_reused"] else f"export {enc['export_seconds']:.0f} s")
            + "); max rel. diff vs torch float32 on the same device:"
        )
        for name, sec in enc["median"].items():
            mark = "  <- engine default" if name == enc.get("default") else ""
            print(
                f"  {name:<34} {sec * 1000:>9.1f} ms   torch {enc['torch_name'].split()[-1]}/this = "
                f"{enc['torch'] / sec:5.2f}   rel. diff {enc['rel_diff'][name]:.1e}   "
                f"[{enc['providers'][name]}]{mark}"
            )
        for name, err in enc.get("errors", {}).items():
            print(f"  {name}: {err}")
    cols = [c for c in ("baseline", "exact", "int8") if c in results]
    if not cols:
        return
    base = results.get("baseline")
    print()
    print(f"{'stage (seconds)':<28}" + "".join(f"{c:>14}" for c in cols))
    print("-" * (28 + 14 * len(cols)))
    for key, label in (
        ("load_seconds", "load model"),
        ("vision", "vision encoder"),
        ("prefill", "LLM prefill"),
        ("decode", "LLM decode"),
        ("mask", "SAM mask decoder"),
        ("total", "END TO END (one tile)"),
    ):
        print(f"{label:<28}" + "".join(f"{results[c][key]:>14.3f}" for c in cols))
    print(
        f"{'decode tokens/s':<28}"
        + "".join(f"{results[c]['decode_steps'] / max(results[c]['decode'], 1e-9):>14.2f}" for c in cols)
    )
    if base:
        print(
            f"{'speed-up vs baseline':<28}"
            + "".join(f"{base['total'] / results[c]['total']:>13.2f}x" for c in cols)
        )
    print(f"{'END TO END CPU seconds':<28}" + "".join(f"{results[c]['cpu_total']:>14.1f}" for c in cols))
    print(f"{'peak RSS (GiB)':<28}" + "".join(f"{results[c]['peak_rss_gib']:>14.2f}" for c in cols))
    print(f"{'prompt tokens':<28}" + "".join(f"{results[c]['prompt_tokens']:>14d}" for c in cols))
    for c in cols:
        rounds = ", ".join(f"{t:.1f}" for t in results[c].get("round_totals", []) if t is not None)
        print(
            f"  {c}: vision = {results[c]['vision_runtime']}; decode = {results[c].get('decode_backend')}; "
            f"end to end per round: {rounds} s"
        )
        for w in results[c].get("vision_warnings") or []:
            print(f"    warning: {w}")
    fid = results.get("int8", {}).get("fidelity")
    if fid:
        print()
        print(
            "int8 vs fp32 on the same vision features: hidden-state rel. error "
            f"{fid['hidden_rel_error']:.2e}; teacher-forced greedy token agreement "
            f"{fid['teacher_forced_token_agreement']:.0%} of {fid['reference_tokens']}; free-run identical "
            f"prefix {fid['free_run_identical_prefix']}/{fid['reference_tokens']} tokens; mask IoU "
            f"{fid['mask_iou_teacher_forced']:.4f} (teacher-forced), "
            f"{fid['mask_iou_free_run']:.4f} (free run); "
            f"mask-logit rel. error {fid['mask_logits_rel_error']:.2e}"
        )
    if args.device.startswith(("cuda", "gpu")):
        print(
            f"targets (GPU): < 0.5 s per tile with {args.new_tokens} new tokens; ONNX encoder >= 1.5x torch "
            f"eager; {args.warmup_tiles} untimed warm-up tile(s) first"
        )
    else:
        print("targets (CPU): >= 3x faster than baseline end to end, peak RSS < 8 GiB")


if __name__ == "__main__":
    sys.exit(main())
