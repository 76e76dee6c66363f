"""Image preprocessing exactly as the official demo: RGB [0, 1] then ImageNet mean/std, 512 x 512.

The one place of the ImageNet normalisation: :func:`pixel_values` (numpy, what the engine feeds the encoder
runtimes) and :func:`normalize_image` (a checked torch tensor for ``SpexModel.encode_image``). This module
imports torch only inside :func:`normalize_image`: the engine's numpy path stays torch-free.
"""

from __future__ import annotations

import numpy as np

from ...errors import SpexInputError
from .config import IMAGE_SIZE, IMAGENET_MEAN, IMAGENET_STD

_MEAN = np.asarray(IMAGENET_MEAN, dtype=np.float32)[None, :, None, None]
_STD = np.asarray(IMAGENET_STD, dtype=np.float32)[None, :, None, None]


def pixel_values(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] (or a batch [B, H, W, 3]) -> float32 [B, 3, H, W] exactly as the official
    ``ToTensor()`` + ``Normalize(IMAGENET_MEAN, IMAGENET_STD)``."""
    if rgb.dtype != np.uint8:
        raise TypeError(f"pixel_values expects uint8 RGB, got {rgb.dtype}")
    batch = rgb[None] if rgb.ndim == 3 else rgb
    x = batch.astype(np.float32).transpose(0, 3, 1, 2) / np.float32(255.0)
    return np.ascontiguousarray((x - _MEAN) / _STD, dtype=np.float32)


def normalize_image(rgb: np.ndarray):
    """uint8 RGB [H, W, 3] (H = W = 512) -> float32 torch tensor [1, 3, 512, 512] (ToTensor + Normalize).

    The caller makes the 512 x 512 tile (the official demo resizes the whole image with PIL instead).
    """
    import torch  # here: the module's numpy path (pixel_values) must not import torch

    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise SpexInputError(
            f"expected an RGB image [H, W, 3], got shape {arr.shape}: pass a 3-band composite"
        )
    if arr.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE):
        raise SpexInputError(
            f"expected a {IMAGE_SIZE}x{IMAGE_SIZE} tile, got {arr.shape[1]}x{arr.shape[0]}: "
            "cut or pad the image into 512 x 512 tiles"
        )
    if arr.dtype != np.uint8:
        raise SpexInputError(f"expected uint8 RGB, got {arr.dtype}: stretch the composite to 0..255 first")
    return torch.from_numpy(pixel_values(arr))
