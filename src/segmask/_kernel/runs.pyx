# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: embedsignature=False
"""Runs of masks (:mod:`segmask.masks`): areas and boxes, set operations, moves, dense arrays and crops.

The runs of N masks are one ``uint32`` array ``counts`` and an ``(N + 1,)``
``int64`` array ``offsets`` (mask ``i`` owns ``counts[offsets[i]:offsets[i +
1]]``). Counts are column-major over the whole image, start with a
background run (maybe 0) and sum to ``h * w``. A position is ``x * h + y``,
in int64. Functions trust their inputs (``segmask.masks`` checks them once),
hold no GIL in their loops and give back ``(counts, offsets, area)``.
"""

from libc.stdint cimport INT64_MAX, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset

import numpy as np

cimport numpy as cnp

from segmask._kernel.bits cimport segmask_load8
from segmask._kernel.buffers cimport (
    I64Buf,
    RunsOut,
    array_data,
    dim,
    i64,
    i64_array,
    i64_push,
    i64_reserve,
    pool_take,
    runs_end_mask,
    runs_end_mask_area,
    runs_free,
    runs_reserve,
    runs_result,
    u32,
    writable_data,
)

cnp.import_array()

# The operations of pairwise_op.
UNION = 0
INTERSECTION = 1
DIFFERENCE = 2
XOR = 3


cdef inline const u32* counts_of(object a) except NULL:
    return <const u32*>array_data(a, cnp.NPY_UINT32, 1, -1, "counts")


cdef inline const i64* offsets_of(object a, str name) except NULL:
    return <const i64*>array_data(a, cnp.NPY_INT64, 1, -1, name)


# --- statistics ------------------------------------------------------------------------------

def pixel_counts(counts_array, offsets_array):
    """(N,) int64: pixels of each mask (its odd runs)."""
    cdef const u32* counts = counts_of(counts_array)
    cdef const i64* offsets = offsets_of(offsets_array, "offsets")
    cdef Py_ssize_t n = dim(offsets_array, 0) - 1, i, j
    cdef object area_arr = i64_array(n)
    cdef i64* area = <i64*>cnp.PyArray_DATA(area_arr)
    cdef i64 fg
    with nogil:
        for i in range(n):
            fg = 0
            for j in range(offsets[i] + 1, offsets[i + 1], 2):
                fg += counts[j]
            area[i] = fg
    return area_arr


cdef inline void column_of(i64 pos, i64 h, i64* col, i64* col_start) noexcept nogil:
    """Move (col, col_start) forward to the column holding ``pos``: a division only for long jumps."""
    if pos >= col_start[0] + h:
        if pos < col_start[0] + 2 * h:
            col[0] += 1
            col_start[0] += h
        else:
            col[0] = pos // h
            col_start[0] = col[0] * h


def bounding_boxes(counts_array, offsets_array, i64 h):
    """Tight boxes ``(N, 4)`` int64 ``[x, y, w, h]`` of each mask's pixels (zeros when empty), as pycocotools' toBbox."""
    cdef const u32* counts = counts_of(counts_array)
    cdef const i64* offsets = offsets_of(offsets_array, "offsets")
    cdef Py_ssize_t n = dim(offsets_array, 0) - 1, i, j
    cdef object boxes_arr = np.zeros((n, 4), np.int64)
    cdef i64* boxes = <i64*>cnp.PyArray_DATA(boxes_arr)
    cdef i64 pos, c, xs, ys, xe, ye, x0, x1, y0, y1, col, col_start
    cdef bint any_fg
    with nogil:
        for i in range(n):
            pos = 0
            col = 0
            col_start = 0
            any_fg = False
            x0 = INT64_MAX
            y0 = INT64_MAX
            x1 = -1
            y1 = -1
            for j in range(offsets[i], offsets[i + 1]):
                c = counts[j]
                if (j - offsets[i]) & 1 and c > 0:
                    any_fg = True
                    column_of(pos, h, &col, &col_start)
                    xs = col
                    ys = pos - col_start
                    column_of(pos + c - 1, h, &col, &col_start)
                    xe = col
                    ye = pos + c - 1 - col_start
                    if xs < x0:
                        x0 = xs
                    x1 = xe  # runs come in order: the last one ends furthest right
                    if xe > xs:  # the run crosses into the next column: all rows
                        y0 = 0
                        y1 = h - 1
                    else:
                        if ys < y0:
                            y0 = ys
                        if ye > y1:
                            y1 = ye
                pos += c
            if any_fg:
                boxes[4 * i + 0] = x0
                boxes[4 * i + 1] = y0
                boxes[4 * i + 2] = x1 - x0 + 1
                boxes[4 * i + 3] = y1 - y0 + 1
    return boxes_arr


