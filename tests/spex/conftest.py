"""Fixtures of the SPEX model tests: one tiny random checkpoint per session (official layout)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> str:
    """Path of a tiny random SPEX checkpoint (same key names as the released one), built once."""
    from tests.spex.tools.make_test_checkpoint import write_checkpoint

    return write_checkpoint(str(tmp_path_factory.mktemp("spex") / "tiny"), tiny=True, seed=0)


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint):
    """The tiny checkpoint loaded on the CPU in float32 (shared: do not modify it in tests)."""
    from model_runtime.spex import SpexModel

    return SpexModel.from_pretrained(tiny_checkpoint, device="cpu")


@pytest.fixture
def model_copy(tiny_checkpoint, tmp_path, monkeypatch):
    """A private copy of the tiny checkpoint (tests write exports into it) and a private user cache."""
    monkeypatch.setenv("SPEX_CACHE_DIR", str(tmp_path / "cache"))
    dst = tmp_path / "model"
    shutil.copytree(tiny_checkpoint, dst, ignore=shutil.ignore_patterns("onnx"))
    return str(dst)
