"""Overlays with OpenCV, for scripts and notebooks: a colour per class, outlines and labels."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from .errors import InputError
from .masks import Masks
from .predictions import Predictions

__all__ = ["draw"]

# Distinct BGR colours, picked by class: the ten of Tableau's (matplotlib's "tab10"),
# whose first five (blue, orange, green, red, purple) differ in hue by 29 degrees or more.
_PALETTE = np.array(
    [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
     (75, 86, 140), (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23)],
    dtype=np.uint8,
)  # fmt: skip
_FONT, _SCALE, _THICKNESS = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1


def _label(out: NDArray[np.uint8], text: str, x: int, y: int, colour: NDArray[np.uint8]) -> None:
    """``text`` on a box of ``colour`` just above ``(x, y)`` (below the image's top edge), in black or white."""
    (tw, th), base = cv2.getTextSize(text, _FONT, _SCALE, _THICKNESS)
    top = max(y - th - base - 2, 0)
    cv2.rectangle(out, (x, top), (x + tw + 2, top + th + base + 2), colour.tolist(), cv2.FILLED)
    b, g, r = (int(c) for c in colour)
    ink = (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)
    cv2.putText(out, text, (x + 1, top + th + 1), _FONT, _SCALE, ink, _THICKNESS, cv2.LINE_AA)


def draw(
    image: NDArray[np.uint8],
    masks: Masks | Predictions,
    *,
    labels: Sequence[str] | bool = True,
    alpha: float = 0.45,
    outline: bool = True,
) -> NDArray[np.uint8]:
    """Draw masks over an image; returns a new BGR image, the input is untouched.

    Parameters
    ----------
    image : (H, W, 3) BGR or (H, W) gray uint8
    masks : Masks or Predictions
        Predictions are coloured by class and labelled ``"class 0.93"``;
        Masks by index.
    labels : bool or sequence of str
        Write a label above each mask (your own texts, or the default ones),
        on a box of the mask's colour.
    alpha : float in [0, 1]
        Opacity of the fill.
    outline : bool
        Draw each mask's outline (holes included).

    Examples
    --------
    >>> img = np.zeros((8, 8, 3), np.uint8)
    >>> m = Masks.from_dense(np.pad(np.ones((1, 4, 4), bool), ((0, 0), (2, 2), (2, 2))))
    >>> out = draw(img, m, labels=False, outline=False)
    >>> out[4, 4].tolist(), out[0, 0].tolist()
    ([81, 53, 13], [0, 0, 0])
    """
    if isinstance(masks, Predictions):
        preds = masks
        ms = preds.masks(image_size=preds.image_size or image.shape[:2])
        colour_ids = np.where(preds.class_id >= 0, preds.class_id, 0).tolist()
        default = [f"{c} {s:.2f}" for c, s in zip(preds.class_name.tolist(), preds.confidence.tolist(), strict=True)]
    elif isinstance(masks, Masks):
        ms = masks
        colour_ids = list(range(len(ms)))
        default = [str(i) for i in range(len(ms))]
    else:
        raise InputError(f"masks must be Masks or Predictions, got {type(masks).__name__}")
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise InputError(f"image must be (H, W, 3) BGR or (H, W) gray uint8, got {img.shape} of {img.dtype}")
    if img.shape[:2] != ms.image_size:
        raise InputError(f"the image is {img.shape[:2]} but the masks are of {ms.image_size}")
    if not 0 <= alpha <= 1:
        raise InputError(f"alpha must be in [0, 1], got {alpha!r}")
    texts = default if labels is True else list(labels) if labels else []
    if texts and len(texts) != len(ms):
        raise InputError(f"labels has {len(texts)} texts for {len(ms)} masks")
    out: NDArray[np.uint8] = np.asarray(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img.copy())
    for i, (pixels, (x, y)) in enumerate(ms.iter_crops()):
        if not pixels.size:
            continue
        colour = _PALETTE[colour_ids[i] % len(_PALETTE)]
        region = out[y : y + pixels.shape[0], x : x + pixels.shape[1]]
        region[pixels] = (region[pixels] * (1 - alpha) + colour * alpha).astype(np.uint8)
        if outline:
            contours, _ = cv2.findContours(pixels.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(out, contours, -1, colour.tolist(), 1, offset=(x, y))
        if texts:
            _label(out, texts[i], x, y, colour)
    return out