# --- dense arrays and crops ------------------------------------------------------------------

cdef int rowmajor_positions(const uint8_t* data, Py_ssize_t stride, i64 bh, i64 bw, i64 bx, i64 by, i64 h,
                            I64Buf* out) noexcept nogil:
    """Toggle positions, sorted, of a row-major 0/1 crop placed at (bx, by) in an image of height h.

    Two passes over the rows (count per column, then place), comparing each
    row with the one above 8 bytes at a time; rows above and below the crop
    are background. O(pixels / 8 + toggles), no pixel-sized buffer.
    """
    cdef i64* count = <i64*>calloc(bw + 1, sizeof(i64))
    cdef i64* cols = <i64*>malloc((bw + 1) * sizeof(i64))
    cdef i64 r, total, c
    cdef Py_ssize_t k, j, base
    cdef const uint8_t* row
    cdef const uint8_t* prev
    if count == NULL or cols == NULL:
        free(count)
        free(cols)
        return -1
    for r in range(bh + 1):
        row = data + r * stride if r < bh else NULL
        prev = data + (r - 1) * stride if r > 0 else NULL
        k = row_changes(row, prev, bw, cols)
        for j in range(k):
            count[cols[j] + 1] += 1
    for c in range(bw):
        count[c + 1] += count[c]
    total = count[bw]
    if i64_reserve(out, total) < 0:
        free(count)
        free(cols)
        return -1
    base = out.n
    for r in range(bh + 1):
        row = data + r * stride if r < bh else NULL
        prev = data + (r - 1) * stride if r > 0 else NULL
        k = row_changes(row, prev, bw, cols)
        for j in range(k):
            c = cols[j]
            out.data[base + count[c]] = (bx + c) * h + by + r
            count[c] += 1
    out.n += total
    free(count)
    free(cols)
    return 0


def from_byte_masks(masks):
    """(N, H, W) 0/1 uint8, each mask's rows contiguous (C order) or its columns (F order) -> runs."""
    cdef cnp.ndarray arr
    if not cnp.PyArray_Check(masks):
        raise TypeError("masks must be a numpy array")
    arr = <cnp.ndarray>masks
    if not cnp.PyArray_EquivTypenums(cnp.PyArray_TYPE(arr), cnp.NPY_UINT8) or cnp.PyArray_NDIM(arr) != 3:
        raise TypeError(f"masks must be a 3-d array of uint8, got {masks.dtype} with shape {masks.shape}")
    cdef Py_ssize_t n = cnp.PyArray_DIM(arr, 0), i, j, hw
    cdef i64 h = cnp.PyArray_DIM(arr, 1), w = cnp.PyArray_DIM(arr, 2)
    cdef Py_ssize_t s0 = cnp.PyArray_STRIDE(arr, 0), s1 = cnp.PyArray_STRIDE(arr, 1), s2 = cnp.PyArray_STRIDE(arr, 2)
    cdef const uint8_t* data = <const uint8_t*>cnp.PyArray_DATA(arr)
    cdef RunsOut r
    cdef I64Buf t
    cdef const uint8_t* p
    cdef bint fortran = s1 == 1 and s2 == h
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    memset(&t, 0, sizeof(t))
    if not fortran and s2 != 1 and n * h * w > 0:  # an empty array's strides may be anything
        raise ValueError("each mask must be contiguous in rows or in columns")
    hw = h * w
    with nogil:
        for i in range(n):
            t.n = 0
            p = data + i * s0 if hw else NULL
            if fortran:
                # Column-major already: the runs are where the value changes.
                for j in range(hw):
                    if p[j] != (p[j - 1] if j > 0 else 0):
                        if i64_push(&t, j) < 0:
                            failed = 1
                            break
            elif rowmajor_positions(p, s1, h, w, 0, 0, h, &t) < 0:
                failed = 1
            if failed or push_toggles(&r, t.data, t.n, hw) < 0:
                failed = 1
                break
    free(t.data)
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


