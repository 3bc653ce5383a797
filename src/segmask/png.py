"""Instance-id PNGs, both ways: one image per input, pixel value ``i + 1`` for prediction ``i``.

8-bit, or 16-bit past 255 instances; 0 is background. Where masks overlap the
later prediction wins, and the pixels overwritten are counted. A dense image
is made per file, so its size is bounded by
:data:`segmask.limits.MAX_DENSE_BYTES` (checked before it is allocated, from
the PNG's header when reading).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from numpy.typing import NDArray

from . import _validate
from ._columns import from_masks
from ._io import atomic_write, remove_stale
from .datasets import Item, WriteReport, check_items, output_paths, relative_names, source_files, usable_folder
from .errors import InputError, ResponseFormatError
from .masks import Masks, dense_limit
from .predictions import Predictions
from .rules import Rule

__all__ = ["from_png", "png_labels", "png_name", "to_png"]

#: The most bytes read from one PNG file.
MAX_PNG_BYTES = 1 << 30


def png_name(rel: str) -> str:
    """``a/photo.jpg`` -> ``a/photo.png``."""
    return str(PurePosixPath(rel).with_suffix(".png"))


def png_labels(preds: Predictions, *, rule: Rule | None = None) -> tuple[bytes, int]:
    """One image's instance-id PNG, and the pixels overwritten where masks overlap."""
    if preds.image_size is None:
        raise InputError("has no image size: set it before exporting")
    labels, lost = preds.masks(rule=rule).to_labels()
    ok, png = cv2.imencode(".png", labels)
    if not ok:  # pragma: no cover - OpenCV writes any uint8/uint16 image of these sizes
        raise InputError(f"OpenCV could not write a PNG of {labels.shape}")
    return png.tobytes(), lost


def to_png(items: Iterable[Item], out_dir: str | os.PathLike[str], *, rule: Rule | None = None) -> WriteReport:
    """Write one instance-id PNG per image (its folders kept): prediction ``i`` has value ``i + 1``.

    Returns
    -------
    WriteReport
        ``instances`` masks written, ``overwritten_pixels`` where masks overlap.

    See Also
    --------
    from_png : the other way.
    """
    pairs = check_items(items)
    folder = usable_folder(out_dir, "out_dir")
    targets = output_paths([f for f, _ in pairs], folder, png_name)
    remove_stale(folder)
    overwritten = instances = without = 0
    for k, ((file_name, preds), target) in enumerate(zip(pairs, targets, strict=True)):
        try:
            png, lost = png_labels(preds, rule=rule)
        except InputError as exc:
            raise InputError(f"items[{k}] ({file_name!r}) {exc}") from None
        atomic_write(target, png)
        overwritten += lost
        has = preds.has_mask
        instances += int(has.sum())
        without += int((~has).sum())
    return WriteReport(paths=[str(t) for t in targets], images=len(pairs), instances=instances,
                       without_mask=without, overwritten_pixels=overwritten)  # fmt: skip


def from_png(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Item]:
    """Read instance-id PNGs into ``(file_name, Predictions)`` pairs with RLE masks.

    Parameters
    ----------
    source : a PNG file, a folder of them (read recursively) or a list of files

    Returns
    -------
    list of (file_name, Predictions)
        The name relative to the common folder, less ``.png``. One prediction
        per id present, in increasing id order: class ``"instance"``,
        confidence 1, the id as ``detection_id`` and ``instance_id``, its box
        the box of its pixels, its mask exact.

    See Also
    --------
    to_png : the other way.
    Masks.from_labels : the same for an image in memory.
    """
    files, _ = source_files(source, ".png", "PNG")
    rels = relative_names([str(f) for f in files])
    return [(str(PurePosixPath(rel).with_suffix("")), _read_png(path)) for path, rel in zip(files, rels, strict=True)]


def _read_png(path: Path) -> Predictions:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_PNG_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if len(data) > MAX_PNG_BYTES:
        raise InputError(f"{path}: larger than {MAX_PNG_BYTES} bytes")
    h, w, depth = _png_header(data, path)
    _validate.image_size((h, w), f"{path} (height, width)")
    dense_limit(h * w * (2 if depth > 8 else 1), f"{path}: a {w}x{h} label image")
    labels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2:
        raise ResponseFormatError(f"{path} is not a one-channel PNG of instance ids")
    masks, ids = Masks.from_labels(np.asarray(labels))
    return _predictions(masks, ids)


def _png_header(data: bytes, path: Path) -> tuple[int, int, int]:
    """Width, height and bit depth from the IHDR chunk, before anything is decoded."""
    if len(data) < 33 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ResponseFormatError(f"{path} is not a PNG file")
    w, h, depth = struct.unpack(">IIB", data[16:25])
    if not w or not h:
        raise ResponseFormatError(f"{path} has an empty image ({w}x{h})")
    return h, w, depth


def _predictions(masks: Masks, ids: NDArray[np.int64]) -> Predictions:
    """One prediction per instance id: class ``"instance"``, confidence 1, the id as its detection id."""
    n = len(masks)
    numbers = ids.tolist()
    return Predictions(
        from_masks(
            masks, confidence=np.ones(n), class_name=["instance"] * n, detection_id=[str(i) for i in numbers],
            extras=[{"instance_id": i} for i in numbers],
        )
    )  # fmt: skip
