#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *clamp(PyObject *self, PyObject *args) {
    long long v, lo, hi;
    if (!PyArg_ParseTuple(args, "LLL", &v, &lo, &hi)) return NULL;
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return PyLong_FromLongLong(v);
}

static PyMethodDef methods[] = {{"clamp", clamp, METH_VARARGS, "Clamp."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods};
PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
