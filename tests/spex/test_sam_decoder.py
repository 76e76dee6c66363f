"""The mask decoder's attention semantics (double softmax in token-to-image only), pinned by formulas."""

from __future__ import annotations

import pytest
import torch

from model_runtime.spex.modeling.config import SamDecoderConfig
from model_runtime.spex.modeling.sam_decoder import SamDecoderAttention, SpexMaskDecoder


def _explicit_attention(attn: SamDecoderAttention, q_in, k_in, v_in, softmax_count: int) -> torch.Tensor:
    """softmax^n(q k^T / sqrt(d)) v per head, written out with plain tensor algebra."""
    heads, d = attn.num_heads, attn.head_dim
    q = q_in @ attn.q_proj.weight.T + attn.q_proj.bias
    k = k_in @ attn.k_proj.weight.T + attn.k_proj.bias
    v = v_in @ attn.v_proj.weight.T + attn.v_proj.bias
    outs = []
    for h in range(heads):
        sl = slice(h * d, (h + 1) * d)
        scores = q[..., sl] @ k[..., sl].transpose(-1, -2) / d**0.5
        probs = scores
        for _ in range(softmax_count):
            probs = probs.exp() / probs.exp().sum(-1, keepdim=True)
        outs.append(probs @ v[..., sl])
    return torch.cat(outs, dim=-1) @ attn.out_proj.weight.T + attn.out_proj.bias


@pytest.mark.parametrize("double", [False, True])
def test_attention_matches_explicit_formula(double):
    torch.manual_seed(0)
    attn = SamDecoderAttention(32, 4, downsample_rate=2, double_softmax=double)
    q, k, v = torch.randn(2, 1, 5, 32), torch.randn(2, 1, 9, 32), torch.randn(2, 1, 9, 32)
    got = attn(q, k, v)
    want = _explicit_attention(attn, q, k, v, softmax_count=2 if double else 1)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    other = _explicit_attention(attn, q, k, v, softmax_count=1 if double else 2)
    assert (got - other).abs().max() > 1e-3  # the two semantics are distinguishable on this input


def test_double_softmax_only_in_token_to_image_of_two_way_layers():
    decoder = SpexMaskDecoder(SamDecoderConfig())
    doubled = sorted(
        n for n, m in decoder.named_modules() if isinstance(m, SamDecoderAttention) and m.double_softmax
    )
    single = sorted(
        n for n, m in decoder.named_modules() if isinstance(m, SamDecoderAttention) and not m.double_softmax
    )
    assert doubled == [
        "transformer.layers.0.cross_attn_token_to_image",
        "transformer.layers.1.cross_attn_token_to_image",
    ]
    assert single == [
        "transformer.final_attn_token_to_image",
        "transformer.layers.0.cross_attn_image_to_token",
        "transformer.layers.0.self_attn",
        "transformer.layers.1.cross_attn_image_to_token",
        "transformer.layers.1.self_attn",
    ]


def _random_decoder_pair(cfg: SamDecoderConfig):
    from transformers.models.sam.modeling_sam import SamMaskDecoder

    torch.manual_seed(1)
    ours = SpexMaskDecoder(cfg).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    theirs = SamMaskDecoder(cfg.to_transformers().mask_decoder_config).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)  # same keys, same shapes
    return ours, theirs


def _inputs(cfg: SamDecoderConfig):
    g = torch.Generator().manual_seed(2)
    c = cfg.hidden_size
    return dict(
        image_embeddings=torch.randn(1, c, 8, 8, generator=g),
        image_positional_embeddings=torch.randn(1, c, 8, 8, generator=g),
        sparse_prompt_embeddings=torch.randn(1, 1, 4, c, generator=g),
        dense_prompt_embeddings=torch.randn(1, c, 8, 8, generator=g),
        multimask_output=False,
    )


def test_single_softmax_variant_equals_transformers_decoder():
    """Everything but the double softmax is the transformers SAM decoder (same keys, same maths)."""
    cfg = SamDecoderConfig()
    ours, theirs = _random_decoder_pair(cfg)
    for m in ours.modules():
        if isinstance(m, SamDecoderAttention):
            m.double_softmax = False
    inputs = _inputs(cfg)
    with torch.no_grad():
        got_masks, got_iou = ours(**inputs)
        want_masks, want_iou = theirs(**inputs)[:2]
    torch.testing.assert_close(got_masks, want_masks, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got_iou, want_iou, rtol=1e-4, atol=1e-4)


def test_double_softmax_changes_the_masks():
    """The fidelity choice is not a no-op: the released semantics differ from the single-softmax decoder."""
    cfg = SamDecoderConfig()
    ours, theirs = _random_decoder_pair(cfg)
    inputs = _inputs(cfg)
    with torch.no_grad():
        got = ours(**inputs)[0]
        single = theirs(**inputs)[0]
    assert (got - single).abs().max() > 1e-3
