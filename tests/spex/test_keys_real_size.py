"""The real-size model (built on the meta device) has exactly the released checkpoint's tensors.

The key list is read at test time from ``../shared/SPEX_KEYS.tsv`` beside the repository (recorded from the
released checkpoint); nothing is copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from model_runtime.spex.loading.checkpoint import build_empty_model  # noqa: E402
from model_runtime.spex.loading.tensors import expected_tensors  # noqa: E402
from model_runtime.spex.modeling.config import SpexConfig  # noqa: E402
from model_runtime.spex.modeling.vision_tower import SpexVisionEncoder  # noqa: E402
from tests.spex.tools.make_test_checkpoint import MM_FIELDS, REAL_TEXT  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KEYS_TSV = REPO.parent / "shared" / "SPEX_KEYS.tsv"


def _rows():
    if not KEYS_TSV.is_file():
        pytest.skip(f"{KEYS_TSV} is absent (the recorded key list of the released checkpoint)")
    lines = KEYS_TSV.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    assert header[:4] == ["key", "shape", "dtype", "file"]
    rows = []
    for line in lines[1:]:
        key, shape, dtype, file = line.split("\t")[:4]
        dims = tuple(int(d) for d in shape.strip("[]").split(",") if d.strip())
        rows.append((key, dims, dtype, file))
    return rows


def _diff(expected, found):
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(k for k in expected if k in found and tuple(expected[k]) != tuple(found[k]))
    return missing, extra, wrong


def test_real_size_model_matches_every_checkpoint_key_and_shape():
    rows = [r for r in _rows() if r[3].startswith("model-0000")]
    ref = {k: s for k, s, _, _ in rows}
    assert len(ref) == 1327
    assert all(dtype == "F16" for _, _, dtype, _ in rows)
    config = SpexConfig.from_dict(dict(MM_FIELDS, **REAL_TEXT))
    model = build_empty_model(config)
    mine = expected_tensors(model)
    missing, extra, wrong = _diff(ref, mine)
    assert not missing and not extra and not wrong, (missing[:5], extra[:5], wrong[:5])
    assert sum(torch.Size(s).numel() for s in mine.values()) == 1_778_310_114
    assert "lm_head.weight" not in mine  # tied to model.embed_tokens.weight, not stored


def test_vision_encoder_matches_the_internimage_side_file():
    # the official side folder (pertrained_weights/InternImage) stores the encoder as ``vision_model.*``
    rows = [r for r in _rows() if "InternImage" in r[3]]
    if not rows:
        pytest.skip("SPEX_KEYS.tsv lists no InternImage side file")
    ref = {k: s for k, s, _, _ in rows}
    with torch.device("meta"):
        enc = SpexVisionEncoder()
    mine = expected_tensors(enc)
    missing, extra, wrong = _diff(ref, mine)
    assert len(ref) == 841 and not missing and not extra and not wrong, (missing[:5], extra[:5], wrong[:5])
