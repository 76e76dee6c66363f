"""Configuration dataclasses of the SPEX model.

The released checkpoint's ``config.json`` is a LLaVA-NeXT ``llava_qwen`` config: the Qwen2 text-model fields
plus ``mm_*`` fields. The official code reads the InternImage and SAM settings from side folders (one of them
relative to the working directory) and hard-codes the rest; here every part has built-in defaults equal to the
released model, so a checkpoint folder is self-sufficient. Test checkpoints may override the vision/SAM sizes
with the optional ``spex_vision_config`` / ``spex_sam_config`` objects in ``config.json`` (ignored by the
official code).

Nothing here imports torch: the dataclasses are plain Python so the engine can inspect a folder cheaply.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ...errors import ModelLoadError

IMAGE_TOKEN_INDEX = -200  # placeholder id of ``<image>`` in the token sequence (never embedded)
DEFAULT_IMAGE_TOKEN = "<image>"
IMAGE_SIZE = 512  # the network's input side (the official demo resizes every image to 512 x 512)
MASK_THRESHOLD = 0.5  # binarisation of the upsampled soft mask (SpexGenerateOutput.mask, the engine's mask)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SYSTEM_PROMPT = "You are a helpful assistant."
# Upper bound of any integer size in config.json (the released model's largest is vocab_size 151,936): keeps
# shape products far from int64 overflow; check_memory then compares the real total with the machine.
MAX_CONFIG_INT = 1 << 22


def _from_dict(cls, data: dict[str, Any] | None, what: str):
    """Build dataclass ``cls`` from ``data``, ignoring unknown keys; bad types -> ModelLoadError."""
    data = dict(data or {})
    names = {f.name for f in fields(cls)}
    try:
        kwargs = {k: v for k, v in data.items() if k in names}
        for k, v in kwargs.items():
            values = v if isinstance(v, list) else [v]
            if any(isinstance(x, int) and abs(x) > MAX_CONFIG_INT for x in values):
                raise ValueError(f"{k}={v!r} is implausibly large (limit {MAX_CONFIG_INT})")
        obj = cls(**kwargs)
        obj.validate()
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(
            f"invalid {what} in config.json ({exc}): use the config.json shipped with the model"
        ) from None
    return obj


@dataclass
class InternImageConfig:
    """InternImage backbone + multiscale aggregator + SAM vision neck (``vision_model.*``).

    Defaults are the values the official ``CLIPVisionModel`` hard-codes (InternImage "large"-like).
    """

    core_op: str = "DCNv3"
    in_chans: int = 3
    channels: int = 160  # stage 0 width; stage i has channels * 2**i
    depths: list[int] = field(default_factory=lambda: [5, 5, 22, 5])
    groups: list[int] = field(default_factory=lambda: [10, 20, 40, 80])
    kernel_size: int = 3  # DCNv3 sampling grid (3 x 3 points per group)
    dw_kernel_size: int | None = None  # depthwise conv before offset/mask; None = kernel_size
    mlp_ratio: float = 4.0
    act_layer: str = "GELU"
    norm_layer: str = "LN"
    layer_norm_eps: float = 1e-6
    layer_scale: float | None = 1.0  # None: no ``weight1``/``weight2`` (gamma) parameters
    offset_scale: float = 2.0
    post_norm: bool = True
    res_post_norm: bool = False  # InternImage-H/G only
    center_feature_scale: bool = False  # InternImage-H/G only
    level2_post_norm: bool = False  # InternImage-H/G only
    level2_post_norm_block_ids: list[int] | None = None
    remove_center: bool = False  # later InternImage versions; not used by SPEX (and not supported)
    drop_path_rate: float = 0.4  # training only (stochastic depth is the identity at inference)
    out_indices: tuple[int, ...] = (0, 1, 2, 3)
    aggregator_channels: int = (
        1024  # ``feat_aggregator.fuse_all``: sum(stage widths) -> this (= mm_hidden_size)
    )
    aggregator_groups: int = 16  # GroupNorm groups
    neck_channels: int = 256  # ``visionneck``: SAM image-embedding width

    def validate(self) -> None:
        """Raise ValueError on inconsistent values."""
        if len(self.depths) != len(self.groups) or not self.depths:
            raise ValueError("depths and groups must have the same non-zero length")
        for i, g in enumerate(self.groups):
            if (self.channels * 2**i) % g:
                raise ValueError(f"stage {i} width {self.channels * 2**i} is not divisible by groups {g}")
        if self.remove_center:
            raise ValueError("remove_center=True is not supported (SPEX does not use it)")
        if self.core_op not in ("DCNv3", "DCNv3_pytorch"):
            raise ValueError(f"core_op {self.core_op!r} is not supported (DCNv3 only)")
        if self.norm_layer != "LN" or self.act_layer != "GELU":
            raise ValueError("only norm_layer 'LN' and act_layer 'GELU' are supported")
        if self.aggregator_channels % self.aggregator_groups:
            raise ValueError("aggregator_channels must be divisible by aggregator_groups")
        self.out_indices = tuple(self.out_indices)
        if self.out_indices != tuple(range(len(self.depths))) or len(self.depths) != 4:
            raise ValueError("the aggregator needs the four stages (out_indices 0, 1, 2, 3)")

    @property
    def stage_channels(self) -> list[int]:
        """Width of every stage: 160, 320, 640, 1280 for the released model."""
        return [self.channels * 2**i for i in range(len(self.depths))]

    @property
    def aggregator_in_channels(self) -> int:
        """Concatenated width entering ``fuse_all`` (2400 for the released model)."""
        return sum(self.stage_channels)


@dataclass
class SamDecoderConfig:
    """SAM prompt encoder + mask decoder (Hugging Face ``transformers`` SAM defaults)."""

    hidden_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 8
    mlp_dim: int = 2048
    attention_downsample_rate: int = 2
    num_multimask_outputs: int = 3
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256
    layer_norm_eps: float = 1e-6
    num_pos_feats: int = 128  # random-Fourier positional embedding: [2, num_pos_feats]
    mask_input_channels: int = 16
    num_point_embeddings: int = 4
    num_sparse_tokens: int = 4  # ``lan_neck``: AdaptiveAvgPool1d(4) over the generated tokens

    def validate(self) -> None:
        """Raise ValueError on inconsistent values."""
        if self.hidden_size != 2 * self.num_pos_feats:
            raise ValueError("hidden_size must be 2 * num_pos_feats (sin/cos positional embedding)")
        if self.num_sparse_tokens < 1:
            raise ValueError("num_sparse_tokens must be >= 1")

    def to_transformers(self):
        """The equivalent ``transformers.SamConfig`` (imports transformers)."""
        from transformers import SamConfig  # here: this module imports neither torch nor transformers

        cfg = SamConfig(
            vision_config={
                "hidden_size": 2 * self.num_pos_feats,
                "num_pos_feats": self.num_pos_feats,
                "output_channels": self.hidden_size,
            },
            prompt_encoder_config={
                "hidden_size": self.hidden_size,
                "layer_norm_eps": self.layer_norm_eps,
                "mask_input_channels": self.mask_input_channels,
                "num_point_embeddings": self.num_point_embeddings,
            },
            mask_decoder_config={
                "hidden_size": self.hidden_size,
                "num_hidden_layers": self.num_hidden_layers,
                "num_attention_heads": self.num_attention_heads,
                "mlp_dim": self.mlp_dim,
                "attention_downsample_rate": self.attention_downsample_rate,
                "num_multimask_outputs": self.num_multimask_outputs,
                "iou_head_depth": self.iou_head_depth,
                "iou_head_hidden_dim": self.iou_head_hidden_dim,
                "layer_norm_eps": self.layer_norm_eps,
            },
        )
        # plain softmax attention, as the transformers version the official code ran with
        for sub in (cfg, cfg.mask_decoder_config, cfg.prompt_encoder_config, cfg.vision_config):
            sub._attn_implementation = "eager"
        return cfg


# Qwen2 fields copied from config.json into transformers.Qwen2Config (the rest are LLaVA's mm_* fields).
_TEXT_KEYS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "tie_word_embeddings",
    "use_sliding_window",
    "sliding_window",
    "max_window_layers",
    "attention_dropout",
    "bos_token_id",
    "eos_token_id",
)
_REQUIRED_TEXT_KEYS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
)


@dataclass
class SpexConfig:
    """The whole model: Qwen2 text config + LLaVA ``mm_*`` fields + vision/SAM sub-configs."""

    text: dict[str, Any]  # kwargs of transformers.Qwen2Config
    mm_hidden_size: int = 1024
    mm_projector_type: str = "mlp2x_gelu"
    mm_patch_merge_type: str = "spatial_unpad"
    tokenizer_model_max_length: int | None = None
    image_size: int = IMAGE_SIZE
    vision: InternImageConfig = field(default_factory=InternImageConfig)
    sam: SamDecoderConfig = field(default_factory=SamDecoderConfig)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # config.json as read

    @property
    def hidden_size(self) -> int:
        """The LLM width (1536 for Qwen2.5-1.5B)."""
        return int(self.text["hidden_size"])

    @property
    def projector_depth(self) -> int:
        """Number of Linear layers of the ``mlpNx_gelu`` projector."""
        match = re.match(r"^mlp(\d+)x_gelu$", self.mm_projector_type)
        if not match:
            raise ModelLoadError(
                f"unsupported mm_projector_type {self.mm_projector_type!r} in config.json: "
                "SPEX uses 'mlp2x_gelu'"
            )
        return int(match.group(1))

    def text_config(self):
        """``transformers.Qwen2Config`` of the language model (SDPA attention, tied embeddings)."""
        from transformers import Qwen2Config

        kwargs = dict(self.text)
        kwargs.setdefault("tie_word_embeddings", True)
        kwargs["rope_scaling"] = None  # LlavaQwenForCausalLM forces it to None
        cfg = Qwen2Config(**kwargs)
        cfg._attn_implementation = "sdpa"
        return cfg

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpexConfig:
        """Parse a ``llava_qwen`` config.json dict; anything inconsistent -> ModelLoadError."""
        if not isinstance(data, dict):
            raise ModelLoadError(
                "config.json is not a JSON object: use the config.json shipped with the model"
            )
        model_type = data.get("model_type")
        if model_type != "llava_qwen":
            raise ModelLoadError(
                f"config.json has model_type {model_type!r}, expected 'llava_qwen': "
                "point to a SPEX checkpoint folder"
            )
        missing = [k for k in _REQUIRED_TEXT_KEYS if k not in data]
        if missing:
            raise ModelLoadError(
                f"config.json lacks {', '.join(missing)}: use the config.json shipped with the model"
            )
        text = {k: data[k] for k in _TEXT_KEYS if k in data}
        for k in _REQUIRED_TEXT_KEYS:
            if not isinstance(text[k], int) or isinstance(text[k], bool) or text[k] <= 0:
                raise ModelLoadError(
                    f"config.json field {k}={text[k]!r} is not a positive integer: "
                    "use the config.json shipped with the model"
                )
            if text[k] > MAX_CONFIG_INT:
                raise ModelLoadError(
                    f"config.json field {k}={text[k]} is implausibly large (limit {MAX_CONFIG_INT}): "
                    "use the config.json shipped with the model"
                )
        if text["hidden_size"] % text["num_attention_heads"]:
            raise ModelLoadError(
                "config.json: hidden_size is not divisible by num_attention_heads: "
                "use the config.json shipped with the model"
            )
        vision = _from_dict(InternImageConfig, data.get("spex_vision_config"), "spex_vision_config")
        sam = _from_dict(SamDecoderConfig, data.get("spex_sam_config"), "spex_sam_config")
        mm_hidden = data.get("mm_hidden_size", vision.aggregator_channels)
        if mm_hidden != vision.aggregator_channels:
            raise ModelLoadError(
                f"config.json: mm_hidden_size {mm_hidden} differs from the vision aggregator "
                f"width {vision.aggregator_channels}: use the config.json shipped with the model"
            )
        cfg = cls(
            text=text,
            mm_hidden_size=int(mm_hidden),
            mm_projector_type=str(data.get("mm_projector_type", "mlp2x_gelu")),
            mm_patch_merge_type=str(data.get("mm_patch_merge_type", "spatial_unpad")),
            tokenizer_model_max_length=data.get("tokenizer_model_max_length"),
            vision=vision,
            sam=sam,
            raw=dict(data),
        )
        cfg.projector_depth  # noqa: B018  (validates mm_projector_type)
        return cfg

    @classmethod
    def from_json_file(cls, path: str) -> SpexConfig:
        """Read ``config.json``; unreadable or invalid -> ModelLoadError."""
        if not os.path.isfile(path):
            raise ModelLoadError(
                f"no config.json in {os.path.dirname(path) or '.'}: "
                "point to the SPEX checkpoint folder (the one holding config.json)"
            )
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot parse {path} ({exc}): re-download config.json") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """A ``llava_qwen`` config.json dict (raw fields kept, sub-configs written out)."""
        data = dict(self.raw)
        data.update(self.text)
        data["model_type"] = "llava_qwen"
        data["mm_hidden_size"] = self.mm_hidden_size
        data["mm_projector_type"] = self.mm_projector_type
        data["mm_patch_merge_type"] = self.mm_patch_merge_type
        vision = asdict(self.vision)
        vision["out_indices"] = list(vision["out_indices"])
        if vision != _plain(asdict(InternImageConfig())):
            data["spex_vision_config"] = vision
        if asdict(self.sam) != asdict(SamDecoderConfig()):
            data["spex_sam_config"] = asdict(self.sam)
        return data


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    d = dict(d)
    d["out_indices"] = list(d["out_indices"])
    return d
