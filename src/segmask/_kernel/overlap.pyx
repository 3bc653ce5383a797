# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: embedsignature=False
"""Masks and boxes that overlap (:mod:`segmask.iou`, :mod:`segmask.nms`): exact IoU, greedy NMS.

Pairs are found by a sweep over the boxes in order of their left edge
(:func:`sweep_make`); each pair whose boxes meet is counted exactly, on the
runs over the columns both boxes share, or on bit crops for two masks with
many runs a column. pycocotools' values, to the last bit.
"""

from libc.math cimport INFINITY, nextafter
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

import numpy as np

cimport numpy as cnp

from segmask._kernel.bits cimport segmask_popcount64
from segmask._kernel.buffers cimport I64Buf, array_data, dim, i64, i64_array, i64_reserve, u32, writable_data

cnp.import_array()

cdef extern from "pages.h":
    void segmask_small_pages(char* p, size_t n) nogil


cdef int mask_ends(const u32* counts, Py_ssize_t n, I64Buf* ends) noexcept nogil:
    """The end position of each of one mask's ``n`` runs, into ``ends`` (its own scratch); -1 when out of memory."""
    cdef Py_ssize_t j
    cdef i64 pos = 0
    ends.n = 0
    if i64_reserve(ends, n) < 0:
        return -1
    for j in range(n):
        pos += counts[j]
        ends.data[j] = pos
    ends.n = n
    return 0


cdef inline Py_ssize_t first_fg_after(const i64* ends, Py_ssize_t n, i64 lo) noexcept nogil:
    """The first foreground run of a mask (runs 0..n-1, odd index) that ends after ``lo``."""
    cdef Py_ssize_t left = 0, right = n, mid
    while left < right:
        mid = (left + right) >> 1
        if ends[mid] > lo:
            right = mid
        else:
            left = mid + 1
    return left | 1


cdef inline i64 intersect_runs(const i64* ea, Py_ssize_t na, const u32* cb, Py_ssize_t nb,
                               i64 lo, i64 hi) noexcept nogil:
    """Pixels in both masks from position ``lo`` to ``hi``: ``a`` as run ends, ``b`` as its counts.

    Outside the columns both boxes share no pixel is in both. ``a``'s first
    foreground run there is found by bisection; ``b`` is walked from its
    start (its positions are not summed in advance: that would cost a pass
    and a run-sized allocation over every mask, paired or not).
    """
    cdef Py_ssize_t ka = first_fg_after(ea, na, lo), kb = 0
    cdef i64 pos = 0, sa, fa, sb, fb, s, e, inter = 0
    # b's runs wholly before lo, two at a time (a background run and a foreground one)
    while kb + 2 < nb and pos + cb[kb] + cb[kb + 1] <= lo:
        pos += cb[kb] + cb[kb + 1]
        kb += 2
    kb += 1  # b's foreground run after the background run at pos
    pos += cb[kb - 1]
    while ka < na and kb < nb:
        sb = pos
        fb = pos + cb[kb]
        if sb >= hi:
            break
        while ka < na:
            sa = ea[ka - 1]
            if sa >= fb:
                break
            fa = ea[ka]
            s = sa if sa > sb else sb
            e = fa if fa < fb else fb
            if e > s:
                inter += e - s
            if fa > fb:
                break
            ka += 2
        if kb + 1 >= nb:
            break
        pos = fb + cb[kb + 1]
        kb += 2
    return inter


# A mask with many runs a column is faster to intersect as a bit crop: its box's columns, each
# as 64-bit words of rows (bit y % 64 of word y // 64, words counted from the image's top, so
# that two masks' words of one column line up). A pair of such masks is counted by a popcount
# of the AND of their shared columns' shared words; any other pair by the run sweep. A mask gets
# a crop when its runs a column reach CROP_RUNS_PER_WORD times its words a column: its crop (8
# bytes a word) is then no larger than its runs (4 bytes a run). Speckled masks of 60-300 px
# with 3% of their pixels set: iou of 200 of them 5.7 -> 1.9 ms; half set: 37 -> 7 ms.
cdef enum:
    CROP_RUNS_PER_WORD = 2

