"""Image preprocessing exactly as the official demo: RGB [0, 1] then ImageNet mean/std, 512 x 512."""

from __future__ import annotations

import numpy as np

from ..errors import SpexInputError
from .config import IMAGE_SIZE, IMAGENET_MEAN, IMAGENET_STD


def normalize_image(rgb: np.ndarray):
    """uint8 RGB [H, W, 3] (H = W = 512) -> float32 torch tensor [1, 3, 512, 512] (ToTensor + Normalize).

    The caller makes the 512 x 512 tile (the official demo resizes the whole image with PIL instead).
    """
    import torch

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
    x = torch.from_numpy(arr.astype(np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None]
    return ((x - mean) / std).unsqueeze(0).contiguous()
