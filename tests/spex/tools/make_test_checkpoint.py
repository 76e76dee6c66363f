"""Write a random SPEX checkpoint in the official folder layout (for tests and benchmarks; no download).

    python -m tests.spex.tools.make_test_checkpoint OUT [--tiny] [--seed N] [--overwrite]

Layout: ``config.json`` (llava_qwen + mm_* fields), two fp16 safetensors shards split like the released
checkpoint (embeddings, ``image_newline`` and the first ~16/28 decoder layers in shard 1) + index json,
``generation_config.json`` and an offline Qwen2-style byte-level BPE tokenizer
(``vocab.json``, ``merges.txt``,
``tokenizer.json``, ``tokenizer_config.json``, ``special_tokens_map.json``) trained in-process.
Default sizes are the real ones (3.6 GB, shards written tensor by tensor); ``--tiny`` gives a ~2 MB model with
the same key names. The weights are random: the text is gibberish and the mask arbitrary.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import struct
import sys
import tempfile
from typing import Any

from model_runtime.errors import SpexInputError

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The pre-tokenisation regex of Qwen2 (slow Qwen2Tokenizer and tokenizer.json use the same one).
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_CORPUS = [
    "You are a helpful assistant.",
    "system",
    "user",
    "assistant",
    "Based on the provided image and the attributes of the water bodies, please provide a detailed "
    "description of them:",
    "Based on the provided image and the attributes of the vegetation regions, please provide a detailed "
    "description "
    "of them:",
    "[{'Size of area': 'huge', 'Centroid': [0.48, 0.422], 'Location': 'center', "
    "'Bounding box': [[0.09, 0.0], [0.998, 0.0], [0.998, 0.963], [0.09, 0.963]]}]",
    "large somewhat large medium small very tiny top-left top-center top-right middle-left middle-right "
    "bottom-left bottom-center bottom-right building buildings bare soil",
    "The image shows several types of water bodies. On the right side, there is a large coastal bay or "
    "inlet, "
    "which stands out with its turquoise color. There are smaller rectangular inland ponds or reservoirs.",
    "提取水体 提取植被 建筑物 裸土 图像中 水体 位于 中心 左上 右下",
    "0123456789 .,:;'\"()[]{}<>\\n\n\t",
]

# Real Qwen2.5-1.5B text fields (config.json of the released checkpoint).
REAL_TEXT = {
    "vocab_size": 151936,
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "initializer_range": 0.02,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "rope_scaling": None,
    "tie_word_embeddings": True,
    "use_sliding_window": False,
    "sliding_window": 32768,
    "max_window_layers": 21,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}
TINY_TEXT = dict(
    REAL_TEXT,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_window_layers=2,
    max_position_embeddings=4096,
)
TINY_VISION = {
    "channels": 16,
    "depths": [1, 1, 1, 1],
    "groups": [1, 2, 4, 8],
    "aggregator_channels": 64,
    "neck_channels": 32,
}
TINY_SAM = {
    "hidden_size": 32,
    "num_pos_feats": 16,
    "mlp_dim": 64,
    "num_attention_heads": 2,
    "iou_head_hidden_dim": 32,
}
# LLaVA-NeXT fields of the released config.json (values as the official training script sets them).
MM_FIELDS = {
    "architectures": ["LlavaQwenForCausalLM"],
    "model_type": "llava_qwen",
    "image_aspect_ratio": "square",
    "mm_hidden_size": 1024,
    "mm_newline_position": "one_token",
    "mm_patch_merge_type": "spatial_unpad",
    "mm_projector_type": "mlp2x_gelu",
    "mm_spatial_pool_mode": "bilinear",
    "mm_tunable_parts": "mm_vis_encoder_decoder",
    "mm_use_im_patch_token": False,
    "mm_use_im_start_end": False,
    "mm_vision_select_feature": "patch",
    "mm_vision_select_layer": -2,
    "mm_vision_tower": "./spex/pertrained_weights/InternImage",
    "mm_vision_tower_lr": 0.0001,
    "tokenizer_model_max_length": 8192,
    "tokenizer_padding_side": "right",
    "torch_dtype": "float16",
    "use_cache": True,
    "use_mm_proj": True,
    "use_pos_skipping": False,
    "pos_skipping_range": 4096,
    "vision_tower_pretrained": None,
}
SHARD_NAMES = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
_REAL_SHARD1_LAYERS = 16  # the released shard 1 ends inside layer 16 (after its self-attention)


# ---------------------------------------------------------------------------------------------- tokenizer
def build_tokenizer(out_dir: str, vocab_size: int = 512) -> int:
    """Train a Qwen2-style byte-level BPE on a small built-in corpus and write every tokenizer file.

    Returns the number of token ids (regular + special).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    n_regular = tok.get_vocab_size()
    tok.add_special_tokens(SPECIAL_TOKENS)

    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    state = json.loads(tok.to_str())
    vocab = state["model"]["vocab"]
    merges = state["model"]["merges"]
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as fh:
        json.dump(vocab, fh, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as fh:
        fh.write("#version: 0.2\n")
        for merge in merges:
            fh.write((" ".join(merge) if isinstance(merge, list) else merge) + "\n")
    added = {
        str(n_regular + i): {
            "content": t,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for i, t in enumerate(SPECIAL_TOKENS)
    }
    tok_cfg = {
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": SPECIAL_TOKENS[1:],
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 8192,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    _write_json(os.path.join(out_dir, "tokenizer_config.json"), tok_cfg)
    _write_json(
        os.path.join(out_dir, "special_tokens_map.json"),
        {
            "additional_special_tokens": SPECIAL_TOKENS[1:],
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
        },
    )
    return n_regular + len(SPECIAL_TOKENS)


# ---------------------------------------------------------------------------------------------- weights
def _init_tensor(key: str, shape: tuple[int, ...], gen) -> Any:
    """Plausible random values: norms/layer-scales 1, biases 0, weights ~ N(0, 1/fan_in)."""
    import torch

    leaf = key.rsplit(".", 1)[-1]
    if re.search(r"(norm[^.]*|norm\d?\.\d|fuse_all\.1|layer_norm\d?)\.weight$", key) or leaf in (
        "weight1",
        "weight2",
    ):
        return torch.ones(shape)
    if leaf == "bias":
        return torch.zeros(shape)
    if key.endswith(
        "embed_tokens.weight"
    ):  # small, so the decoder layers (not the tied identity) pick tokens
        return torch.randn(shape, generator=gen) * 0.1
    if leaf == "positional_embedding" or len(shape) == 1:
        return torch.randn(shape, generator=gen)
    fan_in = int(math.prod(shape[1:])) if key.endswith(".weight") and "upscale_conv" not in key else shape[0]
    return torch.randn(shape, generator=gen) / math.sqrt(max(1, fan_in))


def _shard_of(key: str, n_layers: int, shard1_layers: int) -> int:
    """0 or 1: the released split (embeddings, newline, layers < k and layer k's attention in shard 1)."""
    if key in ("model.embed_tokens.weight", "model.image_newline"):
        return 0
    m = re.match(r"model\.layers\.(\d+)\.(.*)", key)
    if m:
        i = int(m.group(1))
        if i < shard1_layers or (i == shard1_layers and m.group(2).startswith("self_attn.")):
            return 0
    return 1


def _write_safetensors_streaming(path: str, keys: list[str], shapes: dict[str, tuple[int, ...]], make) -> int:
    """safetensors file (fp16) written tensor by tensor: header from shapes, then each tensor's bytes."""
    import torch

    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for k in keys:
        n = 2 * int(math.prod(shapes[k]))
        header[k] = {"dtype": "F16", "shape": list(shapes[k]), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        for k in keys:
            t = make(k).to(torch.float16).contiguous()
            fh.write(t.numpy().tobytes())
    return offset


def write_checkpoint(
    out_dir: str,
    tiny: bool = False,
    seed: int = 0,
    overwrite: bool = False,
    config_overrides: dict[str, Any] | None = None,
) -> str:
    """Create the checkpoint folder ``out_dir`` (built in a temp folder beside it, then renamed)."""
    import torch

    from model_runtime.spex.loading.checkpoint import build_empty_model
    from model_runtime.spex.loading.tensors import expected_tensors
    from model_runtime.spex.modeling.config import SpexConfig

    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir):
        if not overwrite:
            raise SpexInputError(f"{out_dir} already exists: choose another folder or pass --overwrite")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".spex-ckpt-", dir=parent)
    try:
        n_tokens = build_tokenizer(tmp)
        text = dict(TINY_TEXT if tiny else REAL_TEXT)
        ids = {t: n_tokens - len(SPECIAL_TOKENS) + i for i, t in enumerate(SPECIAL_TOKENS)}
        if tiny:
            text["vocab_size"] = int(math.ceil(n_tokens / 64) * 64)
        text["bos_token_id"] = ids["<|endoftext|>"]
        text["eos_token_id"] = ids["<|im_end|>"]
        data = dict(MM_FIELDS)
        data.update(text)
        if tiny:
            data["mm_hidden_size"] = TINY_VISION["aggregator_channels"]
            data["spex_vision_config"] = dict(TINY_VISION)
            data["spex_sam_config"] = dict(TINY_SAM)
        data.update(config_overrides or {})
        data["transformers_version"] = _transformers_version()
        config = SpexConfig.from_dict(data)
        _write_json(os.path.join(tmp, "config.json"), data)
        _write_json(
            os.path.join(tmp, "generation_config.json"),
            {
                "bos_token_id": ids["<|endoftext|>"],
                "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
                "pad_token_id": ids["<|endoftext|>"],
                "do_sample": False,
                "transformers_version": data["transformers_version"],
            },
        )

        shapes = expected_tensors(build_empty_model(config))
        n_layers = int(text["num_hidden_layers"])
        shard1_layers = round(_REAL_SHARD1_LAYERS * n_layers / REAL_TEXT["num_hidden_layers"])
        gen = torch.Generator().manual_seed(seed)
        groups: list[list[str]] = [[], []]
        for k in shapes:
            groups[_shard_of(k, n_layers, shard1_layers)].append(k)
        total = 0

        def make(k: str):
            return _init_tensor(k, shapes[k], gen)  # drawn in file order: deterministic for a seed

        weight_map = {}
        for name, keys in zip(SHARD_NAMES, groups):
            total += _write_safetensors_streaming(os.path.join(tmp, name), keys, shapes, make)
            weight_map.update({k: name for k in keys})
        _write_json(
            os.path.join(tmp, "model.safetensors.index.json"),
            {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))},
        )
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _transformers_version() -> str:
    try:
        import transformers

        return transformers.__version__
    except ImportError:  # pragma: no cover
        return "unknown"


def _write_json(path: str, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")


def main(argv: list[str] | None = None) -> int:
    """CLI entry: ``python -m tests.spex.tools.make_test_checkpoint OUT [--tiny] [--seed N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.spex.tools.make_test_checkpoint",
        description="Write a random SPEX checkpoint in the official layout.",
    )
    parser.add_argument("out", help="output folder (must not exist unless --overwrite)")
    parser.add_argument("--tiny", action="store_true", help="small dimensions (fast tests), same key names")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    args = parser.parse_args(argv)
    try:
        path = write_checkpoint(args.out, tiny=args.tiny, seed=args.seed, overwrite=args.overwrite)
    except SpexInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
