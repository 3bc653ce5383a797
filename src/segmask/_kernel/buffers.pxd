# The buffers every kernel module shares (implemented in buffers.pyx).
#
# Growable C arrays and the runs of the masks being made, whose helpers run per run or per mask and
# so are inline here: each module that cimports them compiles its own copy, no call crosses a module.
# What crosses (through Cython's C API, a pointer call) happens once per array: taking a buffer from
# the pool of freed outputs, handing one to numpy, checking an argument, taking the fill scratch.

from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.stdlib cimport free, realloc

cimport numpy as cnp

ctypedef int64_t i64
ctypedef uint32_t u32


cdef struct I64Buf:
    i64* data
    Py_ssize_t n
    Py_ssize_t cap


cdef struct RunsOut:
    # The runs of the masks made so far: counts, and the end offset and the area of each mask.
    u32* counts
    Py_ssize_t n
    Py_ssize_t cap
    i64* ends
    i64* area
    Py_ssize_t m
    Py_ssize_t mcap


cdef struct PolyEdge:
    # An edge of a polygon under the contour rule: rows y0..y1-1, x at y0 and its step a row (16.16).
    i64 y0
    i64 y1
    i64 x
    i64 dx


cdef struct FillScratch:
    # The contour rule's buffers, reused from polygon to polygon (and, kept, from call to call).
    PolyEdge* edges
    Py_ssize_t edges_cap
    i64* xs  # crossings of one row
    i64* active  # edge indices
    I64Buf segs  # outline pixels: (row, x0, x1) triples
    I64Buf rowsegs  # the same, bucketed by row: (x0, x1) pairs
    i64* row_start
    Py_ssize_t row_cap
    uint8_t* rows  # two rows of the polygon's box, 0/1 bytes
    i64* cols  # columns where they differ
    i64* colcount
    Py_ssize_t width_cap
    I64Buf toggles  # (x, y) pairs
    I64Buf pos  # positions, sorted


cdef inline int grow(void** data, Py_ssize_t* cap, Py_ssize_t need, size_t item, Py_ssize_t least) noexcept nogil:
    """Make room for ``need`` items of ``item`` bytes in ``data[0]`` (its room: ``cap[0]``), doubling; -1 when out of memory."""
    cdef Py_ssize_t room
    cdef void* p
    if need <= cap[0]:
        return 0
    room = cap[0] * 2
    if room < need:
        room = need
    if room < least:
        room = least
    p = realloc(data[0], room * item)
    if p == NULL:
        return -1
    data[0] = p
    cap[0] = room
    return 0


cdef inline int i64_reserve(I64Buf* b, Py_ssize_t extra) noexcept nogil:
    return grow(<void**>&b.data, &b.cap, b.n + extra, sizeof(i64), 64)


cdef inline int i64_push(I64Buf* b, i64 v) noexcept nogil:
    if b.n == b.cap and i64_reserve(b, 1) < 0:
        return -1
    b.data[b.n] = v
    b.n += 1
    return 0


cdef inline int runs_reserve(RunsOut* r, Py_ssize_t extra) noexcept nogil:
    return grow(<void**>&r.counts, &r.cap, r.n + extra, sizeof(u32), 256)


cdef inline int runs_end_mask_area(RunsOut* r, i64 area) noexcept nogil:
    """Close the mask whose runs were appended since the last one; its area is known."""
    cdef Py_ssize_t cap = r.mcap
    if r.m == r.mcap:  # ends and area grow together
        if grow(<void**>&r.ends, &cap, r.m + 1, sizeof(i64), 64) < 0:
            return -1
        cap = r.mcap
        if grow(<void**>&r.area, &cap, r.m + 1, sizeof(i64), 64) < 0:
            return -1
        r.mcap = cap
    r.ends[r.m] = r.n
    r.area[r.m] = area
    r.m += 1
    return 0


cdef inline int runs_end_mask(RunsOut* r) noexcept nogil:
    """Close the mask whose runs were appended since the last one, counting its area."""
    cdef Py_ssize_t j, start = r.ends[r.m - 1] if r.m else 0
    cdef i64 fg = 0
    for j in range(start + 1, r.n, 2):
        fg += r.counts[j]
    return runs_end_mask_area(r, fg)


cdef inline void runs_free(RunsOut* r) noexcept nogil:
    free(r.counts)
    free(r.ends)
    free(r.area)
    r.counts = NULL
    r.ends = NULL
    r.area = NULL


cdef inline object u32_array(Py_ssize_t n):
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    return cnp.PyArray_EMPTY(1, dims, cnp.NPY_UINT32, 0)


cdef inline object i64_array(Py_ssize_t n):
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    return cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)


cdef inline Py_ssize_t dim(object a, int axis) noexcept:
    """The length of axis ``axis`` of an array already checked (by :func:`array_data`)."""
    return cnp.PyArray_DIM(<cnp.ndarray>a, axis)


cdef const void* array_data(object a, int typenum, int ndim, Py_ssize_t cols, str name) except NULL
cdef void* writable_data(object a, int typenum, int ndim, Py_ssize_t cols, str name) except NULL
cdef void* pool_take(size_t size) noexcept
cdef object owned_u32(u32* data, Py_ssize_t n, Py_ssize_t cap)
cdef object runs_result(RunsOut* r)
cdef FillScratch* scratch_take(FillScratch* own) noexcept
cdef void scratch_give(FillScratch* wk, bint failed) noexcept
cdef void scratch_free(FillScratch* wk) noexcept nogil
