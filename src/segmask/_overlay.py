"""A plain OpenCV overlay of masks on an image (what the demo writes)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from .masks import Masks

# Distinct BGR colours, picked by class.
_PALETTE = np.array(
    [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207),
     (10, 249, 72), (23, 204, 146), (134, 219, 61), (211, 188, 0), (209, 99, 0)],
    dtype=np.uint8,
)  # fmt: skip


def overlay(
    image: NDArray[np.uint8], masks: Masks, class_ids: Sequence[int], labels: Sequence[str], alpha: float = 0.45
) -> NDArray[np.uint8]:
    """Blend each mask in its class colour, outline it and write its label; returns a new BGR image."""
    out = image.copy()
    for i in range(len(masks)):
        if not masks.area[i]:
            continue
        pixels, (x, y) = masks.crop(i)
        h, w = pixels.shape
        colour = _PALETTE[int(class_ids[i]) % len(_PALETTE)]
        region = out[y : y + h, x : x + w]
        region[pixels] = (region[pixels] * (1 - alpha) + colour * alpha).astype(np.uint8)
        contours, _ = cv2.findContours(pixels.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, colour.tolist(), 1, offset=(x, y))
        cv2.putText(out, labels[i], (x, max(y - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour.tolist(), 1, cv2.LINE_AA)
    return out
