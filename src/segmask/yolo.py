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

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from . import _ragged, _validate
from ._columns import Columns, class_names
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
        Default: ``classes.txt`` beside the labels when there is one (one
        name a line, as written: a byte-order mark at its start is dropped,
        a blank line between names is refused, as it would shift the ids
        after it), else the ids as text.

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
        non-negative integer within int64 or not in the categories), or a
        class name with a NUL character, naming file and line.

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
    names: list[str] = class_names(list(categories), lambda i: f"categories[{i}]").tolist()
    return names


def _classes(categories: Sequence[str] | None, root: Path | None) -> list[str] | None:
    given = _names(categories)
    if given is not None:
        return given
    path = root / "classes.txt" if root is not None else None
    if path is None or not path.is_file():
        return None
    lines = [line.strip() for line in _read_text(path, "a class list").removeprefix("\ufeff").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if "" in lines:
        raise ResponseFormatError(
            f"{path} line {lines.index('') + 1} is blank: every id needs a name (the ids after it would shift)"
        )
    try:
        names: list[str] = class_names(lines, lambda i: f"{path} line {i + 1}").tolist()
    except InputError as exc:
        raise ResponseFormatError(str(exc)) from None
    return names


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
    """One label file as columns: a polygon, a class and a confidence per line, every value checked."""
    h, w = size
    text = _read_text(path, "a label file")
    boxes, conf, ids, rings = [], [], [], []
    tolerance = 1e-3  # rounding of the six decimals tools write, and a little more
    for line_no, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        where = f"{path} line {line_no}"
        try:
            values = np.array(tokens, dtype=np.float64)
        except ValueError:
            raise ResponseFormatError(f"{where}: expected numbers, got {line[:40]!r}") from None
        if not np.isfinite(values).all():
            raise ResponseFormatError(f"{where}: values must be finite")
        cls, rest = float(values[0]), values[1:]
        if cls != int(cls) or cls < 0:
            raise ResponseFormatError(f"{where}: the class {cls:g} is not a non-negative integer")
        k = _class_id(tokens[0], cls)
        if k > 2**63 - 1:
            raise ResponseFormatError(f"{where}: the class {k} is beyond the 64-bit integers class ids are")
        p = 1.0
        if len(rest) % 2:
            p, rest = float(rest[-1]), rest[:-1]
            if not 0 <= p <= 1:
                raise ResponseFormatError(
                    f"{where}: an odd count means a confidence last, but {p:g} is not in [0, 1] "
                    f"({len(rest) + 1} values after the class)"
                )
        if len(rest) < 6:
            raise ResponseFormatError(f"{where}: a polygon needs 3 or more x, y pairs, got {len(rest) // 2}")
        low, high = rest.min(), rest.max()
        if low < -tolerance or high > 1 + tolerance:
            raise ResponseFormatError(f"{where}: coordinates must be normalised to [0, 1], got {low:g}..{high:g}")
        if names is not None and k >= len(names):
            raise ResponseFormatError(f"{where}: class {k} is not in the {len(names)} categories")
        xy = rest.reshape(-1, 2) * (w, h)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        boxes.append(((lo + hi) / 2, hi - lo))
        conf.append(p)
        ids.append(k)
        rings.append(xy)
    n = len(ids)
    cxcywh = np.array([np.concatenate(b) for b in boxes], np.float64).reshape(n, 4)
    coords = np.concatenate(rings) if rings else np.zeros((0, 2), np.float64)
    columns = Columns(
        size, cxcywh, np.array(conf, np.float64),
        [names[k] if names is not None else str(k) for k in ids],  # type: ignore[arg-type]  # Columns checks each
        np.array(ids, np.int64), np.full(n, None, dtype=object), coords, _ragged.offsets([len(r) for r in rings]),
        np.ones(n, bool), (None,) * n, (None,) * n, {}, rule="coco",
    )  # fmt: skip
    return Predictions(columns)


def _class_id(token: str, value: float) -> int:
    """The class id as written: exact for an integer (``9007199254740993`` is not a float's), else the float's."""
    try:
        return int(token)
    except ValueError:  # "1e3", "2.0": a float that is a whole number
        return int(value)
