# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: embedsignature=False
"""The kernel's arrays: the pool of freed output buffers, the fill rule's scratch, and array checks.

All of the kernel's module-level state is here, guarded by the GIL: at most
a few freed output buffers kept for the next large outputs, and one
scratch of the contour rule kept from call to call. The other modules
cimport what they need from ``buffers.pxd``; Python calls :func:`freeze`
(the columns of ``Masks`` and ``Predictions`` made read-only) and
:func:`take_ragged` (``segmask._ragged.take``).
"""

from cpython.pycapsule cimport PyCapsule_Destructor, PyCapsule_GetContext, PyCapsule_GetPointer, PyCapsule_New, PyCapsule_SetContext
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memset

import numpy as np

cimport numpy as cnp

cnp.import_array()


cdef const void* array_data(object a, int typenum, int ndim, Py_ssize_t cols, str name) except NULL:
    """The data of a C-contiguous array of this type and number of dimensions; else TypeError.

    ``cols``: the length the last axis must have when ``ndim`` is 2 (-1: any).
    A typed memoryview checks as much at four times the cost, and its
    machinery is some 140 KB of every module that uses one.
    """
    cdef cnp.ndarray arr
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name} must be a numpy array")
    arr = <cnp.ndarray>a
    # Type numbers, not equality: int64 is NPY_LONG on some platforms and NPY_LONGLONG on others, both may appear.
    if (not cnp.PyArray_EquivTypenums(cnp.PyArray_TYPE(arr), typenum) or cnp.PyArray_NDIM(arr) != ndim
            or not cnp.PyArray_IS_C_CONTIGUOUS(arr) or (ndim == 2 and cols >= 0 and cnp.PyArray_DIM(arr, 1) != cols)):
        shape = f"({cols}-column) " if ndim == 2 and cols >= 0 else ""
        raise TypeError(f"{name} must be a C-contiguous {shape}{ndim}-d array of {cnp.PyArray_DescrFromType(typenum)}, "
                        f"got {a.dtype} with shape {a.shape}")
    return cnp.PyArray_DATA(arr)


cdef void* writable_data(object a, int typenum, int ndim, Py_ssize_t cols, str name) except NULL:
    """:func:`array_data` of an array the kernel writes into (an answer made by the caller)."""
    cdef const void* p = array_data(a, typenum, ndim, cols, name)
    if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a):
        raise ValueError(f"{name} must be writeable")
    return <void*>p


def freeze(*arrays):
    """Make numpy arrays read-only: one call for several (``setflags`` costs as much as a small kernel call)."""
    for a in arrays:
        if not cnp.PyArray_Check(a):
            raise TypeError("freeze takes numpy arrays")
        cnp.PyArray_CLEARFLAGS(<cnp.ndarray>a, cnp.NPY_ARRAY_WRITEABLE)


