#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *double_(PyObject *self, PyObject *arg) {
    long long v = PyLong_AsLongLong(arg);
    if (v == -1 && PyErr_Occurred()) return NULL;
    return PyLong_FromLongLong(2 * v);
}

static PyMethodDef methods[] = {{"double", double_, METH_O, "Twice n."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
