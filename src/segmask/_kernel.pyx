# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: embedsignature=False, cpow=True
"""segmask's compiled kernel: the loops over runs, strings, crops and polygons.

Everything here works on the batch layout of :mod:`segmask.rle`: the runs of
N masks are one ``uint32`` array ``counts`` and an ``(N + 1,)`` ``int64``
array ``offsets`` (mask ``i`` owns ``counts[offsets[i]:offsets[i + 1]]``).
Counts are column-major over the whole image, start with a background run
(maybe 0) and sum to ``h * w``. A position is ``x * h + y``, in int64.

Functions trust their inputs (the Python layer above checks them once) except
where they read text from outside (COCO strings, parsed JSON points): those
report the first problem as a tuple for the caller to turn into a message.
No function here raises for bad data, allocates per mask in Python, or
holds the GIL in its loops.

Sections: buffers; COCO strings; run statistics; crops and dense arrays;
set operations; overlap (IoU, NMS); polygons under the coco rule
(pycocotools' ``rleFrPoly``) and under the contour rule (OpenCV's
``fillPoly``); points of a parsed response.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE, PyBytes_CheckExact
from cpython.pycapsule cimport PyCapsule_Destructor, PyCapsule_GetContext, PyCapsule_GetPointer, PyCapsule_New, PyCapsule_SetContext
from cpython.dict cimport PyDict_Check, PyDict_CheckExact, PyDict_Next
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_CheckExact
from cpython.long cimport PyLong_CheckExact
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_CheckExact
from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from libc.math cimport INFINITY, ceil, fabs, floor, isfinite, nextafter
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t, INT64_MAX
from libc.stdlib cimport free, malloc, realloc, qsort, calloc
from libc.string cimport memcmp, memcpy, memmove, memset

import numpy as np

cimport numpy as cnp

cnp.import_array()

cdef extern from "Python.h":
    int PyUnicode_IS_ASCII(object o)
    char* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    double PyLong_AsDouble(object o)
    Py_UCS4 PyUnicode_READ_CHAR(object o, Py_ssize_t index)

ctypedef int64_t i64
ctypedef uint32_t u32

cdef extern from *:
    """
    #if defined(__linux__)
    #include <sys/mman.h>
    #include <unistd.h>
    #endif
    /* Ask for small pages on [p, p + n): a sparse answer then only commits the pages it writes. */
    static void segmask_small_pages(char* p, size_t n) {
    #if defined(__linux__) && defined(MADV_NOHUGEPAGE)
        long page = sysconf(_SC_PAGESIZE);
        size_t start, stop;
        if (page <= 0) return;
        start = ((size_t)p + (size_t)page - 1) & ~((size_t)page - 1);
        stop = ((size_t)p + n) & ~((size_t)page - 1);
        if (stop > start) madvise((void*)start, stop - start, MADV_NOHUGEPAGE);
    #else
        (void)p; (void)n;
    #endif
    }
    """
    void segmask_small_pages(char* p, size_t n) nogil

cdef i64 UINT32_MAX_ = 4294967295


# --- buffers ---------------------------------------------------------------------------------

cdef struct I64Buf:
    i64* data
    Py_ssize_t n
    Py_ssize_t cap


cdef int grow(void** data, Py_ssize_t* cap, Py_ssize_t need, size_t item, Py_ssize_t least) noexcept nogil:
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


cdef struct RunsOut:
    # The runs of the masks made so far: counts, and the end offset and the area of each mask.
    u32* counts
    Py_ssize_t n
    Py_ssize_t cap
    i64* ends
    i64* area
    Py_ssize_t m
    Py_ssize_t mcap


cdef inline int runs_reserve(RunsOut* r, Py_ssize_t extra) noexcept nogil:
    return grow(<void**>&r.counts, &r.cap, r.n + extra, sizeof(u32), 256)


cdef inline int runs_end_mask(RunsOut* r) noexcept nogil:
    """Close the mask whose runs were appended since the last one, counting its area."""
    cdef Py_ssize_t j, start = r.ends[r.m - 1] if r.m else 0
    cdef i64 fg = 0
    for j in range(start + 1, r.n, 2):
        fg += r.counts[j]
    return runs_end_mask_area(r, fg)


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


cdef object u32_array(Py_ssize_t n):
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    return cnp.PyArray_EMPTY(1, dims, cnp.NPY_UINT32, 0)


cdef object i64_array(Py_ssize_t n):
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    return cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)


cdef const void* array_data(object a, int typenum, int ndim, str name) except NULL:
    """The data of a C-contiguous array of this type and number of dimensions ((P, 2) when 2); else TypeError.

    A typed memoryview checks as much at four times the cost: the functions
    that small calls (one polygon, one mask) go through take arrays this way.
    """
    cdef cnp.ndarray arr
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name} must be a numpy array")
    arr = <cnp.ndarray>a
    # Type numbers, not equality: int64 is NPY_LONG on some platforms and NPY_LONGLONG on others, both may appear.
    if (not cnp.PyArray_EquivTypenums(cnp.PyArray_TYPE(arr), typenum) or cnp.PyArray_NDIM(arr) != ndim
            or not cnp.PyArray_IS_C_CONTIGUOUS(arr) or (ndim == 2 and cnp.PyArray_DIM(arr, 1) != 2)):
        raise TypeError(f"{name} must be a C-contiguous {ndim}-d array of {cnp.PyArray_DescrFromType(typenum)}, "
                        f"got {a.dtype} with shape {a.shape}")
    return cnp.PyArray_DATA(arr)


def freeze(*arrays):
    """Make numpy arrays read-only: one call for several (``setflags`` costs as much as a small kernel call)."""
    for a in arrays:
        if not cnp.PyArray_Check(a):
            raise TypeError("freeze takes numpy arrays")
        cnp.PyArray_CLEARFLAGS(<cnp.ndarray>a, cnp.NPY_ARRAY_WRITEABLE)


# Freed output buffers kept for the next large outputs. A buffer of some
# megabytes is, with most allocators, fresh pages from the system each time,
# and writing them costs a page fault every 4 KiB: for 1000 pairwise unions
# (11 MB of runs) half of the time. The buffers of arrays the kernel made,
# when they are freed, wait here instead: at most POOL_SLOTS buffers of
# POOL_MIN to POOL_MAX bytes each, POOL_TOTAL bytes in all; a request takes
# one of half to twice its size. The GIL guards both ends.
DEF POOL_SLOTS = 4
DEF POOL_MIN = 1 << 20
DEF POOL_MAX = 32 << 20
DEF POOL_TOTAL = 64 << 20
cdef void* pool_blocks[POOL_SLOTS]
cdef size_t pool_sizes[POOL_SLOTS]
cdef size_t pool_total = 0
memset(pool_blocks, 0, sizeof(pool_blocks))
memset(pool_sizes, 0, sizeof(pool_sizes))


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


cdef inline void runs_free(RunsOut* r) noexcept nogil:
    free(r.counts)
    free(r.ends)
    free(r.area)
    r.counts = NULL
    r.ends = NULL
    r.area = NULL


cdef int push_toggles(RunsOut* r, i64* t, Py_ssize_t k, i64 hw) noexcept nogil:
    """Append one mask from its sorted toggle positions.

    Toggles at one position cancel in pairs, and a toggle at or past ``hw``
    does nothing (pycocotools' ``rleFrPoly`` behaves so, and crop edges that
    meet at a column boundary make such pairs).
    """
    cdef Py_ssize_t i = 0, j
    cdef i64 prev = 0, p
    cdef int parity
    if runs_reserve(r, k + 1) < 0:
        return -1
    while i < k:
        p = t[i]
        j = i + 1
        while j < k and t[j] == p:
            j += 1
        parity = (j - i) & 1
        i = j
        if parity and p < hw:
            r.counts[r.n] = <u32>(p - prev)
            r.n += 1
            prev = p
    r.counts[r.n] = <u32>(hw - prev)
    r.n += 1
    return runs_end_mask(r)


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


# --- COCO strings ----------------------------------------------------------------------------

# Error codes for the caller's messages.
BAD_CHAR = 1  # (index, position, character code)
TRUNCATED = 2  # (index, -, -)
TOO_LONG = 3  # a value of more than 12 groups: (index, position of its start, -)
BAD_RUN = 4  # (index, run number, value)
BAD_SUM = 5  # (index, -, sum)
NOT_ASCII = 6  # (index, -, -)
NOT_TEXT = 7  # (index, -, -): neither str nor bytes


cdef object string_problem(const char* text, Py_ssize_t length, Py_ssize_t i):
    """The first problem of a string the fast decoder flagged, found by walking it one value at a time."""
    cdef Py_ssize_t p = 0, m = 0, start
    cdef i64 x, total = 0
    cdef int k, c, more
    cdef i64* hist = <i64*>malloc((length + 1) * sizeof(i64))
    if hist == NULL:
        raise MemoryError()
    try:
        while p < length:
            x = 0
            k = 0
            more = 1
            start = p
            while more:
                if p >= length:
                    return (TRUNCATED, i, p, 0)
                c = <int>(<uint8_t>text[p]) - 48
                if c < 0 or c > 63:
                    return (BAD_CHAR, i, p, <int>(<uint8_t>text[p]))
                if k >= 12:
                    return (TOO_LONG, i, start, 0)
                x |= (<i64>(c & 0x1f)) << (5 * k)
                more = c & 0x20
                p += 1
                k += 1
                if not more and (c & 0x10):
                    x |= (<i64>-1) << (5 * k)
            if m > 2:
                x += hist[m - 2]
            if x < 0 or x > UINT32_MAX_:
                return (BAD_RUN, i, m, x)
            hist[m] = x
            total += x
            m += 1
        return (BAD_SUM, i, 0, total)
    finally:
        free(hist)


# Each byte of a COCO string: its 5-bit group, bit 5 set when it ends a value (its 0x20 bit
# clear), bit 7 when it is not one of the 64 characters '0'..'o'.
cdef uint8_t[256] CHARS
for _b in range(256):
    CHARS[_b] = (((_b - 48) & 0x1f) | (0 if (_b - 48) & 0x20 else 0x20)) if 48 <= _b < 112 else 0x80


cdef struct Reading:
    # The first pass over a string: the value being read (its groups so far, and the place value
    # of the next group, 32 ** its index), flags (bit 7 of bad: a character outside the code; bit
    # 60 of over: a 13th group) and the count of values read.
    uint64_t x
    uint64_t place
    uint64_t over
    uint64_t bad
    Py_ssize_t k


cdef inline void read_char(Reading* v, i64* values, uint8_t b) noexcept nogil:
    """One character: its group added to the value; the value so far stored, counted if it ends here.

    No shift by a variable amount (three micro-operations each on x86 without
    BMI2): a group is added times its place value. The value so far is stored
    whether it ends or not (the next overwrites it), sign-extended from its
    last group.
    """
    cdef uint64_t c = CHARS[b], g = c & 0x1f, term = (c >> 5) & 1
    v.bad |= c  # bit 7: not a character of the code (the rest is cleared by the caller)
    v.x += g * v.place
    v.over |= v.place
    values[v.k] = <i64>(v.x - ((-(g >> 4)) & (v.place << 5)))
    v.k += term
    v.x &= term - 1
    v.place = ((v.place << 5) & (term - 1)) | term


DEF READ_SPAN = 1 << 16


cdef inline Py_ssize_t read_span(const char* text, Py_ssize_t p, Py_ssize_t end, i64* values, Reading* v) noexcept nogil:
    """Characters p..end-1 into values (``v.k`` of them so far; the one being read stays in ``v``); the new p.

    From a value boundary, blocks of eight characters at once; where they stop,
    character by character past the block that stopped them and on to the
    next boundary; the last (end % 8) characters one at a time. Stops early at
    a character outside the code (bit 7 of ``v.bad``).
    """
    cdef Py_ssize_t stop
    if SEGMASK_VECTOR:
        while p < end:
            if v.place != 1:  # a value the last span left open
                read_char(v, values, <uint8_t>text[p])
                p += 1
                continue
            v.k = segmask_values8(text, end, &p, &stop, values, v.k, &v.bad)
            if v.bad & 0x80 or stop + 8 > end:
                break
            stop += 8
            while p < end and (p < stop or v.place != 1):
                read_char(v, values, <uint8_t>text[p])
                p += 1
    if not v.bad & 0x80:
        while p < end:
            read_char(v, values, <uint8_t>text[p])
            p += 1
    return p


def decode_strings(list strings, i64 hw):
    """COCO compressed counts strings (``str`` or ``bytes``) -> runs and areas, checking everything.

    Returns ``(counts, offsets, area, error)``; ``error`` is None or ``(code,
    index, position, value)`` for the first bad string, with the codes above
    (and the arrays are then None).

    Two passes over each span of a string (:data:`READ_SPAN` characters, so
    the scratch is bounded whatever the string), neither with a branch that
    depends on the data: the first reads the characters into values
    (:func:`read_span`), the second adds back the value two places before.
    Anything wrong only sets a flag; a flagged string is walked again, value
    by value, to name its first problem. Memory: the runs (4 bytes a
    character at most) and the span's scratch.
    """
    cdef Py_ssize_t n = len(strings), i, total = 0, length, p, m, k, j, end, done, longest = 0
    cdef object s, counts
    cdef const char* text
    cdef i64 val, bg, total_sum, fg, shift, two_back, one_back
    cdef uint64_t bad, bad_run
    cdef Reading v
    cdef object offsets, area
    cdef u32* buf = NULL
    cdef i64* deltas = NULL
    cdef i64* offs
    cdef i64* areas
    cdef const char** texts = <const char**>malloc((n + 1) * sizeof(char*))
    cdef Py_ssize_t* lengths = <Py_ssize_t*>malloc((n + 1) * sizeof(Py_ssize_t))
    if texts == NULL or lengths == NULL:
        free(texts)
        free(lengths)
        raise MemoryError()
    try:
        for i in range(n):
            s = strings[i]
            if PyBytes_CheckExact(s):
                texts[i] = PyBytes_AS_STRING(s)
                lengths[i] = PyBytes_GET_SIZE(s)
            elif PyUnicode_CheckExact(s):
                if not PyUnicode_IS_ASCII(s):
                    return None, None, None, (NOT_ASCII, i, 0, 0)
                texts[i] = PyUnicode_DATA(s)
                lengths[i] = PyUnicode_GET_LENGTH(s)
            else:
                return None, None, None, (NOT_TEXT, i, 0, 0)
            total += lengths[i]
            if lengths[i] > longest:
                longest = lengths[i]
        # Every value takes a character at least: the lengths bound the runs.
        buf = <u32*>pool_take((total + 1) * sizeof(u32))
        # a span's values, and eight past them (a block of eight characters writes eight lanes)
        deltas = <i64*>malloc(((longest if longest < READ_SPAN else READ_SPAN) + 8) * sizeof(i64))
        if buf == NULL or deltas == NULL:
            raise MemoryError()
        offsets = i64_array(n + 1)
        area = i64_array(n)
        offs = <i64*>cnp.PyArray_DATA(offsets)
        areas = <i64*>cnp.PyArray_DATA(area)
        m = 0
        offs[0] = 0
        for i in range(n):
            text = texts[i]
            length = lengths[i]
            v = Reading(0, 1, 0, 0, 0)
            total_sum = 0
            fg = 0
            done = 0  # values of this string already in buf
            bad_run = 0
            two_back = one_back = 0  # the last two of them
            with nogil:
                p = 0
                while p < length and not v.bad & 0x80:
                    # A span of at most READ_SPAN characters into values (at most one a character:
                    # the scratch is bounded whatever the string), then those values into runs.
                    end = p + READ_SPAN if p + READ_SPAN < length else length
                    p = read_span(text, p, end, deltas, &v)
                    k = v.k
                    j = 0
                    while j < k and done + j < 3:  # the first three are runs themselves
                        val = deltas[j]
                        bad_run |= <uint64_t>val >> 32
                        buf[m + done + j] = <u32>val
                        total_sum += val
                        fg += val & (-((done + j) & 1))
                        two_back = one_back
                        one_back = val
                        j += 1
                    if j < k and (done + j) % 2 == 0:  # a background run: the pairs below start with a foreground one
                        val = deltas[j] + two_back
                        bad_run |= <uint64_t>val >> 32
                        buf[m + done + j] = <u32>val
                        total_sum += val
                        two_back = one_back
                        one_back = val
                        j += 1
                    # A foreground run and the background run after it at a time, the runs two
                    # before them in registers (read back from buf, each would wait on its store).
                    while j + 1 < k:
                        val = deltas[j] + two_back
                        bg = deltas[j + 1] + one_back
                        bad_run |= (<uint64_t>val | <uint64_t>bg) >> 32  # below 0 or above 2**32 - 1
                        buf[m + done + j] = <u32>val
                        buf[m + done + j + 1] = <u32>bg
                        total_sum += val + bg
                        fg += val
                        two_back = val
                        one_back = bg
                        j += 2
                    if j < k:  # a last foreground run
                        val = deltas[j] + two_back
                        bad_run |= <uint64_t>val >> 32
                        buf[m + done + j] = <u32>val
                        total_sum += val
                        fg += val
                        two_back = one_back
                        one_back = val
                    done += k
                    v.k = 0
                k = done
                bad = (v.bad & 0x80) | bad_run | (v.over >> 60)
                shift = v.place != 1  # a value left unfinished
            if bad or shift or total_sum != hw:
                return None, None, None, string_problem(text, length, i)
            m += k
            offs[i + 1] = m
            areas[i] = fg
        # Hand the buffer to the array: no copy.
        counts = owned_u32(buf, m, total + 1)
        buf = NULL
        return counts, offsets, area, None
    finally:
        free(buf)
        free(deltas)
        free(texts)
        free(lengths)


# GROUPS: by the bit length of a value's magnitude, the 5-bit groups it takes with its sign
# bit; CONTINUED: by that count, the continuation bits of its first three characters
# (little-endian, as store4 writes them).
cdef uint8_t[66] GROUPS
cdef uint32_t[8] CONTINUED
for _bits in range(66):
    GROUPS[_bits] = max(1, (_bits + 5) // 5)
for _g in range(8):
    CONTINUED[_g] = (0x20 if _g > 1 else 0) | (0x2000 if _g > 2 else 0) | (0x200000 if _g > 3 else 0)


cdef inline Py_ssize_t put_long_value(char* out, i64 x) noexcept nogil:
    """Write one value's characters at ``out`` (four bytes always written); their count."""
    cdef i64 y = x ^ (x >> 63)  # the bits of its magnitude, for either sign
    # its bit length and a sign bit, in groups of 5 (at least one)
    cdef Py_ssize_t ngroups = GROUPS[64 - segmask_clz64(<uint64_t>(y | 1))], g
    cdef uint32_t u = <uint32_t>x
    cdef int c
    # the first three groups a byte each, continuation bits, '0' added: one 4-byte store
    store4(out, (((u & 0x1f) | ((u << 3) & 0x1f00) | ((u << 6) & 0x1f0000)) | CONTINUED[ngroups]) + 0x303030)
    for g in range(3, ngroups):  # values of 2**14 and more
        c = <int>((x >> (5 * g)) & 0x1f)
        if g + 1 < ngroups:
            c |= 0x20
        out[g] = <char>(c + 48)
    return ngroups


