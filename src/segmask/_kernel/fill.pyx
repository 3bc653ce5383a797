# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: embedsignature=False
"""Polygons filled into runs (:mod:`segmask.raster`, :mod:`segmask._polygons`): both rules, and the readers.

The coco rule is pycocotools' ``rleFrPoly`` (a walk in 1/5 px steps),
computed only for the image's columns; the contour rule is OpenCV's
``fillPoly`` (8-connected outline and 16.16 fixed-point scan), row by row
without a canvas. Both give runs straight away. The readers take polygons
as C-contiguous (K, 2) float64 arrays, lists of [x, y] pairs or flat lists,
and give None for any other form: the caller's slower path names the problem.
"""

from cpython.list cimport PyList_CheckExact
from cpython.object cimport PyObject
from libc.math cimport ceil, fabs, floor, isfinite
from libc.stdint cimport INT64_MAX, uint8_t, uint64_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memcpy, memset

import numpy as np

cimport numpy as cnp

from segmask._kernel.bits cimport segmask_clz64
from segmask._kernel.buffers cimport (
    FillScratch,
    I64Buf,
    PolyEdge,
    RunsOut,
    array_data,
    dim,
    i64,
    i64_array,
    i64_push,
    i64_reserve,
    runs_free,
    runs_result,
    scratch_give,
    scratch_take,
)
from segmask._kernel.pynumbers cimport plain_number
from segmask._kernel.runs cimport push_toggles, row_changes

cnp.import_array()


cdef int sort_i64(i64* a, Py_ssize_t n, I64Buf* tmp) noexcept nogil:
    """Sort ``n`` non-negative positions in place: insertion sort when few, else radix sort, a byte a pass.

    ``tmp`` is scratch space, grown as needed (-1 when out of memory).
    """
    cdef Py_ssize_t i, j, shift, passes
    cdef i64 v, lo, hi
    cdef i64* src = a
    cdef i64* dst
    cdef i64* swap
    cdef Py_ssize_t[256] count
    if n < 48:
        for i in range(1, n):
            v = a[i]
            j = i - 1
            while j >= 0 and a[j] > v:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = v
        return 0
    lo = hi = a[0]
    for i in range(1, n):
        if a[i] < lo:
            lo = a[i]
        if a[i] > hi:
            hi = a[i]
    passes = (64 - segmask_clz64(<uint64_t>(hi - lo) | 1) + 7) // 8
    if i64_reserve(tmp, n) < 0:
        return -1
    dst = tmp.data
    for shift in range(0, 8 * passes, 8):
        memset(count, 0, sizeof(count))
        for i in range(n):
            count[((src[i] - lo) >> shift) & 0xff] += 1
        v = 0
        for j in range(256):
            v += count[j]
            count[j] = v - count[j]
        for i in range(n):
            j = ((src[i] - lo) >> shift) & 0xff
            dst[count[j]] = src[i]
            count[j] += 1
        swap = src
        src = dst
        dst = swap
    if src != a:
        memcpy(a, src, n * sizeof(i64))
    return 0


cdef inline i64 floordiv(i64 a, i64 b) noexcept nogil:
    """Python's a // b for b > 0 (C truncates toward zero)."""
    cdef i64 q = a // b  # C division (cdivision): toward zero
    if (a % b != 0) and (a < 0):
        q -= 1
    return q


# --- the coco rule (pycocotools' rleFrPoly, bounded by the image) --------------------------------

cdef inline i64 c_int(double v) noexcept nogil:
    """C's ``(int)v``: truncation toward zero."""
    return <i64>v


cdef inline void coco_emit(I64Buf* t, i64 k, i64 vmin, i64 h, int* failed) noexcept nogil:
    cdef double yd = (<double>vmin + .5) / 5.0 - .5
    if yd < 0:
        yd = 0
    elif yd > h:
        yd = h
    if i64_push(t, k * h + <i64>ceil(yd)) < 0:
        failed[0] = 1


