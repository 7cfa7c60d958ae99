#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* shout("hi") -> "HI!"; text only (the pure version also decodes bytes). */
static PyObject *shout(PyObject *self, PyObject *arg) {
    PyObject *upper, *out;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "shout() takes text");
        return NULL;
    }
    upper = PyObject_CallMethod(arg, "upper", NULL);
    if (upper == NULL) return NULL;
    out = PyUnicode_FromFormat("%U!", upper);
    Py_DECREF(upper);
    return out;
}

static PyMethodDef methods[] = {{"shout", shout, METH_O, "Shout."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&module); }