def take_ragged(values, offsets, sel):
    """Items ``sel`` of a ragged batch: ``(values, offsets)`` with those items' rows, in that order.

    ``values`` is a C-contiguous array whose first axis is ragged (item ``i``
    owns rows ``offsets[i]:offsets[i + 1]``), ``offsets`` (N + 1,) int64 and
    ``sel`` int64 indices in ``[0, N)`` (the caller checks them). One copy
    per item, and no index array of every row (which costs four times the
    answer for uint32 runs).
    """
    cdef cnp.ndarray src
    if not cnp.PyArray_Check(values):
        raise TypeError("values must be a numpy array")
    src = <cnp.ndarray>values
    if not cnp.PyArray_IS_C_CONTIGUOUS(src) or cnp.PyArray_NDIM(src) < 1 or values.dtype.hasobject:
        raise TypeError("values must be a C-contiguous array of numbers")
    cdef const i64* offs = <const i64*>array_data(offsets, cnp.NPY_INT64, 1, -1, "offsets")
    cdef const i64* picks = <const i64*>array_data(sel, cnp.NPY_INT64, 1, -1, "sel")
    cdef Py_ssize_t n = cnp.PyArray_DIM(offsets, 0) - 1, k = cnp.PyArray_DIM(sel, 0), i, total = 0
    cdef Py_ssize_t row = cnp.PyArray_ITEMSIZE(src)
    cdef i64 j
    for i in range(1, cnp.PyArray_NDIM(src)):
        row *= cnp.PyArray_DIM(src, i)
    for i in range(k):
        j = picks[i]
        if j < 0 or j >= n:
            raise IndexError(f"sel[{i}] = {j} is not in [0, {n})")
        if not 0 <= offs[j] <= offs[j + 1] <= cnp.PyArray_DIM(src, 0):
            raise ValueError(f"offsets[{j}:{j + 2}] are not rows of values")
        total += offs[j + 1] - offs[j]
    shape = (total,) + tuple(values.shape[1:])
    out = np.empty(shape, dtype=values.dtype)
    out_offsets = i64_array(k + 1)
    cdef i64* oo = <i64*>cnp.PyArray_DATA(out_offsets)
    cdef const char* a = <const char*>cnp.PyArray_DATA(src)
    cdef char* b = <char*>cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef Py_ssize_t m = 0, length
    oo[0] = 0
    with nogil:
        for i in range(k):
            j = picks[i]
            length = offs[j + 1] - offs[j]
            memcpy(b + m * row, a + offs[j] * row, length * row)
            m += length
            oo[i + 1] = m
    return out, out_offsets


# --- the pool of freed output buffers --------------------------------------------------------
#
# A buffer of some megabytes is, with most allocators, fresh pages from the
# system each time, and writing them costs a page fault every 4 KiB: for 1000
# pairwise unions (11 MB of runs) half of the time. The buffers of arrays the
# kernel made, when they are freed, wait here instead: at most POOL_SLOTS
# buffers of POOL_MIN to POOL_MAX bytes each, POOL_TOTAL bytes in all; a
# request takes one of half to twice its size. The GIL guards both ends.

cdef enum:
    POOL_SLOTS = 4
    POOL_MIN = 1 << 20
    POOL_MAX = 32 << 20
    POOL_TOTAL = 64 << 20

cdef void* pool_blocks[POOL_SLOTS]  # C statics: zeroed
cdef size_t pool_sizes[POOL_SLOTS]
cdef size_t pool_total = 0


cdef void* pool_take(size_t size) noexcept:
    """A malloc'd buffer of at least ``size`` bytes (NULL when out of memory); call with the GIL."""
    global pool_total
    cdef void* p
    cdef int k, best = -1
    # The smallest block that holds it, else the largest that nearly does.
    for k in range(POOL_SLOTS):
        if pool_blocks[k] != NULL and size <= 2 * pool_sizes[k] and pool_sizes[k] <= 2 * size:
            if best < 0:
                best = k
            elif pool_sizes[best] >= size:
                if size <= pool_sizes[k] < pool_sizes[best]:
                    best = k
            elif pool_sizes[k] > pool_sizes[best]:
                best = k
    if best < 0:
        return malloc(size)
    p = pool_blocks[best]
    if size > pool_sizes[best]:
        p = realloc(p, size)
        if p == NULL:
            return NULL  # the block is still the pool's
    pool_total -= pool_sizes[best]
    pool_blocks[best] = NULL
    pool_sizes[best] = 0
    return p


cdef void free_capsule(object capsule) noexcept:
    global pool_total
    cdef void* p = PyCapsule_GetPointer(capsule, NULL)
    cdef size_t size = <size_t>PyCapsule_GetContext(capsule)
    cdef int k
    if POOL_MIN <= size <= POOL_MAX and pool_total + size <= POOL_TOTAL:
        for k in range(POOL_SLOTS):
            if pool_blocks[k] == NULL:
                pool_blocks[k] = p
                pool_sizes[k] = size
                pool_total += size
                return
    free(p)


