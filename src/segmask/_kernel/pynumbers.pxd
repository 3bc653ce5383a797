# Plain Python numbers read as doubles from borrowed references (pyobjects.h), for the readers of
# polygons (fill.pyx) and of a parsed response (wire.pyx): inline, per point.

from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from cpython.object cimport PyObject


cdef extern from "pyobjects.h":
    int segmask_float_exact(PyObject* o) noexcept
    double segmask_float_value(PyObject* o) noexcept
    int segmask_long_exact(PyObject* o) noexcept
    double segmask_long_double(PyObject* o) noexcept
    int segmask_str_exact(PyObject* o) noexcept
    int segmask_key_char(PyObject* k) noexcept
    int segmask_str_is(PyObject* o, const char* text) noexcept


cdef inline bint plain_number(PyObject* o, double* out) noexcept:
    """A plain float or int (never a bool: its type is not exact int) as a double; else False.

    An int too large for a double reads as 1e300, which every bound on coordinates refuses.
    """
    if segmask_float_exact(o):
        out[0] = segmask_float_value(o)
        return True
    if segmask_long_exact(o):
        out[0] = segmask_long_double(o)
        if out[0] == -1.0 and PyErr_Occurred():
            PyErr_Clear()
            out[0] = 1e300
        return True
    return False