def paint_crop(counts_array, i64 start, i64 stop, i64 h, i64 bx, i64 by, out_array):
    """Write one mask's runs into ``out``, a zeroed row-major uint8 window of the image whose corner is (bx, by).

    The window may be any part of the image: what of the mask falls outside it is left out.

    Runs become toggles at each column piece's first row and just past its
    last, then each row is XORed with the one above (8 bytes at a time):
    O(runs + pixels / 8), whatever the mask's shape.
    """
    cdef const u32* counts = counts_of(counts_array)
    cdef uint8_t* base = <uint8_t*>writable_data(out_array, cnp.NPY_UINT8, 2, -1, "out")
    cdef i64 bh = dim(out_array, 0), bw = dim(out_array, 1), pos = 0, c, s, e, x, xs, xe, ya, yb, r, j, col
    cdef uint64_t a
    if bh == 0 or bw == 0:
        return
    with nogil:
        for j in range(start, stop):
            c = counts[j]
            if (j - start) & 1 and c > 0:
                s = pos
                e = pos + c
                xs = s // h
                xe = (e - 1) // h
                if xs < bx:
                    xs = bx
                if xe > bx + bw - 1:
                    xe = bx + bw - 1
                for x in range(xs, xe + 1):
                    # The run's rows in column x, in the crop's rows, cut to the crop.
                    ya = s - x * h - by
                    yb = e - x * h - by
                    if ya < 0:
                        ya = 0
                    if yb > bh:
                        yb = bh
                    if ya < yb:
                        base[ya * bw + x - bx] ^= 1
                        if yb < bh:
                            base[yb * bw + x - bx] ^= 1
            pos += c
        for r in range(1, bh):
            col = 0
            while col + 8 <= bw:
                a = segmask_load8(base + r * bw + col) ^ segmask_load8(base + (r - 1) * bw + col)
                memcpy(base + r * bw + col, &a, 8)
                col += 8
            while col < bw:
                base[r * bw + col] ^= base[(r - 1) * bw + col]
                col += 1


def from_toggles(positions_array, offsets_array, i64 hw):
    """Sorted toggle positions per mask (mask i: ``positions[offsets[i]:offsets[i + 1]]``) -> runs.

    Toggles at one position cancel in pairs; those at or past ``hw`` do nothing.
    """
    cdef const i64* positions = <const i64*>array_data(positions_array, cnp.NPY_INT64, 1, -1, "positions")
    cdef const i64* offsets = offsets_of(offsets_array, "offsets")
    cdef Py_ssize_t n = dim(offsets_array, 0) - 1, i
    cdef RunsOut r
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    with nogil:
        for i in range(n):
            if push_toggles(&r, <i64*>&positions[offsets[i]] if offsets[i + 1] > offsets[i] else NULL,
                            offsets[i + 1] - offsets[i], hw) < 0:
                failed = 1
                break
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


# --- set operations --------------------------------------------------------------------------

cdef inline void stream(const u32* X, Py_ssize_t nx, Py_ssize_t* ix, i64* cx, int* vx, i64* cy, bint toggles,
                        u32* out, Py_ssize_t* k, i64* cc, i64* fg, int* vp) noexcept nogil:
    """merge2's runs of one mask ``X`` while the other's current run (``cy``) outlasts them.

    The output is constant meanwhile, or (``toggles``) changes exactly where
    ``X`` does; a boundary with no pixel since the last one is taken back.
    """
    while cy[0] > cx[0] and ix[0] < nx:
        cc[0] += cx[0]
        cy[0] -= cx[0]
        if toggles:
            if cc[0] == 0 and k[0] > 0:
                k[0] -= 1
                cc[0] = out[k[0]]
                if not vp[0]:
                    fg[0] -= cc[0]
            else:
                out[k[0]] = <u32>cc[0]
                k[0] += 1
                if vp[0]:
                    fg[0] += cc[0]
                cc[0] = 0
            vp[0] ^= 1
        cx[0] = X[ix[0]]
        ix[0] += 1
        vx[0] ^= 1


