"""COCO run-length encoding: the compressed counts string and the runs.

What this module owns, all vectorized over a whole batch of masks:

* the compressed ``counts`` string of pycocotools (``rleToString`` and
  ``rleFrString`` in its ``maskApi.c``): each count, minus the count two places
  before it when its index is above 2, is written as 5-bit groups, low first,
  in characters ``chr(48 + group)`` with bit 0x20 set while more groups follow
  and bit 0x10 of the last group giving the sign;
* checking RLE dicts and turning them into runs (uncompressed ``counts``);
* runs <-> crops, the in-memory form of :class:`segmask.Masks`.

Counts are column-major (Fortran order) over the whole image and start with a
background run, which may be 0. Inside segmask counts are int64 (checked to
fit pycocotools' uint32); on output they are ``str``, so ``json.dumps`` works.

A set of crops is three arrays: ``data``, the flat bool pixels of every crop,
each crop column-major (pixel ``(r, c)`` of crop ``i`` at
``data[offsets[i] + c * h_i + r]``); ``offsets`` ``(N + 1,)`` int64; and
``boxes`` ``(N, 4)`` int64 ``[x, y, w, h]``, the crop's place in the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._ragged import item_ids, local_index, offsets_from_lengths, segment_sum
from .errors import RLEError

__all__ = [
    "SET_OPS",
    "combine_runs",
    "counts_to_crops",
    "counts_to_strings",
    "crops_to_counts",
    "parse_rles",
    "runs_area",
    "runs_boxes",
    "strings_to_counts",
    "toggles_to_counts",
]

_UINT32_MAX = 2**32 - 1
# 7 groups of 5 bits hold any delta of two uint32 counts; 12 is far past any
# valid string and keeps every shift below 64 bits.
_MAX_GROUPS = 12
_BOUNDS = np.array([2 ** (5 * k - 1) for k in range(1, 8)], dtype=np.int64)


def counts_to_strings(counts: NDArray[np.int64], offsets: NDArray[np.int64]) -> list[str]:
    """Compress the runs of each RLE into pycocotools' counts string.

    Parameters
    ----------
    counts : (C,) int64
        Runs of all RLEs, one after the other.
    offsets : (N + 1,) int64
        RLE ``i`` owns ``counts[offsets[i]:offsets[i + 1]]``.

    Returns
    -------
    list of str
        ``N`` strings, byte-identical to pycocotools' ``counts`` (decoded as ASCII).

    Examples
    --------
    >>> counts_to_strings(np.array([3, 2, 4], dtype=np.int64), np.array([0, 3]))
    ['324']
    """
    counts = np.asarray(counts, dtype=np.int64)
    local = local_index(offsets)
    x = counts.copy()
    later = np.flatnonzero(local > 2)
    x[later] -= counts[later - 2]
    # Number of 5-bit groups: one more for every width the value does not fit.
    groups = 1 + ((x[:, None] >= _BOUNDS) | (x[:, None] < -_BOUNDS)).sum(axis=1)
    group_offsets = offsets_from_lengths(groups)
    k = local_index(group_offsets)
    value = np.repeat(x, groups)
    chars = (value >> (5 * k)) & 0x1F
    chars[k < np.repeat(groups, groups) - 1] |= 0x20
    chars += 48
    text = chars.astype(np.uint8).tobytes()
    ends = group_offsets[offsets]
    return [text[a:b].decode("ascii") for a, b in zip(ends[:-1].tolist(), ends[1:].tolist(), strict=True)]


def strings_to_counts(
    strings: Sequence[bytes], where: Sequence[str] | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Decode compressed counts strings into runs, checking every character.

    Parameters
    ----------
    strings : sequence of bytes
        The ``counts`` strings (ASCII bytes) of N RLEs.
    where : sequence of str, optional
        A label per string for error messages (default ``rles[i]``).

    Returns
    -------
    counts : (C,) int64
    offsets : (N + 1,) int64

    Raises
    ------
    RLEError
        A character outside ``'0'..'o'``, a string cut inside a value, or a
        value that is not a valid uint32 run length.

    Examples
    --------
    >>> counts, offsets = strings_to_counts([b"324"])
    >>> counts.tolist(), offsets.tolist()
    ([3, 2, 4], [0, 3])
    """
    n = len(strings)
    labels = where if where is not None else [f"rles[{i}]" for i in range(n)]
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=n)
    char_offsets = offsets_from_lengths(lengths)
    c = np.frombuffer(b"".join(strings), dtype=np.uint8) - np.uint8(48)  # wraps below '0'
    bad = np.flatnonzero(c > 63)
    if bad.size:
        i = int(np.searchsorted(char_offsets, bad[0], side="right") - 1)
        pos = int(bad[0] - char_offsets[i])
        char = chr((int(c[bad[0]]) + 48) % 256)
        raise RLEError(
            f"{labels[i]}: counts string has {char!r} at position {pos}; "
            "a COCO counts string uses only the characters '0' to 'o'"
        )
    last = c[char_offsets[1:][lengths > 0] - 1]
    if np.any(last & 0x20):
        i = int(np.flatnonzero(lengths > 0)[np.flatnonzero(last & 0x20)[0]])
        raise RLEError(f"{labels[i]}: counts string is cut off inside a value (truncated?)")
    terminal = (c & 0x20) == 0
    ends = np.flatnonzero(terminal)  # the last 5-bit group of each value
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    groups = ends - starts + 1
    if groups.size and groups.max() > _MAX_GROUPS:
        j = int(ends[np.argmax(groups)])
        i = int(np.searchsorted(char_offsets, j, side="right") - 1)
        raise RLEError(f"{labels[i]}: counts string holds a value too large for a run length")
    # Most values are one or two groups: add the k-th group only where it exists.
    x = (c[starts] & 0x1F).astype(np.int64)
    for k in range(1, int(groups.max()) if groups.size else 0):
        more = np.flatnonzero(groups > k)
        x[more] |= (c[starts[more] + k] & 0x1F).astype(np.int64) << (5 * k)
    negative = np.flatnonzero(c[ends] & 0x10)
    x[negative] -= np.left_shift(1, 5 * groups[negative])
    # Values per string: the terminal characters inside each string.
    term_cum = np.zeros(len(c) + 1, dtype=np.int64)
    np.cumsum(terminal, out=term_cum[1:])
    offsets = term_cum[char_offsets]
    counts = _undo_delta(x, offsets)
    bad = np.flatnonzero((counts < 0) | (counts > _UINT32_MAX))
    if bad.size:
        i = int(np.searchsorted(offsets, bad[0], side="right") - 1)
        raise RLEError(
            f"{labels[i]}: counts string decodes to run {int(bad[0] - offsets[i])} = "
            f"{int(counts[bad[0]])}, not a valid run length"
        )
    return counts, offsets


