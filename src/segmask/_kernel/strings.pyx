# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: embedsignature=False
"""COCO compressed counts strings, both ways (:mod:`segmask.rle`, :mod:`segmask.masks`).

pycocotools' code (``rleToString`` and ``rleFrString``): each run, less the
run two places before it when its index is above 2, in 5-bit groups, low
first, as characters ``chr(48 + group)`` with bit 0x20 set while more groups
follow and bit 0x10 of the last group giving the sign. Decoding checks
every character and reports the first problem of a bad string as a tuple
for the caller's message; it reads eight characters at a time where SSE2 is
(``coco_sse2.h``).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_CheckExact
from cpython.list cimport PyList_CheckExact
from cpython.long cimport PyLong_CheckExact
from cpython.unicode cimport PyUnicode_CheckExact
from libc.stdint cimport UINT32_MAX, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

cimport numpy as cnp

from segmask._kernel.bits cimport segmask_clz64, segmask_store4
from segmask._kernel.buffers cimport array_data, dim, i64, i64_array, owned_u32, pool_take, u32

cnp.import_array()

cdef extern from "Python.h":
    int PyUnicode_IS_ASCII(object o)
    char* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)

cdef extern from "coco_sse2.h" nogil:
    Py_ssize_t segmask_values8(const char* text, Py_ssize_t length, Py_ssize_t* p_io, Py_ssize_t* stopped,
                               i64* values, Py_ssize_t k, uint64_t* bad)
    bint SEGMASK_VECTOR

cdef enum:
    READ_SPAN = 1 << 16  # characters decoded into values at a time
    SHORT_HALF = 1 << 14  # SHORT holds the values -SHORT_HALF..SHORT_HALF-1

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
            if x < 0 or x > UINT32_MAX:
                return (BAD_RUN, i, m, x)
            hist[m] = x
            total += x
            m += 1
        return (BAD_SUM, i, 0, total)
    finally:
        free(hist)


# CHARS: each byte of a COCO string: its 5-bit group, bit 5 set when it ends a value (its 0x20
# bit clear), bit 7 when it is not one of the 64 characters '0'..'o'. GROUPS: by the bit length
# of a value's magnitude, the 5-bit groups it takes with its sign bit; CONTINUED: by that count,
# the continuation bits of its first three characters (little-endian, as segmask_store4 writes
# them). SHORT[x + 2**14], for the values of three groups or fewer (-2**14 <= x < 2**14, nearly
# all of them): their characters, the first in the lowest byte, and their count in the highest.
cdef uint8_t[256] CHARS
cdef uint8_t[66] GROUPS
cdef uint32_t[8] CONTINUED
cdef uint32_t[2 * SHORT_HALF] SHORT


cdef void build_tables() noexcept:
    """The tables above, built once at import (SHORT by put_long_value, which reads the others)."""
    cdef int b, bits, g
    cdef i64 x
    cdef Py_ssize_t count
    cdef char chars[8]
    for b in range(256):
        CHARS[b] = (((b - 48) & 0x1f) | (0 if (b - 48) & 0x20 else 0x20)) if 48 <= b < 112 else 0x80
    for bits in range(66):
        GROUPS[bits] = max(1, (bits + 5) // 5)
    for g in range(8):
        CONTINUED[g] = (0x20 if g > 1 else 0) | (0x2000 if g > 2 else 0) | (0x200000 if g > 3 else 0)
    for x in range(-SHORT_HALF, SHORT_HALF):
        count = put_long_value(chars, x)
        SHORT[x + SHORT_HALF] = <uint32_t>((<uint8_t>chars[0]) | ((<uint8_t>chars[1]) << 8)
                                           | ((<uint8_t>chars[2]) << 16) | (count << 24))


build_tables()


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


def decode_counts(list strings, i64 hw):
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


cdef inline Py_ssize_t put_long_value(char* out, i64 x) noexcept nogil:
    """Write one value's characters at ``out`` (four bytes always written); their count."""
    cdef i64 y = x ^ (x >> 63)  # the bits of its magnitude, for either sign
    # its bit length and a sign bit, in groups of 5 (at least one)
    cdef Py_ssize_t ngroups = GROUPS[64 - segmask_clz64(<uint64_t>(y | 1))], g
    cdef uint32_t u = <uint32_t>x
    cdef int c
    # the first three groups a byte each, continuation bits, '0' added: one 4-byte store
    segmask_store4(out, (((u & 0x1f) | ((u << 3) & 0x1f00) | ((u << 6) & 0x1f0000)) | CONTINUED[ngroups]) + 0x303030)
    for g in range(3, ngroups):  # values of 2**14 and more
        c = <int>((x >> (5 * g)) & 0x1f)
        if g + 1 < ngroups:
            c |= 0x20
        out[g] = <char>(c + 48)
    return ngroups


cdef inline Py_ssize_t put_value(char* out, i64 x) noexcept nogil:
    """Write one value's characters at ``out`` (four bytes always written); their count."""
    cdef uint64_t i = <uint64_t>(x + SHORT_HALF)
    cdef uint32_t e
    if i < 2 * SHORT_HALF:
        e = SHORT[i]
        segmask_store4(out, e)
        return e >> 24
    return put_long_value(out, x)


def encode_counts(counts_array, offsets_array):
    """Runs -> pycocotools' compressed counts strings, one ``str`` per mask.

    Each value (a run, less the one two before it) takes the fewest 5-bit
    groups that hold it in two's complement, as pycocotools' loop ends. A
    value of three groups or fewer (nearly all) is one load from a table of
    their characters and one 4-byte store; a larger one has its count from
    its bit length, and its first three characters are written as one.
    """
    cdef const u32* counts = <const u32*>array_data(counts_array, cnp.NPY_UINT32, 1, -1, "counts")
    cdef const i64* offsets = <const i64*>array_data(offsets_array, cnp.NPY_INT64, 1, -1, "offsets")
    cdef Py_ssize_t n = dim(offsets_array, 0) - 1, i, j, a, b, p, longest = 0
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
