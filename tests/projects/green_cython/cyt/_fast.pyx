def triangle(long n):
    cdef long total = 0
    cdef long i
    for i in range(n + 1):
        total += i
    return total