cdef int merge2(const u32* A, Py_ssize_t na, const u32* B, Py_ssize_t nb, int op, RunsOut* r) noexcept nogil:
    """One sweep over two masks' runs: the runs of ``A op B``, as pycocotools would write them.

    Consumes the shorter of the two current runs at each step; the output
    changes where ``op`` of the two values does. A run of length 0 in an input
    (never written by pycocotools, but allowed) would make a boundary and
    undo it at the same place: the undo takes the boundary back, so the
    output has no empty runs but a leading one.
    """
    cdef Py_ssize_t ia = 1, ib = 1, k = 0
    cdef i64 ca = A[0], cb = B[0], c, cc = 0, fg = 0
    cdef int va = 0, vb = 0, v, vp = 0
    # The operation's truth table, indexed by (a << 1) | b: union, intersection, a & ~b, xor.
    cdef int table = 14 if op == 0 else 8 if op == 1 else 4 if op == 2 else 6
    cdef u32* out
    if runs_reserve(r, na + nb + 1) < 0:
        return -1
    out = r.counts + r.n
    while True:
        # Where one mask's current run outlasts the other's, the output follows
        # the other's runs alone: stream them (most pixels of most pairs).
        if cb > ca:
            stream(A, na, &ia, &ca, &va, &cb, ((table >> vb) & 1) != ((table >> (2 | vb)) & 1),
                   out, &k, &cc, &fg, &vp)
        elif ca > cb:
            stream(B, nb, &ib, &cb, &vb, &ca, ((table >> (va << 1)) & 1) != ((table >> ((va << 1) | 1)) & 1),
                   out, &k, &cc, &fg, &vp)
        c = ca if ca < cb else cb
        cc += c
        ca -= c
        if ca == 0 and ia < na:
            ca = A[ia]
            ia += 1
            va ^= 1
        cb -= c
        if cb == 0 and ib < nb:
            cb = B[ib]
            ib += 1
            vb ^= 1
        if ca == 0 and cb == 0:  # both sum to h * w: they end together
            break
        v = (table >> ((va << 1) | vb)) & 1
        if v != vp:
            if cc == 0 and k > 0:  # no pixel since the last boundary: take it back
                k -= 1
                cc = out[k]
                if v:
                    fg -= cc
            else:
                out[k] = <u32>cc
                k += 1
                if vp:
                    fg += cc
                cc = 0
            vp = v
    out[k] = <u32>cc
    if vp:
        fg += cc
    r.n += k + 1
    return runs_end_mask_area(r, fg)


def pairwise_op(ca_array, oa_array, cb_array, ob_array, int op):
    """``a[i] op b[i]`` for each i (op: UNION, INTERSECTION, DIFFERENCE or XOR) -> runs."""
    cdef const u32* ca = counts_of(ca_array)
    cdef const i64* oa = offsets_of(oa_array, "offsets")
    cdef const u32* cb = counts_of(cb_array)
    cdef const i64* ob = offsets_of(ob_array, "offsets")
    cdef Py_ssize_t n = dim(oa_array, 0) - 1, i
    cdef RunsOut r
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    # The most runs two masks can make: reserved once, given back at the end.
    r.cap = dim(ca_array, 0) + dim(cb_array, 0) + n + 1
    r.counts = <u32*>pool_take(r.cap * sizeof(u32))
    if r.counts == NULL:
        raise MemoryError()
    with nogil:
        for i in range(n):
            if merge2(ca + oa[i], oa[i + 1] - oa[i], cb + ob[i], ob[i + 1] - ob[i], op, &r) < 0:
                failed = 1
                break
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


cdef inline Py_ssize_t mask_start(RunsOut* r, Py_ssize_t i) noexcept nogil:
    return r.ends[i - 1] if i > 0 else 0


cdef int copy_mask(RunsOut* r, const u32* c, Py_ssize_t n) noexcept nogil:
    if runs_reserve(r, n) < 0:
        return -1
    memcpy(&r.counts[r.n], c, n * sizeof(u32))
    r.n += n
    return runs_end_mask(r)


