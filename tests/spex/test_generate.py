"""Generation on the tiny checkpoint: shapes, determinism, the hidden-state selection rule, input errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_runtime.errors import SpexInputError  # noqa: E402
from model_runtime.spex import chat_prompt  # noqa: E402
from model_runtime.spex.modeling.config import IMAGE_TOKEN_INDEX  # noqa: E402
from model_runtime.spex.modeling.preprocess import normalize_image  # noqa: E402

PROMPT = (
    "<image>\\nBased on the provided image and the attributes of the water bodies, please provide a detailed "
    "description of them:[{'Size of area': 'huge', 'Centroid': [0.48, 0.422], 'Location': 'center'}]"
)


@pytest.fixture(scope="module")
def pixels():
    rgb = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    return normalize_image(rgb)


@pytest.fixture(scope="module")
def result(tiny_model, pixels):
    return tiny_model.generate(pixels, PROMPT, max_new_tokens=12)


def test_generate_outputs(result):
    n = result.sequences.shape[1]
    assert result.sequences.shape == (1, n) and 2 <= n <= 12
    assert isinstance(result.text, str)
    assert result.mask_logits.shape == (128, 128) and result.mask_logits.dtype == np.float32
    assert result.mask_soft.shape == (512, 512) and 0 <= result.mask_soft.min() <= result.mask_soft.max() <= 1
    assert result.mask.shape == (512, 512) and result.mask.dtype == bool
    assert np.array_equal(result.mask, result.mask_soft >= 0.5)
    assert result.finish_reason in ("eos", "length")
    assert result.prompt_tokens > 1024  # text + 1024 image tokens


def test_greedy_is_deterministic(tiny_model, pixels, result):
    again = tiny_model.generate(pixels, PROMPT, max_new_tokens=12)
    assert torch.equal(again.sequences, result.sequences)
    assert np.array_equal(again.mask_logits, result.mask_logits)


def test_prompt_tokens_follow_the_chatml_template(tiny_model):
    ids = tiny_model.tokenize_prompt(PROMPT)
    assert ids.count(IMAGE_TOKEN_INDEX) == 1
    text = chat_prompt(PROMPT)
    assert text.startswith(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>"
    )
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    tok = tiny_model.tokenizer
    before, after = text.split("<image>")
    pos = ids.index(IMAGE_TOKEN_INDEX)
    assert ids[:pos] == tok(before)["input_ids"] and ids[pos + 1 :] == tok(after)["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids("<|im_start|>")


def test_mask_prompt_uses_final_states_of_generated_tokens_except_the_last(tiny_model, pixels, result):
    """Recompute without the KV cache: the states at generated tokens 0..N-2 (after the final norm)
    are the ones
    condensed into the SAM prompt; prompt, image tokens and the last generated token are excluded."""
    model = tiny_model
    gen = result.sequences[0].tolist()
    assert result.hidden_states.shape == (len(gen) - 1, model.config.hidden_size)
    with torch.no_grad():
        feat_agg, image_emb = model.encode_image(pixels)
        prompt_embeds = model._embed_prompt(model.tokenize_prompt(PROMPT), feat_agg)
        gen_embeds = model.model.embed_tokens(torch.tensor([gen[:-1]]))
        full = model.model(inputs_embeds=torch.cat([prompt_embeds, gen_embeds], dim=1)).last_hidden_state
        states = full[:, prompt_embeds.shape[1] :]
        torch.testing.assert_close(states[0], result.hidden_states, atol=1e-4, rtol=1e-4)
        # greedy consistency: each generated token is the argmax after the previous one
        logits = model.logits(full[0, prompt_embeds.shape[1] - 1 :])
        assert logits.argmax(-1).tolist()[1:] == gen[1:]
        mask_logits = model.model.vision_tower.decode(image_emb, states)
    np.testing.assert_allclose(mask_logits[0].numpy(), result.mask_logits, atol=1e-4)
    # a different selection (e.g. including the last token) would give another prompt
    with torch.no_grad():
        all_states = torch.cat([states, model.model.norm(full[:, -1:])], dim=1)
        other = model.model.vision_tower.decode(image_emb, all_states)
    assert np.abs(result.mask_logits).max() > 0.1  # a live decoder, so the comparison means something
    assert not np.allclose(other[0].numpy(), result.mask_logits, atol=1e-3)


def test_vision_features_path_equals_pixel_path(tiny_model, pixels, result):
    feat_agg, image_emb = tiny_model.encode_image(pixels)
    out = tiny_model.generate(
        prompt=PROMPT, max_new_tokens=12, vision_features=(feat_agg.numpy(), image_emb.numpy())
    )
    assert torch.equal(out.sequences, result.sequences)
    np.testing.assert_allclose(out.mask_logits, result.mask_logits, atol=1e-5)


def test_end_of_sequence_at_the_first_step_is_suppressed(tiny_model, pixels, result):
    first = int(result.sequences[0, 0])
    saved = list(tiny_model.eos_token_ids)
    try:
        tiny_model.eos_token_ids = [first]
        out = tiny_model.generate(pixels, PROMPT, max_new_tokens=12)
    finally:
        tiny_model.eos_token_ids = saved
    assert out.sequences.shape[1] >= 2 and int(out.sequences[0, 0]) != first
    assert out.hidden_states.shape[0] == out.sequences.shape[1] - 1
    if out.finish_reason == "eos":
        assert int(out.sequences[0, -1]) == first


def test_stop_tokens_include_im_end(tiny_model):
    im_end = tiny_model.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in tiny_model.eos_token_ids


def test_repetition_penalty_matches_transformers(tiny_model):
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

    logits = torch.randn(1, 40)
    saved = tiny_model.repetition_penalty
    try:
        tiny_model.repetition_penalty = 1.3
        got = tiny_model._process_scores(logits, [3, 7, 3], suppress_eos=False)
    finally:
        tiny_model.repetition_penalty = saved
    want = RepetitionPenaltyLogitsProcessor(1.3)(torch.tensor([[3, 7, 3]]), logits.clone())
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"prompt": "describe the water"}, "exactly once"),
        ({"prompt": "<image><image>"}, "exactly once"),
        ({"prompt": PROMPT, "max_new_tokens": 1}, "at least 2"),
    ],
)
def test_input_errors(tiny_model, pixels, kwargs, match):
    with pytest.raises(SpexInputError, match=match):
        tiny_model.generate(pixels, **kwargs)


def test_shape_errors(tiny_model):
    with pytest.raises(SpexInputError, match="pixel_values"):
        tiny_model.generate(torch.zeros(1, 3, 256, 256), PROMPT)
    with pytest.raises(SpexInputError, match="feat_agg"):
        tiny_model.generate(
            prompt=PROMPT, vision_features=(np.zeros((1, 8, 32, 32)), np.zeros((1, 32, 32, 32)))
        )
    with pytest.raises(SpexInputError, match="pixel_values or vision_features"):
        tiny_model.generate(prompt=PROMPT)
    with pytest.raises(SpexInputError, match="512x512"):
        normalize_image(np.zeros((100, 100, 3), np.uint8))


def test_over_long_prompt_is_refused_not_truncated(tiny_model, pixels):
    long_prompt = PROMPT + " water" * 9000
    with pytest.raises(SpexInputError, match="shorten the prompt"):
        tiny_model.generate(pixels, long_prompt, max_new_tokens=4)