# SHORT[x + 2**14], for the values of three groups or fewer (-2**14 <= x < 2**14, nearly all of
# them): their characters, the first in the lowest byte, and their count in the highest.
DEF SHORT_HALF = 1 << 14
cdef uint32_t[2 * SHORT_HALF] SHORT
cdef char[8] _short_chars
for _x in range(-SHORT_HALF, SHORT_HALF):
    _n = put_long_value(_short_chars, _x)
    SHORT[_x + SHORT_HALF] = ((<uint8_t>_short_chars[0]) | ((<uint8_t>_short_chars[1]) << 8)
                              | ((<uint8_t>_short_chars[2]) << 16) | (_n << 24))


cdef inline Py_ssize_t put_value(char* out, i64 x) noexcept nogil:
    """Write one value's characters at ``out`` (four bytes always written); their count."""
    cdef uint64_t i = <uint64_t>(x + SHORT_HALF)
    cdef uint32_t e
    if i < 2 * SHORT_HALF:
        e = SHORT[i]
        store4(out, e)
        return e >> 24
    return put_long_value(out, x)


def encode_strings(counts_array, offsets_array):
    """Runs -> pycocotools' compressed counts strings, one ``str`` per mask.

    Each value (a run, less the one two before it) takes the fewest 5-bit
    groups that hold it in two's complement, as pycocotools' loop ends. A
    value of three groups or fewer (nearly all) is one load from a table of
    their characters and one 4-byte store; a larger one has its count from
    its bit length, and its first three characters are written as one.
    """
    cdef const u32* counts = <const u32*>array_data(counts_array, cnp.NPY_UINT32, 1, "counts")
    cdef const i64* offsets = <const i64*>array_data(offsets_array, cnp.NPY_INT64, 1, "offsets")
    cdef Py_ssize_t n = cnp.PyArray_DIM(offsets_array, 0) - 1, i, j, a, b, p, longest = 0
    cdef list out = [None] * n
    cdef char* buf
    cdef object text
    for i in range(n):
        if offsets[i + 1] - offsets[i] > longest:
            longest = offsets[i + 1] - offsets[i]
    # A delta of two uint32 counts needs at most 7 groups of 5 bits.
    buf = <char*>malloc(7 * longest + 8)
    if buf == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            a = offsets[i]
            b = offsets[i + 1]
            p = 0
            with nogil:
                for j in range(a, min(a + 3, b)):
                    p += put_value(buf + p, counts[j])
                for j in range(a + 3, b):
                    p += put_value(buf + p, <i64>counts[j] - <i64>counts[j - 2])
            text = PyUnicode_New(p, 127)
            memcpy(PyUnicode_DATA(text), buf, p)
            out[i] = text
    finally:
        free(buf)
    return out


