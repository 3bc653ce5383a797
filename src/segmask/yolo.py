"""YOLO segmentation labels, both ways: one text file per image, one polygon per line.

Each line is ``class x1 y1 x2 y2 ...``, coordinates divided by the image's
width and height, in COCO's continuous coordinates (pixel ``j`` spans
``[j, j + 1)``); ``classes.txt`` beside the labels names the classes by id.
Masks are written as the polygon that pycocotools' rule (which is also how
YOLO tools fill these polygons) turns back into exactly their pixels; a mask
with holes or several parts, which one ring cannot hold, is written as the
outline of its largest part and counted as ``approximate``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from . import _validate, response
from ._io import atomic_write, remove_stale
from .datasets import Item, WriteReport, check_items, output_paths, relative_names, source_files, usable_folder
from .errors import InputError, ResponseFormatError
from .predictions import Predictions
from .rules import Rule
from .tracing import coco_polygons, largest_outline

__all__ = ["from_yolo", "label_name", "to_yolo", "yolo_labels"]

#: The most bytes read from one label file.
MAX_LABEL_BYTES = 64 * 2**20


def label_name(rel: str) -> str:
    """``a/photo.jpg`` -> ``a/photo.txt``: YOLO tools find a label by its image's stem."""
    return str(PurePosixPath(rel).with_suffix(".txt"))


def yolo_labels(
    preds: Predictions, ids: Mapping[str, int], *, rule: Rule | None = None
) -> tuple[str, tuple[int, int, int]]:
    """One image's label text, and its counts of (exact, approximate, without mask)."""
    if preds.image_size is None:
        raise InputError("has no image size: set it before exporting")
    h, w = preds.image_size
    keep = np.flatnonzero(preds.has_mask)
    exact = approximate = 0
    lines = []
    if keep.size:
        chosen = preds[keep]
        masks = chosen.masks(rule=rule)
        polys = coco_polygons(masks)
        for j, name in enumerate(chosen.class_name.tolist()):
            if name not in ids:
                raise InputError(f"has class {name!r}, which is not in categories")
            poly = polys[j]
            flat = poly[0] if poly is not None else largest_outline(masks[j])
            if flat is None:
                continue
            exact += poly is not None
            approximate += poly is None
            xy = np.asarray(flat, dtype=np.float64).reshape(-1, 2) / (w, h)
            lines.append(f"{ids[name]} " + " ".join(f"{v:.6f}" for v in xy.ravel()))
    text = "\n".join(lines) + ("\n" if lines else "")
    return text, (exact, approximate, len(preds) - len(keep))


def to_yolo(
    items: Iterable[Item],
    out_dir: str | os.PathLike[str],
    *,
    categories: Sequence[str] | None = None,
    rule: Rule | None = None,
) -> WriteReport:
    """Write YOLO segmentation labels: one ``.txt`` per image (its folders kept) and ``classes.txt``.

    Parameters
    ----------
    items : iterable of (file_name, Predictions)
    out_dir : path
        A folder (made if missing).
    categories : class names, optional
        The class of each id 0, 1, ...; default the names found, sorted.
    rule : {"contour", "coco"}, optional
        How polygons in the predictions are filled; default each one's own.

    Returns
    -------
    WriteReport
        ``polygons`` exact, ``approximate`` (holes or several parts),
        ``without_mask``, and ``categories``.

    See Also
    --------
    from_yolo : the other way.
    """
    pairs = check_items(items)
    given = _names(categories)
    names = given if given is not None else sorted({n for _, p in pairs for n in p.class_name.tolist()})
    folder = usable_folder(out_dir, "out_dir")
    targets = output_paths([f for f, _ in pairs], folder, label_name)
    if any(t == folder / "classes.txt" for t in targets):
        raise InputError("an image named classes.* would overwrite classes.txt; rename it")
    remove_stale(folder)
    ids = {n: k for k, n in enumerate(names)}
    totals = np.zeros(3, dtype=np.int64)
    for k, ((file_name, preds), target) in enumerate(zip(pairs, targets, strict=True)):
        try:
            text, counts = yolo_labels(preds, ids, rule=rule)
        except InputError as exc:
            raise InputError(f"items[{k}] ({file_name!r}) {exc}") from None
        atomic_write(target, text.encode())
        totals += counts
    atomic_write(folder / "classes.txt", ("\n".join(names) + "\n").encode())
    exact, approximate, without = (int(v) for v in totals)
    return WriteReport(paths=[str(t) for t in targets] + [str(folder / "classes.txt")], images=len(pairs),
                       instances=exact + approximate, without_mask=without, polygons=exact, approximate=approximate,
                       categories=names)  # fmt: skip


