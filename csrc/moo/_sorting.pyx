# cython: language_level=3
"""Compiled non-dominated sorting kernels (see csrc/moo/nds.h). Call them through ``nsganetv2.moo.sorting``.

Each function takes a C-contiguous float64 (N, M) array and returns a new array, or ``None`` when a value is NaN or
infinite (the Python face then raises the ``ValueError`` naming the row). ``algo`` exists for the tests: 0 picks the
best path for M; 1 forces the k-d tree path (any M); 2 forces the treap staircases for M = 3; 3 skips the first-front
filter.
"""
cimport numpy as cnp
from libc.stdint cimport int64_t, int32_t, uint8_t

cnp.import_array()

cdef extern from "moo/moo_sort.h":  # listed so that Cython rebuilds when the shared sort changes
    pass

cdef extern from "moo/nds.h" nogil:
    int64_t moo_nds(const double *F, int32_t n, int m, int64_t *out64, uint8_t *out8, int first_only, int algo)


cdef inline void _check(cnp.ndarray F) except *:
    if (cnp.PyArray_NDIM(F) != 2 or cnp.PyArray_TYPE(F) != cnp.NPY_DOUBLE
            or not cnp.PyArray_IS_C_CONTIGUOUS(F)):
        raise TypeError("kernel needs a C-contiguous float64 2-D array; use nsganetv2.moo.sorting")
    if F.shape[0] >= 2147483647:
        raise ValueError(f"too many points ({F.shape[0]}); at most 2**31 - 2 are supported")


cdef object _finish(int64_t code):
    if code == -1:
        raise MemoryError("out of memory in non-dominated sorting")
    if code < -1:
        return False
    return True


def ranks(cnp.ndarray F, int algo=0):
    """Front index of every row (0 = first front), int64; None if F holds NaN or inf."""
    _check(F)
    cdef int32_t n = <int32_t>F.shape[0]
    cdef int m = <int>F.shape[1]
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)
    cdef const double *src = <const double *>cnp.PyArray_DATA(F)
    cdef int64_t *dst = <int64_t *>cnp.PyArray_DATA(out)
    cdef int64_t code
    with nogil:
        code = moo_nds(src, n, m, dst, NULL, 0, algo)
    return out if _finish(code) else None


def first_front(cnp.ndarray F, int algo=0):
    """Boolean mask of the first front (all copies of a non-dominated point are kept); None on NaN or inf."""
    _check(F)
    cdef int32_t n = <int32_t>F.shape[0]
    cdef int m = <int>F.shape[1]
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_BOOL, 0)
    cdef const double *src = <const double *>cnp.PyArray_DATA(F)
    cdef uint8_t *dst = <uint8_t *>cnp.PyArray_DATA(out)
    cdef int64_t code
    with nogil:
        code = moo_nds(src, n, m, NULL, dst, 1, algo)
    return out if _finish(code) else None
