#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *count_unique(PyObject *self, PyObject *arg) {
    PyObject *set = PySet_New(arg);
    Py_ssize_t n;
    if (set == NULL) return NULL;
    n = PySet_Size(set);
    Py_DECREF(set);
    return PyLong_FromSsize_t(n);
}

static PyMethodDef methods[] = {{"count_unique", count_unique, METH_O, "Unique items."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods};
PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
