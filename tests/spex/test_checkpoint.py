"""Checkpoint folders: the official layouts load, every broken one fails with a one-line ModelLoadError."""

from __future__ import annotations

import json
import os
import shutil

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file  # noqa: E402

from model_runtime.errors import ModelLoadError, SpexEnvironmentError, SpexInputError  # noqa: E402
from model_runtime.spex import SpexModel  # noqa: E402
from model_runtime.spex.loading.checkpoint import load_vision_encoder  # noqa: E402
from model_runtime.spex.loading.device import resolve_dtype, torch_device  # noqa: E402
from tests.spex.tools.make_test_checkpoint import SHARD_NAMES  # noqa: E402
from tests.spex.tools.make_test_checkpoint import main as make_main  # noqa: E402

SHARD2 = SHARD_NAMES[1]


@pytest.fixture
def ckpt(tiny_checkpoint, tmp_path):
    """A private, editable copy of the tiny checkpoint."""
    dst = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, dst)
    return str(dst)


def _edit_shard(folder, shard, fn):
    path = os.path.join(folder, shard)
    tensors = load_file(path)
    fn(tensors)
    save_file(tensors, path, metadata={"format": "pt"})
    index_path = os.path.join(folder, "model.safetensors.index.json")
    index = json.load(open(index_path))
    index["weight_map"] = {k: v for k, v in index["weight_map"].items() if v != shard}
    index["weight_map"].update({k: shard for k in tensors})
    json.dump(index, open(index_path, "w"))


def _load_error(folder, **kw) -> str:
    with pytest.raises(ModelLoadError) as err:
        SpexModel.from_pretrained(folder, device="cpu", **kw)
    msg = str(err.value)
    assert "\n" not in msg and ": " in msg  # one line: problem then fix
    assert isinstance(err.value, SpexInputError)
    return msg


def test_official_layout_files(tiny_checkpoint):
    names = set(os.listdir(tiny_checkpoint))
    for f in (
        "config.json",
        "generation_config.json",
        "model.safetensors.index.json",
        *SHARD_NAMES,
        "vocab.json",
        "merges.txt",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ):
        assert f in names
    cfg = json.load(open(os.path.join(tiny_checkpoint, "config.json")))
    assert cfg["model_type"] == "llava_qwen" and cfg["mm_projector_type"] == "mlp2x_gelu"
    index = json.load(open(os.path.join(tiny_checkpoint, "model.safetensors.index.json")))["weight_map"]
    assert index["model.embed_tokens.weight"] == SHARD_NAMES[0] and index["model.norm.weight"] == SHARD2
    assert (
        index["model.layers.1.self_attn.q_proj.weight"] == SHARD_NAMES[0]
    )  # split inside the layer, as released
    assert index["model.layers.1.mlp.up_proj.weight"] == SHARD2
    for shard in SHARD_NAMES:
        assert all(t.dtype == torch.float16 for t in load_file(os.path.join(tiny_checkpoint, shard)).values())


def test_tiny_checkpoint_loads_every_tensor(tiny_model, tiny_checkpoint):
    stored = {}
    for shard in SHARD_NAMES:
        stored.update(load_file(os.path.join(tiny_checkpoint, shard)))
    state = tiny_model.state_dict()
    assert set(state) == set(stored)
    for k, v in stored.items():
        assert state[k].dtype == torch.float32
        assert torch.equal(state[k], v.float()), k
    assert not any(p.is_meta for p in tiny_model.parameters())
    assert not tiny_model.training


