"""SPEX per-tile benchmark: where the time goes, and how much faster than the official path's costs.

    .venv/bin/python bench/spex_bench.py          # real-size random checkpoint, CPU (minutes, ~10 GB RAM)
    .venv/bin/python bench/spex_bench.py --tiny   # quick check of the script itself
    .venv/bin/python bench/spex_bench.py --device cuda --new-tokens 64   # GPU figures (bf16/fp16)

The real-size checkpoint (random weights, the released shapes: 1.78 B parameters, fp16 shards, 3.6 GB)
is made once with ``model_runtime.spex.make_test_checkpoint`` into ``data/bench/spex_real/`` and reused.
Random weights make the text gibberish but the cost per token is the real one.

Stages for one 512 x 512 tile (prompt = SPIE text for 3 regions + 1024 image tokens):
  vision encoder with ONNX Runtime, and with torch eager; LLM prefill (logits of the last position only);
  decode (tokens/s); SAM mask decoder; end to end = ONNX encoder + ``SpexModel.generate(max_new_tokens=N)``.
Baseline, in the same process, mimicking the official inference path's costs: torch eager encoder,
prefill returning the hidden states of every layer and the logits of ALL positions (LLaVA's ``forward``
applies ``lm_head`` to the whole sequence), decode steps also returning all hidden states and full
logits, then the mask decoder. The model dtype is the device default (fp32 on the CPU, as the official
demo; bf16/fp16 on CUDA).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class Timer:
    """Wall time of a block, synchronising CUDA so GPU work is counted."""

    def __init__(self, device):
        self.device = device

    def sync(self):
        if self.device.is_cuda:
            import torch

            torch.cuda.synchronize()

    def __call__(self, fn, repeats=1):
        """(best seconds over ``repeats`` runs, last result)."""
        best, out = float("inf"), None
        for _ in range(repeats):
            self.sync()
            t0 = time.perf_counter()
            out = fn()
            self.sync()
            best = min(best, time.perf_counter() - t0)
        return best, out


def ensure_checkpoint(path: str, tiny: bool) -> str:
    """Make the random checkpoint once (skipped when ``config.json`` is already there)."""
    if os.path.isfile(os.path.join(path, "config.json")):
        return path
    from model_runtime.spex.make_test_checkpoint import write_checkpoint

    print(f"writing a {'tiny' if tiny else 'real-size'} random checkpoint to {path} (once) ...", flush=True)
    return write_checkpoint(path, tiny=tiny, seed=0, overwrite=True)


def synthetic_tile(size: int = 512):
    """A smooth RGB tile with a dark 'lake' and its SPIE prompt (3 regions)."""
    from model_runtime.composite import pixel_values
    from model_runtime.spie import build_spex_prompt, region_attributes
    from model_runtime.vectorize import regions_from_array

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rgb = np.stack([90 + 60 * xx, 120 + 50 * yy, 80 + 40 * xx * yy], axis=-1)
    lake = ((xx - 0.3) ** 2 + (yy - 0.4) ** 2) < 0.04
    pond = ((xx - 0.8) ** 2 + (yy - 0.8) ** 2) < 0.004
    strip = (np.abs(yy - 0.9) < 0.01) & (xx < 0.5)
    water = lake | pond | strip
    rgb[water] = (30, 60, 90)
    attrs = region_attributes(regions_from_array(water.astype(np.uint8)), size, size)
    return pixel_values(rgb.astype(np.uint8)), build_spex_prompt("water bodies", attrs)


def main(argv=None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random checkpoint (seconds; checks the script)")
    ap.add_argument("--model", help="checkpoint folder (default data/bench/spex_real or spex_tiny)")
    ap.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N (default cpu)")
    ap.add_argument("--dtype", default=None, help="override the device's default dtype")
    ap.add_argument("--new-tokens", type=int, default=8, help="new tokens per tile (default 8)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per stage, best kept (default 1; tiny 3)")
    ap.add_argument("--skip-baseline", action="store_true", help="do not run the official-cost baseline")
    args = ap.parse_args(argv)

    import torch
    from transformers import DynamicCache

    from model_runtime.spex.device import physical_cores, resolve_device
    from model_runtime.spex.modeling import SpexModel
    from model_runtime.spex.onnx_export import export_vision_encoder
    from model_runtime.spex.vision_runtime import onnx_runtime

    model_dir = args.model or os.path.join(ROOT, "data", "bench", "spex_tiny" if args.tiny else "spex_real")
    ensure_checkpoint(model_dir, args.tiny)
    device = resolve_device(args.device, args.dtype)
    repeats = args.repeats or (3 if args.tiny else 1)
    timer = Timer(device)
    rows = []

    def row(stage, seconds, note=""):
        rows.append((stage, seconds, note))
        print(f"  {stage:<38} {seconds:9.3f} s  {note}", flush=True)

    print(
        f"SPEX benchmark: {model_dir} on {device.describe()}, torch threads {torch.get_num_threads()}, "
        f"physical cores {physical_cores()}, {args.new_tokens} new tokens",
        flush=True,
    )
    t_load, model = timer(
        lambda: SpexModel.from_pretrained(model_dir, device=device.device, dtype=device.torch_dtype)
    )
    row("load model", t_load, f"peak RSS {peak_rss_gib():.2f} GiB")
    px, prompt = synthetic_tile()

    # ---- vision encoder: ONNX Runtime
    t_exp, res = timer(lambda: export_vision_encoder(model_dir, module=_fp32_encoder(model)))
    row(
        "onnx export (once per weights)",
        t_exp,
        "reused"
        if res.reused
        else f"max|diff| feat {res.max_abs_diff['feat_agg']:.2e}, "
        f"emb {res.max_abs_diff['image_embeddings']:.2e}",
    )
    rt = onnx_runtime(res.path, device)
    rt(px)  # warm-up (session initialisation, arena allocation)
    t_ort, (feat_np, emb_np) = timer(lambda: rt(px), repeats)
    row("vision encoder, ONNX Runtime", t_ort, f"{rt.provider}; peak RSS {peak_rss_gib():.2f} GiB")

    # ---- vision encoder: torch eager
    px_t = torch.from_numpy(px)
    if args.tiny:
        model.encode_image(px_t)
    t_eager, (feat, emb) = timer(lambda: model.encode_image(px_t), repeats)
    row("vision encoder, torch eager", t_eager, f"{device.dtype}; ONNX is {t_eager / t_ort:.2f}x faster")

    # ---- LLM prefill / decode, mask decoder (our path: last-position logits only)
    feats = (
        torch.from_numpy(feat_np).to(model.device, model.dtype),
        torch.from_numpy(emb_np).to(model.device, model.dtype),
    )
    ids = model.tokenize_prompt(prompt)
    with torch.inference_mode():
        embeds = model._embed_prompt(ids, feats[0])

        def prefill():
            cache = DynamicCache()
            out = model.model(inputs_embeds=embeds, past_key_values=cache, use_cache=True)
            return cache, model.logits(out.last_hidden_state[:, -1]).float()

        t_pre, (cache, logits) = timer(prefill, 1)
        row("LLM prefill (last-position logits)", t_pre, f"{embeds.shape[1]} tokens")
        emb_layer = model.model.embed_tokens
        states = []

        def decode():
            nonlocal logits
            for _ in range(args.new_tokens):
                tok = int(torch.argmax(logits, -1)[0])
                step = model.model(
                    inputs_embeds=emb_layer(torch.tensor([[tok]], device=model.device)),
                    past_key_values=cache,
                    use_cache=True,
                )
                states.append(step.last_hidden_state[:, -1])
                logits = model.logits(states[-1]).float()

        t_dec, _ = timer(decode, 1)
        row("LLM decode", t_dec, f"{args.new_tokens / t_dec:.2f} tokens/s")
        tower = model.model.vision_tower
        token_states = torch.stack(states, dim=1)
        t_mask, _ = timer(lambda: tower.decode(feats[1], token_states), repeats)
        row("SAM mask decoder", t_mask)
        cache = None  # free the KV cache before the end-to-end runs

    def ours():
        f, e = rt(px)
        vf = (
            torch.from_numpy(f).to(model.device, model.dtype),
            torch.from_numpy(e).to(model.device, model.dtype),
        )
        return model.generate(prompt=prompt, max_new_tokens=args.new_tokens, vision_features=vf)

    t_ours, out = timer(ours, repeats)
    row("END TO END (ours)", t_ours, f"{out.sequences.shape[-1]} tokens; peak RSS {peak_rss_gib():.2f} GiB")

    if not args.skip_baseline:

        def baseline():
            with torch.inference_mode():
                f, e = model.encode_image(px_t)
                x = model._embed_prompt(ids, f)
                cache = DynamicCache()
                o = model.model(
                    inputs_embeds=x, past_key_values=cache, use_cache=True, output_hidden_states=True
                )
                all_logits = model.logits(o.last_hidden_state).float()  # [1, L, vocab]: the official cost
                lg = all_logits[:, -1]
                kept = [o.hidden_states]
                sts = []
                for _ in range(args.new_tokens):
                    tok = int(torch.argmax(lg, -1)[0])
                    s = model.model(
                        inputs_embeds=emb_layer(torch.tensor([[tok]], device=model.device)),
                        past_key_values=cache,
                        use_cache=True,
                        output_hidden_states=True,
                    )
                    kept.append(s.hidden_states)
                    sts.append(s.last_hidden_state[:, -1])
                    lg = model.logits(s.last_hidden_state).float()[:, -1]
                return tower.decode(e, torch.stack(sts[:-1] or sts, dim=1))

        t_base, _ = timer(baseline, repeats)
        row("END TO END (official-cost baseline)", t_base, f"peak RSS {peak_rss_gib():.2f} GiB")

    print()
    print(f"{'stage':<40}{'seconds':>10}  notes")
    print("-" * 100)
    for stage, sec, note in rows:
        print(f"{stage:<40}{sec:>10.3f}  {note}")
    print("-" * 100)
    if not args.skip_baseline:
        print(f"speed-up end to end vs official-cost baseline: {t_base / t_ours:.2f}x (target >= 3x on CPU)")
    print(f"peak RSS: {peak_rss_gib():.2f} GiB (target < 8 GiB)")
    return 0


def _fp32_encoder(model):
    """The model's encoder as an fp32 CPU module (a copy only when the model is not fp32 on the CPU)."""
    from model_runtime.spex.vision_runtime import _fp32_copy_if_needed

    return _fp32_copy_if_needed(model.vision_encoder)


if __name__ == "__main__":
    sys.exit(main())
