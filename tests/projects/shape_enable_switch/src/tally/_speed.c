#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *count_positive(PyObject *self, PyObject *values) {
    PyObject *iterator = PyObject_GetIter(values), *item;
    long count = 0;
    if (iterator == NULL) return NULL;
    while ((item = PyIter_Next(iterator)) != NULL) {
        int positive = PyObject_RichCompareBool(item, Py_False, Py_GT);
        Py_DECREF(item);
        if (positive < 0) { Py_DECREF(iterator); return NULL; }
        count += positive;
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return NULL;
    return PyLong_FromLong(count);
}

static PyMethodDef methods[] = {
    {"count_positive", count_positive, METH_O, "How many items are greater than zero."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tally._speed", NULL, -1, methods};

PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&module); }