def test_make_test_checkpoint_is_deterministic_and_refuses_to_overwrite(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "again"
    assert make_main([str(out), "--tiny", "--seed", "0"]) == 0
    for shard in SHARD_NAMES:
        a = load_file(os.path.join(tiny_checkpoint, shard))
        b = load_file(str(out / shard))
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert make_main([str(out), "--tiny"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_single_file_layout_loads(ckpt):
    tensors = {}
    for shard in SHARD_NAMES:
        tensors.update(load_file(os.path.join(ckpt, shard)))
        os.remove(os.path.join(ckpt, shard))
    os.remove(os.path.join(ckpt, "model.safetensors.index.json"))
    save_file(tensors, os.path.join(ckpt, "model.safetensors"))
    model = SpexModel.from_pretrained(ckpt, device="cpu", dtype="float16")
    assert model.dtype == torch.float16
    assert torch.equal(model.model.norm.weight, tensors["model.norm.weight"])


def test_missing_shard(ckpt):
    os.remove(os.path.join(ckpt, SHARD2))
    msg = _load_error(ckpt)
    assert "missing shard" in msg and SHARD2 in msg


def test_wrong_shape(ckpt):
    _edit_shard(
        ckpt, SHARD2, lambda t: t.update({"model.mm_projector.0.bias": t["model.mm_projector.0.bias"][:-1]})
    )
    msg = _load_error(ckpt)
    assert "shape mismatch" in msg and "model.mm_projector.0.bias" in msg


def test_unexpected_key(ckpt):
    _edit_shard(ckpt, SHARD2, lambda t: t.update({"model.vision_tower.extra_head.weight": torch.zeros(3)}))
    msg = _load_error(ckpt)
    assert "1 unexpected" in msg and "model.vision_tower.extra_head.weight" in msg


def test_missing_keys_are_counted(ckpt):
    def drop(t):
        for k in [k for k in t if k.startswith("model.vision_tower.lan_neck.")]:
            del t[k]

    _edit_shard(ckpt, SHARD2, drop)
    msg = _load_error(ckpt)
    assert "6 missing" in msg and "lan_neck" in msg and "more" in msg


def test_index_lists_a_tensor_the_shard_lacks(ckpt):
    index_path = os.path.join(ckpt, "model.safetensors.index.json")
    index = json.load(open(index_path))
    index["weight_map"]["model.ghost.weight"] = SHARD2
    json.dump(index, open(index_path, "w"))
    assert "model.ghost.weight" in _load_error(ckpt)


def test_missing_tokenizer(ckpt):
    for f in ("tokenizer.json", "vocab.json", "merges.txt"):
        os.remove(os.path.join(ckpt, f))
    assert "no tokenizer" in _load_error(ckpt)


def test_slow_tokenizer_alone_loads(ckpt, tiny_model):
    os.remove(os.path.join(ckpt, "tokenizer.json"))
    model = SpexModel.from_pretrained(ckpt, device="cpu")
    prompt = "<image>\\nBased on the provided image, describe the 水体: [{'Centroid': [0.48, 0.422]}]"
    assert model.tokenize_prompt(prompt) == tiny_model.tokenize_prompt(prompt)


@pytest.mark.parametrize(
    "content,expect",
    [
        ("{not json", "cannot parse"),
        ('{"model_type": "llama", "hidden_size": 8}', "model_type"),
        ('{"model_type": "llava_qwen", "hidden_size": 64}', "lacks"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_bad_config(ckpt, content, expect):
    with open(os.path.join(ckpt, "config.json"), "w") as fh:
        fh.write(content)
    assert expect in _load_error(ckpt)


def test_config_with_other_sizes_than_the_weights(ckpt):
    path = os.path.join(ckpt, "config.json")
    cfg = json.load(open(path))
    cfg["intermediate_size"] = 96
    json.dump(cfg, open(path, "w"))
    msg = _load_error(ckpt)
    assert "shape mismatch" in msg and "mlp" in msg


def test_missing_config_and_missing_folder(ckpt, tmp_path):
    os.remove(os.path.join(ckpt, "config.json"))
    assert "no config.json" in _load_error(ckpt)
    assert "does not exist" in _load_error(str(tmp_path / "nowhere"))


def test_vision_encoder_only(tiny_checkpoint, tiny_model):
    enc = load_vision_encoder(tiny_checkpoint, dtype=torch.float32, device="cpu")
    full = tiny_model.vision_encoder.state_dict()
    assert set(enc.state_dict()) == set(full)
    assert all(torch.equal(v, full[k]) for k, v in enc.state_dict().items())


def test_device_and_dtype_errors():
    assert torch_device("cpu").type == "cpu" and torch_device(torch.device("cpu")).type == "cpu"
    assert torch_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(SpexEnvironmentError, match="no CUDA"):
            torch_device("cuda:0")
    with pytest.raises(SpexInputError, match="device 'tpu!' is not understood"):
        torch_device("tpu!")
    assert resolve_dtype(None) == torch.float32 and resolve_dtype("bf16") == torch.bfloat16
    with pytest.raises(SpexInputError, match="dtype 'int8' is not understood"):
        resolve_dtype("int8")


# ------------------------------------------------------------------------------------------------ LoRA
def _make_lora(tiny_checkpoint, tmp_path, r=4, alpha=8.0):
    """Split the tiny checkpoint into a base (LLM only, perturbed) + LoRA folder, as training writes."""
    stored = {}
    for shard in SHARD_NAMES:
        stored.update(load_file(os.path.join(tiny_checkpoint, shard)))
    llm_keys = [k for k in stored if k.startswith(("model.embed_tokens", "model.layers", "model.norm"))]
    base = tmp_path / "base"
    base.mkdir()
    save_file({k: stored[k] for k in llm_keys}, str(base / "model.safetensors"))
    lora = tmp_path / "lora"
    # not the shared fixture's onnx/ cache either (another test may have exported its encoder there)
    shutil.copytree(tiny_checkpoint, lora, ignore=shutil.ignore_patterns("model*.safetensors*", "onnx"))
    # the trainer saves non-LoRA trainables with the PEFT prefix; the builder strips it
    non_lora = {"base_model.model." + k: v for k, v in stored.items() if k not in llm_keys}
    torch.save(non_lora, str(lora / "non_lora_trainables.bin"))
    g = torch.Generator().manual_seed(3)
    adapter, expected = {}, {}
    for layer in range(2):
        for proj in ("q_proj", "v_proj"):
            key = f"model.layers.{layer}.self_attn.{proj}"
            w = stored[key + ".weight"]
            a = torch.randn(r, w.shape[1], generator=g) * 0.1
            b = torch.randn(w.shape[0], r, generator=g) * 0.1
            adapter[f"base_model.model.{key}.lora_A.weight"] = a.half()
            adapter[f"base_model.model.{key}.lora_B.weight"] = b.half()
            expected[key + ".weight"] = w.float() + (b.half().float() @ a.half().float()) * (alpha / r)
    save_file(adapter, str(lora / "adapter_model.safetensors"))
    json.dump(
        {
            "r": r,
            "lora_alpha": alpha,
            "target_modules": ["q_proj", "v_proj"],
            "peft_type": "LORA",
            "base_model_name_or_path": "Qwen2_5_1_5B_mask_decoder",
        },
        open(lora / "adapter_config.json", "w"),
    )
    return str(lora), str(base), expected, stored


def test_lora_variant_is_merged(tiny_checkpoint, tmp_path):
    lora, base, expected, stored = _make_lora(tiny_checkpoint, tmp_path)
    model = SpexModel.from_pretrained(lora, device="cpu", base_model_dir=base)
    state = model.state_dict()
    for k, v in expected.items():
        torch.testing.assert_close(state[k], v, atol=1e-6, rtol=1e-6)
    untouched = "model.layers.0.self_attn.k_proj.weight"
    assert torch.equal(state[untouched], stored[untouched].float())
    vision = "model.vision_tower.vision_tower.vision_model.patch_embed.conv1.weight"
    assert torch.equal(state[vision], stored[vision].float())
    enc = load_vision_encoder(lora)  # the encoder alone comes from non_lora_trainables.bin
    assert torch.equal(enc.state_dict()["vision_model.patch_embed.conv1.weight"], stored[vision].float())


def test_lora_errors(tiny_checkpoint, tmp_path):
    lora, base, _, _ = _make_lora(tiny_checkpoint, tmp_path)
    msg = _load_error(lora)
    assert "LoRA" in msg and "base" in msg
    cfg_path = os.path.join(lora, "adapter_config.json")
    cfg = json.load(open(cfg_path))
    adapter = load_file(os.path.join(lora, "adapter_model.safetensors"))
    adapter["base_model.model.model.layers.0.mlp.nonexistent.lora_A.weight"] = torch.zeros(4, 4)
    adapter["base_model.model.model.layers.0.mlp.nonexistent.lora_B.weight"] = torch.zeros(4, 4)
    save_file(adapter, os.path.join(lora, "adapter_model.safetensors"))
    assert "nonexistent" in _load_error(lora, base_model_dir=base)
    json.dump(cfg, open(cfg_path, "w"))
    os.remove(os.path.join(lora, "non_lora_trainables.bin"))
    assert "non_lora_trainables.bin" in _load_error(lora, base_model_dir=base)


def test_pickle_with_code_is_refused(tiny_checkpoint, tmp_path):
    lora, base, _, _ = _make_lora(tiny_checkpoint, tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"x": Evil()}, os.path.join(lora, "non_lora_trainables.bin"))
    assert "safely" in _load_error(lora, base_model_dir=base)


def test_gpu_placement_plan_covers_every_tensor(tiny_model):
    from model_runtime.spex.loading.placement import plan_device_map

    names = [n for n, _ in tiny_model.named_parameters()]
    everything = plan_device_map(tiny_model, 10**12, torch.float16)
    assert set(everything.values()) == {0}
    assert all(any(n == k or n.startswith(k + ".") for k in everything) for n in names)
    layer = sum(p.numel() for p in tiny_model.model.layers[0].parameters()) * 2
    rest = sum(p.numel() for n, p in tiny_model.named_parameters() if not n.startswith("model.layers.")) * 2
    tight = plan_device_map(tiny_model, rest + layer + 1, torch.float16)
    assert tight["model.layers.0"] == 0 and tight["model.layers.1"] == "cpu"
    assert tight["model.vision_tower"] == 0 and tight["model.image_newline"] == 0


def test_lora_from_the_cli_extract_and_doctor(tiny_checkpoint, tmp_path, s2_sample, capsys):
    """A LoRA checkpoint runs from ``spex extract --model-base`` and ``spex doctor --model-base``."""
    from model_runtime.cli import main

    lora, base, _, _ = _make_lora(tiny_checkpoint, tmp_path)
    out = str(tmp_path / "water.gpkg")
    argv = ["extract", s2_sample, "--prompt", "extract the water bodies", "--engine", "spex"]
    argv += ["--model", lora, "--device", "cpu", "-o", out, "--json"]
    capsys.readouterr()
    assert main(argv) == 2  # no base model: one line naming the flag that exists
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--model-base" in err[0] and not os.path.exists(out)
    assert main(["doctor", "--model", lora]) == 2
    assert "--model-base" in capsys.readouterr().out

    assert main(argv + ["--model-base", base]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["engine"] == "spex" and os.path.isfile(out)
    assert main(["doctor", "--model", lora, "--model-base", base]) == 0
    assert "SPEX engine: usable" in capsys.readouterr().out
    assert main(["export-onnx", "--model", lora]) == 2
    assert "LoRA" in capsys.readouterr().err and not os.path.exists(os.path.join(lora, "onnx"))
