"""Engines turn (raster, AOI, target) into a mask. ``spectral`` needs no weights; ``spex`` is neural."""

from __future__ import annotations

from ..errors import SpexInputError
from ..request import ENGINES


def get_engine(name: str):
    """Return an engine instance by name; the neural engine's heavy imports happen only here, on demand."""
    if name == "spectral":
        from .spectral import SpectralEngine

        return SpectralEngine()
    if name == "spex":
        from .spex_engine import SpexEngine

        return SpexEngine()
    raise SpexInputError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")