def rle_dicts(list strings, Py_ssize_t h, Py_ssize_t w):
    """``[{"size": [h, w], "counts": s} for s in strings]``, each dict and size list its own."""
    cdef Py_ssize_t n = len(strings), i
    cdef list out = [None] * n
    cdef object hh = h, ww = w
    for i in range(n):
        out[i] = {"size": [hh, ww], "counts": strings[i]}
    return out


# --- run statistics --------------------------------------------------------------------------

def runs_area(const u32[::1] counts, const i64[::1] offsets):
    """(N,) int64: pixels of each mask (its odd runs)."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, i, j
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


def rle_texts(list rles):
    """The common case of RLE dicts: ``(h, w, counts, all_str)`` when every one is a dict with the same
    ``size`` (two ints) and ``str``/``bytes`` counts; None for anything else (the caller then checks
    each one and names the problem)."""
    cdef Py_ssize_t n = len(rles), i
    cdef object rle, size, first, counts
    cdef list texts = [None] * n
    cdef bint all_str = True
    if n == 0:
        return None
    first = None
    for i in range(n):
        rle = rles[i]
        if not PyDict_CheckExact(rle):
            return None
        size = (<dict>rle).get("size")
        counts = (<dict>rle).get("counts")
        if first is None:
            if not (PyList_CheckExact(size) and len(size) == 2 and PyLong_CheckExact(size[0])
                    and PyLong_CheckExact(size[1])):
                return None
            first = size
        elif size is not first and not (PyList_CheckExact(size) and len(size) == 2 and PyLong_CheckExact(size[0])
                                       and PyLong_CheckExact(size[1]) and size[0] == first[0]
                                       and size[1] == first[1]):
            return None
        if PyUnicode_CheckExact(counts):
            texts[i] = counts
        elif PyBytes_CheckExact(counts):
            texts[i] = counts
            all_str = False
        else:
            return None
    return first[0], first[1], texts, all_str


cdef inline void column_of(i64 pos, i64 h, i64* col, i64* col_start) noexcept nogil:
    """Move (col, col_start) forward to the column holding ``pos``: a division only for long jumps."""
    if pos >= col_start[0] + h:
        if pos < col_start[0] + 2 * h:
            col[0] += 1
            col_start[0] += h
        else:
            col[0] = pos // h
            col_start[0] = col[0] * h


def runs_boxes(const u32[::1] counts, const i64[::1] offsets, i64 h):
    """Tight boxes ``(N, 4)`` int64 ``[x, y, w, h]`` of each mask's pixels (zeros when empty), as pycocotools' toBbox."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, i, j
    cdef object boxes_arr = np.zeros((n, 4), np.int64)
    cdef i64[:, ::1] boxes = boxes_arr
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
                boxes[i, 0] = x0
                boxes[i, 1] = y0
                boxes[i, 2] = x1 - x0 + 1
                boxes[i, 3] = y1 - y0 + 1
    return boxes_arr


# --- crops and dense arrays ------------------------------------------------------------------

cdef extern from *:
    """
    #include <stdint.h>
    #if defined(_MSC_VER)
    #include <intrin.h>
    static inline int segmask_ctz64(uint64_t x) { unsigned long i; _BitScanForward64(&i, x); return (int)i; }
    static inline int segmask_clz64(uint64_t x) { unsigned long i; _BitScanReverse64(&i, x); return 63 - (int)i; }
    static inline int segmask_popcount64(uint64_t x) { return (int)__popcnt64(x); }
    #else
    static inline int segmask_ctz64(uint64_t x) { return __builtin_ctzll(x); }
    static inline int segmask_clz64(uint64_t x) { return __builtin_clzll(x); }
    #if defined(__POPCNT__) || !(defined(__x86_64__) || defined(__i386__))
    static inline int segmask_popcount64(uint64_t x) { return __builtin_popcountll(x); }
    #else
    /* x86-64 without the POPCNT instruction in its baseline: the bit-parallel sum, not libgcc's call. */
    static inline int segmask_popcount64(uint64_t x) {
        x = x - ((x >> 1) & 0x5555555555555555ULL);
        x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
        x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
        return (int)((x * 0x0101010101010101ULL) >> 56);
    }
    #endif
    #endif
    #include <string.h>
    /* Four bytes, the lowest first, at any address. */
    static inline void segmask_store4(char* p, uint32_t v) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap32(v);
    #endif
        memcpy(p, &v, 4);
    }
    """
    int segmask_ctz64(uint64_t x) nogil
    int segmask_clz64(uint64_t x) nogil
    int segmask_popcount64(uint64_t x) nogil
    void store4 "segmask_store4"(char* p, uint32_t v) nogil


cdef extern from *:
    """
    #if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
    #include <emmintrin.h>
    #define SEGMASK_SSE2 1
    #define SEGMASK_VECTOR 1
    #else
    #define SEGMASK_VECTOR 0
    #endif
    /* COCO string values of up to three characters, eight characters at a time (SSE2).

       Starting at a value boundary p, each block of eight characters is read whole: a 16-bit lane
       a character holds the value it would end, its own group sign-extended above the groups of
       the one or two characters before it (from this block or the one before) that belong to the
       same value. The lanes that end a value are written out in order. Returns the count of
       values; *p is left at the boundary after the last one, *stopped where reading stopped: at
       the text's last (length % 8) characters, or at a block where a value of four characters or
       more ends. A character outside '0'..'o' sets bit 7 of *bad. Without SSE2 nothing is read. */
    static Py_ssize_t segmask_values8(const char* text, Py_ssize_t length, Py_ssize_t* p_io,
                                      Py_ssize_t* stopped, int64_t* values, Py_ssize_t k, uint64_t* bad) {
        Py_ssize_t p = *p_io, boundary = *p_io;
    #if defined(SEGMASK_SSE2)
        const __m128i zero = _mm_setzero_si128(), c48 = _mm_set1_epi8(48), c63 = _mm_set1_epi8(63);
        const __m128i c1f = _mm_set1_epi8(0x1f), c20 = _mm_set1_epi8(0x20), c16 = _mm_set1_epi16(16);
        const __m128i lanebit = _mm_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128);
        __m128i before = zero;  /* the groups of the block before */
        unsigned ends_before = 0x80;  /* as if the character before p ended a value */
        int16_t lane[8];
        int j;
        while (p + 8 <= length) {
            __m128i c = _mm_sub_epi8(_mm_loadl_epi64((const __m128i*)(text + p)), c48);
            __m128i g, s, g1, g2, m, cand;
            unsigned ends, starts, one, two, three;
            if ((_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_subs_epu8(c, c63), zero)) & 0xff) != 0xff) {
                *bad |= 0x80;
                break;
            }
            ends = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(c, c20), zero)) & 0xff;
            /* over both blocks' 16 characters: which begin a value, which are 1, 2, 3+ into one */
            starts = (ends_before | (ends << 8)) << 1;
            one = ~starts;
            two = one & ~(starts << 1);
            three = two & ~(starts << 2);
            if ((three >> 8) & ends)
                break;
            g = _mm_unpacklo_epi8(_mm_and_si128(c, c1f), zero);
            s = _mm_sub_epi16(_mm_xor_si128(g, c16), c16);  /* the group, sign-extended */
            g1 = _mm_or_si128(_mm_slli_si128(g, 2), _mm_srli_si128(before, 14));  /* one character back */
            g2 = _mm_or_si128(_mm_slli_si128(g, 4), _mm_srli_si128(before, 12));  /* two back */
            cand = s;
            m = _mm_set1_epi16((short)((one >> 8) & 0xff));
            m = _mm_cmpeq_epi16(_mm_and_si128(m, lanebit), lanebit);
            cand = _mm_or_si128(_mm_and_si128(m, _mm_or_si128(g1, _mm_slli_epi16(s, 5))), _mm_andnot_si128(m, cand));
            m = _mm_set1_epi16((short)((two >> 8) & 0xff));
            m = _mm_cmpeq_epi16(_mm_and_si128(m, lanebit), lanebit);
            cand = _mm_or_si128(_mm_and_si128(m, _mm_or_si128(_mm_or_si128(g2, _mm_slli_epi16(g1, 5)),
                                                            _mm_slli_epi16(s, 10))),
                                _mm_andnot_si128(m, cand));
            _mm_storeu_si128((__m128i*)lane, cand);
            for (j = 0; j < 8; j++) {  /* a lane that ends no value is overwritten by the next */
                values[k] = lane[j];
                k += (ends >> j) & 1;
            }
            if (ends)
                boundary = p + 64 - segmask_clz64((uint64_t)ends);
            ends_before = ends;
            before = g;
            p += 8;
        }
    #endif
        *p_io = boundary;
        *stopped = p;
        return k;
    }
    """
    Py_ssize_t segmask_values8(const char* text, Py_ssize_t length, Py_ssize_t* p_io, Py_ssize_t* stopped,
                               i64* values, Py_ssize_t k, uint64_t* bad) nogil
    bint SEGMASK_VECTOR