def _undo_delta(x: NDArray[np.int64], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """Invert ``x[i] = c[i] - c[i - 2]`` (for local index i > 2) within each RLE.

    Two chains per RLE, the odd indices 1, 3, 5, ... and the even ones 2, 4,
    6, ... (index 0 stands alone): each is a running sum, taken here over the
    whole batch at once and restarted at each RLE by subtracting its base.
    """
    if not x.size:
        return x.copy()
    local = local_index(offsets)
    odd = (local & 1).astype(bool)
    even = ~odd & (local >= 2)
    lengths = np.diff(offsets)
    first = offsets[:-1]
    counts = x.copy()
    for chain in (odd, even):
        run = np.cumsum(np.where(chain, x, 0))
        base = np.where(first > 0, run[np.maximum(first - 1, 0)], 0)
        np.subtract(run, np.repeat(base, lengths), out=counts, where=chain)
    return counts


def parse_rles(
    rles: Sequence[Any], name: str = "rles"
) -> tuple[tuple[int, int] | None, NDArray[np.int64], NDArray[np.int64], list[str] | None]:
    """Check COCO RLE dicts and return their shared size and their runs.

    Accepts compressed counts as ``str`` or ``bytes`` (pycocotools' own output)
    and uncompressed counts as a list of ints.

    Returns
    -------
    size : (height, width) or None
        None only when ``rles`` is empty.
    counts : (C,) int64
    offsets : (N + 1,) int64
    strings : list of str or None
        The compressed counts as ``str`` when every RLE came compressed.

    Raises
    ------
    RLEError
        Not a dict, a bad ``size``, bad ``counts``, counts that do not sum to
        ``h * w``, or RLEs of different sizes.
    """
    if isinstance(rles, dict):
        raise RLEError(f"{name} must be a list of RLE dicts; for one RLE pass [rle]")
    size: tuple[int, int] | None = None
    compressed: list[bytes] = []
    compressed_idx: list[int] = []
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
        if isinstance(c, str):
            try:
                c = c.encode("ascii")
            except UnicodeEncodeError:
                raise RLEError(f"{where}: counts string is not ASCII") from None
        if isinstance(c, bytes):
            compressed.append(c)
            compressed_idx.append(i)
        elif isinstance(c, list | tuple | np.ndarray):
            lists[i] = _uncompressed(c, where)
        else:
            raise RLEError(f"{where}: counts must be a str, bytes or a list of ints, got {_short(c)}")
    n = len(rles)
    if size is None:
        return None, np.zeros(0, np.int64), np.zeros(1, np.int64), []
    parts: list[NDArray[np.int64]] = [np.zeros(0, np.int64)] * n
    if compressed:
        labels = [f"{name}[{i}]" for i in compressed_idx]
        counts, offsets = strings_to_counts(compressed, labels)
        for j, i in enumerate(compressed_idx):
            parts[i] = counts[offsets[j] : offsets[j + 1]]
    for i, c in lists.items():
        parts[i] = c
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=n)
    offsets = offsets_from_lengths(lengths)
    counts = np.concatenate(parts) if n else np.zeros(0, np.int64)
    totals = np.add.reduceat(counts, offsets[:-1]) if counts.size else np.zeros(n, np.int64)
    totals[lengths == 0] = 0
    h, w = size
    bad = np.flatnonzero(totals != h * w)
    if bad.size:
        i = int(bad[0])
        raise RLEError(
            f"{name}[{i}]: counts sum to {int(totals[i])} but size {h}x{w} needs {h * w}; "
            "the RLE is truncated or belongs to another image size"
        )
    strings = [c.decode("ascii") for c in compressed] if len(compressed) == n else None
    return size, counts, offsets, strings


