"""Whole folders of response files: one pure function per file, run on worker processes.

What :mod:`segmask.cli` (``segmask convert``) and :mod:`segmask.dask` share.
Each function reads one response file and returns (or writes) its part; the
caller streams the parts into one output in order (the COCO ones through
:class:`segmask.coco.CocoWriter`). A file that cannot be used gives a
:class:`Failure` naming it, so one bad file never costs the others.

An image's ``file_name`` is the response file's name less ``.json``, with
its folders relative to the folder given (``segmask fetch`` writes
``a/photo.jpg.json`` for ``a/photo.jpg``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._io import atomic_write
from .coco import CocoRecord, coco_record, coco_results
from .errors import InputError, SegmaskError
from .png import png_labels
from .predictions import Predictions
from .rules import Rule
from .yolo import yolo_labels

__all__ = [
    "Failure",
    "ResponseFile",
    "class_names",
    "coco_file",
    "parallel_map",
    "png_file",
    "read_response",
    "response_files",
    "results_file",
    "yolo_file",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ResponseFile:
    """A response file and the name of its image (``a/photo.jpg`` for ``dir/a/photo.jpg.json``)."""

    path: Path
    image: str


@dataclass(frozen=True, slots=True)
class Failure:
    """A file that could not be used, and why (one line)."""

    path: str
    message: str


def response_files(paths: Iterable[str | os.PathLike[str]]) -> list[ResponseFile]:
    """Files as given, and the ``*.json`` files under folders (recursively, sorted), in order."""
    out: list[ResponseFile] = []
    for p in map(Path, paths):
        if p.is_dir():
            for q in sorted(q for q in p.rglob("*.json") if q.is_file()):
                out.append(ResponseFile(q, _image_name(q.relative_to(p).as_posix())))
        elif p.is_file():
            out.append(ResponseFile(p, _image_name(p.name)))
        else:
            raise InputError(f"{p}: no such file or folder")
    return out


def _image_name(name: str) -> str:
    """``photo.jpg.json`` -> ``photo.jpg``; ``photo.json`` -> ``photo``."""
    return name[: -len(".json")] if name.endswith(".json") else name


def read_response(path: str | os.PathLike[str]) -> Predictions:
    """One response file, with errors that start with its path."""
    return Predictions.from_response(Path(path))


def _guarded(call: Callable[[], T], path: Path) -> T | Failure:
    try:
        return call()
    except SegmaskError as exc:
        text = str(exc)
        return Failure(str(path), text if text.startswith(f"{path}:") else f"{path}: {text}")
    except OSError as exc:
        return Failure(str(path), f"{path}: {exc.strerror or exc}")


def coco_file(item: ResponseFile, rule: Rule | None, segmentation: str) -> CocoRecord | Failure:
    """One response file -> its COCO image and annotations."""
    return _guarded(lambda: coco_record(item.image, read_response(item.path), rule=rule,
                                        segmentation=segmentation), item.path)  # fmt: skip


def results_file(
    item: ResponseFile, image_id: int, categories: dict[str, int], rule: Rule | None
) -> list[dict[str, Any]] | Failure:
    """One response's entries of a COCO results list."""

    return _guarded(lambda: coco_results(read_response(item.path), image_id, categories, rule=rule), item.path)


def yolo_file(
    item: ResponseFile, target: Path, ids: dict[str, int], rule: Rule | None
) -> tuple[int, int, int] | Failure:
    """Write one response's YOLO label file; returns (exact, approximate, without mask)."""

    def run() -> tuple[int, int, int]:
        text, counts = yolo_labels(read_response(item.path), ids, rule=rule)
        atomic_write(target, text.encode())
        return counts

    return _guarded(run, item.path)


def png_file(item: ResponseFile, target: Path, rule: Rule | None) -> int | Failure:
    """Write one response's instance-id PNG; returns the pixels overwritten by overlaps."""

    def run() -> int:
        png, lost = png_labels(read_response(item.path), rule=rule)
        atomic_write(target, png)
        return lost

    return _guarded(run, item.path)


def class_names(files: Sequence[ResponseFile], workers: int = 1) -> list[str]:
    """The class names in response files, sorted: a first pass that parses them (Workflows outputs too), no masks.

    On ``workers`` processes, as the pass that follows.
    """
    names: set[str] = set()
    for found in parallel_map(_file_class_names, [(f,) for f in files], workers):
        names.update(found)
    return sorted(names)


def _file_class_names(item: ResponseFile) -> list[str]:
    try:
        return list(read_response(item.path).class_name.tolist())
    except SegmaskError:
        return []  # the real pass names the file and the problem


def parallel_map(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]], workers: int) -> Iterator[T]:
    """``fn(*job)`` for each job, in order, on ``workers`` processes (in this one for 1).

    Jobs are handed out in chunks and results come back in order as they are
    ready, so the caller can write them while the rest is computed. Workers
    end themselves when this process dies (killed or not), instead of
    waiting forever for work.
    """
    if workers <= 1:
        for job in jobs:
            yield fn(*job)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_watch_parent, initargs=(os.getpid(),)) as pool:
        yield from pool.map(_call, [(fn, job) for job in jobs], chunksize=16)


def _watch_parent(parent: int) -> None:
    """In a worker: exit as soon as the parent process is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="segmask-parent-watch", daemon=True).start()


def _call(task: tuple[Callable[..., T], tuple[Any, ...]]) -> T:
    fn, job = task
    return fn(*job)