cdef inline uint64_t load8(const uint8_t* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef Py_ssize_t row_changes(const uint8_t* row, const uint8_t* prev, i64 bw, i64* cols) noexcept nogil:
    """The columns where two rows of 0/1 bytes differ (either may be NULL: all zeros)."""
    cdef i64 c = 0
    cdef Py_ssize_t k = 0
    cdef uint64_t d
    while c + 8 <= bw:
        d = (load8(row + c) if row != NULL else 0) ^ (load8(prev + c) if prev != NULL else 0)
        while d:
            cols[k] = c + (segmask_ctz64(d) >> 3)
            k += 1
            d &= d - 1  # each differing byte holds one set bit (0/1 values)
        c += 8
    while c < bw:
        if (row[c] if row != NULL else 0) != (prev[c] if prev != NULL else 0):
            cols[k] = c
            k += 1
        c += 1
    return k


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


def dense_to_runs(const uint8_t[:, :, :] masks):
    """(N, H, W) 0/1 bytes, each mask's rows contiguous (C order) or its columns (F order) -> runs."""
    cdef Py_ssize_t n = masks.shape[0], i, j, hw
    cdef i64 h = masks.shape[1], w = masks.shape[2]
    cdef RunsOut r
    cdef I64Buf t
    cdef const uint8_t* p
    cdef bint fortran = masks.strides[1] == 1 and masks.strides[2] == h
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    memset(&t, 0, sizeof(t))
    if not fortran and masks.strides[2] != 1:
        raise ValueError("each mask must be contiguous in rows or in columns")
    hw = h * w
    with nogil:
        for i in range(n):
            t.n = 0
            p = &masks[i, 0, 0] if hw else NULL
            if fortran:
                # Column-major already: the runs are where the value changes.
                for j in range(hw):
                    if p[j] != (p[j - 1] if j > 0 else 0):
                        if i64_push(&t, j) < 0:
                            failed = 1
                            break
            elif rowmajor_positions(p, masks.strides[1], h, w, 0, 0, h, &t) < 0:
                failed = 1
            if failed or push_toggles(&r, t.data, t.n, hw) < 0:
                failed = 1
                break
    free(t.data)
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


def runs_to_crop(const u32[::1] counts, i64 start, i64 stop, i64 h, i64 bx, i64 by, uint8_t[:, ::1] out):
    """Write one mask's runs into ``out``, a zeroed row-major window of the image whose corner is (bx, by).

    The window may be any part of the image: what of the mask falls outside it is left out.

    Runs become toggles at each column piece's first row and just past its
    last, then each row is XORed with the one above (8 bytes at a time):
    O(runs + pixels / 8), whatever the mask's shape.
    """
    cdef i64 bh = out.shape[0], bw = out.shape[1], pos = 0, c, s, e, x, xs, xe, ya, yb, r, j, col
    cdef uint8_t* base
    cdef uint64_t a
    if bh == 0 or bw == 0:
        return
    base = &out[0, 0]
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
                a = load8(base + r * bw + col) ^ load8(base + (r - 1) * bw + col)
                memcpy(base + r * bw + col, &a, 8)
                col += 8
            while col < bw:
                base[r * bw + col] ^= base[(r - 1) * bw + col]
                col += 1


# --- set operations --------------------------------------------------------------------------

UNION = 0
INTERSECTION = 1
DIFFERENCE = 2
XOR = 3


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


def pair_op(const u32[::1] ca, const i64[::1] oa, const u32[::1] cb, const i64[::1] ob, int op):
    """``a[i] op b[i]`` for each i (op: UNION, INTERSECTION, DIFFERENCE or XOR) -> runs."""
    cdef Py_ssize_t n = oa.shape[0] - 1, i
    cdef RunsOut r
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    # The most runs two masks can make: reserved once, given back at the end.
    r.cap = ca.shape[0] + cb.shape[0] + n + 1
    r.counts = <u32*>pool_take(r.cap * sizeof(u32))
    if r.counts == NULL:
        raise MemoryError()
    with nogil:
        for i in range(n):
            if merge2(&ca[oa[i]], oa[i + 1] - oa[i], &cb[ob[i]], ob[i + 1] - ob[i], op, &r) < 0:
                failed = 1
                break
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


def group_union(const u32[::1] counts, const i64[::1] offsets, const i64[::1] members,
                const i64[::1] group_offsets, i64 hw):
    """The union of each group's masks (group g: ``members[group_offsets[g]:group_offsets[g + 1]]``).

    Pairwise unions in a balanced tree, one sweep per pair: O(runs x log(group size)).
    """
    cdef Py_ssize_t g, ng = group_offsets.shape[0] - 1, k, j, size, i, level_n
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
                if copy_mask(&r, &counts[offsets[k]], offsets[k + 1] - offsets[k]) < 0:
                    failed = 1
                    break
                continue
            # First level: pairs of members into a; then pairs of a's masks into b, and so on.
            a.n = 0
            a.m = 0
            for i in range(0, size - 1, 2):
                k = members[group_offsets[g] + i]
                j = members[group_offsets[g] + i + 1]
                if merge2(&counts[offsets[k]], offsets[k + 1] - offsets[k], &counts[offsets[j]],
                          offsets[j + 1] - offsets[j], 0, &a) < 0:
                    failed = 1
                    break
            if failed:
                break
            if size % 2:
                k = members[group_offsets[g] + size - 1]
                if copy_mask(&a, &counts[offsets[k]], offsets[k + 1] - offsets[k]) < 0:
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


cdef inline Py_ssize_t mask_start(RunsOut* r, Py_ssize_t i) noexcept nogil:
    return r.ends[i - 1] if i > 0 else 0


cdef int copy_mask(RunsOut* r, const u32* c, Py_ssize_t n) noexcept nogil:
    if runs_reserve(r, n) < 0:
        return -1
    memcpy(&r.counts[r.n], c, n * sizeof(u32))
    r.n += n
    return runs_end_mask(r)


# --- overlap: IoU and NMS --------------------------------------------------------------------

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
DEF CROP_RUNS_PER_WORD = 2

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


cdef int crops_make(const u32* counts, const i64* offsets, const i64[:, ::1] boxes, i64 h, Crops* c) noexcept nogil:
    """The crops of the masks with many runs a column (see above); -1 when out of memory."""
    cdef Py_ssize_t n = boxes.shape[0], i, r, nr
    cdef i64 total = 0, bx, by, bw, bh, pos, s, e, x, col, y1, top
    c.bits = NULL
    c.base = <i64*>malloc((n + 1) * sizeof(i64))
    c.word0 = <i64*>malloc((n + 1) * sizeof(i64))
    c.words = <i64*>malloc((n + 1) * sizeof(i64))
    if c.base == NULL or c.word0 == NULL or c.words == NULL:
        return -1
    for i in range(n):
        bx = boxes[i, 0]
        by = boxes[i, 1]
        bw = boxes[i, 2]
        bh = boxes[i, 3]
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
        bx = boxes[i, 0]
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


cdef inline Py_ssize_t first_at_or_past(const edge[::1] xs, edge x) noexcept nogil:
    """The first index p with xs[p] >= x (xs sorted)."""
    cdef Py_ssize_t lo = 0, hi = xs.shape[0], mid
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
        if mask_ends(&ca[oa[i]], oa[i + 1] - oa[i], ends) < 0:
            return -1
        have_ends[0] = True
    return intersect_runs(ends.data, ends.n, &cb[ob[j]], ob[j + 1] - ob[j], x0 * h, x1 * h)


cdef inline bint boxes_meet(const i64[:, ::1] ba, Py_ssize_t i, const i64[:, ::1] bb, Py_ssize_t j,
                            i64* x0, i64* x1) noexcept nogil:
    cdef i64 lo, hi
    lo = ba[i, 0] if ba[i, 0] > bb[j, 0] else bb[j, 0]
    hi = ba[i, 0] + ba[i, 2] if ba[i, 0] + ba[i, 2] < bb[j, 0] + bb[j, 2] else bb[j, 0] + bb[j, 2]
    if hi <= lo:
        return False
    x0[0] = lo
    x1[0] = hi
    lo = ba[i, 1] if ba[i, 1] > bb[j, 1] else bb[j, 1]
    hi = ba[i, 1] + ba[i, 3] if ba[i, 1] + ba[i, 3] < bb[j, 1] + bb[j, 3] else bb[j, 1] + bb[j, 3]
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


cdef class XSweep:
    """Items in order of their boxes' left edge, to find those whose boxes may meet one box.

    ``byx[p]``: the p-th item from the left; ``left_arr[p]``: its left edge;
    ``widest``: the widest box's width; with a walk ``order`` given,
    ``rank[i]``: item i's place in it. An item whose left edge lies before
    (left of box i) - widest ends before box i starts, and one whose left edge
    is at or past box i's right edge starts after it ends: neither can meet
    box i.
    """
    cdef object byx_arr, left_arr, rank_arr
    cdef const i64[::1] byx
    cdef const i64[::1] rank
    cdef double widest

    def __init__(self, object lefts, object widths, object order=None):
        self.widest = float(widths.max()) if len(widths) else 0.0
        self.byx_arr = np.argsort(lefts, kind="stable").astype(np.int64)
        self.left_arr = np.ascontiguousarray(np.asarray(lefts)[self.byx_arr])
        self.byx = self.byx_arr
        if order is not None:
            self.rank_arr = np.empty(len(order), np.int64)
            self.rank_arr[np.asarray(order)] = np.arange(len(order), dtype=np.int64)
            self.rank = self.rank_arr


def iou_matrix(const u32[::1] ca, const i64[::1] oa, const i64[:, ::1] ba, const i64[::1] area_a,
               const u32[::1] cb, const i64[::1] ob, const i64[:, ::1] bb, const i64[::1] area_b,
               const uint8_t[::1] crowd, bint same, i64 h, double[:, ::1] out):
    """Exact IoU of every pair whose boxes meet, written into ``out`` (zeroed); pycocotools' values.

    The boxes of ``b`` are swept in order of their left edge (:class:`XSweep`):
    for each mask of ``a`` only those whose left edge lies within the widest
    box of ``b`` to its left and before its right edge are looked at. ``same``: a and b are
    one set without crowd flags, so each pair is counted once and mirrored.
    Only nonzero values are written.
    """
    cdef Py_ssize_t na = oa.shape[0] - 1, nb = ob.shape[0] - 1, i, j, p
    cdef i64 x0, x1, inter
    cdef I64Buf ends = I64Buf(NULL, 0, 0)
    cdef bint have_ends, failed = False
    cdef double v
    cdef Crops crops_a, crops_b
    cdef Crops* cra = &crops_a
    cdef Crops* crb = &crops_a if same else &crops_b
    memset(&crops_a, 0, sizeof(Crops))
    memset(&crops_b, 0, sizeof(Crops))
    if crops_make(&ca[0], &oa[0], ba, h, cra) < 0 or (not same and crops_make(&cb[0], &ob[0], bb, h, crb) < 0):
        crops_free(&crops_a)
        crops_free(&crops_b)
        raise MemoryError()
    cdef object bx = np.asarray(bb)
    cdef XSweep sweep = XSweep(bx[:, 0], bx[:, 2])
    cdef const i64[::1] xs = sweep.left_arr
    cdef i64 widest = <i64>sweep.widest  # a box's width is below 2**32: exact as a double
    with nogil:
        for i in range(na):
            if ba[i, 2] == 0 or ba[i, 3] == 0:
                continue
            if same:
                out[i, i] = 1.0
            have_ends = False
            # from the first box of b whose left edge is at or past this one's less the widest:
            # none before it reaches box i
            for p in range(first_at_or_past(xs, ba[i, 0] - widest), nb):
                if xs[p] >= ba[i, 0] + ba[i, 2]:
                    break
                j = sweep.byx[p]
                if same and j <= i:
                    continue
                if not boxes_meet(ba, i, bb, j, &x0, &x1):
                    continue
                inter = count_pair(&ca[0], &oa[0], cra, ba[i, 0], i, &cb[0], &ob[0], crb, bb[j, 0], j,
                                   x0, x1, h, &ends, &have_ends)
                if inter < 0:
                    failed = True
                    break
                v = iou_value(inter, area_a[i], area_b[j], crowd[j])
                if v != 0.0:  # out is zeroed: a page that only holds zeros is never written
                    out[i, j] = v
                    if same:
                        out[j, i] = v
            if failed:
                break
    free(ends.data)
    crops_free(&crops_a)
    crops_free(&crops_b)
    if failed:
        raise MemoryError()


def nms(const u32[::1] counts, const i64[::1] offsets, const i64[:, ::1] boxes, const i64[::1] area,
        const i64[::1] order, const i64[::1] classes, double threshold, i64 h):
    """Greedy NMS on exact mask IoU: walk ``order``; a kept mask suppresses the later ones above ``threshold``.

    ``classes`` empty: all masks compete; else only masks of one class.
    Memory O(N). Each kept mask looks only at the masks whose boxes' left
    edges lie within reach of its box (:class:`XSweep`), and counts those
    later in ``order`` whose boxes meet it: a mask apart from all others
    costs a bisection, not a pass over every later mask.
    """
    cdef Py_ssize_t n = order.shape[0], a, p, i, j, nkeep = 0
    cdef bint by_class = classes.shape[0] > 0, have_ends, failed = False
    cdef i64 x0, x1, inter
    cdef object keep_arr = i64_array(n)
    cdef i64[::1] keep = keep_arr
    cdef uint8_t* gone
    cdef I64Buf ends = I64Buf(NULL, 0, 0)
    cdef Crops crops
    cdef object bx = np.asarray(boxes)
    cdef XSweep sweep = XSweep(bx[:, 0], bx[:, 2], order)
    cdef const i64[::1] xs = sweep.left_arr
    cdef i64 widest = <i64>sweep.widest  # a box's width is below 2**32: exact as a double
    gone = <uint8_t*>calloc(n + 1, 1)
    memset(&crops, 0, sizeof(Crops))
    if gone == NULL or crops_make(&counts[0], &offsets[0], boxes, h, &crops) < 0:
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
            for p in range(first_at_or_past(xs, boxes[i, 0] - widest), n):
                if xs[p] >= boxes[i, 0] + boxes[i, 2]:
                    break
                j = sweep.byx[p]
                if sweep.rank[j] <= a or gone[j] or (by_class and classes[j] != classes[i]):
                    continue
                if not boxes_meet(boxes, i, boxes, j, &x0, &x1):
                    continue
                inter = count_pair(&counts[0], &offsets[0], &crops, boxes[i, 0], i,
                                   &counts[0], &offsets[0], &crops, boxes[j, 0], j, x0, x1, h, &ends, &have_ends)
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


cdef inline double box_iou_value(const double[:, ::1] a, Py_ssize_t i, const double[:, ::1] b, Py_ssize_t j,
                                 bint crowd) noexcept nogil:
    """pycocotools' ``bbIou`` for one pair, with its arithmetic in its order."""
    cdef double w, hh, inter, da, db
    w = min(a[i, 2] + a[i, 0], b[j, 2] + b[j, 0]) - max(a[i, 0], b[j, 0])
    if w <= 0:
        return 0.0
    hh = min(a[i, 3] + a[i, 1], b[j, 3] + b[j, 1]) - max(a[i, 1], b[j, 1])
    if hh <= 0:
        return 0.0
    inter = w * hh
    da = a[i, 2] * a[i, 3]
    if crowd:
        return inter / da
    db = b[j, 2] * b[j, 3]
    return inter / (da + db - inter)


def box_iou(const double[:, ::1] a, const double[:, ::1] b, const uint8_t[::1] crowd, double[:, ::1] out):
    """IoU of COCO [x, y, w, h] boxes into ``out``: no temporaries, memory is the answer's."""
    cdef Py_ssize_t na = a.shape[0], nb = b.shape[0], i, j
    with nogil:
        for i in range(na):
            for j in range(nb):
                out[i, j] = box_iou_value(a, i, b, j, crowd[j])


def box_nms(const double[:, ::1] boxes, const i64[::1] order, const i64[::1] classes, double threshold):
    """Greedy NMS on box IoU (the values of :func:`box_iou`); memory O(N).

    As :func:`nms`, each kept box looks only at the boxes whose left edges
    lie within reach of it. The reach is taken one unit in the last place
    wider than (left - widest) rounds to, so that no box whose right edge,
    as ``box_iou`` rounds it, passes the left edge is missed.
    """
    cdef Py_ssize_t n = order.shape[0], a, p, i, j, nkeep = 0
    cdef bint by_class = classes.shape[0] > 0
    cdef object keep_arr = i64_array(n)
    cdef i64[::1] keep = keep_arr
    cdef uint8_t* gone
    cdef object bx = np.asarray(boxes)
    cdef XSweep sweep = XSweep(bx[:, 0], bx[:, 2], order)
    cdef const double[::1] xs = sweep.left_arr
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
            for p in range(first_at_or_past(xs, nextafter(boxes[i, 0] - widest, -INFINITY)), n):
                if xs[p] >= boxes[i, 2] + boxes[i, 0]:
                    break
                j = sweep.byx[p]
                if sweep.rank[j] <= a or gone[j] or (by_class and classes[j] != classes[i]):
                    continue
                if box_iou_value(boxes, i, boxes, j, False) > threshold:
                    gone[j] = 1
    free(gone)
    return keep_arr[:nkeep].copy()


# --- polygons under the coco rule (pycocotools' rleFrPoly, bounded by the image) ---------------

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


def coco_polygons(coords, offsets, i64 h, i64 w):
    """Polygons (K >= 3 points each, |coordinates| <= 2**28) -> runs under pycocotools' rule.

    ``coords`` is (P, 2) float64 and ``offsets`` (N + 1,) int64, both C-contiguous.
    """
    cdef const double* xy = <const double*>array_data(coords, cnp.NPY_FLOAT64, 2, "coords")
    cdef const i64* offs = <const i64*>array_data(offsets, cnp.NPY_INT64, 1, "offsets")
    return coco_runs(xy, offs, cnp.PyArray_DIM(offsets, 0) - 1, h, w)


cdef object coco_runs(const double* xy, const i64* offs, Py_ssize_t n, i64 h, i64 w):
    """:func:`coco_polygons` on raw arrays."""
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


# --- polygons under the contour rule (OpenCV's fillPoly, without a canvas) ---------------------
#
# cv2.fillPoly(img, [pts], 1) with integer points does two things (drawing.cpp,
# CollectPolyEdges and FillEdgeCollection, OpenCV 4.x and 5.x): it draws every
# edge as an 8-connected line (LineIterator, left to right, clipped to the
# image), and fills, row by row, between consecutive crossings of the edges
# with the row (x in 16.16 fixed point, each edge starting from its end
# points clipped to the image). Here the same arithmetic gives each row's
# spans, and the runs come from how each row differs from the one above: no
# canvas, so a polygon as large as the image costs its outline, not its area.

DEF XY_SHIFT = 16
DEF XY_ONE = 65536


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


cdef struct PolyEdge:
    i64 y0
    i64 y1
    i64 x
    i64 dx


cdef int cmp_edge(const void* a, const void* b) noexcept nogil:
    cdef i64 x = (<PolyEdge*>a).y0
    cdef i64 y = (<PolyEdge*>b).y0
    return (x > y) - (x < y)


cdef struct Work:
    # Buffers reused from polygon to polygon.
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


cdef void work_free(Work* wk) noexcept nogil:
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


cdef inline void paint(uint8_t* row, i64 x0, i64 xa, i64 xb, uint8_t value) noexcept nogil:
    memset(row + (xa - x0), value, xb - xa + 1)


cdef inline i64 half_up(double v) noexcept nogil:
    """The contour rule's rounding of a vertex: ``floor(v + 0.5)``."""
    return <i64>floor(v + 0.5)


cdef int contour_polygon(const double* v, Py_ssize_t a, Py_ssize_t b, i64 H, i64 W, bint hole,
                         Work* wk, RunsOut* r) noexcept nogil:
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


def contour_polygons(points, offsets, i64 h, i64 w, holes):
    """Polygons (K >= 1 points each, |coordinates| <= 2**28) -> runs of ``cv2.fillPoly`` on an (h, w) image.

    Vertices are rounded half up (``floor(v + 0.5)``) to the pixel grid first.
    ``points`` is (P, 2) float64, ``offsets`` (N + 1,) int64 and ``holes``
    (N,) or (0,) uint8, all C-contiguous.

    Where ``holes[i]`` is set, polygon i gives its fill less its outline
    (fillPoly, then polylines in 0): the strict inside of a hole's ring.
    """
    cdef const double* xy = <const double*>array_data(points, cnp.NPY_FLOAT64, 2, "points")
    cdef const i64* offs = <const i64*>array_data(offsets, cnp.NPY_INT64, 1, "offsets")
    cdef const uint8_t* hole = <const uint8_t*>array_data(holes, cnp.NPY_UINT8, 1, "holes")
    return contour_runs(xy, offs, cnp.PyArray_DIM(offsets, 0) - 1, h, w,
                        hole if cnp.PyArray_DIM(holes, 0) > 0 else NULL)


# One Work kept from call to call, so that a call for a few small polygons allocates no scratch (its
# eleven buffers cost as much as filling a triangle). Taken and given back with the GIL held: a
# second thread meanwhile uses a Work of its own. Kept only while its buffers are small.
cdef Work kept_work
cdef bint kept_work_free = True
memset(&kept_work, 0, sizeof(Work))
DEF KEPT_WORK_MAX = 1 << 14  # items of each buffer


cdef Work* work_take(Work* own) noexcept:
    """The kept Work when free, else ``own`` (zeroed); call with the GIL."""
    global kept_work_free
    if kept_work_free:
        kept_work_free = False
        return &kept_work
    memset(own, 0, sizeof(Work))
    return own


cdef void work_give(Work* wk, bint failed) noexcept:
    """Give back what :func:`work_take` gave; call with the GIL. After a failed allocation its
    buffers may not match their capacities: the kept Work is then emptied."""
    global kept_work_free
    if wk != &kept_work:
        work_free(wk)
        return
    if (failed or wk.edges_cap > KEPT_WORK_MAX or wk.row_cap > KEPT_WORK_MAX or wk.width_cap > KEPT_WORK_MAX
            or wk.segs.cap > KEPT_WORK_MAX or wk.rowsegs.cap > KEPT_WORK_MAX
            or wk.toggles.cap > KEPT_WORK_MAX or wk.pos.cap > KEPT_WORK_MAX):
        work_free(wk)
        memset(wk, 0, sizeof(Work))
    kept_work_free = True


cdef object contour_runs(const double* xy, const i64* offs, Py_ssize_t n, i64 h, i64 w, const uint8_t* hole):
    """:func:`contour_polygons` on raw arrays (``hole`` NULL: no holes)."""
    cdef Py_ssize_t i
    cdef RunsOut r
    cdef Work own
    cdef Work* wk = work_take(&own)
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    with nogil:
        for i in range(n):
            if contour_polygon(xy, offs[i], offs[i + 1], h, w, hole != NULL and hole[i], wk, &r) < 0:
                failed = 1
                break
    work_give(wk, failed)
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


# --- points of a parsed response -------------------------------------------------------------

POINTS_NOT_LIST = 1  # (prediction, -1, "")
POINT_NOT_OBJECT = 2  # (prediction, point, "")
POINT_MISSING = 3  # (prediction, point, key)
POINT_NOT_NUMBER = 4  # (prediction, point, key)
POINT_NOT_FINITE = 5  # (prediction, point, key)
POINT_TOO_FAR = 6  # (prediction, point, key)

_numpy_number = (np.integer, np.floating)


cdef int slow_number(object o, double* out) except -1:
    """0 and the value for a real number that is not a plain float or int (numpy's), never a bool; else 1."""
    if isinstance(o, bool) or not isinstance(o, (float, int) + _numpy_number):
        return 1
    try:
        out[0] = float(o)
    except OverflowError:
        out[0] = 1e300  # a huge int: reported as too far
    return 0


cdef inline bint plain_number(PyObject* o, double* out) noexcept:
    """A plain float or int (never a bool: its type is not exact int) as a double; else False.

    An int too large for a double reads as 1e300, which every bound on coordinates refuses.
    """
    if c_float_exact(o):
        out[0] = c_float_value(o)
        return True
    if c_long_exact(o):
        out[0] = c_long_double(o)
        if out[0] == -1.0 and PyErr_Occurred():
            PyErr_Clear()
            out[0] = 1e300
        return True
    return False


cdef inline int number(PyObject* o, double* out) except -1:
    """0 and the value for a real number (numpy's too, never a bool); else 1."""
    if plain_number(o, out):
        return 0
    return slow_number(<object>o, out)


cdef extern from *:
    """
    static inline int c_float_exact(PyObject* o) { return PyFloat_CheckExact(o); }
    static inline double c_float_value(PyObject* o) { return PyFloat_AS_DOUBLE(o); }
    static inline int c_long_exact(PyObject* o) { return PyLong_CheckExact(o); }
    static inline double c_long_double(PyObject* o) { return PyLong_AsDouble(o); }
    static inline int c_key_char(PyObject* k) {
        if (PyUnicode_CheckExact(k) && PyUnicode_GET_LENGTH(k) == 1) return (int)PyUnicode_READ_CHAR(k, 0);
        return 0;
    }
    """
    int c_float_exact(PyObject* o) noexcept
    double c_float_value(PyObject* o) noexcept
    int c_long_exact(PyObject* o) noexcept
    double c_long_double(PyObject* o) noexcept
    int key_char "c_key_char"(PyObject* k) noexcept


def points_array(list polygons, double max_coord):
    """Each prediction's ``points`` (``[{"x": .., "y": ..}, ...]`` or None) -> one flat (P, 2) float64 array.

    Returns ``(coords, offsets, error)``: a None entry gives an empty polygon;
    ``error`` is None or ``(code, prediction, point, key)`` for the first problem.
    """
    cdef Py_ssize_t n = len(polygons), i, j, total = 0, m, npts
    cdef object pts
    cdef PyObject* point
    cdef PyObject* item
    cdef PyObject* key
    cdef Py_ssize_t pos
    cdef int got, c
    cdef double vx = 0, vy = 0
    cdef object coords, offsets
    cdef double* out
    cdef i64* offs
    for i in range(n):
        pts = polygons[i]
        if pts is None:
            continue
        if not PyList_CheckExact(pts):
            return None, None, (POINTS_NOT_LIST, i, -1, "")
        total += PyList_GET_SIZE(pts)
    coords = np.empty((total, 2), np.float64)
    offsets = i64_array(n + 1)
    out = <double*>cnp.PyArray_DATA(coords)
    offs = <i64*>cnp.PyArray_DATA(offsets)
    offs[0] = 0
    m = 0
    for i in range(n):
        pts = polygons[i]
        if pts is not None:
            npts = PyList_GET_SIZE(pts)
            for j in range(npts):
                point = PyList_GET_ITEM(pts, j)  # borrowed: no reference counting in this loop
                if not PyDict_Check(<object>point):
                    return None, None, (POINT_NOT_OBJECT, i, j, "")
                # One walk over the point's entries: no hashing of "x" and "y".
                pos = 0
                got = 0
                while PyDict_Next(<object>point, &pos, &key, &item):
                    c = key_char(key)
                    if c == 120 and not got & 1:  # "x"
                        if number(item, &vx):
                            return None, None, (POINT_NOT_NUMBER, i, j, "x")
                        got |= 1
                    elif c == 121 and not got & 2:  # "y"
                        if number(item, &vy):
                            return None, None, (POINT_NOT_NUMBER, i, j, "y")
                        got |= 2
                    if got == 3:
                        break
                if got != 3:
                    return None, None, (POINT_MISSING, i, j, "x" if not got & 1 else "y")
                if not (isfinite(vx) and isfinite(vy)):
                    return None, None, (POINT_NOT_FINITE, i, j, "x" if not isfinite(vx) else "y")
                if fabs(vx) > max_coord or fabs(vy) > max_coord:
                    return None, None, (POINT_TOO_FAR, i, j, "x" if fabs(vx) > max_coord else "y")
                out[2 * m] = vx
                out[2 * m + 1] = vy
                m += 1
        offs[i + 1] = m
    return coords, offsets, None


# --- the predictions of a parsed response ------------------------------------------------------

PRED_NOT_OBJECT = 10  # (prediction, "", value)
FIELD_NOT_NUMBER = 11  # (prediction, key, value)
FIELD_NOT_FINITE = 12
NEGATIVE_SIZE = 13
CONFIDENCE_RANGE = 14
CLASS_NOT_STR = 15
CLASS_ID_NOT_INT = 16
DETECTION_ID_NOT_STR = 17
POINTS_ERROR = 18  # (prediction, (points code, point, key), value)
NOT_PLAIN = 19  # given points split out (split_points) that do not fit: parse the whole body instead

# Fields a prediction is read into; what else it holds is kept as it came.
DEF K_X = 0
DEF K_Y = 1
DEF K_WIDTH = 2
DEF K_HEIGHT = 3
DEF K_CONFIDENCE = 4
DEF K_CLASS = 5
DEF K_CLASS_ID = 6
DEF K_DETECTION_ID = 7
DEF K_POINTS = 8
DEF K_RLE = 9
DEF K_RLE_MASK = 10
DEF K_OTHER = 11

_FIELD_NAMES = ("x", "y", "width", "height", "confidence", "class", "class_id", "detection_id", "points", "rle",
                "rle_mask")


cdef extern from *:
    """
    static inline int c_str_exact(PyObject* o) { return PyUnicode_CheckExact(o); }
    static inline int c_is(PyObject* o, const char* text) { return PyUnicode_CompareWithASCIIString(o, text) == 0; }
    """
    int c_str_exact(PyObject* o) noexcept
    int c_is(PyObject* o, const char* text) noexcept


cdef int field_code(PyObject* key) noexcept:
    cdef Py_ssize_t n
    if not c_str_exact(key):
        return K_OTHER
    n = PyUnicode_GET_LENGTH(<object>key)
    if n == 1:
        if c_is(key, "x"):
            return K_X
        if c_is(key, "y"):
            return K_Y
    elif n == 3:
        if c_is(key, "rle"):
            return K_RLE
    elif n == 5:
        if c_is(key, "width"):
            return K_WIDTH
        if c_is(key, "class"):
            return K_CLASS
    elif n == 6:
        if c_is(key, "height"):
            return K_HEIGHT
        if c_is(key, "points"):
            return K_POINTS
    elif n == 8:
        if c_is(key, "class_id"):
            return K_CLASS_ID
        if c_is(key, "rle_mask"):
            return K_RLE_MASK
    elif n == 10:
        if c_is(key, "confidence"):
            return K_CONFIDENCE
    elif n == 12:
        if c_is(key, "detection_id"):
            return K_DETECTION_ID
    return K_OTHER


def parse_predictions(list preds, double max_coord, split=None):
    """The ``predictions`` list of a parsed response -> columns, checking every field.

    Returns ``(columns, error)``. ``columns`` is ``(box (N, 4), confidence,
    class_name (list), class_id (-1 where absent), detection_id (list),
    coords (P, 2), offsets (N + 1), has_points (uint8), rles (list of
    (key, dict) or None), extras (list of dict or None))``; ``error`` is None
    or ``(code, prediction, key, value)`` for the first problem.

    ``split`` is ``(coords, offsets)`` from :func:`split_points`: then each
    ``points`` is ``0`` (the next polygon there) or null; anything else, or a
    count that differs, gives the error ``NOT_PLAIN``.
    """
    cdef Py_ssize_t n = len(preds), i, pos, taken = 0
    cdef object p, value
    cdef PyObject* key
    cdef PyObject* item
    cdef int code
    cdef double v
    cdef object box_arr = np.zeros((n, 4), np.float64)
    cdef object conf_arr = np.zeros(n, np.float64)
    cdef object cid_arr = np.full(n, -1, np.int64)
    cdef object has_arr = np.zeros(n, np.uint8)
    cdef double[:, ::1] box = box_arr
    cdef double[::1] conf = conf_arr
    cdef i64[::1] cid = cid_arr
    cdef uint8_t[::1] has_points = has_arr
    cdef list names = [None] * n
    cdef list det = [None] * n
    cdef list points = [None] * n
    cdef list rles = [None] * n
    cdef list extras = [None] * n
    cdef dict extra
    cdef int seen
    for i in range(n):
        p = preds[i]
        if not isinstance(p, dict):
            return None, (PRED_NOT_OBJECT, i, "", p)
        pos = 0
        seen = 0
        extra = None
        while PyDict_Next(p, &pos, &key, &item):
            code = field_code(key)
            value = <object>item
            if code <= K_CONFIDENCE:
                if value is None or number(item, &v):
                    return None, (FIELD_NOT_NUMBER, i, _FIELD_NAMES[code], value)
                if not isfinite(v):
                    return None, (FIELD_NOT_FINITE, i, _FIELD_NAMES[code], value)
                if code == K_CONFIDENCE:
                    conf[i] = v
                else:
                    box[i, code] = v
                seen |= 1 << code
            elif code == K_CLASS:
                if not isinstance(value, str):
                    return None, (CLASS_NOT_STR, i, "class", value)
                names[i] = value
                seen |= 1 << code
            elif code == K_CLASS_ID:
                if value is not None:
                    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                        return None, (CLASS_ID_NOT_INT, i, "class_id", value)
                    cid[i] = value
            elif code == K_DETECTION_ID:
                if value is not None:
                    if not isinstance(value, str):
                        return None, (DETECTION_ID_NOT_STR, i, "detection_id", value)
                    det[i] = value
            elif code == K_POINTS:
                if value is not None:
                    if split is not None:
                        if not c_long_exact(item) or value != 0:
                            return None, (NOT_PLAIN, i, "points", None)
                        taken += 1
                    points[i] = value
                    has_points[i] = 1
            elif code == K_RLE or code == K_RLE_MASK:
                if value is not None and rles[i] is None:
                    rles[i] = (_FIELD_NAMES[code], value)
            else:
                if extra is None:
                    extra = {}
                extra[<object>key] = value
        # Required: the box, the confidence and the class (checked in this order).
        for code in range(K_CLASS + 1):
            if not seen & (1 << code):
                if code == K_CLASS:
                    return None, (CLASS_NOT_STR, i, "class", None)
                return None, (FIELD_NOT_NUMBER, i, _FIELD_NAMES[code], None)
        if box[i, 2] < 0 or box[i, 3] < 0:
            return None, (NEGATIVE_SIZE, i, "width" if box[i, 2] < 0 else "height", None)
        if not 0.0 <= conf[i] <= 1.0:
            return None, (CONFIDENCE_RANGE, i, "confidence", preds[i]["confidence"])
        extras[i] = extra
    if split is not None:
        coords, offsets = split_offsets(split[0], split[1], has_arr, taken, max_coord)
        if coords is None:
            return None, (NOT_PLAIN, -1, "points", None)
        return (box_arr, conf_arr, names, cid_arr, det, coords, offsets, has_arr, rles, extras), None
    coords, offsets, perr = points_array(points, max_coord)
    if perr is not None:
        return None, (POINTS_ERROR, perr[1], (perr[0], perr[2], perr[3]), None)
    return (box_arr, conf_arr, names, cid_arr, det, coords, offsets, has_arr, rles, extras), None


def split_offsets(coords, const i64[::1] parts, const uint8_t[::1] has_points, Py_ssize_t taken,
                  double max_coord):
    """The polygons split out, placed at the predictions that have points -> (coords, offsets), or (None, None)."""
    cdef Py_ssize_t n = has_points.shape[0], i, k = 0
    cdef const double[:, ::1] xy = coords
    cdef object offsets
    cdef i64* offs
    if taken != parts.shape[0] - 1:
        return None, None
    for i in range(xy.shape[0]):
        if fabs(xy[i, 0]) > max_coord or fabs(xy[i, 1]) > max_coord:
            return None, None  # the general path names the point
    offsets = i64_array(n + 1)
    offs = <i64*>cnp.PyArray_DATA(offsets)
    offs[0] = 0
    for i in range(n):
        if has_points[i]:
            offs[i + 1] = parts[k + 1]
            k += 1
        else:
            offs[i + 1] = offs[i]
    return coords, offsets


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
    cdef const i64* offs = <const i64*>array_data(offsets, cnp.NPY_INT64, 1, "offsets")
    cdef const i64* picks = <const i64*>array_data(sel, cnp.NPY_INT64, 1, "sel")
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


def runs_translate(const u32[::1] counts, const i64[::1] offsets, i64 h, i64 w, i64 dx, i64 dy, i64 H, i64 W):
    """Every mask moved by (dx, dy) from an h x w image onto an H x W one, cut to it -> runs."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, i
    cdef RunsOut r
    cdef int failed = 0
    memset(&r, 0, sizeof(r))
    with nogil:
        for i in range(n):
            if push_moved(&r, &counts[offsets[i]], offsets[i + 1] - offsets[i], h, w, dx, dy, H, W) < 0:
                failed = 1
                break
    if failed:
        runs_free(&r)
        raise MemoryError()
    return runs_result(&r)


def toggles_to_runs(const i64[::1] positions, const i64[::1] offsets, i64 hw):
    """Sorted toggle positions per mask (mask i: ``positions[offsets[i]:offsets[i + 1]]``) -> runs.

    Toggles at one position cancel in pairs; those at or past ``hw`` do nothing.
    """
    cdef Py_ssize_t n = offsets.shape[0] - 1, i
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


def polygon_batch(list polygons, double max_coord):
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


def rasterize_list(list polygons, double max_coord, i64 h, i64 w, bint coco):
    """:func:`polygon_batch`, then :func:`coco_polygons` (``coco``) or :func:`contour_polygons`, with no arrays
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


# --- a response's points, read straight from the JSON bytes ---------------------------------------
#
# A response is mostly its points: ``{"x": 281, "y": 180}`` a few thousand times.
# Made into Python dicts by a JSON parser, then read back, they cost more
# than everything else. Here the bytes are scanned once: each ``points``
# array of a prediction is read straight into doubles, and the rest of the
# document, with ``0`` in place of those arrays, goes to orjson. Only the
# plainest form is taken (keys "x" and "y", numbers in strict JSON syntax);
# anything else in a points array sends the whole body down the general path.

cdef extern from "Python.h":
    double PyOS_string_to_double(const char* s, char** endptr, PyObject* overflow_exception) except? -1.0

DEF MAX_DEPTH = 512


cdef struct Scan:
    const char* s
    Py_ssize_t n
    Py_ssize_t p
    int ok
    # the points arrays found: their byte ranges, and their points
    I64Buf ranges  # (start, end) pairs
    I64Buf counts  # points per array
    double* xy
    Py_ssize_t xy_n
    Py_ssize_t xy_cap


cdef inline void ws(Scan* sc) noexcept nogil:
    cdef char c
    while sc.p < sc.n:
        c = sc.s[sc.p]
        if c == 32 or c == 10 or c == 13 or c == 9:
            sc.p += 1
        else:
            return


cdef inline bint expect(Scan* sc, char c) noexcept nogil:
    ws(sc)
    if sc.p < sc.n and sc.s[sc.p] == c:
        sc.p += 1
        return True
    return False


cdef bint skip_string(Scan* sc) noexcept nogil:
    """Past a string (at its opening quote): escapes skip the next byte."""
    cdef char c
    sc.p += 1
    while sc.p < sc.n:
        c = sc.s[sc.p]
        if c == 34:
            sc.p += 1
            return True
        if c == 92:
            sc.p += 2
        else:
            sc.p += 1
    return False


cdef bint raw_key(Scan* sc, const char* name, Py_ssize_t length) noexcept nogil:
    """The string at p is exactly ``name`` with no escapes (not consumed)."""
    return (sc.p + length + 1 < sc.n and sc.s[sc.p] == 34 and sc.s[sc.p + length + 1] == 34
            and memcmp(sc.s + sc.p + 1, name, length) == 0)


cdef bint skip_value(Scan* sc, int depth) noexcept nogil:
    """Past any value; its syntax is left to orjson, only its end matters here."""
    cdef char c
    if depth > MAX_DEPTH:
        return False
    ws(sc)
    if sc.p >= sc.n:
        return False
    c = sc.s[sc.p]
    if c == 34:
        return skip_string(sc)
    if c == 123 or c == 91:  # { or [
        sc.p += 1
        if expect(sc, 125 if c == 123 else 93):
            return True
        while True:
            if c == 123:
                ws(sc)
                if sc.p >= sc.n or sc.s[sc.p] != 34 or not skip_string(sc) or not expect(sc, 58):
                    return False
            if not skip_value(sc, depth + 1):
                return False
            if expect(sc, 44):
                continue
            return expect(sc, 125 if c == 123 else 93)
    # a number or a literal
    while sc.p < sc.n:
        c = sc.s[sc.p]
        if (48 <= c <= 57) or (97 <= c <= 122) or (65 <= c <= 90) or c == 43 or c == 45 or c == 46:
            sc.p += 1
        else:
            break
    return True


cdef double[23] POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
                         1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]


