"""Greedy decoding over a preallocated KV cache; on a GPU each step is one CUDA-graph replay.

Why: on a GPU the eager decode loop is bound by Python and kernel launches, not by the GPU. One token of the
1.5 B Qwen2 is 28 decoder layers of about 20 small kernels each plus the Python that issues them (measured on
an H100: see docs/spex_runtime.md), while the GPU work itself is a read of the 3 GB of weights (about 1 ms).
Here one decode step (embedding, the 28 decoder layers, final norm, LM head, repetition penalty, argmax) runs
entirely on the device without a host synchronisation: the next token, its position and the penalty's
"seen" set live in device tensors that the step updates in place. The step is captured once as a CUDA graph
and replayed per token; the host reads the new ids back every :data:`CHUNK` steps to stop at end-of-sequence.

The step calls the model's own transformers modules (``Qwen2DecoderLayer`` with its attention, rotary
embedding and MLP) with the same weights, so the arithmetic is the eager path's, except that attention runs
over the whole preallocated cache with the positions beyond the current one masked out, instead of over
exactly the filled part. In fp32 the two agree to rounding (tested); in bf16 a different attention kernel
can change the last bit, as any kernel choice can.

The same class without a graph (``use_graph=False``) runs on the CPU: the tests compare it with the eager
loop there, and the GPU test compares the captured graph with the eager loop on CUDA.
"""

from __future__ import annotations

from typing import Iterable, List, Sequence, Tuple

import torch

#: host synchronisation every CHUNK generated tokens (to stop at end-of-sequence); at most CHUNK - 1 wasted
#: steps after it, about 1.5 ms each on an H100
CHUNK = 8
#: cache lengths are rounded up to a multiple of this, so one captured graph serves tiles of similar length
BUCKET = 512


