"""The preallocated-cache decode step (the one captured as a CUDA graph on GPUs) against the eager loop."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_runtime.errors import SpexEnvironmentError  # noqa: E402
from model_runtime.spex.modeling.preprocess import normalize_image  # noqa: E402
from model_runtime.spex.modeling.static_decode import BUCKET, CHUNK, cache_length  # noqa: E402

PROMPT = (
    "<image>\\nBased on the provided image and the attributes of the vegetation regions, please provide a "
    "detailed description of them:[{'Size of area': 'large', 'Centroid': [0.3, 0.6], 'Location': 'center'}]"
)


@pytest.fixture(scope="module")
def features(tiny_model):
    rgb = np.random.default_rng(3).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    feat, emb = tiny_model.encode_image(normalize_image(rgb))
    return feat.numpy(), emb.numpy()


def run(model, features, mode, monkeypatch, new_tokens):
    monkeypatch.setenv("SPEX_DECODE", mode)
    out = model.generate(prompt=PROMPT, max_new_tokens=new_tokens, vision_features=features)
    assert out.info["decode_backend"] == mode
    return out


def assert_same(a, b):
    assert a.sequences.tolist() == b.sequences.tolist()
    assert a.finish_reason == b.finish_reason
    torch.testing.assert_close(a.hidden_states, b.hidden_states, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(a.mask_logits, b.mask_logits, atol=2e-5)


@pytest.mark.parametrize("new_tokens", [2, CHUNK, CHUNK + 5, 3 * CHUNK])
def test_static_step_equals_eager_loop(tiny_model, features, monkeypatch, new_tokens):
    eager = run(tiny_model, features, "eager", monkeypatch, new_tokens)
    static = run(tiny_model, features, "static", monkeypatch, new_tokens)
    assert static.sequences.shape[1] >= 2
    assert_same(static, eager)


def test_repetition_penalty_in_the_step(tiny_model, features, monkeypatch):
    saved = tiny_model.repetition_penalty
    try:
        # the random tiny model repeats one token by a wide margin: a strong penalty makes it move on
        tiny_model.repetition_penalty = 100.0
        tiny_model._decoder = None  # the penalty is baked into the step
        eager = run(tiny_model, features, "eager", monkeypatch, 20)
        static = run(tiny_model, features, "static", monkeypatch, 20)
        tiny_model.repetition_penalty = 1.0
        tiny_model._decoder = None
        plain = run(tiny_model, features, "static", monkeypatch, 20)
    finally:
        tiny_model.repetition_penalty = saved
        tiny_model._decoder = None
    assert_same(static, eager)
    # the penalty changed the answer (several distinct ids), so the comparison above exercised it
    assert plain.sequences.tolist() != static.sequences.tolist()
    assert len(set(static.sequences[0].tolist())) > 5


def test_stops_at_end_of_sequence_inside_a_chunk(tiny_model, features, monkeypatch):
    saved = list(tiny_model.eos_token_ids), tiny_model.repetition_penalty
    try:
        tiny_model.repetition_penalty = 100.0  # distinct ids (see above), so one can serve as a stop token
        tiny_model._decoder = None
        free = run(tiny_model, features, "eager", monkeypatch, 3 * CHUNK)
        ids = free.sequences[0].tolist()
        stop_at = next(i for i in range(CHUNK + 2, len(ids)) if ids[i] not in ids[:i])  # first occurrence
        tiny_model.eos_token_ids = [ids[stop_at]]
        eager = run(tiny_model, features, "eager", monkeypatch, 3 * CHUNK)
        static = run(tiny_model, features, "static", monkeypatch, 3 * CHUNK)
    finally:
        tiny_model.eos_token_ids, tiny_model.repetition_penalty = saved
        tiny_model._decoder = None
    assert eager.finish_reason == "eos" and eager.sequences.shape[1] == stop_at + 1
    assert_same(static, eager)


def test_decoder_is_reused_and_grows(tiny_model, features, monkeypatch):
    run(tiny_model, features, "static", monkeypatch, 4)
    first = tiny_model._decoder
    run(tiny_model, features, "static", monkeypatch, 6)
    assert tiny_model._decoder is first  # same bucket
    length = first.length
    longer = run(tiny_model, features, "static", monkeypatch, length)  # prompt + length > bucket
    assert tiny_model._decoder is not first and tiny_model._decoder.length > length
    assert longer.sequences.shape[1] >= 2


def test_cache_length_buckets():
    assert cache_length(1375, 64) == 3 * BUCKET
    assert cache_length(BUCKET - 8, 8) == BUCKET
    assert cache_length(BUCKET - 8, 9) == 2 * BUCKET


def test_decode_mode_errors(tiny_model, features, monkeypatch):
    monkeypatch.setenv("SPEX_DECODE", "fast")
    with pytest.raises(SpexEnvironmentError, match="SPEX_DECODE"):
        tiny_model.generate(prompt=PROMPT, max_new_tokens=4, vision_features=features)
    monkeypatch.setenv("SPEX_DECODE", "graph")
    with pytest.raises(SpexEnvironmentError, match="CUDA"):
        tiny_model.generate(prompt=PROMPT, max_new_tokens=4, vision_features=features)
    monkeypatch.setenv("SPEX_DECODE", "auto")
    out = tiny_model.generate(prompt=PROMPT, max_new_tokens=4, vision_features=features)
    assert out.info["decode_backend"] == "eager"  # the CPU default


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_graph_equals_eager_loop_on_gpu(tiny_checkpoint, monkeypatch, dtype):
    from model_runtime.spex import SpexModel

    model = SpexModel.from_pretrained(tiny_checkpoint, device="cuda", dtype=dtype)
    rgb = np.random.default_rng(5).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    feats = tuple(t.float().cpu().numpy() for t in model.encode_image(normalize_image(rgb)))
    eager = run(model, feats, "eager", monkeypatch, 3 * CHUNK)
    graph = run(model, feats, "graph", monkeypatch, 3 * CHUNK)
    assert graph.sequences.shape[1] >= 2
    if dtype == torch.float32:
        assert_same(graph, eager)
    else:  # another attention kernel may round differently in bf16: same first tokens, close states
        n = 4
        assert graph.sequences[0, :n].tolist() == eager.sequences[0, :n].tolist()
        rel = (graph.hidden_states[: n - 1] - eager.hidden_states[: n - 1]).norm() / eager.hidden_states[
            : n - 1
        ].norm()
        assert float(rel) < 2e-2
    again = run(model, feats, "graph", monkeypatch, 3 * CHUNK)  # replayed graph, reset state
    assert again.sequences.tolist() == graph.sequences.tolist()