cdef bint json_number(Scan* sc, double* out) noexcept nogil:
    """A number in strict JSON syntax, as Python's float() reads it (correctly rounded).

    Integers of up to 18 digits are exact; a decimal whose digits fit in 53
    bits, scaled by at most 10**22, is one exact product or quotient of two
    doubles (so correctly rounded: Clinger's fast path); anything else goes
    to ``PyOS_string_to_double`` (with the GIL).
    """
    cdef Py_ssize_t start = sc.p, digits = 0, fraction = 0
    cdef uint64_t m = 0
    cdef i64 exponent = 0, scale
    cdef int exp_sign = 1
    cdef bint neg = False, plain = True, exact = True
    cdef char buf[64]
    cdef char* end
    if sc.p < sc.n and sc.s[sc.p] == 45:
        neg = True
        sc.p += 1
    if sc.p >= sc.n or not (48 <= sc.s[sc.p] <= 57):
        return False
    if sc.s[sc.p] == 48:
        sc.p += 1
        digits = 1
    else:
        while sc.p < sc.n and 48 <= sc.s[sc.p] <= 57:
            if digits < 18:
                m = m * 10 + <uint64_t>(sc.s[sc.p] - 48)
            else:
                exact = False
            digits += 1
            sc.p += 1
    if sc.p < sc.n and sc.s[sc.p] == 46:  # a fraction
        plain = False
        sc.p += 1
        if sc.p >= sc.n or not (48 <= sc.s[sc.p] <= 57):
            return False
        while sc.p < sc.n and 48 <= sc.s[sc.p] <= 57:
            if m < 100000000000000000ULL:  # 10**17: one more digit still fits in 64 bits
                m = m * 10 + <uint64_t>(sc.s[sc.p] - 48)
                fraction += 1
            else:
                exact = False
            sc.p += 1
    if sc.p < sc.n and (sc.s[sc.p] == 101 or sc.s[sc.p] == 69):  # an exponent
        plain = False
        sc.p += 1
        if sc.p < sc.n and (sc.s[sc.p] == 43 or sc.s[sc.p] == 45):
            exp_sign = -1 if sc.s[sc.p] == 45 else 1
            sc.p += 1
        if sc.p >= sc.n or not (48 <= sc.s[sc.p] <= 57):
            return False
        while sc.p < sc.n and 48 <= sc.s[sc.p] <= 57:
            if exponent < 100000:
                exponent = exponent * 10 + (sc.s[sc.p] - 48)
            sc.p += 1
    if plain:
        if digits > 18:
            return False  # beyond what orjson reads as an int: left to it
        out[0] = <double>(-<i64>m if neg else <i64>m)  # an integer: -0 is 0, as orjson reads it
        return True
    scale = exp_sign * exponent - fraction
    if exact and m < (1ULL << 53) and -22 <= scale <= 22:
        out[0] = <double>m * POW10[scale] if scale >= 0 else <double>m / POW10[-scale]
        if neg:
            out[0] = -out[0]
        return isfinite(out[0])
    if sc.p - start >= 63:
        return False
    memcpy(buf, sc.s + start, sc.p - start)
    buf[sc.p - start] = 0
    with gil:
        try:
            out[0] = PyOS_string_to_double(buf, &end, NULL)
        except Exception:
            return False
    return end == buf + (sc.p - start) and isfinite(out[0])