def cache_length(prompt_length: int, max_new_tokens: int) -> int:
    """Preallocated cache length for a prompt of ``prompt_length`` + ``max_new_tokens`` (bucketed)."""
    need = prompt_length + max_new_tokens
    return -(-need // BUCKET) * BUCKET


def dynamic_cache_tensors(cache, layer: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(keys, values) [1, kv_heads, L, head_dim] of ``layer`` in a transformers ``DynamicCache``
    (``layers[i].keys`` from transformers 4.56, ``key_cache[i]`` before)."""
    if hasattr(cache, "layers"):
        entry = cache.layers[layer]
        return entry.keys, entry.values
    return cache.key_cache[layer], cache.value_cache[layer]


class StaticKVCache:
    """The ``past_key_values`` the transformers attention modules call during a decode step: ``update``
    writes the new key/value at ``cache_position`` and returns the whole preallocated buffers."""

    def __init__(self, layers: int, kv_heads: int, length: int, head_dim: int, dtype, device):
        shape = (1, kv_heads, length, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]

    @property
    def length(self) -> int:
        """Preallocated positions."""
        return self.keys[0].shape[2]

    def update(self, key_states, value_states, layer_idx: int, cache_kwargs=None):
        """Write [1, kv_heads, 1, head_dim] at ``cache_kwargs['cache_position']``; return the full buffers."""
        pos = cache_kwargs["cache_position"]
        self.keys[layer_idx].index_copy_(2, pos, key_states)
        self.values[layer_idx].index_copy_(2, pos, value_states)
        return self.keys[layer_idx], self.values[layer_idx]

    def load(self, cache, length: int) -> None:
        """Copy a prefilled ``DynamicCache`` (``length`` positions) in; the rest is zeroed."""
        for i in range(len(self.keys)):
            keys, values = dynamic_cache_tensors(cache, i)
            for dst, src in ((self.keys[i], keys), (self.values[i], values)):
                dst[:, :, :length].copy_(src[:, :, :length])
                dst[:, :, length:].zero_()


class StaticGreedyDecoder:
    """Greedy decode steps of a :class:`~.modeling.SpexForCausalLM` over a :class:`StaticKVCache`.

    ``start`` takes the prefilled cache and the first token; ``decode`` generates the rest. One instance
    serves every tile whose prompt + answer fits in ``length``.
    """

    def __init__(self, model, length: int, use_graph: bool):
        lm = model.model
        cfg = lm.config
        dev, dtype = model.device, model.dtype
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.model = model
        self.length = length
        self.penalty = float(model.repetition_penalty)
        with torch.inference_mode():
            self.cache = StaticKVCache(
                cfg.num_hidden_layers, cfg.num_key_value_heads, length, head_dim, dtype, dev
            )
            self.position = torch.zeros(1, dtype=torch.long, device=dev)  # position of the token fed in
            self.step_index = torch.zeros(1, dtype=torch.long, device=dev)  # row of the state written
            self.token = torch.zeros(1, dtype=torch.long, device=dev)  # the token fed in
            self.tokens = torch.zeros(length, dtype=torch.long, device=dev)  # generated ids, in order
            self.states = torch.zeros(length, cfg.hidden_size, dtype=dtype, device=dev)  # final-norm states
            head = lm.embed_tokens.weight if model.tie_word_embeddings else model.lm_head.weight
            self.seen = torch.zeros(head.shape[0], dtype=torch.bool, device=dev)  # ids already generated
            self.positions = torch.arange(length, device=dev)
        self.prompt_length = 0  # set by start()
        self.graph = None
        if use_graph:
            self._capture()

    # ------------------------------------------------------------------ the step
    def _step(self) -> None:
        """Feed ``token`` at ``position``; write its state and the next token; advance. No host sync."""
        lm = self.model.model
        x = lm.embed_tokens(self.token.view(1, 1))  # 1, 1, hidden
        position_ids = self.position.view(1, 1)
        rotary = lm.rotary_emb(x, position_ids)  # (cos, sin) [1, 1, head_dim]
        mask = (self.positions <= self.position).view(1, 1, 1, -1)  # True = attend; later slots masked
        for layer in lm.layers:
            x = layer(
                x,
                attention_mask=mask,
                position_ids=position_ids,
                past_key_values=self.cache,
                use_cache=True,
                cache_position=self.position,
                position_embeddings=rotary,
            )
            if isinstance(x, tuple):  # transformers < 4.54 returns (hidden_states, ...)
                x = x[0]
        state = lm.norm(x)[:, -1]  # 1, hidden
        self.states.index_copy_(0, self.step_index, state)
        scores = self.model.logits(state).float()  # 1, vocab
        if self.penalty != 1.0:  # the repetition penalty over the tokens generated so far
            penalised = torch.where(scores < 0, scores * self.penalty, scores / self.penalty)
            scores = torch.where(self.seen, penalised, scores)
        nxt = torch.argmax(scores, dim=-1)  # [1]
        self.tokens.index_copy_(0, self.step_index + 1, nxt)
        self.seen.index_fill_(0, nxt, True)
        self.token.copy_(nxt)
        self.position.add_(1)
        self.step_index.add_(1)

    def _capture(self) -> None:
        dev = self.model.device
        with torch.inference_mode():
            side = torch.cuda.Stream(dev)
            side.wait_stream(torch.cuda.current_stream(dev))
            with torch.cuda.stream(side):
                for _ in range(2):  # warm-up outside the graph: cuBLAS handles, attention kernel choice
                    self._step()
            torch.cuda.current_stream(dev).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._step()
        self.graph = graph

    # ------------------------------------------------------------------ use
    def start(self, prefilled_cache, prompt_length: int, first_token: int) -> None:
        """Load the prefilled cache and the first generated token (the state buffers are reset)."""
        if prompt_length + 1 > self.length:
            raise ValueError(f"prompt of {prompt_length} tokens does not fit a cache of {self.length}")
        with torch.inference_mode():
            self.cache.load(prefilled_cache, prompt_length)
            self.position.fill_(prompt_length)
            self.step_index.zero_()
            self.token.fill_(first_token)
            self.tokens.zero_()
            self.tokens[0] = first_token
            self.states.zero_()
            self.seen.zero_()
            self.seen[first_token] = True
            self.prompt_length = prompt_length

    def decode(self, max_new_tokens: int, eos: Iterable[int]) -> Tuple[List[int], torch.Tensor, str]:
        """(generated ids incl. the first, states [N - 1, hidden] of ids 0..N-2, "eos" | "length")."""
        if self.prompt_length + max_new_tokens > self.length:
            raise ValueError(
                f"{self.prompt_length} + {max_new_tokens} tokens do not fit a cache of {self.length}"
            )
        stop = set(eos)
        done = 1
        with torch.inference_mode():
            while done < max_new_tokens:
                count = min(CHUNK, max_new_tokens - done)
                for _ in range(count):
                    if self.graph is not None:
                        self.graph.replay()
                    else:
                        self._step()
                new: Sequence[int] = self.tokens[done : done + count].tolist()  # host sync
                for j, tok in enumerate(new):
                    if tok in stop:
                        n = done + j + 1
                        return self.tokens[:n].tolist(), self.states[: n - 1].clone(), "eos"
                done += count
            return self.tokens[:done].tolist(), self.states[: done - 1].clone(), "length"