cdef object owned_u32(u32* data, Py_ssize_t n, Py_ssize_t cap):
    """A uint32 array of ``n`` values that owns ``data`` (malloc'd, room for ``cap``): freed with it.

    Copied (and ``data`` freed) when small.

    Room beyond an eighth more than ``n`` is given back first; what is kept
    makes the buffer fit the same request again when it is pooled.
    """
    cdef cnp.npy_intp dims[1]
    cdef cnp.ndarray arr
    cdef object capsule
    cdef void* q
    if n < 1:
        n = 0
    if n <= 4096:  # a small array: a copy costs less than a capsule
        arr = u32_array(n)
        memcpy(cnp.PyArray_DATA(arr), data, n * sizeof(u32))
        free(data)
        return arr
    if cap - (cap >> 3) > max(n, 1):
        q = realloc(data, max(n, 1) * sizeof(u32))
        if q != NULL:
            data = <u32*>q
            cap = max(n, 1)
    dims[0] = n
    arr = cnp.PyArray_SimpleNewFromData(1, dims, cnp.NPY_UINT32, <void*>data)
    capsule = PyCapsule_New(<void*>data, NULL, <PyCapsule_Destructor>free_capsule)
    PyCapsule_SetContext(capsule, <void*>(<size_t>cap * sizeof(u32)))
    cnp.set_array_base(arr, capsule)
    return arr


cdef object runs_result(RunsOut* r):
    """The runs as (counts uint32, offsets int64, area int64) arrays; takes over or frees the buffers."""
    cdef object counts
    cdef object offsets = i64_array(r.m + 1)
    cdef object area = i64_array(r.m)
    cdef i64* o = <i64*>cnp.PyArray_DATA(offsets)
    if r.counts == NULL:
        counts = u32_array(0)
    else:
        # Hand the buffer to the array: no copy (an upper bound's room beyond need given back).
        counts = owned_u32(r.counts, r.n, r.cap)
        r.counts = NULL
    o[0] = 0
    if r.m:
        memcpy(&o[1], r.ends, r.m * sizeof(i64))
        memcpy(cnp.PyArray_DATA(area), r.area, r.m * sizeof(i64))
    runs_free(r)
    return counts, offsets, area


# --- the contour rule's scratch --------------------------------------------------------------
#
# One scratch kept from call to call, so that a call for a few small polygons
# allocates nothing (its eleven buffers cost as much as filling a triangle).
# Taken and given back with the GIL held: a second thread meanwhile uses a
# scratch of its own. Kept only while its buffers are small.

cdef enum:
    KEPT_SCRATCH_MAX = 1 << 14  # items of each buffer

cdef FillScratch kept_scratch  # a C static: zeroed
cdef bint kept_scratch_free = True


cdef void scratch_free(FillScratch* wk) noexcept nogil:
    free(wk.edges)
    free(wk.xs)
    free(wk.active)
    free(wk.segs.data)
    free(wk.rowsegs.data)
    free(wk.row_start)
    free(wk.rows)
    free(wk.cols)
    free(wk.colcount)
    free(wk.toggles.data)
    free(wk.pos.data)


cdef FillScratch* scratch_take(FillScratch* own) noexcept:
    """The kept scratch when free, else ``own`` (zeroed); call with the GIL."""
    global kept_scratch_free
    if kept_scratch_free:
        kept_scratch_free = False
        return &kept_scratch
    memset(own, 0, sizeof(FillScratch))
    return own


cdef void scratch_give(FillScratch* wk, bint failed) noexcept:
    """Give back what :func:`scratch_take` gave; call with the GIL. After a failed allocation its
    buffers may not match their capacities: the kept scratch is then emptied."""
    global kept_scratch_free
    if wk != &kept_scratch:
        scratch_free(wk)
        return
    if (failed or wk.edges_cap > KEPT_SCRATCH_MAX or wk.row_cap > KEPT_SCRATCH_MAX
            or wk.width_cap > KEPT_SCRATCH_MAX or wk.segs.cap > KEPT_SCRATCH_MAX
            or wk.rowsegs.cap > KEPT_SCRATCH_MAX or wk.toggles.cap > KEPT_SCRATCH_MAX
            or wk.pos.cap > KEPT_SCRATCH_MAX):
        scratch_free(wk)
        memset(wk, 0, sizeof(FillScratch))
    kept_scratch_free = True