cdef bint push_point(Scan* sc, double x, double y) noexcept nogil:
    if grow(<void**>&sc.xy, &sc.xy_cap, sc.xy_n + 2, sizeof(double), 4096) < 0:
        return False
    sc.xy[sc.xy_n] = x
    sc.xy[sc.xy_n + 1] = y
    sc.xy_n += 2
    return True


cdef bint points_array_raw(Scan* sc) noexcept nogil:
    """``[{"x": n, "y": n}, ...]`` at p, into the points; anything else fails."""
    cdef Py_ssize_t start = sc.p, k = 0
    cdef double x = 0, y = 0
    cdef int got
    sc.p += 1  # [
    if expect(sc, 93):
        return i64_push(&sc.ranges, start) == 0 and i64_push(&sc.ranges, sc.p) == 0 and i64_push(&sc.counts, 0) == 0
    while True:
        if not expect(sc, 123):
            return False
        got = 0
        while True:
            ws(sc)
            if raw_key(sc, "x", 1) and not got & 1:
                sc.p += 3
                if not expect(sc, 58):
                    return False
                ws(sc)
                if not json_number(sc, &x):
                    return False
                got |= 1
            elif raw_key(sc, "y", 1) and not got & 2:
                sc.p += 3
                if not expect(sc, 58):
                    return False
                ws(sc)
                if not json_number(sc, &y):
                    return False
                got |= 2
            else:
                return False
            if got == 3:
                break
            if not expect(sc, 44):
                return False
        if not expect(sc, 125) or not push_point(sc, x, y):
            return False
        k += 1
        if expect(sc, 44):
            continue
        if not expect(sc, 93):
            return False
        break
    return i64_push(&sc.ranges, start) == 0 and i64_push(&sc.ranges, sc.p) == 0 and i64_push(&sc.counts, k) == 0


