"""Broken or untrustworthy checkpoints: ``spex doctor`` and ``spex extract`` give the same one-line answer.

Every case edits a private copy of the tiny checkpoint on disk (real safetensors files, real tokenizer files,
real ONNX export), then runs the real doctor and the real CLI extract on the real Sentinel-2 sample.
"""

from __future__ import annotations

import json
import os
import struct

import pytest

from model_runtime.cli import main
from model_runtime.spex.tools.doctor import run_doctor

SHARD1 = "model-00001-of-00002.safetensors"
SHARD2 = "model-00002-of-00002.safetensors"


def _doctor_fail(model_dir) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = run_doctor(model_dir, out=lines.append)
    fails = [line.split(": ", 1)[1] for line in lines if line.startswith("[FAIL]")]
    return code, fails


def _extract_error(model_dir, s2_sample, tmp_path, capsys) -> str:
    out = str(tmp_path / "out.gpkg")
    argv = ["extract", s2_sample, "--prompt", "extract the water bodies", "--engine", "spex"]
    argv += ["--model", model_dir, "--device", "cpu", "-o", out]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spex: error: "), err
    assert not os.path.exists(out)
    return err[0][len("spex: error: ") :]


def _rewrite_header(path, edit) -> None:
    """Apply ``edit(header_dict)`` to a safetensors file's JSON header, keeping the data bytes."""
    with open(path, "rb") as fh:
        raw = fh.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    edit(header)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)) + text + raw[8 + n :])


def _first_key(header, suffix=""):
    return sorted(k for k in header if k != "__metadata__" and k.endswith(suffix))[0]


def _edit_index(d, edit):
    path = os.path.join(d, "model.safetensors.index.json")
    with open(path) as fh:
        index = json.load(fh)
    edit(index["weight_map"])
    with open(path, "w") as fh:
        json.dump(index, fh)


def _shard_outside_via_dotdot(d):
    os.rename(os.path.join(d, SHARD2), os.path.join(os.path.dirname(d), SHARD2))
    _edit_index(d, lambda wm: wm.update({k: "../" + v for k, v in wm.items() if v == SHARD2}))
    return "outside the model folder"


def _shard_absolute(d):
    _edit_index(d, lambda wm: wm.update({k: os.path.join(d, v) for k, v in wm.items() if v == SHARD2}))
    return "outside the model folder"


def _shard_symlink_outside(d):
    outside = os.path.join(os.path.dirname(d), "elsewhere.safetensors")
    os.rename(os.path.join(d, SHARD2), outside)
    os.symlink(outside, os.path.join(d, SHARD2))
    return "outside the model folder"


def _overlapping_offsets(d):
    def edit(h):
        keys = sorted((k for k in h if k != "__metadata__"), key=lambda k: h[k]["data_offsets"][0])
        a, b = h[keys[0]], h[keys[1]]
        # same size, but starting inside the previous tensor: overlap (the last bytes are then a gap)
        size = b["data_offsets"][1] - b["data_offsets"][0]
        b["data_offsets"] = [a["data_offsets"][1] - 2, a["data_offsets"][1] - 2 + size]

    _rewrite_header(os.path.join(d, SHARD2), edit)
    return "overlaps the previous tensor"


def _out_of_order_offsets(d):
    def edit(h):
        k = _first_key(h)
        h[k]["data_offsets"] = h[k]["data_offsets"][::-1]

    _rewrite_header(os.path.join(d, SHARD2), edit)
    return "out-of-order data offsets"


def _size_not_dtype_times_shape(d):
    def edit(h):
        k = _first_key(h, "weight")
        h[k]["shape"] = h[k]["shape"][:-1] + [h[k]["shape"][-1] + 1]

    _rewrite_header(os.path.join(d, SHARD2), edit)
    return "bytes for"


def _unknown_dtype(d):
    _rewrite_header(os.path.join(d, SHARD2), lambda h: h[_first_key(h)].update(dtype="F9"))
    return "unknown dtype 'F9'"


