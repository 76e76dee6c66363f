"""The SPEX model (HF style): InternImage -> Qwen2.5 LLM -> SAM mask decoder.

Module tree = checkpoint key names::

    model.embed_tokens / model.layers.N / model.norm          Qwen2 (transformers ``Qwen2Model``)
    model.image_newline                                        stored, unused on the single-image path
    model.mm_projector.{0,2}                                   :mod:`.projector`
    model.vision_tower.vision_tower.vision_model.*             :class:`.vision_tower.SpexVisionEncoder`
    model.vision_tower.lan_neck.text_mlp.*                     :mod:`.condensation`
    model.vision_tower.sampromptencoder.* / mask_decoder.*     :mod:`.sam`
    lm_head.weight                                             only when embeddings are not tied

Inference follows the official ``demo.py`` path (see docs/spex_model.md for the deliberate differences).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import DynamicCache
from transformers.models.qwen2.modeling_qwen2 import Qwen2Model

from ...errors import SpexEnvironmentError, SpexInputError
from .condensation import TokenCondensation
from .config import DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_INDEX, MASK_THRESHOLD, SYSTEM_PROMPT, SpexConfig
from .projector import build_projector
from .sam import build_sam, decode_mask_logits, upsample_mask
from .static_decode import StaticGreedyDecoder, cache_length
from .vision_tower import SpexVisionEncoder

DECODE_MODES = ("auto", "eager", "static", "graph")


def chat_prompt(prompt: str) -> str:
    """The ``qwen_1_5`` (ChatML) conversation of one user turn, ready for the assistant's answer."""
    return (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
        f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
    )


class SpexTower(nn.Module):
    """``model.vision_tower``: image encoder + token condensation + SAM prompt encoder and mask decoder."""

    def __init__(self, config: SpexConfig):
        super().__init__()
        self.vision_tower = SpexVisionEncoder(config.vision)
        self.lan_neck = TokenCondensation(
            config.hidden_size, config.sam.hidden_size, config.sam.num_sparse_tokens
        )
        self.sampromptencoder, self.mask_decoder = build_sam(config.sam)

    def decode(self, image_embeddings: torch.Tensor, token_states: torch.Tensor) -> torch.Tensor:
        """image_embeddings [B, 256, 32, 32] + token states [B, T, hidden] -> logits [B, 128, 128]."""
        sparse = self.lan_neck(token_states.to(image_embeddings.dtype))  # B, 4, 256
        return decode_mask_logits(self.sampromptencoder, self.mask_decoder, image_embeddings, sparse)


class SpexLlavaQwenModel(Qwen2Model):
    """``model``: the Qwen2 decoder plus the multimodal parts LLaVA attaches to it."""

    def __init__(self, config: SpexConfig):
        super().__init__(config.text_config())
        self.vision_tower = SpexTower(config)
        self.mm_projector = build_projector(config.mm_hidden_size, config.hidden_size, config.projector_depth)
        if "unpad" in config.mm_patch_merge_type:
            self.image_newline = nn.Parameter(torch.zeros(config.hidden_size))  # [hidden], unused here


@dataclass
class SpexGenerateOutput:
    """Result of :meth:`SpexForCausalLM.generate` (batch of one)."""

    sequences: torch.Tensor  # [1, N] generated token ids (prompt not included), N >= 2
    text: str  # decoded answer, special tokens removed, surrounding whitespace stripped
    mask_logits: np.ndarray  # float32 [128, 128] SAM logits (> 0 = target)
    mask_soft: np.ndarray  # float32 [512, 512]: (logits > 0) bilinearly upsampled, the official output
    mask: np.ndarray  # bool [512, 512]: mask_soft >= 0.5
    hidden_states: torch.Tensor | None = None  # float32 [N - 1, hidden]: the states fed to the mask prompt
    finish_reason: str = "eos"  # "eos" | "length"
    prompt_tokens: int = 0  # sequence length seen by the LLM (text + image tokens)
    info: dict = field(default_factory=dict)  # prefill/decode/mask seconds, decode_steps