def _rle_size(size: object, where: str) -> tuple[int, int]:
    ok = (
        isinstance(size, list | tuple | np.ndarray)
        and len(size) == 2
        and all(isinstance(v, int | np.integer) and not isinstance(v, bool) and v > 0 for v in size)
    )
    if not ok:
        raise RLEError(f"{where}: size must be [height, width] of positive ints, got {_short(size)}")
    return int(size[0]), int(size[1])  # type: ignore[index]


def _uncompressed(counts: object, where: str) -> NDArray[np.int64]:
    arr = np.asarray(counts)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise RLEError(f"{where}: uncompressed counts must be a flat list of ints")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr > _UINT32_MAX))
    if bad.size:
        raise RLEError(f"{where}: counts[{int(bad[0])}] = {int(arr[bad[0]])} is not a valid run length")
    return arr


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fg_runs(
    counts: NDArray[np.int64], offsets: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Foreground runs of N RLEs: (owner mask, first position, length), in order."""
    local = local_index(offsets)
    ends = np.cumsum(counts)
    stop = ends - np.repeat(_starts_of(ends, offsets), np.diff(offsets))
    fg = np.flatnonzero((local % 2 == 1) & (counts > 0))
    return item_ids(offsets)[fg], stop[fg] - counts[fg], counts[fg]


def runs_area(counts: NDArray[np.int64], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """(N,) int64: foreground pixels of each RLE (its odd runs)."""
    odd = np.where(local_index(offsets) % 2 == 1, counts, 0)
    return segment_sum(odd, offsets)


def runs_boxes(counts: NDArray[np.int64], offsets: NDArray[np.int64], size: tuple[int, int]) -> NDArray[np.int64]:
    """(N, 4) int64 tight ``[x, y, w, h]`` of each RLE's pixels (zeros when empty), like pycocotools' toBbox."""
    return _boxes_of(*_fg_runs(counts, offsets), len(offsets) - 1, size)


def _boxes_of(
    owner: NDArray[np.int64], start: NDArray[np.int64], length: NDArray[np.int64], n: int, size: tuple[int, int]
) -> NDArray[np.int64]:
    h, _ = size
    boxes = np.zeros((n, 4), dtype=np.int64)
    if not owner.size:
        return boxes
    xs, ys = np.divmod(start, h)
    xe, ye = np.divmod(start + length - 1, h)
    firsts = np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]]))
    x0 = np.minimum.reduceat(xs, firsts)
    x1 = np.maximum.reduceat(xe, firsts)
    y0 = np.minimum.reduceat(np.minimum(ys, ye), firsts)
    y1 = np.maximum.reduceat(np.maximum(ys, ye), firsts)
    # A run crossing into the next column covers the last row and the first.
    spans = np.maximum.reduceat((xe > xs).astype(np.int8), firsts) > 0
    y0[spans] = 0
    y1[spans] = h - 1
    boxes[owner[firsts]] = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1)
    return boxes


def counts_to_crops(
    counts: NDArray[np.int64], offsets: NDArray[np.int64], size: tuple[int, int], boxes: NDArray[np.int64] | None = None
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
    """Runs of N RLEs -> crops of their tight boxes: ``(data, crop_offsets, boxes)``.

    Runs must already be checked (non-negative, summing to ``h * w``).
    ``boxes`` (from :func:`runs_boxes`) are computed here when not given. The
    work is one pass over the runs plus one ``np.repeat`` writing the pixels.
    """
    h, _ = size
    owner, start, length = _fg_runs(counts, offsets)
    if boxes is None:
        boxes = _boxes_of(owner, start, length, len(offsets) - 1, size)
    crop_offsets = offsets_from_lengths(boxes[:, 2] * boxes[:, 3])
    if not owner.size:
        return np.zeros(int(crop_offsets[-1]), bool), crop_offsets, boxes
    xs, ys = np.divmod(start, h)
    b = boxes[owner]
    # Inside a crop shorter than the image no run crosses a column, and in a
    # full-height crop the crop is one stretch of the image's runs: either way
    # a run is one contiguous stretch of its crop.
    begin = crop_offsets[owner] + (xs - b[:, 0]) * b[:, 3] + (ys - b[:, 1])
    edges = np.empty(2 * len(owner) + 2, dtype=np.int64)
    edges[0] = 0
    edges[1:-1:2] = begin
    edges[2:-1:2] = begin + length
    edges[-1] = crop_offsets[-1]
    values = np.zeros(len(edges) - 1, dtype=bool)
    values[1::2] = True
    return np.repeat(values, np.diff(edges)), crop_offsets, boxes


def _starts_of(ends: NDArray[np.int64], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """Cumulative count before each RLE (0 for the first)."""
    first = offsets[:-1]
    out = np.zeros(len(first), dtype=np.int64)
    nz = first > 0
    out[nz] = ends[first[nz] - 1]
    return out


def crops_to_counts(
    data: NDArray[np.bool_],
    offsets: NDArray[np.int64],
    boxes: NDArray[np.int64],
    size: tuple[int, int],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Crops -> runs of each mask over the whole image, as pycocotools encodes them."""
    h, _ = size
    bw, bh = boxes[:, 2], boxes[:, 3]
    col_height = np.repeat(bh, bw)
    col_first = np.repeat(offsets[:-1], bw) + local_index(offsets_from_lengths(bw)) * col_height
    # Toggles: a change between two cells of one column, a column that starts
    # inside a run, a column that ends inside one (toggle just past its end).
    changed = np.zeros(len(data) + 1, dtype=bool)
    np.not_equal(data[1:], data[:-1], out=changed[1:-1])
    changed[col_first] = False
    col_last = col_first + col_height - 1
    # Each toggle as (a cell, 0 or 1): at the cell, or just past it.
    cells = np.concatenate([np.flatnonzero(changed), col_first[data[col_first]], col_last[data[col_last]]])
    past = np.zeros(len(cells), dtype=np.int64)
    past[len(cells) - int(np.count_nonzero(data[col_last])) :] = 1
    owner = np.searchsorted(offsets, cells, side="right") - 1
    col, row = np.divmod(cells - offsets[owner], bh[owner])
    pos = (boxes[owner, 0] + col) * h + boxes[owner, 1] + row + past
    order = np.lexsort((pos, owner))
    return toggles_to_counts(pos[order], owner[order], len(boxes), size)


def toggles_to_counts(
    pos: NDArray[np.int64], owner: NDArray[np.int64], n: int, size: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Sorted toggle positions of N masks -> their runs, as pycocotools writes them.

    ``pos`` are column-major positions where the value flips, sorted within
    each mask (``owner`` ascending). Two toggles at one position cancel, and a
    toggle at or past ``h * w`` does nothing, as in pycocotools.
    """
    h, w = size
    hw = h * w
    key = owner * (hw + 1) + np.minimum(pos, hw)
    if key.size:
        first = np.concatenate([[True], key[1:] != key[:-1]])
        starts = np.flatnonzero(first)
        odd = (np.diff(np.append(starts, key.size)) % 2) == 1
        keep = starts[odd]
        keep = keep[pos[keep] < hw]
        pos, owner = pos[keep], owner[keep]
    toggles = np.bincount(owner, minlength=n).astype(np.int64)
    # Per mask: [0, toggles..., h*w], then differences.
    seq_offsets = offsets_from_lengths(toggles + 2)
    seq = np.empty(int(seq_offsets[-1]), dtype=np.int64)
    seq[seq_offsets[:-1]] = 0
    seq[seq_offsets[1:] - 1] = hw
    inner = np.ones(len(seq), dtype=bool)
    inner[seq_offsets[:-1]] = False
    inner[seq_offsets[1:] - 1] = False
    seq[inner] = pos
    diffs = np.diff(seq)
    keep_d = np.ones(len(diffs), dtype=bool)
    keep_d[seq_offsets[1:-1] - 1] = False  # across two masks
    return diffs[keep_d], offsets_from_lengths(toggles + 1)


#: How two coverages combine, per operation.
SET_OPS = ("union", "intersection", "difference")


def combine_runs(
    runs: tuple[NDArray[np.int64], NDArray[np.int64]],
    groups: NDArray[np.int64],
    sides: NDArray[np.int64],
    n_out: int,
    op: str,
    size: tuple[int, int],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Set operations on runs: mask ``j`` of ``runs`` goes to output ``groups[j]`` on side ``sides[j]`` (0 or 1).

    ``op="union"`` keeps a pixel covered by any input of its group; with
    ``"intersection"`` and ``"difference"`` each group has one input on side 0
    and one on side 1, giving ``a & b`` and ``a & ~b``. A sweep over the runs'
    boundaries: no pixel is visited.
    """
    owner, start, length = _fg_runs(*runs)
    g, side = groups[owner], sides[owner]
    # One event per run boundary: +1 where a run starts, -1 where it ends.
    pos = np.concatenate([start, start + length])
    grp = np.concatenate([g, g])
    delta = np.concatenate([np.ones(len(start), np.int64), -np.ones(len(start), np.int64)])
    sd = np.concatenate([side, side])
    order = np.lexsort((pos, grp))
    pos, grp, delta, sd = pos[order], grp[order], delta[order], sd[order]
    # Coverage of each side after each event; each group's sums return to 0.
    cover_a = np.cumsum(np.where(sd == 0, delta, 0))
    cover_b = np.cumsum(np.where(sd == 1, delta, 0))
    # The state after the last event at each (group, position).
    last = np.ones(len(pos), dtype=bool)
    last[:-1] = (pos[1:] != pos[:-1]) | (grp[1:] != grp[:-1])
    pos, grp, cover_a, cover_b = pos[last], grp[last], cover_a[last], cover_b[last]
    if op == "union":
        on = (cover_a > 0) | (cover_b > 0)
    elif op == "intersection":
        on = (cover_a > 0) & (cover_b > 0)
    else:
        on = (cover_a > 0) & (cover_b == 0)
    before = np.zeros(len(on), dtype=bool)
    before[1:] = on[:-1]
    before[np.concatenate([[True], grp[1:] != grp[:-1]]) if len(grp) else np.zeros(0, bool)] = False
    flips = on != before
    return toggles_to_counts(pos[flips], grp[flips], n_out, size)
