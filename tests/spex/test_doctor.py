"""``spex doctor`` on good and broken model folders (one line per check, exit 0 / 2)."""

import json
import os

import pytest

from model_runtime.cli import main
from model_runtime.spex.tools.doctor import run_doctor


def _doctor(model_dir):
    lines = []
    code = run_doctor(model_dir, out=lines.append)
    return code, lines


def _line(lines, name):
    hits = [x for x in lines if x.startswith("[") and x.split("]", 1)[1].strip().startswith(name + ":")]
    assert len(hits) >= 1, f"no '{name}' line in {lines}"
    return hits[0]


def test_good_folder_then_onnx_cache_present(model_copy):
    code, lines = _doctor(model_copy)
    assert code == 0, lines
    for name in (
        "python",
        "gdal",
        "torch",
        "transformers",
        "onnxruntime",
        "model config",
        "model weights",
        "tokenizer",
        "model shapes",
    ):
        assert _line(lines, name).startswith("[ok]"), lines
    assert "providers: " in _line(lines, "onnxruntime") and "CPUExecutionProvider" in _line(
        lines, "onnxruntime"
    )
    assert _line(lines, "onnx cache").startswith("[warn]") and "missing" in _line(lines, "onnx cache")
    assert lines[-1] == "SPEX engine: usable"
    assert all("\n" not in line for line in lines)

    from model_runtime.spex.runtime.onnx_export import export_vision_encoder

    export_vision_encoder(model_copy, verify=False)
    code, lines = _doctor(model_copy)
    assert (
        code == 0
        and _line(lines, "onnx cache").startswith("[ok]")
        and "present" in _line(lines, "onnx cache")
    )


def _break_missing_config(d):
    os.remove(os.path.join(d, "config.json"))
    return "model config"


def _break_bad_config(d):
    with open(os.path.join(d, "config.json"), "w") as fh:
        json.dump({"model_type": "llama"}, fh)
    return "model config"


def _break_missing_shard(d):
    os.remove(os.path.join(d, "model-00002-of-00002.safetensors"))
    return "model weights"


def _break_truncated_shard(d):
    path = os.path.join(d, "model-00001-of-00002.safetensors")
    with open(path, "r+b") as fh:
        fh.truncate(5)
    return "model weights"


def _break_no_tokenizer(d):
    for f in ("tokenizer.json", "vocab.json", "merges.txt"):
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    return "tokenizer"


def _break_dropped_tensor(d):
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = os.path.join(d, "model-00002-of-00002.safetensors")
    with safe_open(path, "pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys() if not k.endswith("mask_decoder.iou_token.weight")}
    save_file(tensors, path, metadata=meta)
    return "model weights"  # the index still lists it: the loader reports the shard/index mismatch


def _break_wrong_config_width(d):
    path = os.path.join(d, "config.json")
    with open(path) as fh:
        cfg = json.load(fh)
    cfg["intermediate_size"] += 8  # the weights no longer fit the architecture
    with open(path, "w") as fh:
        json.dump(cfg, fh)
    return "model shapes"


@pytest.mark.parametrize(
    "breaker",
    [
        _break_missing_config,
        _break_bad_config,
        _break_missing_shard,
        _break_truncated_shard,
        _break_no_tokenizer,
        _break_dropped_tensor,
        _break_wrong_config_width,
    ],
)
def test_broken_folders_fail_with_the_reason(model_copy, breaker):
    check = breaker(model_copy)
    code, lines = _doctor(model_copy)
    assert code == 2
    line = _line(lines, check)
    assert line.startswith("[FAIL]") and ": " in line
    assert lines[-1].startswith("SPEX engine: NOT usable")


def test_not_a_folder(tmp_path):
    code, lines = _doctor(str(tmp_path / "nowhere"))
    assert code == 2 and _line(lines, "model").startswith("[FAIL]")


def test_cli_doctor(model_copy, tmp_path, capsys):
    assert main(["doctor", "--model", model_copy]) == 0
    out = capsys.readouterr().out
    assert "[ok]   model weights" in out
    assert main(["doctor"]) == 0  # environment only
    assert main(["doctor", "--model", str(tmp_path / "nowhere")]) == 2


def test_doctor_prints_the_parity_verified_versions(monkeypatch):
    import importlib.metadata as md

    from model_runtime.spex.runtime import fidelity

    code, lines = _doctor(None)
    assert code == 0
    for name in ("parity transformers", "parity tokenizers", "parity SAM decoder", "parity SAM prompt"):
        assert _line(lines, name).startswith("[ok]"), lines
    real = md.version
    monkeypatch.setattr(fidelity.metadata, "version", lambda d: "4.46.0" if d == "transformers" else real(d))
    code, lines = _doctor(None)
    line = _line(lines, "parity transformers")
    assert code == 0 and line.startswith("[warn]") and "4.46.0" in line
    assert "transformers>=4.57.6,<4.58" in line