def _nan_weight(d, bits=0x7E00):
    path = os.path.join(d, SHARD2)
    with open(path, "rb") as fh:
        raw = bytearray(fh.read())
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    key = _first_key(header, "mask_decoder.iou_token.weight")
    assert header[key]["dtype"] == "F16"
    start = 8 + n + header[key]["data_offsets"][0]
    raw[start : start + 2] = struct.pack("<H", bits)  # float16 NaN (0x7E00) or -Inf (0xFC00)
    with open(path, "wb") as fh:
        fh.write(raw)
    return "NaN/Inf"


def _inf_weight(d):
    return _nan_weight(d, bits=0xFC00)


def _oversized_config(d):
    path = os.path.join(d, "config.json")
    with open(path) as fh:
        cfg = json.load(fh)
    cfg.update(vocab_size=4_000_000, hidden_size=1_048_576, num_attention_heads=8)
    with open(path, "w") as fh:
        json.dump(cfg, fh)
    return "of memory"


def _absurd_config(d):
    path = os.path.join(d, "config.json")
    with open(path) as fh:
        cfg = json.load(fh)
    cfg["intermediate_size"] = 10**18
    with open(path, "w") as fh:
        json.dump(cfg, fh)
    return "implausibly large"


def _garbage_tokenizer(d):
    with open(os.path.join(d, "tokenizer.json"), "wb") as fh:
        fh.write(os.urandom(256))
    return "cannot load the tokenizer"


def _wrong_schema_tokenizer(d):
    with open(os.path.join(d, "tokenizer.json"), "w") as fh:
        json.dump({"version": "1.0", "model": {"type": "Nonsense"}}, fh)
    return "cannot load the tokenizer"


CASES = [
    _shard_outside_via_dotdot,
    _shard_absolute,
    _shard_symlink_outside,
    _overlapping_offsets,
    _out_of_order_offsets,
    _size_not_dtype_times_shape,
    _unknown_dtype,
    _nan_weight,
    _inf_weight,
    _oversized_config,
    _absurd_config,
    _garbage_tokenizer,
    _wrong_schema_tokenizer,
]


@pytest.mark.parametrize("breaker", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_doctor_and_extract_agree(model_copy, breaker, s2_sample, tmp_path, capsys):
    expect = breaker(model_copy)
    code, fails = _doctor_fail(model_copy)
    assert code == 2 and fails, fails
    message = _extract_error(model_copy, s2_sample, tmp_path, capsys)
    assert expect in message, message
    assert message in fails, (message, fails)  # the very same line


def test_symlink_inside_the_folder_is_fine_and_outside_can_be_allowed(model_copy, monkeypatch):
    from model_runtime.spex.loading.tensors import safetensors_files

    os.rename(os.path.join(model_copy, SHARD2), os.path.join(model_copy, "real.bin"))
    os.symlink("real.bin", os.path.join(model_copy, SHARD2))
    assert _doctor_fail(model_copy) == (0, [])
    outside = os.path.join(os.path.dirname(model_copy), "moved.bin")
    os.rename(os.path.join(model_copy, "real.bin"), outside)
    os.remove(os.path.join(model_copy, SHARD2))
    os.symlink(outside, os.path.join(model_copy, SHARD2))
    assert _doctor_fail(model_copy)[0] == 2
    monkeypatch.setenv("SPEX_ALLOW_EXTERNAL_LINKS", "1")
    assert safetensors_files(model_copy)  # the user vouched for the link
    assert _doctor_fail(model_copy) == (0, [])


def test_corrupt_onnx_cache_is_reported_then_rebuilt(model_copy):
    from model_runtime.spex.runtime.onnx_export import export_vision_encoder

    first = export_vision_encoder(model_copy, verify=False)
    with open(first.path, "r+b") as fh:
        fh.truncate(os.path.getsize(first.path) // 3)
    lines: list[str] = []
    assert run_doctor(model_copy, out=lines.append) == 0  # the engine still runs: it rebuilds the file
    onnx_line = next(x for x in lines if "onnx cache:" in x)
    assert onnx_line.startswith("[warn]") and "corrupt" in onnx_line and "export-onnx --force" in onnx_line
    again = export_vision_encoder(model_copy, verify=False)
    assert not again.reused and again.path == first.path
    lines.clear()
    run_doctor(model_copy, out=lines.append)
    assert next(x for x in lines if "onnx cache:" in x).startswith("[ok]")
