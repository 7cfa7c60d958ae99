def ring_sum(values, Py_ssize_t start=0):
    cdef Py_ssize_t i, n
    items = list(values)
    n = len(items)
    total = 0
    for i in range(n):
        total += items[(start + i) % n]
    return total