cdef bint prediction_object(Scan* sc) noexcept nogil:
    cdef int seen = 0
    sc.p += 1  # {
    if expect(sc, 125):
        return True
    while True:
        ws(sc)
        if sc.p >= sc.n or sc.s[sc.p] != 34:
            return False
        if raw_key(sc, "points", 6):
            seen += 1
            if seen > 1:
                return False  # one "points" per prediction, or the general path
            sc.p += 8
            if not expect(sc, 58):
                return False
            ws(sc)
            if sc.p < sc.n and sc.s[sc.p] == 91:
                if not points_array_raw(sc):
                    return False
            elif not skip_value(sc, 3):  # null: no polygon, read as usual
                return False
        else:
            if not skip_string(sc) or not expect(sc, 58) or not skip_value(sc, 3):
                return False
        if expect(sc, 44):
            continue
        return expect(sc, 125)


cdef bint predictions_array(Scan* sc) noexcept nogil:
    sc.p += 1  # [
    if expect(sc, 93):
        return True
    while True:
        ws(sc)
        if sc.p < sc.n and sc.s[sc.p] == 123:
            if not prediction_object(sc):
                return False
        elif not skip_value(sc, 2):
            return False
        if expect(sc, 44):
            continue
        return expect(sc, 93)


cdef bint response_object(Scan* sc) noexcept nogil:
    cdef int seen = 0
    if not expect(sc, 123):
        return False
    if expect(sc, 125):
        return True
    while True:
        ws(sc)
        if sc.p >= sc.n or sc.s[sc.p] != 34:
            return False
        if raw_key(sc, "predictions", 11):
            seen += 1
            if seen > 1:
                return False
            sc.p += 13
            if not expect(sc, 58):
                return False
            ws(sc)
            if sc.p < sc.n and sc.s[sc.p] == 91:
                if not predictions_array(sc):
                    return False
            elif not skip_value(sc, 1):
                return False
        else:
            if not skip_string(sc) or not expect(sc, 58) or not skip_value(sc, 1):
                return False
        if expect(sc, 44):
            continue
        if not expect(sc, 125):
            return False
        ws(sc)
        return sc.p == sc.n


