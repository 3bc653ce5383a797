/* CPython's checks and reads of plain objects as C functions, for Cython code that holds borrowed
   PyObject pointers (no reference counting in loops over a response's points and fields). */
#ifndef SEGMASK_PYOBJECTS_H
#define SEGMASK_PYOBJECTS_H

#include <Python.h>

static inline int segmask_float_exact(PyObject* o) { return PyFloat_CheckExact(o); }
static inline double segmask_float_value(PyObject* o) { return PyFloat_AS_DOUBLE(o); }
static inline int segmask_long_exact(PyObject* o) { return PyLong_CheckExact(o); }
static inline double segmask_long_double(PyObject* o) { return PyLong_AsDouble(o); }
static inline int segmask_str_exact(PyObject* o) { return PyUnicode_CheckExact(o); }

/* The key's one character, or 0 when it is not a str of length 1. */
static inline int segmask_key_char(PyObject* k) {
    if (PyUnicode_CheckExact(k) && PyUnicode_GET_LENGTH(k) == 1) return (int)PyUnicode_READ_CHAR(k, 0);
    return 0;
}

/* A str equal to the ASCII text. */
static inline int segmask_str_is(PyObject* o, const char* text) {
    return PyUnicode_CompareWithASCIIString(o, text) == 0;
}

#endif