cdef struct Crops:
    uint64_t* bits  # every crop's words, column after column
    i64* base  # per mask: the index of its first word in bits, -1 when it has no crop
    i64* word0  # per mask: its first word's row // 64
    i64* words  # per mask: words a column


cdef inline void set_rows(uint64_t* column, i64 y0, i64 y1) noexcept nogil:
    """Set bits y0..y1-1 (y1 > y0) of a column of words."""
    cdef i64 a = y0 >> 6, b = (y1 - 1) >> 6, w
    cdef uint64_t first = (~<uint64_t>0) << (y0 & 63), last = (~<uint64_t>0) >> (63 - ((y1 - 1) & 63))
    if a == b:
        column[a] |= first & last
        return
    column[a] |= first
    for w in range(a + 1, b):
        column[w] = ~<uint64_t>0
    column[b] |= last


cdef int crops_make(const u32* counts, const i64* offsets, const i64* boxes, Py_ssize_t n, i64 h,
                    Crops* c) noexcept nogil:
    """The crops of the masks with many runs a column (see above); -1 when out of memory."""
    cdef Py_ssize_t i, r, nr
    cdef i64 total = 0, bx, by, bw, bh, pos, s, e, x, col, y1, top
    c.bits = NULL
    c.base = <i64*>malloc((n + 1) * sizeof(i64))
    c.word0 = <i64*>malloc((n + 1) * sizeof(i64))
    c.words = <i64*>malloc((n + 1) * sizeof(i64))
    if c.base == NULL or c.word0 == NULL or c.words == NULL:
        return -1
    for i in range(n):
        bx = boxes[4 * i + 0]
        by = boxes[4 * i + 1]
        bw = boxes[4 * i + 2]
        bh = boxes[4 * i + 3]
        c.base[i] = -1
        if bw == 0 or bh == 0:
            continue
        c.word0[i] = by >> 6
        c.words[i] = ((by + bh - 1) >> 6) - (by >> 6) + 1
        if offsets[i + 1] - offsets[i] >= CROP_RUNS_PER_WORD * c.words[i] * bw:
            c.base[i] = total
            total += c.words[i] * bw
    if total == 0:
        return 0
    c.bits = <uint64_t*>calloc(total, sizeof(uint64_t))
    if c.bits == NULL:
        return -1
    for i in range(n):
        if c.base[i] < 0:
            continue
        bx = boxes[4 * i + 0]
        top = c.word0[i] << 6  # the row of bit 0 of the crop's words
        nr = offsets[i + 1] - offsets[i]
        pos = 0
        x = 0
        col = 0
        for r in range(nr):
            e = pos + counts[offsets[i] + r]
            if r & 1:
                s = pos
                while s < e:  # the run, a column at a time
                    if s >= col + h:  # a later column: a division once a column at most
                        x = s // h
                        col = x * h
                    y1 = e - col if e - col < h else h
                    set_rows(c.bits + c.base[i] + (x - bx) * c.words[i], s - col - top, y1 - top)
                    s = col + y1
            pos = e
    return 0


cdef void crops_free(Crops* c) noexcept nogil:
    free(c.bits)
    free(c.base)
    free(c.word0)
    free(c.words)


cdef inline i64 intersect_crops(const Crops* ca, Py_ssize_t i, i64 bxa, const Crops* cb, Py_ssize_t j, i64 bxb,
                                i64 x0, i64 x1) noexcept nogil:
    """Pixels in both of two cropped masks, over columns x0..x1-1 (within both boxes)."""
    cdef i64 lo = ca.word0[i] if ca.word0[i] > cb.word0[j] else cb.word0[j]
    cdef i64 hi = ca.word0[i] + ca.words[i]
    cdef i64 x, w, inter = 0
    cdef const uint64_t* pa
    cdef const uint64_t* pb
    if cb.word0[j] + cb.words[j] < hi:
        hi = cb.word0[j] + cb.words[j]
    if hi <= lo:
        return 0
    pa = ca.bits + ca.base[i] + (x0 - bxa) * ca.words[i] + (lo - ca.word0[i])
    pb = cb.bits + cb.base[j] + (x0 - bxb) * cb.words[j] + (lo - cb.word0[j])
    for x in range(x1 - x0):
        for w in range(hi - lo):
            inter += segmask_popcount64(pa[w] & pb[w])
        pa += ca.words[i]
        pb += cb.words[j]
    return inter