def from_yolo(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    image_size: tuple[int, int] | Mapping[str, tuple[int, int]],
    *,
    categories: Sequence[str] | None = None,
) -> list[Item]:
    """Read YOLO segmentation labels into ``(file_name, Predictions)`` pairs (filled by pycocotools' rule).

    Parameters
    ----------
    source : a label file, a folder of them (read recursively), or a list of files
    image_size : (height, width), or a mapping from file name to it
        YOLO labels are normalised: the pixels need each image's size. A
        mapping is keyed by the label's name relative to the folder, with or
        without ``.txt`` (``"a/photo"`` or ``"a/photo.txt"``).
    categories : class names by id, optional
        Default: ``classes.txt`` beside the labels when there is one, else the ids as text.

    Returns
    -------
    list of (file_name, Predictions)
        The label's name relative to the common folder, less ``.txt``
        (``a/photo``), in sorted order. Confidences are 1, or the value a
        prediction line carries last (YOLO tools write ``class x y ... conf``:
        an odd count after the class).

    Raises
    ------
    ResponseFormatError
        A malformed line (an odd count of coordinates without a confidence,
        values outside [0, 1] beyond rounding, a class that is not a
        non-negative integer), naming file and line.

    See Also
    --------
    to_yolo : the other way.
    """
    files, root = source_files(source, ".txt", "label", skip="classes.txt")
    names = _classes(categories, root)
    rels = relative_names([str(f) for f in files])
    out: list[Item] = []
    for path, rel in zip(files, rels, strict=True):
        stem = str(PurePosixPath(rel).with_suffix(""))
        size = _size_for(image_size, stem, rel)
        out.append((stem, _read_labels(path, size, names)))
    return out


def _names(categories: Sequence[str] | None) -> list[str] | None:
    """Given class names, checked; None when not given."""
    if categories is None:
        return None
    if isinstance(categories, str) or not all(isinstance(c, str) for c in categories):
        raise InputError(f"categories must be a list of class names, got {categories!r}")
    return list(categories)


def _classes(categories: Sequence[str] | None, root: Path | None) -> list[str] | None:
    given = _names(categories)
    if given is not None:
        return given
    if root is not None and (root / "classes.txt").is_file():
        text = _read_text(root / "classes.txt", "a class list")
        return [line.strip() for line in text.splitlines() if line.strip()]
    return None


def _read_text(path: Path, what: str) -> str:
    """A label or class file's text: at most :data:`MAX_LABEL_BYTES`, UTF-8, else a ResponseFormatError."""
    with path.open("rb") as f:
        data = f.read(MAX_LABEL_BYTES + 1)
    if len(data) > MAX_LABEL_BYTES:
        raise ResponseFormatError(f"{path}: larger than {MAX_LABEL_BYTES} bytes; not {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ResponseFormatError(f"{path}: not UTF-8 text") from None


def _size_for(image_size: object, stem: str, rel: str) -> tuple[int, int]:
    if isinstance(image_size, Mapping):
        for key in (stem, rel, PurePosixPath(stem).name):
            if key in image_size:
                return _validate.image_size(image_size[key], f"image_size[{key!r}]")
        raise InputError(f"image_size has no size for {stem!r}")
    return _validate.image_size(image_size)


def _read_labels(path: Path, size: tuple[int, int], names: list[str] | None) -> Predictions:
    h, w = size
    text = _read_text(path, "a label file")
    predictions = []
    tolerance = 1e-3  # rounding of the six decimals tools write, and a little more
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {line_no}"
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise ResponseFormatError(f"{where}: expected numbers, got {line[:40]!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise ResponseFormatError(f"{where}: values must be finite")
        cls, rest = values[0], values[1:]
        if cls != int(cls) or cls < 0:
            raise ResponseFormatError(f"{where}: the class {cls:g} is not a non-negative integer")
        conf = 1.0
        if len(rest) % 2:
            conf, rest = rest[-1], rest[:-1]
            if not 0 <= conf <= 1:
                raise ResponseFormatError(
                    f"{where}: an odd count means a confidence last, but {conf:g} is not in [0, 1] "
                    f"({len(rest) + 1} values after the class)"
                )
        if len(rest) < 6:
            raise ResponseFormatError(f"{where}: a polygon needs 3 or more x, y pairs, got {len(rest) // 2}")
        xy = np.array(rest).reshape(-1, 2)
        if (xy < -tolerance).any() or (xy > 1 + tolerance).any():
            raise ResponseFormatError(
                f"{where}: coordinates must be normalised to [0, 1], got {xy.min():g}..{xy.max():g}"
            )
        xy = xy * (w, h)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        k = int(cls)
        if names is not None and k >= len(names):
            raise ResponseFormatError(f"{where}: class {k} is not in the {len(names)} categories")
        name = names[k] if names is not None else str(k)
        predictions.append({"x": float(lo[0] + hi[0]) / 2, "y": float(lo[1] + hi[1]) / 2,
                            "width": float(hi[0] - lo[0]), "height": float(hi[1] - lo[1]),
                            "confidence": conf, "class": name, "class_id": k,
                            "points": [{"x": float(x), "y": float(y)} for x, y in xy]})  # fmt: skip
    try:
        preds = response.parse({"predictions": predictions, "image": {"width": w, "height": h}})
    except ResponseFormatError as exc:
        raise ResponseFormatError(f"{path}: {exc}") from None
    return dataclasses.replace(preds, rule="coco")
