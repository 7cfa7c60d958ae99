def sum_squares(values):
    return sum(int(v) * int(v) for v in values)
