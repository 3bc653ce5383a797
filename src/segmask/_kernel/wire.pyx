# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: embedsignature=False
"""The API's JSON (:mod:`segmask.response`): a parsed response's predictions into columns, and points from bytes.

:func:`parse_predictions` reads the ``predictions`` list of a parsed
response (dicts) into columns, checking every field; :func:`split_points`
reads the ``points`` arrays straight from a response's JSON bytes, so that
orjson parses only the rest. Both report the first problem as a tuple for
the caller's message; neither raises for bad data.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_Check, PyDict_Next
from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject
from libc.math cimport fabs, isfinite
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memcmp, memcpy, memset

import numpy as np

cimport numpy as cnp

from segmask._kernel.buffers cimport I64Buf, array_data, dim, grow, i64, i64_array, i64_push
from segmask._kernel.pynumbers cimport (
    plain_number,
    segmask_float_exact,
    segmask_float_value,
    segmask_key_char,
    segmask_long_double,
    segmask_long_exact,
    segmask_str_exact,
    segmask_str_is,
)

cnp.import_array()

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    double PyOS_string_to_double(const char* s, char** endptr, PyObject* overflow_exception) except? -1.0


# --- numbers ---------------------------------------------------------------------------------

cdef object NUMPY_NUMBER = (np.integer, np.floating)


cdef int slow_number(object o, double* out) except -1:
    """0 and the value for a real number that is not a plain float or int (numpy's), never a bool; 1 when not a
    number; 2 for an int too large for a double."""
    if isinstance(o, bool) or not isinstance(o, (float, int) + NUMPY_NUMBER):
        return 1
    try:
        out[0] = float(o)
    except OverflowError:
        return 2
    return 0


cdef inline int number(PyObject* o, double* out) except -1:
    """As :func:`slow_number`, plain floats and ints first."""
    if segmask_float_exact(o):
        out[0] = segmask_float_value(o)
        return 0
    if segmask_long_exact(o):
        out[0] = segmask_long_double(o)
        if out[0] == -1.0 and PyErr_Occurred():
            PyErr_Clear()
            return 2
        return 0
    return slow_number(<object>o, out)


# --- points of a parsed response -------------------------------------------------------------

POINTS_NOT_LIST = 1  # (prediction, -1, "")
POINT_NOT_OBJECT = 2  # (prediction, point, "")
POINT_MISSING = 3  # (prediction, point, key)
POINT_NOT_NUMBER = 4  # (prediction, point, key)
POINT_NOT_FINITE = 5  # (prediction, point, key)
POINT_TOO_FAR = 6  # (prediction, point, key)


cdef inline int point_number(PyObject* o, double* out) except -1:
    """0 and the value of a coordinate; 1 when not a number. An int too large for a double reads as 1e300,
    which the bound on coordinates refuses."""
    cdef int code = number(o, out)
    if code == 2:
        out[0] = 1e300
        return 0
    return code


cdef tuple points_array(list polygons, double max_coord):
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
                    c = segmask_key_char(key)
                    if c == 120 and not got & 1:  # "x"
                        if point_number(item, &vx):
                            return None, None, (POINT_NOT_NUMBER, i, j, "x")
                        got |= 1
                    elif c == 121 and not got & 2:  # "y"
                        if point_number(item, &vy):
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
cdef enum:
    K_X = 0
    K_Y = 1
    K_WIDTH = 2
    K_HEIGHT = 3
    K_CONFIDENCE = 4
    K_CLASS = 5
    K_CLASS_ID = 6
    K_DETECTION_ID = 7
    K_POINTS = 8
    K_RLE = 9
    K_RLE_MASK = 10
    K_OTHER = 11

cdef tuple FIELD_NAMES = ("x", "y", "width", "height", "confidence", "class", "class_id", "detection_id", "points",
                          "rle", "rle_mask")


cdef int field_code(PyObject* key) noexcept:
    cdef Py_ssize_t n
    if not segmask_str_exact(key):
        return K_OTHER
    n = PyUnicode_GET_LENGTH(<object>key)
    if n == 1:
        if segmask_str_is(key, "x"):
            return K_X
        if segmask_str_is(key, "y"):
            return K_Y
    elif n == 3:
        if segmask_str_is(key, "rle"):
            return K_RLE
    elif n == 5:
        if segmask_str_is(key, "width"):
            return K_WIDTH
        if segmask_str_is(key, "class"):
            return K_CLASS
    elif n == 6:
        if segmask_str_is(key, "height"):
            return K_HEIGHT
        if segmask_str_is(key, "points"):
            return K_POINTS
    elif n == 8:
        if segmask_str_is(key, "class_id"):
            return K_CLASS_ID
        if segmask_str_is(key, "rle_mask"):
            return K_RLE_MASK
    elif n == 10:
        if segmask_str_is(key, "confidence"):
            return K_CONFIDENCE
    elif n == 12:
        if segmask_str_is(key, "detection_id"):
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
    cdef int code, got
    cdef double v
    cdef object box_arr = np.zeros((n, 4), np.float64)
    cdef object conf_arr = np.zeros(n, np.float64)
    cdef object cid_arr = np.full(n, -1, np.int64)
    cdef object has_arr = np.zeros(n, np.uint8)
    cdef double* box = <double*>cnp.PyArray_DATA(box_arr)
    cdef double* conf = <double*>cnp.PyArray_DATA(conf_arr)
    cdef i64* cid = <i64*>cnp.PyArray_DATA(cid_arr)
    cdef uint8_t* has_points = <uint8_t*>cnp.PyArray_DATA(has_arr)
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
                if value is None or point_number(item, &v):
                    return None, (FIELD_NOT_NUMBER, i, FIELD_NAMES[code], value)
                if not isfinite(v):
                    return None, (FIELD_NOT_FINITE, i, FIELD_NAMES[code], value)
                if code == K_CONFIDENCE:
                    conf[i] = v
                else:
                    box[4 * i + code] = v
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
                        if not segmask_long_exact(item) or value != 0:
                            return None, (NOT_PLAIN, i, "points", None)
                        taken += 1
                    points[i] = value
                    has_points[i] = 1
            elif code == K_RLE or code == K_RLE_MASK:
                if value is not None and rles[i] is None:
                    rles[i] = (FIELD_NAMES[code], value)
            else:
                if extra is None:
                    extra = {}
                extra[<object>key] = value
        # Required: the box, the confidence and the class (checked in this order).
        for code in range(K_CLASS + 1):
            if not seen & (1 << code):
                if code == K_CLASS:
                    return None, (CLASS_NOT_STR, i, "class", None)
                return None, (FIELD_NOT_NUMBER, i, FIELD_NAMES[code], None)
        if box[4 * i + 2] < 0 or box[4 * i + 3] < 0:
            return None, (NEGATIVE_SIZE, i, "width" if box[4 * i + 2] < 0 else "height", None)
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


cdef tuple split_offsets(object coords, object parts_array, object has_points_array, Py_ssize_t taken,
                         double max_coord):
    """The polygons split out, placed at the predictions that have points -> (coords, offsets), or (None, None)."""
    cdef const double* xy = <const double*>array_data(coords, cnp.NPY_FLOAT64, 2, 2, "coords")
    cdef const i64* parts = <const i64*>array_data(parts_array, cnp.NPY_INT64, 1, -1, "offsets")
    cdef const uint8_t* has_points = <const uint8_t*>array_data(has_points_array, cnp.NPY_UINT8, 1, -1, "has_points")
    cdef Py_ssize_t n = dim(has_points_array, 0), i, k = 0
    cdef object offsets
    cdef i64* offs
    if taken != dim(parts_array, 0) - 1:
        return None, None
    for i in range(2 * dim(coords, 0)):
        if fabs(xy[i]) > max_coord:
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


# --- a response's points, read straight from the JSON bytes ---------------------------------------
#
# A response is mostly its points: ``{"x": 281, "y": 180}`` a few thousand times.
# Made into Python dicts by a JSON parser, then read back, they cost more
# than everything else. Here the bytes are scanned once: each ``points``
# array of a prediction is read straight into doubles, and the rest of the
# document, with ``0`` in place of those arrays, goes to orjson. Only the
# plainest form is taken (keys "x" and "y", numbers in strict JSON syntax);
# anything else in a points array sends the whole body down the general path.

cdef enum:
    MAX_DEPTH = 512


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
    this reads (the caller then parses it whole). ``data``: bytes, bytearray
    or a contiguous memoryview.
    """
    cdef Py_buffer buf
    cdef Scan sc
    cdef Py_ssize_t k, last, total, q, nranges
    cdef object out, coords, offsets
    cdef char* dst
    cdef i64* offs
    PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE)
    memset(&sc, 0, sizeof(sc))
    sc.s = <const char*>buf.buf
    sc.n = buf.len
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
        PyBuffer_Release(&buf)
