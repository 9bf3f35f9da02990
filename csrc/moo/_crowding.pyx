# cython: language_level=3
"""Compiled crowding distance (see csrc/moo/crowding.h). Call it through ``nsganetv2.moo.crowding``."""
cimport numpy as cnp
from libc.stdint cimport int64_t, int32_t

cnp.import_array()

cdef extern from "moo/crowding.h" nogil:
    int64_t moo_crowding(const double *F, int32_t n, int m, double *out)


def crowding(cnp.ndarray F):
    """Crowding distance of every row, float64; None if F holds NaN or inf."""
    if (cnp.PyArray_NDIM(F) != 2 or cnp.PyArray_TYPE(F) != cnp.NPY_DOUBLE
            or not cnp.PyArray_IS_C_CONTIGUOUS(F)):
        raise TypeError("kernel needs a C-contiguous float64 2-D array; use nsganetv2.moo.crowding")
    if F.shape[0] >= 2147483647:
        raise ValueError(f"too many points ({F.shape[0]}); at most 2**31 - 2 are supported")
    cdef int32_t n = <int32_t>F.shape[0]
    cdef int m = <int>F.shape[1]
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_DOUBLE, 0)
    cdef const double *src = <const double *>cnp.PyArray_DATA(F)
    cdef double *dst = <double *>cnp.PyArray_DATA(out)
    cdef int64_t code
    with nogil:
        code = moo_crowding(src, n, m, dst)
    if code == -1:
        raise MemoryError("out of memory in crowding distance")
    return out if code == 0 else None
