# How runs are made from toggles and from rows of bytes: inline, for runs.pyx and fill.pyx (the
# contour rule compares rows as the dense reader does), each compiling its own copy.

from libc.stdint cimport uint8_t, uint64_t

from segmask._kernel.bits cimport segmask_ctz64, segmask_load8
from segmask._kernel.buffers cimport RunsOut, i64, runs_end_mask, runs_reserve, u32


cdef inline int push_toggles(RunsOut* r, i64* t, Py_ssize_t k, i64 hw) noexcept nogil:
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


cdef inline Py_ssize_t row_changes(const uint8_t* row, const uint8_t* prev, i64 bw, i64* cols) noexcept nogil:
    """The columns where two rows of 0/1 bytes differ (either may be NULL: all zeros)."""
    cdef i64 c = 0
    cdef Py_ssize_t k = 0
    cdef uint64_t d
    while c + 8 <= bw:
        d = (segmask_load8(row + c) if row != NULL else 0) ^ (segmask_load8(prev + c) if prev != NULL else 0)
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