cdef int coco_polygon(const double* xy, Py_ssize_t a, Py_ssize_t b, i64 h, i64 w, I64Buf* t) noexcept nogil:
    """Toggle positions of one polygon under pycocotools' rule, unsorted.

    pycocotools walks each edge in steps of 1/5 px (the vertices snapped with
    ``(int)(5 * v + .5)``) and keeps, where the walk crosses the centre line of
    a column of the image (walk x from 5k + 2 to 5k + 3), the lower row of the
    two steps. Here each edge's crossings are computed directly, only for
    columns 0..w-1, with the same floating-point expressions: the same
    positions, in time bounded by the image whatever the coordinates.
    """
    cdef Py_ssize_t k = b - a, j
    cdef i64 xs, ys, xe, ye, dx, dy, kk, kmin, kmax, m, t1, v1, v2, lo, hi, step, tt, tmp
    cdef double s, g
    cdef int failed = 0
    cdef bint flip, up
    for j in range(k):
        xs = c_int(5.0 * xy[2 * (a + j) + 0] + .5)
        ys = c_int(5.0 * xy[2 * (a + j) + 1] + .5)
        xe = c_int(5.0 * xy[2 * (a + (j + 1) % k) + 0] + .5)
        ye = c_int(5.0 * xy[2 * (a + (j + 1) % k) + 1] + .5)
        dx = xe - xs if xe >= xs else xs - xe
        dy = ye - ys if ye >= ys else ys - ye
        flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
        if flip:
            tmp = xs
            xs = xe
            xe = tmp
            tmp = ys
            ys = ye
            ye = tmp
        if dx >= dy:
            if dx == 0:
                continue
            s = <double>(ye - ys) / <double>dx
            lo = xs
            hi = xe
        else:
            if xs == xe:
                continue
            s = <double>(xe - xs) / <double>dy
            lo = xs if xs < xe else xe
            hi = xe if xs < xe else xs
        # Columns k whose centre line m = 5k + 2 -> m + 1 the walk crosses, inside the image.
        kmin = -floordiv(-(lo - 2), 5)
        if kmin < 0:
            kmin = 0
        kmax = floordiv(hi - 3, 5)
        if kmax > w - 1:
            kmax = w - 1
        for kk in range(kmin, kmax + 1):
            m = 5 * kk + 2
            if dx >= dy:
                # The walk's x is xs + t: the crossing is between t1 and t1 + 1.
                t1 = m - xs
                v1 = c_int(<double>ys + s * <double>t1 + .5)
                v2 = c_int(<double>ys + s * <double>(t1 + 1) + .5)
                coco_emit(t, kk, v1 if v1 < v2 else v2, h, &failed)
            else:
                # The walk's y is ys + t and its x rounds xs + s * t: find the first step past m.
                up = s > 0
                g = (<double>m + 0.5 - <double>xs) / s
                tt = <i64>g
                if tt < 1:
                    tt = 1
                if tt > dy:
                    tt = dy
                while tt > 1 and (c_int(<double>xs + s * <double>(tt - 1) + .5) >= m + 1 if up
                                  else c_int(<double>xs + s * <double>(tt - 1) + .5) <= m):
                    tt -= 1
                while tt < dy and not (c_int(<double>xs + s * <double>tt + .5) >= m + 1 if up
                                       else c_int(<double>xs + s * <double>tt + .5) <= m):
                    tt += 1
                coco_emit(t, kk, ys + tt - 1, h, &failed)
            if failed:
                return -1
    return 0


def coco_rule(coords, offsets, i64 h, i64 w):
    """Polygons (K >= 3 points each, |coordinates| <= 2**28) -> runs under pycocotools' rule.

    ``coords`` is (P, 2) float64 and ``offsets`` (N + 1,) int64, both C-contiguous.
    """
    cdef const double* xy = <const double*>array_data(coords, cnp.NPY_FLOAT64, 2, 2, "coords")
    cdef const i64* offs = <const i64*>array_data(offsets, cnp.NPY_INT64, 1, -1, "offsets")
    return coco_runs(xy, offs, dim(offsets, 0) - 1, h, w)


cdef object coco_runs(const double* xy, const i64* offs, Py_ssize_t n, i64 h, i64 w):
    """:func:`coco_rule` on raw arrays."""
    cdef Py_ssize_t i
    cdef RunsOut r
    cdef I64Buf t, scratch
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    memset(&t, 0, sizeof(t))
    memset(&scratch, 0, sizeof(scratch))
    with nogil:
        for i in range(n):
            t.n = 0
            if coco_polygon(xy, offs[i], offs[i + 1], h, w, &t) < 0:
                failed = 1
                break
            if sort_i64(t.data, t.n, &scratch) < 0 or push_toggles(&r, t.data, t.n, h * w) < 0:
                failed = 1
                break
    free(t.data)
    free(scratch.data)
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