ctypedef fused edge:
    i64
    double


cdef inline Py_ssize_t first_at_or_past(const edge* xs, Py_ssize_t n, edge x) noexcept nogil:
    """The first index p with xs[p] >= x (xs sorted, n of them)."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if xs[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline i64 count_pair(const u32* ca, const i64* oa, const Crops* cra, i64 bxa, Py_ssize_t i,
                           const u32* cb, const i64* ob, const Crops* crb, i64 bxb, Py_ssize_t j,
                           i64 x0, i64 x1, i64 h, I64Buf* ends, bint* have_ends) noexcept nogil:
    """Pixels in both ``a[i]`` and ``b[j]`` over columns x0..x1-1; -1 when out of memory.

    On their bit crops when both have one; else by the run sweep, ``a[i]``'s
    run ends summed into ``ends`` on its first pair (``have_ends``).
    """
    if cra.base[i] >= 0 and crb.base[j] >= 0:
        return intersect_crops(cra, i, bxa, crb, j, bxb, x0, x1)
    if not have_ends[0]:
        if mask_ends(ca + oa[i], oa[i + 1] - oa[i], ends) < 0:
            return -1
        have_ends[0] = True
    return intersect_runs(ends.data, ends.n, cb + ob[j], ob[j + 1] - ob[j], x0 * h, x1 * h)


cdef inline bint boxes_meet(const i64* ba, Py_ssize_t i, const i64* bb, Py_ssize_t j, i64* x0, i64* x1) noexcept nogil:
    """Boxes ``ba[i]`` and ``bb[j]`` (``[x, y, w, h]`` rows) share a pixel; their shared columns x0..x1-1."""
    cdef const i64* a = ba + 4 * i
    cdef const i64* b = bb + 4 * j
    cdef i64 lo, hi
    lo = a[0] if a[0] > b[0] else b[0]
    hi = a[0] + a[2] if a[0] + a[2] < b[0] + b[2] else b[0] + b[2]
    if hi <= lo:
        return False
    x0[0] = lo
    x1[0] = hi
    lo = a[1] if a[1] > b[1] else b[1]
    hi = a[1] + a[3] if a[1] + a[3] < b[1] + b[3] else b[1] + b[3]
    return hi > lo


cdef inline double iou_value(i64 inter, i64 area_a, i64 area_b, bint crowd) noexcept nogil:
    # pycocotools: no intersection scores 0; a crowd region divides by the detection's area.
    if inter == 0:
        return 0.0
    if crowd:
        return <double>inter / <double>area_a
    return <double>inter / <double>(area_a + area_b - inter)


def zeros_sparse(Py_ssize_t rows, Py_ssize_t cols):
    """A zeroed float64 ``(rows, cols)`` array whose memory is committed page by page as it is written.

    ``np.zeros`` of a large array maps untouched memory, but on Linux with
    transparent huge pages it is committed 2 MB at a time: one value written
    per row of a 10,000 x 10,000 matrix (its diagonal) commits all 800 MB. With
    small pages a sparse answer commits only the pages it writes; reading
    the others maps the shared zero page.
    """
    cdef object arr = np.zeros((rows, cols), dtype=np.float64)
    segmask_small_pages(<char*>cnp.PyArray_DATA(arr), <size_t>(rows * cols * 8))
    return arr


cdef struct Sweep:
    # Items in order of their boxes' left edge, to find those whose boxes may meet one box.
    const i64* byx  # the p-th item from the left
    const void* left  # its left edge (i64 for masks' boxes, double for boxes)
    const i64* rank  # with a walk order given, item i's place in it
    double widest  # the widest box's width


cdef object sweep_make(object boxes, object order, Sweep* s):
    """A :c:type:`Sweep` of (N, 4) ``[x, y, w, h]`` boxes; returns the arrays that hold it (keep them meanwhile).

    An item whose left edge lies before (left of box i) - widest ends before
    box i starts, and one whose left edge is at or past box i's right edge
    starts after it ends: neither can meet box i.
    """
    lefts = boxes[:, 0]
    widths = boxes[:, 2]
    s.widest = float(widths.max()) if len(widths) else 0.0
    byx = np.argsort(lefts, kind="stable").astype(np.int64)
    left = np.ascontiguousarray(lefts[byx])
    s.byx = <const i64*>cnp.PyArray_DATA(byx)
    s.left = cnp.PyArray_DATA(left)
    s.rank = NULL
    rank = None
    if order is not None:
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        s.rank = <const i64*>cnp.PyArray_DATA(rank)
    return byx, left, rank


def mask_iou_matrix(ca_array, oa_array, ba_array, area_a_array, cb_array, ob_array, bb_array, area_b_array,
                    crowd_array, bint same, i64 h, out_array):
    """Exact IoU of every pair whose boxes meet, written into ``out`` (zeroed); pycocotools' values.

    The boxes of ``b`` are swept in order of their left edge (:func:`sweep_make`):
    for each mask of ``a`` only those whose left edge lies within the widest
    box of ``b`` to its left and before its right edge are looked at. ``same``: a and b are
    one set without crowd flags, so each pair is counted once and mirrored.
    Only nonzero values are written.
    """
    cdef const u32* ca = <const u32*>array_data(ca_array, cnp.NPY_UINT32, 1, -1, "counts")
    cdef const i64* oa = <const i64*>array_data(oa_array, cnp.NPY_INT64, 1, -1, "offsets")
    cdef const i64* ba = <const i64*>array_data(ba_array, cnp.NPY_INT64, 2, 4, "boxes")
    cdef const i64* area_a = <const i64*>array_data(area_a_array, cnp.NPY_INT64, 1, -1, "area")
    cdef const u32* cb = <const u32*>array_data(cb_array, cnp.NPY_UINT32, 1, -1, "counts")
    cdef const i64* ob = <const i64*>array_data(ob_array, cnp.NPY_INT64, 1, -1, "offsets")
    cdef const i64* bb = <const i64*>array_data(bb_array, cnp.NPY_INT64, 2, 4, "boxes")
    cdef const i64* area_b = <const i64*>array_data(area_b_array, cnp.NPY_INT64, 1, -1, "area")
    cdef const uint8_t* crowd = <const uint8_t*>array_data(crowd_array, cnp.NPY_UINT8, 1, -1, "crowd")
    cdef double* out = <double*>writable_data(out_array, cnp.NPY_FLOAT64, 2, -1, "out")
    cdef Py_ssize_t na = dim(oa_array, 0) - 1, nb = dim(ob_array, 0) - 1, i, j, p
    cdef i64 x0, x1, inter
    cdef I64Buf ends = I64Buf(NULL, 0, 0)
    cdef bint have_ends, failed = False
    cdef double v
    cdef Crops crops_a, crops_b
    cdef Crops* cra = &crops_a
    cdef Crops* crb = &crops_a if same else &crops_b
    cdef Sweep sweep
    cdef object holds = sweep_make(bb_array, None, &sweep)
    cdef const i64* xs = <const i64*>sweep.left
    cdef i64 widest = <i64>sweep.widest  # a box's width is below 2**32: exact as a double
    memset(&crops_a, 0, sizeof(Crops))
    memset(&crops_b, 0, sizeof(Crops))
    if crops_make(ca, oa, ba, na, h, cra) < 0 or (not same and crops_make(cb, ob, bb, nb, h, crb) < 0):
        crops_free(&crops_a)
        crops_free(&crops_b)
        raise MemoryError()
    with nogil:
        for i in range(na):
            if ba[4 * i + 2] == 0 or ba[4 * i + 3] == 0:
                continue
            if same:
                out[i * nb + i] = 1.0
            have_ends = False
            # from the first box of b whose left edge is at or past this one's less the widest:
            # none before it reaches box i
            for p in range(first_at_or_past(xs, nb, ba[4 * i] - widest), nb):
                if xs[p] >= ba[4 * i] + ba[4 * i + 2]:
                    break
                j = sweep.byx[p]
                if same and j <= i:
                    continue
                if not boxes_meet(ba, i, bb, j, &x0, &x1):
                    continue
                inter = count_pair(ca, oa, cra, ba[4 * i], i, cb, ob, crb, bb[4 * j], j, x0, x1, h, &ends, &have_ends)
                if inter < 0:
                    failed = True
                    break
                v = iou_value(inter, area_a[i], area_b[j], crowd[j])
                if v != 0.0:  # out is zeroed: a page that only holds zeros is never written
                    out[i * nb + j] = v
                    if same:
                        out[j * nb + i] = v
            if failed:
                break
    free(ends.data)
    crops_free(&crops_a)
    crops_free(&crops_b)
    if failed:
        raise MemoryError()


def greedy_mask_nms(counts_array, offsets_array, boxes_array, area_array, order_array, classes_array,
                    double threshold, i64 h):
    """Greedy NMS on exact mask IoU: walk ``order``; a kept mask suppresses the later ones above ``threshold``.

    ``classes`` empty: all masks compete; else only masks of one class.
    Memory O(N). Each kept mask looks only at the masks whose boxes' left
    edges lie within reach of its box (:func:`sweep_make`), and counts those
    later in ``order`` whose boxes meet it: a mask apart from all others
    costs a bisection, not a pass over every later mask. Returns the kept indices.
    """
    cdef const u32* counts = <const u32*>array_data(counts_array, cnp.NPY_UINT32, 1, -1, "counts")
    cdef const i64* offsets = <const i64*>array_data(offsets_array, cnp.NPY_INT64, 1, -1, "offsets")
    cdef const i64* boxes = <const i64*>array_data(boxes_array, cnp.NPY_INT64, 2, 4, "boxes")
    cdef const i64* area = <const i64*>array_data(area_array, cnp.NPY_INT64, 1, -1, "area")
    cdef const i64* order = <const i64*>array_data(order_array, cnp.NPY_INT64, 1, -1, "order")
    cdef const i64* classes = <const i64*>array_data(classes_array, cnp.NPY_INT64, 1, -1, "classes")
    cdef Py_ssize_t n = dim(order_array, 0), a, p, i, j, nkeep = 0
    cdef bint by_class = dim(classes_array, 0) > 0, have_ends, failed = False
    cdef i64 x0, x1, inter
    cdef object keep_arr = i64_array(n)
    cdef i64* keep = <i64*>cnp.PyArray_DATA(keep_arr)
    cdef uint8_t* gone
    cdef I64Buf ends = I64Buf(NULL, 0, 0)
    cdef Crops crops
    cdef Sweep sweep
    cdef object holds = sweep_make(boxes_array, order_array, &sweep)
    cdef const i64* xs = <const i64*>sweep.left
    cdef i64 widest = <i64>sweep.widest  # a box's width is below 2**32: exact as a double
    gone = <uint8_t*>calloc(n + 1, 1)
    memset(&crops, 0, sizeof(Crops))
    if gone == NULL or crops_make(counts, offsets, boxes, n, h, &crops) < 0:
        free(gone)
        crops_free(&crops)
        raise MemoryError()
    with nogil:
        for a in range(n):
            i = order[a]
            if gone[i]:
                continue
            keep[nkeep] = i
            nkeep += 1
            have_ends = False
            for p in range(first_at_or_past(xs, n, boxes[4 * i] - widest), n):
                if xs[p] >= boxes[4 * i] + boxes[4 * i + 2]:
                    break
                j = sweep.byx[p]
                if sweep.rank[j] <= a or gone[j] or (by_class and classes[j] != classes[i]):
                    continue
                if not boxes_meet(boxes, i, boxes, j, &x0, &x1):
                    continue
                inter = count_pair(counts, offsets, &crops, boxes[4 * i], i,
                                   counts, offsets, &crops, boxes[4 * j], j, x0, x1, h, &ends, &have_ends)
                if inter < 0:
                    failed = True
                    break
                if iou_value(inter, area[i], area[j], False) > threshold:
                    gone[j] = 1
            if failed:
                break
    free(gone)
    free(ends.data)
    crops_free(&crops)
    if failed:
        raise MemoryError()
    return keep_arr[:nkeep].copy()


cdef inline double box_iou_value(const double* a, const double* b, bint crowd) noexcept nogil:
    """pycocotools' ``bbIou`` for one pair of ``[x, y, w, h]`` boxes, with its arithmetic in its order."""
    cdef double w, hh, inter, da, db
    w = min(a[2] + a[0], b[2] + b[0]) - max(a[0], b[0])
    if w <= 0:
        return 0.0
    hh = min(a[3] + a[1], b[3] + b[1]) - max(a[1], b[1])
    if hh <= 0:
        return 0.0
    inter = w * hh
    da = a[2] * a[3]
    if crowd:
        return inter / da
    db = b[2] * b[3]
    return inter / (da + db - inter)


