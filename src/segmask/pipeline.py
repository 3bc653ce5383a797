"""Whole folders of responses: one function per file, and writers that stream.

What :mod:`segmask.cli` (``segmask convert``) and :mod:`segmask.dask` share:

* :func:`coco_record` turns one response file into its COCO image and
  annotations (class names, not ids yet): a pure function of the file, so it
  runs in a worker process or on a Dask worker;
* :func:`write_coco` streams records to a COCO file: annotations go to a
  spool file as they come, categories (sorted class names) are fixed at the
  end, and the file appears whole or not at all (temporary file, then rename).
  Memory stays flat in the number of files.

An image's ``file_name`` is the response file's name less ``.json``:
``segmask fetch`` names responses after their images (``photo.jpg.json``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ._io import atomic_open, atomic_write
from .errors import InputError, SegmaskError
from .exports import coco_annotations, coco_results, png_labels, yolo_labels
from .predictions import Predictions
from .raster import Rule

__all__ = [
    "CocoRecord",
    "class_names",
    "coco_record",
    "image_name",
    "parallel_map",
    "png_file",
    "read_response",
    "response_files",
    "results_file",
    "write_coco",
    "write_json_list",
    "yolo_file",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CocoRecord:
    """One image of a COCO file: its entry and its annotations (with ``category`` names)."""

    file_name: str
    height: int
    width: int
    annotations: list[dict[str, Any]] = field(default_factory=list)
    without_mask: int = 0


def response_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, and the ``*.json`` files of folders (sorted), in order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.glob("*.json") if q.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return out


def image_name(path: Path) -> str:
    """``photo.jpg.json`` -> ``photo.jpg``; ``photo.json`` -> ``photo``."""
    return path.name[: -len(".json")] if path.name.endswith(".json") else path.name


def coco_record(path: str | os.PathLike[str], rule: Rule | None = None, segmentation: str = "polygon") -> CocoRecord:
    """One response file -> its COCO image and annotations.

    Raises
    ------
    SegmaskError
        Its message starts with the file's path.
    """
    p = Path(path)
    preds = read_response(p)
    if preds.image_size is None:
        raise InputError(f"{p}: the response has no 'image' size")
    h, w = preds.image_size
    try:
        annotations, without = coco_annotations(preds, rule, segmentation)
    except SegmaskError as exc:
        raise type(exc)(f"{p}: {exc}") from None
    return CocoRecord(image_name(p), h, w, annotations, without)


def write_coco(records: Iterable[CocoRecord], out: str | os.PathLike[str]) -> dict[str, Any]:
    """Stream records into a COCO instances file, written atomically.

    Categories are the class names seen, sorted, with ids 1, 2, ...; images
    get ids in the order of the records. Returns a summary.
    """
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    names: set[str] = set()
    images: list[dict[str, Any]] = []
    without = 0
    fd, spool_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".spool")
    try:
        with os.fdopen(fd, "w") as spool:
            for record in records:
                image_id = len(images) + 1
                images.append({"id": image_id, "file_name": record.file_name, "height": record.height,
                               "width": record.width})  # fmt: skip
                without += record.without_mask
                for ann in record.annotations:
                    names.add(ann["category"])
                    spool.write(json.dumps({**ann, "image_id": image_id}) + "\n")
        categories = [{"id": k + 1, "name": n, "supercategory": ""} for k, n in enumerate(sorted(names))]
        ids = {c["name"]: c["id"] for c in categories}
        count = 0
        with atomic_open(target) as f, open(spool_name) as spool:
            f.write('{"images": ' + json.dumps(images) + ', "categories": ' + json.dumps(categories))
            f.write(', "annotations": [')
            for count, line in enumerate(spool, start=1):
                ann = json.loads(line)
                ann["category_id"] = ids[ann.pop("category")]
                ann["id"] = count
                f.write(("," if count > 1 else "") + json.dumps(ann))
            f.write("]}\n")
    finally:
        Path(spool_name).unlink(missing_ok=True)
    return {"images": len(images), "annotations": count, "categories": len(categories), "without_mask": without}


def parallel_map(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]], workers: int) -> Iterator[T]:
    """``fn(*job)`` for each job, in order, on ``workers`` processes (in this one for 1).

    Jobs are handed out in chunks and results come back in order as they are
    ready, so the caller can write them while the rest is computed.
    """
    if workers <= 1:
        for job in jobs:
            yield fn(*job)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_call, [(fn, job) for job in jobs], chunksize=16)


def _call(task: tuple[Callable[..., T], tuple[Any, ...]]) -> T:
    fn, job = task
    return fn(*job)


def read_response(path: str | os.PathLike[str]) -> Predictions:
    """One response file, with errors that start with its path."""
    p = Path(path)
    try:
        preds = Predictions.from_response(p.read_bytes())
    except SegmaskError as exc:
        raise type(exc)(f"{p}: {exc}") from None
    except OSError as exc:
        raise InputError(f"{p}: {exc.strerror}") from None
    if not isinstance(preds, Predictions):
        raise InputError(f"{p}: holds a list of responses; one response per file, please")
    return preds


def class_names(paths: Sequence[Path]) -> list[str]:
    """The class names in response files, sorted: a cheap first pass (no masks are made)."""
    names: set[str] = set()
    for p in paths:
        try:
            data = json.loads(p.read_bytes())
        except (OSError, ValueError):
            continue  # the real pass names the file and the problem
        for pred in data.get("predictions", []) if isinstance(data, dict) else []:
            if isinstance(pred, dict) and isinstance(pred.get("class"), str):
                names.add(pred["class"])
    return sorted(names)


def yolo_file(path: Path, out_dir: Path, ids: dict[str, int], rule: Rule | None) -> tuple[int, int, int]:
    """Write one response's YOLO label file; returns (exact, approximate, without mask)."""
    try:
        text, counts = yolo_labels(read_response(path), ids, rule)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    atomic_write(out_dir / f"{Path(image_name(path)).stem}.txt", text.encode())
    return counts


def png_file(path: Path, out_dir: Path, rule: Rule | None) -> int:
    """Write one response's instance-id PNG; returns the pixels overwritten by overlaps."""
    try:
        png, lost = png_labels(read_response(path), rule)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    atomic_write(out_dir / f"{Path(image_name(path)).stem}.png", png)
    return lost


def results_file(path: Path, image_id: int, categories: dict[str, int], rule: Rule | None) -> list[dict[str, Any]]:
    """One response's entries of a COCO results list."""
    try:
        return coco_results(read_response(path), image_id, categories, rule)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def write_json_list(items: Iterable[list[dict[str, Any]]], out: str | os.PathLike[str]) -> int:
    """Stream lists of JSON objects into one JSON list, written atomically; returns the count."""
    count = 0
    with atomic_open(out) as f:
        f.write("[")
        for chunk in items:
            for item in chunk:
                f.write(("," if count else "") + json.dumps(item))
                count += 1
        f.write("]\n")
    return count
