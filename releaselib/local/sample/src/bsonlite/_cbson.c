/* The C half of bsonlite: packing and unpacking BSON int32 values.
 *
 * The pure-Python module bsonlite._pure does the same work; this module only
 * makes the integer paths faster. Both must behave identically.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static PyObject *
encode_int32(PyObject *self, PyObject *value)
{
    int overflow = 0;
    long long number;
    uint32_t bits;
    char out[4];

    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "expected an int, got %s",
                     Py_TYPE(value)->tp_name);
        return NULL;
    }
    number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (number == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (overflow != 0 || number < INT32_MIN || number > INT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "BSON int32 out of range: %S", value);
        return NULL;
    }
    bits = (uint32_t)(int32_t)number;
    out[0] = (char)(bits & 0xff);
    out[1] = (char)((bits >> 8) & 0xff);
    out[2] = (char)((bits >> 16) & 0xff);
    out[3] = (char)((bits >> 24) & 0xff);
    return PyBytes_FromStringAndSize(out, 4);
}

static PyObject *
decode_int32(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t offset;
    const unsigned char *p;
    uint32_t bits;

    if (!PyArg_ParseTuple(args, "y*n:decode_int32", &view, &offset)) {
        return NULL;
    }
    if (offset < 0 || offset > view.len - 4) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError, "truncated int32 at offset %zd", offset);
        return NULL;
    }
    p = (const unsigned char *)view.buf + offset;
    bits = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16)
           | ((uint32_t)p[3] << 24);
    PyBuffer_Release(&view);
    return PyLong_FromLong((long)(int32_t)bits);
}

static PyMethodDef cbson_methods[] = {
    {"encode_int32", encode_int32, METH_O,
     "encode_int32(value) -> bytes\n\nPack a signed 32-bit integer, little-endian."},
    {"decode_int32", decode_int32, METH_VARARGS,
     "decode_int32(data, offset) -> int\n\nUnpack the signed 32-bit integer at offset."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef cbson_module = {
    PyModuleDef_HEAD_INIT,
    "bsonlite._cbson",
    "C speedups for bsonlite.",
    -1,
    cbson_methods
};

PyMODINIT_FUNC
PyInit__cbson(void)
{
    return PyModule_Create(&cbson_module);
}
