"""Quadrupling, on top of alpha."""

import alpha


def quadruple(n):
    return alpha.double(alpha.double(n))


WHERE = __file__
