"""The SPEX Processing provider (``spex``) and its algorithms (``spex:extract``)."""

from .provider import SpexProvider

__all__ = ["SpexProvider"]