# --- the contour rule (OpenCV's fillPoly, without a canvas) -------------------------------------
#
# cv2.fillPoly(img, [pts], 1) with integer points does two things (drawing.cpp,
# CollectPolyEdges and FillEdgeCollection, OpenCV 4.x and 5.x): it draws every
# edge as an 8-connected line (LineIterator, left to right, clipped to the
# image), and fills, row by row, between consecutive crossings of the edges
# with the row (x in 16.16 fixed point, each edge starting from its end
# points clipped to the image). Here the same arithmetic gives each row's
# spans, and the runs come from how each row differs from the one above: no
# canvas, so a polygon as large as the image costs its outline, not its area.

cdef enum:
    XY_SHIFT = 16
    XY_ONE = 65536


cdef bint clip_line(i64 W, i64 H, i64* px1, i64* py1, i64* px2, i64* py2) noexcept nogil:
    """OpenCV's ``clipLine`` (Cohen-Sutherland, the divisions in double): changes the points even when it fails."""
    cdef i64 x1 = px1[0], y1 = py1[0], x2 = px2[0], y2 = py2[0], right = W - 1, bottom = H - 1, a
    cdef int c1, c2
    if W <= 0 or H <= 0:
        return False
    c1 = (x1 < 0) + (x1 > right) * 2 + (y1 < 0) * 4 + (y1 > bottom) * 8
    c2 = (x2 < 0) + (x2 > right) * 2 + (y2 < 0) * 4 + (y2 > bottom) * 8
    if (c1 & c2) == 0 and (c1 | c2) != 0:
        if c1 & 12:
            a = 0 if c1 < 8 else bottom
            x1 += <i64>(<double>(a - y1) * <double>(x2 - x1) / <double>(y2 - y1))
            y1 = a
            c1 = (x1 < 0) + (x1 > right) * 2
        if c2 & 12:
            a = 0 if c2 < 8 else bottom
            x2 += <i64>(<double>(a - y2) * <double>(x2 - x1) / <double>(y2 - y1))
            y2 = a
            c2 = (x2 < 0) + (x2 > right) * 2
        if (c1 & c2) == 0 and (c1 | c2) != 0:
            if c1:
                a = 0 if c1 == 1 else right
                y1 += <i64>(<double>(a - x1) * <double>(y2 - y1) / <double>(x2 - x1))
                x1 = a
                c1 = 0
            if c2:
                a = 0 if c2 == 1 else right
                y2 += <i64>(<double>(a - x2) * <double>(y2 - y1) / <double>(x2 - x1))
                x2 = a
                c2 = 0
    px1[0] = x1
    py1[0] = y1
    px2[0] = x2
    py2[0] = y2
    return (c1 | c2) == 0


cdef inline bint outside(i64 x, i64 y, i64 W, i64 H) noexcept nogil:
    return x < 0 or x >= W or y < 0 or y >= H


cdef int line_segments(i64 x1, i64 y1, i64 x2, i64 y2, i64 W, i64 H, I64Buf* segs) noexcept nogil:
    """The pixels of OpenCV's 8-connected line, as (row, first x, last x) triples."""
    cdef i64 dx, dy, sy = 1, err, plus, minus, count, i, x, y, start
    cdef bint vert, mask
    if outside(x1, y1, W, H) or outside(x2, y2, W, H):
        if not clip_line(W, H, &x1, &y1, &x2, &y2):
            return 0
    dx = x2 - x1
    dy = y2 - y1
    if dx < 0:  # left to right
        dx = -dx
        dy = -dy
        x1 = x2
        y1 = y2
    if dy < 0:
        dy = -dy
        sy = -1
    vert = dy > dx
    if vert:
        dx, dy = dy, dx
    err = dx - (dy + dy)
    plus = dx + dx
    minus = -(dy + dy)
    count = dx + 1
    x = x1
    y = y1
    if i64_reserve(segs, 3 * count) < 0:
        return -1
    if not vert:
        start = x
        for i in range(count):
            mask = err < 0
            err += minus + (plus if mask else 0)
            if mask or i == count - 1:
                segs.data[segs.n] = y
                segs.data[segs.n + 1] = start
                segs.data[segs.n + 2] = x
                segs.n += 3
                start = x + 1
            x += 1
            if mask:
                y += sy
    else:
        for i in range(count):
            segs.data[segs.n] = y
            segs.data[segs.n + 1] = x
            segs.data[segs.n + 2] = x
            segs.n += 3
            mask = err < 0
            err += minus + (plus if mask else 0)
            y += sy
            if mask:
                x += 1
    return 0