def box_iou_matrix(a_array, b_array, crowd_array, out_array):
    """IoU of COCO [x, y, w, h] boxes into ``out``: no temporaries, memory is the answer's."""
    cdef const double* a = <const double*>array_data(a_array, cnp.NPY_FLOAT64, 2, 4, "a")
    cdef const double* b = <const double*>array_data(b_array, cnp.NPY_FLOAT64, 2, 4, "b")
    cdef const uint8_t* crowd = <const uint8_t*>array_data(crowd_array, cnp.NPY_UINT8, 1, -1, "crowd")
    cdef double* out = <double*>writable_data(out_array, cnp.NPY_FLOAT64, 2, -1, "out")
    cdef Py_ssize_t na = dim(a_array, 0), nb = dim(b_array, 0), i, j
    with nogil:
        for i in range(na):
            for j in range(nb):
                out[i * nb + j] = box_iou_value(a + 4 * i, b + 4 * j, crowd[j])


def greedy_box_nms(boxes_array, order_array, classes_array, double threshold):
    """Greedy NMS on box IoU (the values of :func:`box_iou_matrix`); memory O(N). Returns the kept indices.

    As :func:`greedy_mask_nms`, each kept box looks only at the boxes whose
    left edges lie within reach of it. The reach is taken one unit in the
    last place wider than (left - widest) rounds to, so that no box whose
    right edge, as ``box_iou_matrix`` rounds it, passes the left edge is missed.
    """
    cdef const double* boxes = <const double*>array_data(boxes_array, cnp.NPY_FLOAT64, 2, 4, "boxes")
    cdef const i64* order = <const i64*>array_data(order_array, cnp.NPY_INT64, 1, -1, "order")
    cdef const i64* classes = <const i64*>array_data(classes_array, cnp.NPY_INT64, 1, -1, "classes")
    cdef Py_ssize_t n = dim(order_array, 0), a, p, i, j, nkeep = 0
    cdef bint by_class = dim(classes_array, 0) > 0
    cdef object keep_arr = i64_array(n)
    cdef i64* keep = <i64*>cnp.PyArray_DATA(keep_arr)
    cdef uint8_t* gone
    cdef Sweep sweep
    cdef object holds = sweep_make(boxes_array, order_array, &sweep)
    cdef const double* xs = <const double*>sweep.left
    cdef double widest = sweep.widest
    gone = <uint8_t*>calloc(n + 1, 1)
    if gone == NULL:
        raise MemoryError()
    with nogil:
        for a in range(n):
            i = order[a]
            if gone[i]:
                continue
            keep[nkeep] = i
            nkeep += 1
            for p in range(first_at_or_past(xs, n, nextafter(boxes[4 * i] - widest, -INFINITY)), n):
                if xs[p] >= boxes[4 * i + 2] + boxes[4 * i]:
                    break
                j = sweep.byx[p]
                if sweep.rank[j] <= a or gone[j] or (by_class and classes[j] != classes[i]):
                    continue
                if box_iou_value(boxes + 4 * i, boxes + 4 * j, False) > threshold:
                    gone[j] = 1
    free(gone)
    return keep_arr[:nkeep].copy()
