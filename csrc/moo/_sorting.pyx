# cython: language_level=3
"""Compiled non-dominated sorting kernels (see csrc/moo/nds.h). Call them through ``nsganetv2.moo.sorting``.

Each function takes a C-contiguous float64 (N, M) array and returns a new array, or ``None`` when a value is NaN or
infinite (the Python face then raises the ``ValueError`` naming the row). ``algo`` exists for the tests: one of
``nsganetv2.moo._paths.NDSAlgo`` (C: ``enum moo_nds_algo`` in csrc/moo/moo_common.h); the default picks the best path
for M.
"""
cimport numpy as cnp
from libc.stdint cimport int64_t, int32_t, uint8_t

cnp.import_array()

cdef extern from "moo/moo_common.h":
    enum:
        MOO_NDS_AUTO
        MOO_NDS_KDTREE
        MOO_NDS_TREAP
        MOO_NDS_NO_FILTER
        MOO_NDS_KDTREE_NO_FILTER
        MOO_NDS_COPY
        MOO_NDS_SWEEP_TIGHT
        MOO_NDS_SWEEP
        MOO_NDS_PAIRS
        MOO_NDS_PAIRS_SCALAR
        MOO_NDS_COUNT
    int moo_cpus_for_tests

cdef extern from "moo/nds.h" nogil:
    int64_t moo_nds(const double *F, int32_t n, int m, int64_t *out64, uint8_t *out8, int first_only, int algo)
    int64_t moo_first_front_mt(const double *F, int32_t n, int m, uint8_t *out8, int algo, int T)

#: the C names and values of ``algo`` (what nsganetv2.moo._paths.NDSAlgo mirrors)
C_ALGOS = {"AUTO": MOO_NDS_AUTO, "KDTREE": MOO_NDS_KDTREE, "TREAP": MOO_NDS_TREAP, "NO_FILTER": MOO_NDS_NO_FILTER,
           "KDTREE_NO_FILTER": MOO_NDS_KDTREE_NO_FILTER, "COPY": MOO_NDS_COPY, "SWEEP_TIGHT": MOO_NDS_SWEEP_TIGHT,
           "SWEEP": MOO_NDS_SWEEP, "PAIRS": MOO_NDS_PAIRS, "PAIRS_SCALAR": MOO_NDS_PAIRS_SCALAR}


def _set_cpus_for_tests(int k):
    """Tests only: the kernels here act as if the host had ``k`` CPUs (0: the CPUs online), which caps their threads.
    Returns the previous setting."""
    global moo_cpus_for_tests
    cdef int before = moo_cpus_for_tests
    moo_cpus_for_tests = k
    return before


cdef inline void _check(cnp.ndarray F, int algo) except *:
    if (cnp.PyArray_NDIM(F) != 2 or cnp.PyArray_TYPE(F) != cnp.NPY_DOUBLE
            or not cnp.PyArray_IS_C_CONTIGUOUS(F)):
        raise TypeError("kernel needs a C-contiguous float64 2-D array; use nsganetv2.moo.sorting")
    if algo < 0 or algo >= MOO_NDS_COUNT:
        raise ValueError(f"algo must be 0..{MOO_NDS_COUNT - 1} (nsganetv2.moo._paths.NDSAlgo), not {algo}")
    if F.shape[0] >= 2147483647:
        raise ValueError(f"too many points ({F.shape[0]}); at most 2**31 - 2 are supported")


cdef object _finish(int64_t code):
    if code == -1:
        raise MemoryError("out of memory in non-dominated sorting")
    if code < -1:
        return False
    return True


def ranks(cnp.ndarray F, int algo=MOO_NDS_AUTO):
    """Front index of every row (0 = first front), int64; None if F holds NaN or inf."""
    _check(F, algo)
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


def first_front(cnp.ndarray F, int algo=MOO_NDS_AUTO, int n_threads=1):
    """Boolean mask of the first front (all copies of a non-dominated point are kept); None on NaN or inf.
    ``n_threads`` > 1 runs the filter passes over the rows on that many threads (the same mask)."""
    _check(F, algo)
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, not {n_threads}")
    cdef int32_t n = <int32_t>F.shape[0]
    cdef int m = <int>F.shape[1]
    cdef cnp.npy_intp dims[1]
    dims[0] = n
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_BOOL, 0)
    cdef const double *src = <const double *>cnp.PyArray_DATA(F)
    cdef uint8_t *dst = <uint8_t *>cnp.PyArray_DATA(out)
    cdef int64_t code
    with nogil:
        code = moo_first_front_mt(src, n, m, dst, algo, n_threads)
    return out if _finish(code) else None