def split_points(data):
    """JSON bytes of a response -> ``(the bytes less its points arrays, coords (P, 2), offsets)``, or None.

    Each prediction's ``points`` array is read into ``coords`` (polygon k:
    ``coords[offsets[k]:offsets[k + 1]]``, in document order) and replaced by
    ``0`` in the bytes given back. None when the body is not in the plain form
    this reads (the caller then parses it whole).
    """
    cdef const unsigned char[::1] view = data
    cdef Scan sc
    cdef Py_ssize_t k, last, total, q, nranges
    cdef object out, coords, offsets
    cdef char* dst
    cdef i64* offs
    memset(&sc, 0, sizeof(sc))
    sc.s = <const char*>&view[0] if view.shape[0] else NULL
    sc.n = view.shape[0]
    try:
        with nogil:
            sc.ok = sc.n > 0 and response_object(&sc)
        if not sc.ok or sc.counts.n == 0:
            return None
        nranges = sc.counts.n
        total = sc.n
        for k in range(nranges):
            total -= sc.ranges.data[2 * k + 1] - sc.ranges.data[2 * k] - 1
        out = PyBytes_FromStringAndSize(NULL, total)
        dst = PyBytes_AS_STRING(out)
        last = 0
        q = 0
        for k in range(nranges):
            memcpy(dst + q, sc.s + last, sc.ranges.data[2 * k] - last)
            q += sc.ranges.data[2 * k] - last
            dst[q] = 48  # "0"
            q += 1
            last = sc.ranges.data[2 * k + 1]
        memcpy(dst + q, sc.s + last, sc.n - last)
        coords = np.empty((sc.xy_n // 2, 2), np.float64)
        if sc.xy_n:
            memcpy(cnp.PyArray_DATA(coords), sc.xy, sc.xy_n * sizeof(double))
        offsets = i64_array(nranges + 1)
        offs = <i64*>cnp.PyArray_DATA(offsets)
        offs[0] = 0
        for k in range(nranges):
            offs[k + 1] = offs[k] + sc.counts.data[k]
        return out, coords, offsets
    finally:
        free(sc.ranges.data)
        free(sc.counts.data)
        free(sc.xy)
