#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *sum_squares(PyObject *self, PyObject *arg) {
    PyObject *iter = PyObject_GetIter(arg), *item;
    long long total = 0;
    if (iter == NULL) return NULL;
    while ((item = PyIter_Next(iter)) != NULL) {
        long long v = PyLong_AsLongLong(item);
        Py_DECREF(item);
        if (v == -1 && PyErr_Occurred()) { Py_DECREF(iter); return NULL; }
        total += v * v;
    }
    Py_DECREF(iter);
    if (PyErr_Occurred()) return NULL;
    return PyLong_FromLongLong(total);
}

static PyMethodDef methods[] = {{"sum_squares", sum_squares, METH_O, "Sum of squares."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods};
PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