def union_groups(counts_array, offsets_array, members_array, group_offsets_array, i64 hw):
    """The union of each group's masks (group g: ``members[group_offsets[g]:group_offsets[g + 1]]``).

    Pairwise unions in a balanced tree, one sweep per pair: O(runs x log(group size)).
    """
    cdef const u32* counts = counts_of(counts_array)
    cdef const i64* offsets = offsets_of(offsets_array, "offsets")
    cdef const i64* members = offsets_of(members_array, "members")
    cdef const i64* group_offsets = offsets_of(group_offsets_array, "group_offsets")
    cdef Py_ssize_t g, ng = dim(group_offsets_array, 0) - 1, k, j, size, i, level_n
    cdef RunsOut r, a, b
    cdef RunsOut* cur
    cdef RunsOut* nxt
    cdef RunsOut* tmp
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    memset(&a, 0, sizeof(a))
    memset(&b, 0, sizeof(b))
    with nogil:
        for g in range(ng):
            size = group_offsets[g + 1] - group_offsets[g]
            if size == 0:
                if runs_reserve(&r, 1) < 0:
                    failed = 1
                    break
                r.counts[r.n] = <u32>hw
                r.n += 1
                if runs_end_mask_area(&r, 0) < 0:
                    failed = 1
                    break
                continue
            if size == 1:
                k = members[group_offsets[g]]
                if copy_mask(&r, counts + offsets[k], offsets[k + 1] - offsets[k]) < 0:
                    failed = 1
                    break
                continue
            # First level: pairs of members into a; then pairs of a's masks into b, and so on.
            a.n = 0
            a.m = 0
            for i in range(0, size - 1, 2):
                k = members[group_offsets[g] + i]
                j = members[group_offsets[g] + i + 1]
                if merge2(counts + offsets[k], offsets[k + 1] - offsets[k], counts + offsets[j],
                          offsets[j + 1] - offsets[j], 0, &a) < 0:
                    failed = 1
                    break
            if failed:
                break
            if size % 2:
                k = members[group_offsets[g] + size - 1]
                if copy_mask(&a, counts + offsets[k], offsets[k + 1] - offsets[k]) < 0:
                    failed = 1
                    break
            cur = &a
            nxt = &b
            while cur.m > 1:
                nxt.n = 0
                nxt.m = 0
                level_n = cur.m
                for i in range(0, level_n - 1, 2):
                    if merge2(&cur.counts[mask_start(cur, i)], cur.ends[i] - mask_start(cur, i),
                              &cur.counts[cur.ends[i]], cur.ends[i + 1] - cur.ends[i], 0, nxt) < 0:
                        failed = 1
                        break
                if failed:
                    break
                if level_n % 2:
                    i = level_n - 1
                    if copy_mask(nxt, &cur.counts[mask_start(cur, i)], cur.ends[i] - mask_start(cur, i)) < 0:
                        failed = 1
                        break
                tmp = cur
                cur = nxt
                nxt = tmp
            if failed or copy_mask(&r, cur.counts, cur.ends[0]) < 0:
                failed = 1
                break
    runs_free(&a)
    runs_free(&b)
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


# --- moves -----------------------------------------------------------------------------------

cdef int push_moved(RunsOut* r, const u32* c, Py_ssize_t m, i64 h, i64 w, i64 dx, i64 dy, i64 H, i64 W) noexcept nogil:
    """Append one mask (runs ``c`` on an h x w image) moved by (dx, dy) onto an H x W image, cut to it.

    Each foreground run is cut at column ends; each piece that lands inside
    is a (start, end) pair in the new image, in increasing order: pieces that
    meet (whole columns when the heights agree) join into one run.
    """
    cdef Py_ssize_t j
    cdef i64 pos = 0, s, e, c0, c1, a, b, col, y0, y1, t0, t1, last = 0, fg = 0
    cdef i64 lo = 0 if dx >= 0 else -dx
    cdef i64 hi = w if W - dx > w else W - dx  # columns [lo, hi) land inside
    cdef bint open_run = False
    if runs_reserve(r, 1) < 0:
        return -1
    for j in range(m):
        if j & 1 and c[j] > 0:
            s = pos
            e = pos + c[j]
            c0 = s // h
            c1 = (e - 1) // h
            a = c0 if c0 > lo else lo
            b = c1 if c1 < hi - 1 else hi - 1
            col = a
            while col <= b:
                y0 = (s - col * h if col == c0 else 0) + dy
                y1 = (e - col * h if col == c1 else h) + dy
                if y0 < 0:
                    y0 = 0
                if y1 > H:
                    y1 = H
                if y1 > y0:
                    t0 = (col + dx) * H + y0
                    t1 = (col + dx) * H + y1
                    if open_run and t0 == last:
                        r.counts[r.n - 1] += <u32>(t1 - t0)
                    else:
                        if runs_reserve(r, 3) < 0:
                            return -1
                        r.counts[r.n] = <u32>(t0 - last)
                        r.counts[r.n + 1] = <u32>(t1 - t0)
                        r.n += 2
                        open_run = True
                    fg += t1 - t0
                    last = t1
                col += 1
        pos += c[j]
    if last < H * W or not open_run:  # no empty run at the end (a mask reaching the last pixel)
        r.counts[r.n] = <u32>(H * W - last)
        r.n += 1
    return runs_end_mask_area(r, fg)


def move(counts_array, offsets_array, i64 h, i64 w, i64 dx, i64 dy, i64 H, i64 W):
    """Every mask moved by (dx, dy) from an h x w image onto an H x W one, cut to it -> runs."""
    cdef const u32* counts = counts_of(counts_array)
    cdef const i64* offsets = offsets_of(offsets_array, "offsets")
    cdef Py_ssize_t n = dim(offsets_array, 0) - 1, i
    cdef RunsOut r
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    with nogil:
        for i in range(n):
            if push_moved(&r, counts + offsets[i], offsets[i + 1] - offsets[i], h, w, dx, dy, H, W) < 0:
                failed = 1
                break
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)