cdef int cmp_edge(const void* a, const void* b) noexcept nogil:
    cdef i64 x = (<PolyEdge*>a).y0
    cdef i64 y = (<PolyEdge*>b).y0
    return (x > y) - (x < y)


cdef inline void paint(uint8_t* row, i64 x0, i64 xa, i64 xb, uint8_t value) noexcept nogil:
    memset(row + (xa - x0), value, xb - xa + 1)


cdef inline i64 half_up(double v) noexcept nogil:
    """The contour rule's rounding of a vertex: ``floor(v + 0.5)``."""
    return <i64>floor(v + 0.5)


cdef int contour_polygon(const double* v, Py_ssize_t a, Py_ssize_t b, i64 H, i64 W, bint hole,
                         FillScratch* wk, RunsOut* r) noexcept nogil:
    """One polygon's runs: its fill and its 8-connected outline (or, for a hole, the fill less the outline).

    Rows are painted one at a time into a buffer as wide as the polygon's box
    (cut to the image) and compared with the row above; where they differ,
    a column's run starts or ends. Memory is two rows and the outline.
    """
    cdef Py_ssize_t k = b - a, i, j, ne = 0, nactive = 0, next_edge = 0, q, nx, nc
    cdef i64 x0, y0, x1, y1, t0x, t0y, t1x, t1y, c0x, c0y, c1x, c1y, dx, xend
    cdef i64 ymin = INT64_MAX, ymax = -INT64_MAX, xmin = INT64_MAX, xmax = -1
    cdef i64 fy0 = 0, fy1 = 0, r0, r1, y, lo, hi, xa, xb, tx, rows, bx0, bx1, bw, c
    cdef PolyEdge* e
    cdef PolyEdge* pe
    cdef uint8_t* cur
    cdef uint8_t* prev
    cdef uint8_t* tmp
    if k > wk.edges_cap:
        pe = <PolyEdge*>realloc(wk.edges, k * sizeof(PolyEdge))
        if pe == NULL:
            return -1
        wk.edges = pe
        wk.edges_cap = k
        free(wk.xs)
        free(wk.active)
        wk.xs = <i64*>malloc((k + 1) * sizeof(i64))
        wk.active = <i64*>malloc((k + 1) * sizeof(i64))
        if wk.xs == NULL or wk.active == NULL:
            return -1
    wk.segs.n = 0
    bx0 = INT64_MAX
    bx1 = -1
    # Edges: the outline's pixels, and each edge's start and slope (CollectPolyEdges).
    for i in range(k):
        j = i - 1 if i > 0 else k - 1
        x0 = half_up(v[2 * (a + j) + 0])
        y0 = half_up(v[2 * (a + j) + 1])
        x1 = half_up(v[2 * (a + i) + 0])
        y1 = half_up(v[2 * (a + i) + 1])
        bx0 = min(bx0, x1)
        bx1 = max(bx1, x1)
        if line_segments(x0, y0, x1, y1, W, H, &wk.segs) < 0:
            return -1
        t0x, t0y, t1x, t1y = x0, y0, x1, y1
        c0y = y0
        c1y = y1
        if outside(t0x, t0y, W, H) or outside(t1x, t1y, W, H):
            clip_line(W, H, &t0x, &t0y, &t1x, &t1y)
            if t0y != t1y:
                c0y = t0y
                c1y = t1y
        c0x = t0x << XY_SHIFT
        c1x = t1x << XY_SHIFT
        if y0 == y1:
            continue
        dx = (c1x - c0x) // (c1y - c0y)  # C division, toward zero
        e = &wk.edges[ne]
        if y0 < y1:
            e.y0 = y0
            e.y1 = y1
            e.x = c0x + (y0 - c0y) * dx
        else:
            e.y0 = y1
            e.y1 = y0
            e.x = c1x + (y1 - c1y) * dx
        e.dx = dx
        xend = e.x + (e.y1 - e.y0) * dx
        ymin = min(ymin, e.y0)
        ymax = max(ymax, e.y1)
        xmin = min(xmin, min(e.x, xend))
        xmax = max(xmax, max(e.x, xend))
        ne += 1
    # The rows the fill covers (FillEdgeCollection draws nothing in these cases).
    if ne >= 2 and not (ymax < 0 or ymin >= H or xmax < 0 or xmin >= (W << XY_SHIFT)):
        qsort(wk.edges, ne, sizeof(PolyEdge), cmp_edge)
        fy0 = max(ymin, 0)
        fy1 = min(ymax, H)
    # Every row with something in it (the fill's and the outline's), and the box's columns.
    r0 = fy0 if fy1 > fy0 else INT64_MAX
    r1 = fy1 if fy1 > fy0 else -1
    for q in range(0, wk.segs.n, 3):
        r0 = min(r0, wk.segs.data[q])
        r1 = max(r1, wk.segs.data[q] + 1)
    bx0 = max(bx0, 0)
    bx1 = min(bx1, W - 1)
    wk.toggles.n = 0
    wk.pos.n = 0
    if r1 > r0 and bx1 >= bx0:
        bw = bx1 - bx0 + 1
        rows = r1 - r0
        if rows + 1 > wk.row_cap:
            free(wk.row_start)
            wk.row_start = <i64*>malloc((rows + 1) * sizeof(i64))
            if wk.row_start == NULL:
                wk.row_cap = 0
                return -1
            wk.row_cap = rows + 1
        if bw + 1 > wk.width_cap:
            free(wk.rows)
            free(wk.cols)
            free(wk.colcount)
            wk.rows = <uint8_t*>malloc(2 * (bw + 1))
            wk.cols = <i64*>malloc((bw + 1) * sizeof(i64))
            wk.colcount = <i64*>malloc((bw + 1) * sizeof(i64))
            if wk.rows == NULL or wk.cols == NULL or wk.colcount == NULL:
                wk.width_cap = 0
                return -1
            wk.width_cap = bw + 1
        # The outline's pixels, bucketed by row (a counting sort).
        memset(wk.row_start, 0, (rows + 1) * sizeof(i64))
        for q in range(0, wk.segs.n, 3):
            wk.row_start[wk.segs.data[q] - r0 + 1] += 1
        for q in range(rows):
            wk.row_start[q + 1] += wk.row_start[q]
        if i64_reserve(&wk.rowsegs, 2 * (wk.segs.n // 3)) < 0:
            return -1
        for q in range(0, wk.segs.n, 3):
            y = wk.segs.data[q] - r0
            wk.rowsegs.data[2 * wk.row_start[y]] = wk.segs.data[q + 1]
            wk.rowsegs.data[2 * wk.row_start[y] + 1] = wk.segs.data[q + 2]
            wk.row_start[y] += 1
        # Now row y's pairs end at row_start[y] and start where row y - 1's end.
        prev = wk.rows
        cur = wk.rows + bw + 1
        memset(prev, 0, bw)
        for y in range(r0, r1 + 1):
            memset(cur, 0, bw)
            if y < r1:
                lo = wk.row_start[y - r0 - 1] if y > r0 else 0
                hi = wk.row_start[y - r0]
                if not hole:
                    for q in range(lo, hi):
                        paint(cur, bx0, wk.rowsegs.data[2 * q], wk.rowsegs.data[2 * q + 1], 1)
                if fy0 <= y < fy1:
                    # The active edges (y0 <= y < y1) and where they cross this row, sorted.
                    q = 0
                    while q < nactive:
                        if wk.edges[wk.active[q]].y1 <= y:
                            nactive -= 1
                            wk.active[q] = wk.active[nactive]
                        else:
                            q += 1
                    while next_edge < ne and wk.edges[next_edge].y0 <= y:
                        if wk.edges[next_edge].y1 > y:
                            wk.active[nactive] = next_edge
                            nactive += 1
                        next_edge += 1
                    nx = 0
                    for q in range(nactive):
                        pe = &wk.edges[wk.active[q]]
                        tx = pe.x + (y - pe.y0) * pe.dx
                        j = nx
                        while j > 0 and wk.xs[j - 1] > tx:
                            wk.xs[j] = wk.xs[j - 1]
                            j -= 1
                        wk.xs[j] = tx
                        nx += 1
                    # Between consecutive crossings: from the first's ceiling to the second's floor.
                    for q in range(0, nx - 1, 2):
                        xa = (wk.xs[q] + (XY_ONE - 1)) >> XY_SHIFT
                        xb = wk.xs[q + 1] >> XY_SHIFT
                        if xa < W and xb >= 0:
                            xa = max(xa, 0)
                            xb = min(xb, W - 1)
                            if xa <= xb:
                                paint(cur, bx0, xa, xb, 1)
                if hole:
                    for q in range(lo, hi):
                        paint(cur, bx0, wk.rowsegs.data[2 * q], wk.rowsegs.data[2 * q + 1], 0)
            nc = row_changes(cur, prev, bw, wk.cols)
            if i64_reserve(&wk.toggles, 2 * nc) < 0:
                return -1
            for q in range(nc):
                wk.toggles.data[wk.toggles.n] = wk.cols[q]
                wk.toggles.data[wk.toggles.n + 1] = y
                wk.toggles.n += 2
            tmp = prev
            prev = cur
            cur = tmp
        # Toggles by column (a counting sort; within a column the rows are in order), then runs.
        nx = wk.toggles.n // 2
        memset(wk.colcount, 0, (bw + 1) * sizeof(i64))
        for q in range(nx):
            wk.colcount[wk.toggles.data[2 * q] + 1] += 1
        for q in range(bw):
            wk.colcount[q + 1] += wk.colcount[q]
        if i64_reserve(&wk.pos, nx) < 0:
            return -1
        for q in range(nx):
            c = wk.toggles.data[2 * q]
            wk.pos.data[wk.colcount[c]] = (bx0 + c) * H + wk.toggles.data[2 * q + 1]
            wk.colcount[c] += 1
        wk.pos.n = nx
    return push_toggles(r, wk.pos.data, wk.pos.n, H * W)


def contour_rule(points, offsets, i64 h, i64 w, holes):
    """Polygons (K >= 1 points each, |coordinates| <= 2**28) -> runs of ``cv2.fillPoly`` on an (h, w) image.

    Vertices are rounded half up (``floor(v + 0.5)``) to the pixel grid first.
    ``points`` is (P, 2) float64, ``offsets`` (N + 1,) int64 and ``holes``
    (N,) or (0,) uint8, all C-contiguous.

    Where ``holes[i]`` is set, polygon i gives its fill less its outline
    (fillPoly, then polylines in 0): the strict inside of a hole's ring.
    """
    cdef const double* xy = <const double*>array_data(points, cnp.NPY_FLOAT64, 2, 2, "points")
    cdef const i64* offs = <const i64*>array_data(offsets, cnp.NPY_INT64, 1, -1, "offsets")
    cdef const uint8_t* hole = <const uint8_t*>array_data(holes, cnp.NPY_UINT8, 1, -1, "holes")
    return contour_runs(xy, offs, dim(offsets, 0) - 1, h, w,
                        hole if dim(holes, 0) > 0 else NULL)


cdef object contour_runs(const double* xy, const i64* offs, Py_ssize_t n, i64 h, i64 w, const uint8_t* hole):
    """:func:`contour_rule` on raw arrays (``hole`` NULL: no holes)."""
    cdef Py_ssize_t i
    cdef RunsOut r
    cdef FillScratch own
    cdef FillScratch* wk = scratch_take(&own)
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    with nogil:
        for i in range(n):
            if contour_polygon(xy, offs[i], offs[i + 1], h, w, hole != NULL and hole[i], wk, &r) < 0:
                failed = 1
                break
    scratch_give(wk, failed)
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


# --- polygons given as arrays or lists -----------------------------------------------------------

cdef Py_ssize_t scan_polygons(list polygons, Py_ssize_t* counts, char* kinds) except -2:
    """Each polygon's points and form (0 array, 1 pairs, 2 flat); their total, or -1 when one is in no common form."""
    cdef Py_ssize_t n = len(polygons), i, k, total = 0
    cdef object p
    cdef cnp.ndarray arr
    for i in range(n):
        p = polygons[i]
        if type(p) is np.ndarray:
            arr = <cnp.ndarray>p
            if (cnp.PyArray_TYPE(arr) != cnp.NPY_FLOAT64 or cnp.PyArray_NDIM(arr) != 2
                    or cnp.PyArray_DIM(arr, 1) != 2 or not cnp.PyArray_IS_C_CONTIGUOUS(arr)):
                return -1
            k = cnp.PyArray_DIM(arr, 0)
            kinds[i] = 0
        elif PyList_CheckExact(p) or type(p) is tuple:
            k = len(p)
            if k and (PyList_CheckExact(p[0]) or type(p[0]) is tuple):
                kinds[i] = 1
            else:
                if k % 2:
                    return -1
                k //= 2
                kinds[i] = 2
        else:
            return -1
        if k < 3:
            return -1
        counts[i] = k
        total += k
    return total


cdef bint fill_polygons(list polygons, const Py_ssize_t* counts, const char* kinds, double max_coord,
                        double* out, i64* offs):
    """The points :func:`scan_polygons` counted into ``out`` with ``offs``; False at a bad value."""
    cdef Py_ssize_t n = len(polygons), i, j, k, m = 0
    cdef object p, q, qx, qy
    cdef double vx, vy
    cdef const double* src
    offs[0] = 0
    for i in range(n):
        p = polygons[i]
        k = counts[i]
        if kinds[i] == 0:
            src = <const double*>cnp.PyArray_DATA(<cnp.ndarray>p)
            for j in range(2 * k):
                vx = src[j]
                if not (isfinite(vx) and fabs(vx) <= max_coord):
                    return False
                out[2 * m + j] = vx
        elif kinds[i] == 1:
            for j in range(k):
                q = p[j]
                if not ((PyList_CheckExact(q) or type(q) is tuple) and len(q) == 2):
                    return False
                qx = q[0]
                qy = q[1]
                if not (plain_number(<PyObject*>qx, &vx) and plain_number(<PyObject*>qy, &vy)):
                    return False
                if not (isfinite(vx) and isfinite(vy) and fabs(vx) <= max_coord and fabs(vy) <= max_coord):
                    return False
                out[2 * (m + j)] = vx
                out[2 * (m + j) + 1] = vy
        else:
            for j in range(2 * k):
                q = p[j]
                if not plain_number(<PyObject*>q, &vx) or not (isfinite(vx) and fabs(vx) <= max_coord):
                    return False
                out[2 * m + j] = vx
        m += k
        offs[i + 1] = m
    return True


def read_polygons(list polygons, double max_coord):
    """The common forms of polygons, all valid, as ``(coords (P, 2) float64, offsets)``; else None.

    A polygon is a C-contiguous float64 (K, 2) array, a list of [x, y] pairs
    or a flat [x0, y0, x1, y1, ...] list, with K >= 3 finite points within
    ``max_coord``. Anything else (another form, a shapely geometry, a bad
    value) gives None: the caller's slower path names the problem.
    """
    cdef Py_ssize_t n = len(polygons), total
    cdef object coords, offsets
    cdef Py_ssize_t* counts = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    cdef char* kinds = <char*>malloc(n + 1)
    if counts == NULL or kinds == NULL:
        free(counts)
        free(kinds)
        raise MemoryError()
    try:
        total = scan_polygons(polygons, counts, kinds)
        if total < 0:
            return None
        coords = np.empty((total, 2), np.float64)
        offsets = i64_array(n + 1)
        if not fill_polygons(polygons, counts, kinds, max_coord, <double*>cnp.PyArray_DATA(coords),
                             <i64*>cnp.PyArray_DATA(offsets)):
            return None
        return coords, offsets
    finally:
        free(counts)
        free(kinds)


def from_lists(list polygons, double max_coord, i64 h, i64 w, bint coco):
    """:func:`read_polygons`, then :func:`coco_rule` (``coco``) or :func:`contour_rule`, with no arrays
    between: the runs, or None when a polygon is in no common form (the caller's slower path names it)."""
    cdef Py_ssize_t n = len(polygons), total
    cdef Py_ssize_t* counts = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    cdef char* kinds = <char*>malloc(n + 1)
    cdef double* xy = NULL
    cdef i64* offs = NULL
    try:
        if counts == NULL or kinds == NULL:
            raise MemoryError()
        total = scan_polygons(polygons, counts, kinds)
        if total < 0:
            return None
        xy = <double*>malloc((2 * total + 1) * sizeof(double))
        offs = <i64*>malloc((n + 1) * sizeof(i64))
        if xy == NULL or offs == NULL:
            raise MemoryError()
        if not fill_polygons(polygons, counts, kinds, max_coord, xy, offs):
            return None
        return coco_runs(xy, offs, n, h, w) if coco else contour_runs(xy, offs, n, h, w, NULL)
    finally:
        free(counts)
        free(kinds)
        free(xy)
        free(offs)