class SpexForCausalLM(nn.Module):
    """SPEX: ``generate(pixel_values, prompt)``. The architecture only (module tree = checkpoint keys):
    :class:`~model_runtime.spex.loading.pretrained.SpexModel` adds ``from_pretrained(folder)``."""

    def __init__(self, config: SpexConfig):
        super().__init__()
        self.config = config
        self.model = SpexLlavaQwenModel(config)
        self.tie_word_embeddings = bool(config.text.get("tie_word_embeddings", True))
        if not self.tie_word_embeddings:
            self.lm_head = nn.Linear(config.hidden_size, int(config.text["vocab_size"]), bias=False)
        self.tokenizer: Any = None
        self.eos_token_ids: list[int] = []
        self.repetition_penalty: float = 1.0
        self.model_dir: str | None = None  # set by from_pretrained (lazy vision-encoder loading)
        self.base_model_dir: str | None = None
        self.precision: str = "fp32"  # "fp32" | "fp16" | "bf16" | "int8" (see quantize.py)
        self.decode_mode: str = "auto"  # see _decode_backend; SPEX_DECODE overrides
        self._decoder = None  # StaticGreedyDecoder, built on first use
        self._graph_refused = False  # a CUDA-graph capture failed: "auto" decodes eagerly from then on

    @property
    def device(self) -> torch.device:
        """Device of the token embeddings (where generation runs)."""
        return self.model.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        """Compute dtype."""
        return self.model.embed_tokens.weight.dtype

    @property
    def vision_encoder(self) -> SpexVisionEncoder | None:
        """The part exported to ONNX (None when loaded with ``load_vision_encoder=False``)."""
        return self.model.vision_tower.vision_tower

    def ensure_vision_encoder(self) -> SpexVisionEncoder:
        """The torch vision encoder (the loaded :class:`SpexModel` reads it from its folder on demand)."""
        if self.vision_encoder is None:
            raise SpexInputError(
                "this model has no torch vision encoder: load it with SpexModel.from_pretrained(folder)"
            )
        return self.vision_encoder

    def release_vision_encoder(self) -> None:
        """Drop the torch vision encoder (~0.9 GB in fp32) when another runtime (ONNX) serves it."""
        self.model.vision_tower.vision_tower = None

    # ------------------------------------------------------------------ pieces
    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """LM head on final-norm hidden states [..., hidden] -> [..., vocab] (tied to the embeddings)."""
        weight = self.model.embed_tokens.weight if self.tie_word_embeddings else self.lm_head.weight
        return F.linear(hidden.to(weight.device), weight)

    def tokenize_prompt(self, prompt: str) -> list[int]:
        """ChatML-wrapped prompt -> ids with IMAGE_TOKEN_INDEX (-200) where ``<image>`` was.

        Each text chunk around ``<image>`` is tokenised on its own (official ``tokenizer_image_token``).
        """
        if self.tokenizer is None:
            raise SpexInputError("the model has no tokenizer: load it with SpexModel.from_pretrained(folder)")
        count = prompt.count(DEFAULT_IMAGE_TOKEN)
        if count != 1:
            raise SpexInputError(
                f"the prompt must contain '<image>' exactly once (found {count}): "
                "start it with '<image>\\n' followed by the question"
            )
        ids: list[int] = []
        for i, chunk in enumerate(chat_prompt(prompt).split(DEFAULT_IMAGE_TOKEN)):
            if i:
                ids.append(IMAGE_TOKEN_INDEX)
            ids.extend(self.tokenizer(chunk, add_special_tokens=False)["input_ids"])
        return ids

    @torch.no_grad()
    def encode_image(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[1, 3, 512, 512] -> (feat_agg [1, 1024, 32, 32], image_embeddings [1, 256, 32, 32])."""
        size = self.config.image_size
        if tuple(pixel_values.shape) != (1, 3, size, size):
            raise SpexInputError(
                f"pixel_values must have shape [1, 3, {size}, {size}], got "
                f"{list(pixel_values.shape)}: use model_runtime.spex.normalize_image"
            )
        enc = self.ensure_vision_encoder()
        p = next(enc.parameters())
        return enc(pixel_values.to(device=p.device, dtype=p.dtype))

    def _check_vision_features(self, features: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]:
        if len(features) != 2:
            raise SpexInputError(
                "vision_features must be (feat_agg, image_embeddings): "
                "pass both outputs of the vision encoder"
            )
        grid = self.config.image_size // 16
        want = ((1, self.config.mm_hidden_size, grid, grid), (1, self.config.sam.hidden_size, grid, grid))
        out = []
        for name, value, shape in zip(("feat_agg", "image_embeddings"), features, want):
            t = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
            if tuple(t.shape) != shape:
                raise SpexInputError(
                    f"vision_features {name} has shape {list(t.shape)}, expected {list(shape)}: "
                    "pass the outputs of this checkpoint's vision encoder"
                )
            out.append(t)
        return out[0], out[1]

    def _embed_prompt(self, ids: list[int], feat_agg: torch.Tensor) -> torch.Tensor:
        """Text embeddings with the 1024 projected image tokens at ``<image>`` -> [1, L, hidden]."""
        pos = ids.index(IMAGE_TOKEN_INDEX)
        emb = self.model.embed_tokens
        dev = emb.weight.device
        proj_param = next(self.model.mm_projector.parameters())
        tokens = feat_agg.to(device=proj_param.device, dtype=proj_param.dtype).flatten(2).transpose(1, 2)
        image_tokens = self.model.mm_projector(tokens)[0].to(dev)  # 1024, hidden (row-major 32 x 32 grid)
        before = emb(torch.tensor(ids[:pos], dtype=torch.long, device=dev))
        after = emb(torch.tensor(ids[pos + 1 :], dtype=torch.long, device=dev))
        return torch.cat([before, image_tokens.to(before.dtype), after], dim=0).unsqueeze(0)

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(
        self,
        pixel_values: torch.Tensor | None = None,
        prompt: str = "",
        max_new_tokens: int = 64,
        vision_features: Sequence[Any] | None = None,
    ) -> SpexGenerateOutput:
        """Greedy answer + mask for one 512 x 512 image.

        ``prompt`` contains ``<image>`` once (the ChatML template is added here). ``vision_features``
        = (feat_agg, image_embeddings) replaces running the torch vision encoder (e.g. ONNX Runtime outputs).
        At least two tokens are generated (an end-of-sequence at step 0 is suppressed): the mask prompt is
        built from the final-norm hidden states of generated tokens 0..N-2.
        """
        embeds, image_embeddings = self._prepare_inputs(pixel_values, prompt, max_new_tokens, vision_features)
        length = embeds.shape[1]
        backend = self._decode_backend()  # a bad SPEX_DECODE is reported before any work
        t_start = time.perf_counter()
        cache = DynamicCache()
        out = self.model(inputs_embeds=embeds, past_key_values=cache, use_cache=True)
        logits = self.logits(out.last_hidden_state[:, -1]).float()  # only the last position (same output)
        scores = self._process_scores(logits, [], suppress_eos=True)
        first = int(torch.argmax(scores, dim=-1)[0])  # host sync: the prefill is done here
        t_prefill = time.perf_counter()
        eos = set(self.eos_token_ids)
        decoder = self._static_decoder(length, max_new_tokens, backend) if backend != "eager" else None
        if decoder is None:
            backend = "eager"
            generated, states, finish = self._decode_eager(cache, first, max_new_tokens, eos)
            token_states = torch.stack(states, dim=1)  # 1, N-1, hidden
        else:
            decoder.start(cache, length, first)
            generated, token_states, finish = decoder.decode(max_new_tokens, eos)
            token_states = token_states[None]
        del cache
        self._sync()
        t_decode = time.perf_counter()
        mask_logits, soft = self._decode_mask(image_embeddings, token_states)
        text = self.tokenizer.decode(generated, skip_special_tokens=True).strip()
        self._sync()
        t_mask = time.perf_counter()
        return SpexGenerateOutput(
            sequences=torch.tensor([generated], dtype=torch.long),
            text=text,
            mask_logits=mask_logits[0].float().cpu().numpy(),
            mask_soft=soft[0].cpu().numpy(),
            mask=(soft[0] >= MASK_THRESHOLD).cpu().numpy(),
            hidden_states=token_states[0].float().cpu(),
            finish_reason=finish,
            prompt_tokens=length,
            info={
                # wall seconds per stage (CPU; on CUDA they include queued kernels only where synced)
                "prefill_seconds": t_prefill - t_start,
                "decode_seconds": t_decode - t_prefill,
                "decode_steps": len(generated) - 1,
                "mask_seconds": t_mask - t_decode,
                "decode_backend": backend,
            },
        )

    def _prepare_inputs(
        self,
        pixel_values: torch.Tensor | None,
        prompt: str,
        max_new_tokens: int,
        vision_features: Sequence[Any] | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Checked inputs of :meth:`generate` -> (prompt embeddings [1, L, hidden], image_embeddings)."""
        if not isinstance(max_new_tokens, int) or max_new_tokens < 2:
            raise SpexInputError(
                f"max_new_tokens={max_new_tokens!r} is too small: SPEX needs at least 2 "
                "generated tokens to build the mask prompt (use 64 or more)"
            )
        if vision_features is not None:
            feat_agg, image_embeddings = self._check_vision_features(vision_features)
        elif pixel_values is not None:
            feat_agg, image_embeddings = self.encode_image(torch.as_tensor(pixel_values))
        else:
            raise SpexInputError(
                "generate() needs pixel_values or vision_features: pass the normalised 512x512 tile"
            )
        embeds = self._embed_prompt(self.tokenize_prompt(prompt), feat_agg)
        length = embeds.shape[1]
        limit = self.config.tokenizer_model_max_length or int(
            self.config.text.get("max_position_embeddings", 32768)
        )
        if length + max_new_tokens > limit:
            raise SpexInputError(
                f"prompt is {length} tokens (incl. 1024 image tokens) + {max_new_tokens} new tokens, "
                f"over the model's {limit}: shorten the prompt (fewer region attributes)"
            )
        return embeds, image_embeddings

    def _decode_mask(
        self, image_embeddings: torch.Tensor, token_states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """SAM mask of the generated tokens' states [1, N-1, hidden] -> (logits [1, 128, 128], soft mask
        [1, 512, 512]). token_states[0, i] is the state of generated token i (i = 0..N-2); the last one is
        never fed back."""
        tower = self.model.vision_tower
        sam_param = next(tower.mask_decoder.parameters())
        image_embeddings = image_embeddings.to(device=sam_param.device, dtype=sam_param.dtype)
        mask_logits = tower.decode(image_embeddings, token_states.to(sam_param.device))
        return mask_logits, upsample_mask(mask_logits.float(), self.config.image_size)

    def _decode_eager(
        self, cache, first: int, max_new_tokens: int, eos: set
    ) -> tuple[list[int], list[torch.Tensor], str]:
        """The plain loop: one transformers forward per token over the growing ``DynamicCache``."""
        generated = [first]
        states: list[torch.Tensor] = []
        emb = self.model.embed_tokens
        token = first
        while len(generated) < max_new_tokens:
            step = self.model(
                inputs_embeds=emb(torch.tensor([[token]], device=emb.weight.device)),
                past_key_values=cache,
                use_cache=True,
            )
            hidden = step.last_hidden_state[:, -1]  # 1, hidden (after the final RMSNorm)
            states.append(hidden)
            scores = self._process_scores(self.logits(hidden).float(), generated, suppress_eos=False)
            token = int(torch.argmax(scores, dim=-1)[0])
            generated.append(token)
            if token in eos:
                return generated, states, "eos"
        return generated, states, "length"

    def _decode_backend(self) -> str:
        """``SPEX_DECODE`` (or ``self.decode_mode``): auto | eager | static | graph -> eager|static|graph.

        auto: a CUDA graph on a GPU when the whole LLM is there (not offloaded), the eager loop elsewhere.
        static = the graph's step run without capture (checks and debugging).
        """
        mode = self._requested_decode_mode()
        on_gpu = self.device.type == "cuda" and not getattr(self, "hf_device_map", None)
        if mode == "auto":
            graphable = on_gpu and self.precision != "int8" and self._static_decode_supported()
            mode = "graph" if graphable and not self._graph_refused else "eager"
        if mode == "graph" and not on_gpu:
            raise SpexEnvironmentError(
                "SPEX_DECODE=graph needs the whole model on a CUDA GPU: use SPEX_DECODE=auto or eager"
            )
        return mode

    def _requested_decode_mode(self) -> str:
        """``SPEX_DECODE``, else ``self.decode_mode``, checked: one of :data:`DECODE_MODES`."""
        mode = (os.environ.get("SPEX_DECODE") or self.decode_mode or "auto").strip().lower()
        if mode not in DECODE_MODES:
            raise SpexEnvironmentError(
                f"SPEX_DECODE={mode!r} is not understood: use {', '.join(DECODE_MODES)}"
            )
        return mode

    def _static_decode_supported(self) -> bool:
        cfg = self.model.config
        return not getattr(cfg, "use_sliding_window", False) and hasattr(self.model, "rotary_emb")

    def _static_decoder(self, length: int, max_new_tokens: int, backend: str):
        """The cached :class:`~.static_decode.StaticGreedyDecoder` for this length (rebuilt when a longer
        prompt comes, or the backend changes); None, with a warning, if a CUDA graph cannot be captured."""
        need = length + max_new_tokens
        dec = self._decoder
        same_kind = dec is not None and (dec.graph is not None) == (backend == "graph")
        if same_kind and dec.length >= need and dec.penalty == float(self.repetition_penalty):
            return dec
        self._decoder = None
        try:
            self._decoder = StaticGreedyDecoder(
                self, cache_length(length, max_new_tokens), use_graph=backend == "graph"
            )
        except RuntimeError as exc:  # capture refused (e.g. an op that syncs with the host)
            if backend != "graph" or self._requested_decode_mode() == "graph":
                raise
            warnings.warn(
                f"CUDA-graph decoding is unavailable ({str(exc).splitlines()[0]}): using the eager loop",
                RuntimeWarning,
                stacklevel=3,
            )
            self._graph_refused = True
            return None
        return self._decoder

    def _sync(self) -> None:
        """Wait for queued GPU work (so stage times are true on CUDA); nothing on the CPU."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _process_scores(self, logits: torch.Tensor, generated: list[int], suppress_eos: bool) -> torch.Tensor:
        """Logits processors of the official greedy call: repetition penalty from generation_config.json
        (over generated tokens only: the official call passes embeddings, not ids) and min 2 new tokens."""
        scores = logits
        if self.repetition_penalty != 1.0 and generated:
            idx = torch.tensor(sorted(set(generated)), device=scores.device)
            picked = scores[:, idx]
            picked = torch.where(
                picked < 0, picked * self.repetition_penalty, picked / self.repetition_penalty
            )
            scores = scores.clone()
            scores[:, idx] = picked
        if suppress_eos and self.eos_token_ids:
            scores = scores.clone()
            scores[:, [t for t in self.eos_token_ids if t < scores.shape[-1]]] = float("-inf")
        return scores
