"""COCO run-length encoding: RLE dicts and compressed counts strings in, runs out, checked.

The compressed ``counts`` string of pycocotools (``rleToString`` and
``rleFrString`` in its ``maskApi.c``): each run, less the run two places before
it when its index is above 2, is written in 5-bit groups, low first, as
characters ``chr(48 + group)`` with bit 0x20 set while more groups follow and
bit 0x10 of the last group giving the sign.

Runs are column-major over the whole image and start with a background run
(maybe 0). A batch of N masks keeps all runs in one ``uint32`` array with
``(N + 1,)`` int64 offsets. The loops are in :mod:`segmask._kernel.strings`; this
module checks what comes from outside and says what is wrong and where.

Examples
--------
>>> counts, offsets, area = decode_strings(["324", "9"], (3, 3))
>>> counts.tolist(), offsets.tolist(), area.tolist()
([3, 2, 4, 9], [0, 3, 4], [2, 0])
>>> _kernel.strings.encode_counts(counts, offsets)  # the way back (Masks.to_rle)
['324', '9']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _kernel, _ragged, _validate
from .errors import InputError, RLEError

__all__ = ["decode_strings", "parse_rles"]


def decode_strings(
    strings: Sequence[str | bytes],
    size: tuple[int, int],
    labels: Sequence[str] | None = None,
    name: str = "rles",
) -> tuple[NDArray[np.uint32], NDArray[np.int64], NDArray[np.int64]]:
    """Compressed counts strings -> ``(counts, offsets, area)``, every character checked.

    Parameters
    ----------
    strings : sequence of str or bytes
    size : (height, width)
        The runs of each string must sum to ``height * width``.
    labels : sequence of str, optional
        A name per string for messages (default ``{name}[i]``).
    name : str
        What the strings are called in messages.

    Raises
    ------
    RLEError
        A character outside ``'0'..'o'``, a string cut inside a value, a run
        that is not a valid uint32, or runs that do not sum to ``h * w``.
    """
    h, w = size
    counts, offsets, area, error = _kernel.strings.decode_counts(
        strings if isinstance(strings, list) else list(strings), h * w
    )
    if error is not None:
        code, i, position, value = error
        where = labels[i] if labels is not None else f"{name}[{i}]"
        raise RLEError(f"{where}: {_decode_problem(code, position, value, h, w)}")
    return counts, offsets, area


def _decode_problem(code: int, position: int, value: int, h: int, w: int) -> str:
    if code == _kernel.strings.BAD_CHAR:
        return (
            f"counts string has {chr(value)!r} at position {position}; "
            "a COCO counts string uses only the characters '0' to 'o'"
        )
    if code == _kernel.strings.TRUNCATED:
        return "counts string is cut off inside a value (truncated?)"
    if code == _kernel.strings.TOO_LONG:
        return f"counts string holds a value too large for a run length at position {position}"
    if code == _kernel.strings.BAD_RUN:
        return f"counts string decodes to run {position} = {value}, not a valid run length"
    if code == _kernel.strings.BAD_SUM:
        return (
            f"counts sum to {value} but size {h}x{w} needs {h * w}; "
            "the RLE is truncated or belongs to another image size"
        )
    if code == _kernel.strings.NOT_ASCII:
        return "counts string is not ASCII"
    return "counts must be a str, bytes or a list of ints"


def parse_rles(
    rles: Sequence[Any], name: str = "rles"
) -> tuple[tuple[int, int] | None, NDArray[np.uint32], NDArray[np.int64], NDArray[np.int64], list[str] | None]:
    """Check COCO RLE dicts and return ``(size, counts, offsets, area, strings)``.

    Compressed counts may be ``str`` or ``bytes`` (pycocotools' own output),
    uncompressed counts a list of ints; all RLEs must share one size.
    ``size`` is None only for an empty list; ``strings`` holds the compressed
    counts as ``str`` when every RLE came compressed.

    Raises
    ------
    RLEError
        Not a dict, a bad ``size``, bad ``counts``, counts that do not sum to
        ``h * w``, or RLEs of different sizes; the message names the RLE.
    """
    if isinstance(rles, dict) or not isinstance(rles, Sequence) or isinstance(rles, str | bytes):
        raise RLEError(f"{name} must be a list of RLE dicts; for one RLE pass [rle]")
    common = _kernel.strings.rle_texts(rles) if isinstance(rles, list) else None
    if common is not None:  # the usual case: one size, compressed counts; checked in one call
        return _parse_common(common, name)
    size: tuple[int, int] | None = None
    texts: list[str | bytes] = []
    text_idx: list[int] = []
    lists: dict[int, NDArray[np.int64]] = {}
    for i, rle in enumerate(rles):
        where = f"{name}[{i}]"
        if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
            raise RLEError(f"{where} must be a dict with 'size' and 'counts', got {_short(rle)}")
        this = _rle_size(rle["size"], where)
        if size is None:
            size = this
        elif this != size:
            raise RLEError(
                f"{where} has size {list(this)} but {name}[0] has {list(size)}; "
                "all masks in one set must share the image size"
            )
        c = rle["counts"]
        if isinstance(c, str | bytes):
            texts.append(c)
            text_idx.append(i)
        elif isinstance(c, list | tuple | np.ndarray):
            lists[i] = _uncompressed(c, where)
        else:
            raise RLEError(f"{where}: counts must be a str, bytes or a list of ints, got {_short(c)}")
    n = len(rles)
    if size is None:
        return None, np.zeros(0, np.uint32), np.zeros(1, np.int64), np.zeros(0, np.int64), []
    h, w = size
    if not lists:
        return _parse_common((h, w, texts, all(isinstance(t, str) for t in texts)), name)
    parts: list[NDArray[np.int64]] = [np.zeros(0, np.int64)] * n
    if texts:
        counts, offsets, _ = decode_strings(texts, size, [f"{name}[{i}]" for i in text_idx])
        for j, i in enumerate(text_idx):
            parts[i] = counts[offsets[j] : offsets[j + 1]].astype(np.int64)
    for i, c in lists.items():
        total = int(c.sum())
        if total != h * w:
            raise RLEError(
                f"{name}[{i}]: counts sum to {total} but size {h}x{w} needs {h * w}; "
                "the RLE is truncated or belongs to another image size"
            )
        parts[i] = c
    offsets = _ragged.offsets(len(p) for p in parts)
    counts = np.concatenate(parts).astype(np.uint32)
    return size, counts, offsets, _kernel.runs.pixel_counts(counts, offsets), None


def _parse_common(
    common: tuple[int, int, list[Any], bool], name: str
) -> tuple[tuple[int, int], NDArray[np.uint32], NDArray[np.int64], NDArray[np.int64], list[str]]:
    h, w, texts, all_str = common
    size = _rle_size([h, w], f"{name}[0]")
    counts, offsets, area = decode_strings(texts, size, name=name)
    strings = texts if all_str else [t if isinstance(t, str) else t.decode("ascii") for t in texts]
    return size, counts, offsets, area, strings


def _rle_size(size: object, where: str) -> tuple[int, int]:
    try:
        return _validate.image_size(size, f"{where}.size")
    except InputError as exc:
        raise RLEError(str(exc)) from None


def _uncompressed(counts: object, where: str) -> NDArray[np.int64]:
    arr = np.asarray(counts)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise RLEError(f"{where}: uncompressed counts must be a flat list of ints")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr > 2**32 - 1))
    if bad.size:
        raise RLEError(f"{where}: counts[{int(bad[0])}] = {int(arr[bad[0]])} is not a valid run length")
    return arr


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
