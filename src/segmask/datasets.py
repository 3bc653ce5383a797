"""What the dataset readers and writers share: the currency, the report, and where outputs go.

The currency is a list of ``(file_name, Predictions)`` pairs, one per image:
:func:`segmask.from_coco`, :func:`segmask.from_yolo` and
:func:`segmask.from_png` return it, :func:`segmask.to_coco`,
:func:`segmask.to_coco_results`, :func:`segmask.to_yolo` and
:func:`segmask.to_png` take it and return a :class:`WriteReport`.

Where outputs go: an output keeps its input's folders, relative to the
common folder of all the inputs (``a/x.png`` and ``b/x.png`` write
``out/a/x.png`` and ``out/b/x.png``). Two inputs that would still write the
same file are refused before anything is written, naming both; a name that
would leave the output folder (``../x.png``) is refused too. No output ever
silently replaces another.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from .errors import InputError
from .predictions import Predictions

__all__ = ["Item", "WriteReport", "check_items", "output_paths", "relative_names", "source_files", "usable_folder"]

#: One image of a dataset: its file name and its predictions (or ground truth).
Item = tuple[str, Predictions]


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What a dataset writer wrote.

    Attributes
    ----------
    paths : list of str
        Every file written, in order.
    images : int
        Images (items) written.
    instances : int
        Masks written (annotations, label lines, PNG instances).
    without_mask : int
        Predictions with no mask (a box only, or too few points): not written.
    polygons, rles : int
        COCO: masks written as polygons that pycocotools fills exactly, and as
        RLE (holes, several parts). YOLO: ``polygons`` exact, see ``approximate``.
    approximate : int
        YOLO: masks with holes or several parts, written as their largest part's outline.
    overwritten_pixels : int
        PNG: pixels where a later instance covered an earlier one.
    categories : list of str
        The class names, by id (COCO ids 1, 2, ...; YOLO ids 0, 1, ...).

    See Also
    --------
    segmask.to_coco, segmask.to_coco_results, segmask.to_yolo, segmask.to_png : the writers.
    """

    paths: list[str] = field(default_factory=list)
    images: int = 0
    instances: int = 0
    without_mask: int = 0
    polygons: int = 0
    rles: int = 0
    approximate: int = 0
    overwritten_pixels: int = 0
    categories: list[str] = field(default_factory=list)


def check_items(items: Iterable[Item], name: str = "items") -> list[Item]:
    """The items as a list, each a ``(file_name, Predictions)`` pair, else an InputError naming it."""
    if isinstance(items, str | bytes | dict) or not isinstance(items, Iterable):
        raise InputError(f"{name} must be a list of (file_name, Predictions) pairs, got {type(items).__name__}")
    out = list(items)
    for k, item in enumerate(out):
        ok = isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Predictions)
        if not ok or not isinstance(item[0], str | os.PathLike):
            raise InputError(f"{name}[{k}] must be a (file_name, Predictions) pair, got {_short(item)}")
    return [(os.fspath(f), p) for f, p in out]


def relative_names(names: Sequence[str]) -> list[str]:
    """Each name relative to the common folder of all of them, as a POSIX path.

    URLs count as ``host/path``. A name with ``..`` that climbs out of its
    folder, or a mix of absolute and relative paths, is an InputError.
    """
    paths = []
    for name in names:
        if "://" in name:
            parts = urlsplit(name)
            name = f"{parts.netloc}/{parts.path.lstrip('/')}" if parts.netloc else parts.path
        normal = os.path.normpath(name.replace("\\", "/")).replace("\\", "/")
        if normal == ".." or normal.startswith("../") or normal in (".", ""):
            raise InputError(f"the file name {name!r} does not name a file inside its folder")
        paths.append(PurePosixPath(normal))
    if not paths:
        return []
    absolute = {p.is_absolute() for p in paths}
    if len(absolute) > 1:
        raise InputError("the file names mix absolute and relative paths; give them all one way")
    parents = [str(p.parent) for p in paths]
    try:
        common = os.path.commonpath(parents) if len(paths) > 1 else parents[0]
    except ValueError:  # different drives
        common = ""
    return [str(p.relative_to(common)) if common not in ("", ".") else str(p).lstrip("/") for p in paths]


def output_paths(names: Sequence[str], out_dir: str | os.PathLike[str], rename: Callable[[str], str]) -> list[Path]:
    """Where each input's output goes: ``out_dir / rename(relative name)``, refusing collisions first.

    ``rename`` maps a relative name (``a/x.jpg``) to the output's (``a/x.png``).
    Raises an InputError naming the first two inputs that would write one file.
    """
    root = Path(out_dir)
    seen: dict[str, str] = {}
    out = []
    for name, rel in zip(names, relative_names(names), strict=True):
        target = rename(rel)
        key = target.casefold()  # "X.png" and "x.png" are one file on macOS and Windows
        if key in seen:
            raise InputError(
                f"{seen[key]!r} and {name!r} would both be written to {str(root / target)!r}; "
                "rename one of them (nothing was written)"
            )
        seen[key] = name
        out.append(root / target)
    return out


def source_files(source: object, suffix: str, what: str, *, skip: str = "") -> tuple[list[Path], Path | None]:
    """The files a reader was given: a file, a folder (its ``*{suffix}`` files, recursively, sorted,
    less any named ``skip``) or a list of files, each of which must exist.

    Returns the files and their folder: the one given, the file's, or the
    list's when all share one (else None).
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            return sorted(p for p in path.rglob(f"*{suffix}") if p.is_file() and p.name != skip), path
        if not path.is_file():
            raise InputError(f"{path}: no such {what} file or folder")
        return [path], path.parent
    if isinstance(source, Sequence) and not isinstance(source, bytes):
        files = [Path(p) for p in source]
        for p in files:
            if not p.is_file():
                raise InputError(f"{p}: no such {what} file")
        parents = {p.parent for p in files}
        return files, parents.pop() if len(parents) == 1 else None
    raise InputError(f"source must be a {what} file, a folder or a list of files, got {type(source).__name__}")


def usable_folder(path: str | os.PathLike[str], what: str = "out") -> Path:
    """A folder to write into: made if missing; an existing file (or no permission) is an InputError."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{what} {str(folder)!r} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{what} {str(folder)!r} cannot be made: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{what} {str(folder)!r} is not writable")
    return folder


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
