# cython: language_level=3
"""Compiled hypervolume kernel (see csrc/moo/hv.h). Inputs are validated by nsganetv2.moo.hypervolume."""
cimport numpy as cnp

cnp.import_array()

cdef extern from "moo/moo_common.h":
    enum:
        HV_PATH_AUTO
        HV_PATH_WFG_MASK
        HV_PATH_WFG_SWEEP
        HV_PATH_HV5_SCALAR
        HV_PATH_QHV
        HV_PATH_QHV_SCALAR
        HV_PATH_NO_QHV
        HV_PATH_QHV_SHALLOW
        HV_PATH_COUNT

cdef extern from "moo/moo_common.h" nogil:
    int moo_all_finite(const double *X, Py_ssize_t n)

cdef extern from "moo/hv.h" nogil:
    double hv_compute_path(const double *X, Py_ssize_t n, int d, const double *ref, int path, int T)

#: the C names and values of ``_path`` (what nsganetv2.moo._paths.HVPath mirrors)
C_PATHS = {"AUTO": HV_PATH_AUTO, "WFG_MASK": HV_PATH_WFG_MASK, "WFG_SWEEP": HV_PATH_WFG_SWEEP,
           "HV5_SCALAR": HV_PATH_HV5_SCALAR, "QHV": HV_PATH_QHV, "QHV_SCALAR": HV_PATH_QHV_SCALAR,
           "NO_QHV": HV_PATH_NO_QHV, "QHV_SHALLOW": HV_PATH_QHV_SHALLOW}


def hypervolume_kernel(const double[:, ::1] F, const double[::1] ref, int _path=HV_PATH_AUTO,
                       int n_threads=1) -> float:
    """Exact hypervolume of the rows of ``F`` (float64, C-contiguous, 1..64 columns) that strictly dominate
    ``ref``. Returns NaN, computing nothing, when ``F`` or ``ref`` holds a NaN or an infinity.

    ``n_threads`` > 1 runs QHV-II's boxes (5..8 columns, where the dispatcher takes QHV-II) on that many threads;
    the value is the same, to the bit, for any thread count. Other paths run on one thread.

    ``_path`` is for tests and benchmarks: one of ``nsganetv2.moo._paths.HVPath`` (C: ``enum hv_path`` in
    csrc/moo/moo_common.h); the default lets the dispatcher (csrc/moo/hv.h) choose."""
    cdef Py_ssize_t n = F.shape[0]
    cdef int d = <int>F.shape[1]
    if ref.shape[0] != d or d > 64 or d < 1:
        raise ValueError(f"hypervolume_kernel: ref has {ref.shape[0]} values for {d} objectives (1..64 allowed)")
    if _path < 0 or _path >= HV_PATH_COUNT:
        raise ValueError(f"hypervolume_kernel: _path must be 0..{HV_PATH_COUNT - 1} (nsganetv2.moo._paths.HVPath), "
                         f"not {_path}")
    if n_threads < 1:
        raise ValueError(f"hypervolume_kernel: n_threads must be >= 1, not {n_threads}")
    if n == 0:
        return 0.0
    return _compute(&F[0, 0], n, d, &ref[0], _path, n_threads)


def hypervolume_fast(object F, object ref, int n_threads):
    """The common call, with no Python-level checks: ``hypervolume_kernel(F, ref, n_threads=n_threads)`` when ``F``
    is a C-contiguous float64 ndarray of 1 or more rows and 1..64 columns and ``ref`` a contiguous float64 ndarray of
    as many values (NaN when a value is not finite); None, computing nothing, for anything else."""
    if type(F) is not cnp.ndarray or type(ref) is not cnp.ndarray or n_threads < 1:
        return None
    cdef cnp.ndarray A = <cnp.ndarray>F, R = <cnp.ndarray>ref
    if (cnp.PyArray_NDIM(A) != 2 or cnp.PyArray_TYPE(A) != cnp.NPY_DOUBLE or not cnp.PyArray_IS_C_CONTIGUOUS(A)
            or cnp.PyArray_NDIM(R) != 1 or cnp.PyArray_TYPE(R) != cnp.NPY_DOUBLE
            or not cnp.PyArray_IS_C_CONTIGUOUS(R)):
        return None
    cdef Py_ssize_t n = cnp.PyArray_DIM(A, 0), d = cnp.PyArray_DIM(A, 1)
    if n < 1 or d < 1 or d > 64 or cnp.PyArray_DIM(R, 0) != d:
        return None
    return _compute(<const double *>cnp.PyArray_DATA(A), n, <int>d, <const double *>cnp.PyArray_DATA(R),
                    HV_PATH_AUTO, n_threads)


cdef double _compute(const double *X, Py_ssize_t n, int d, const double *ref, int path, int n_threads) except? -1.0:
    """The dispatcher on n >= 1 rows, without the GIL; NaN when a value is not finite, MemoryError when out of
    memory."""
    cdef double v = 0.0
    cdef int status = 0
    with nogil:
        if moo_all_finite(X, n * d) and moo_all_finite(ref, d):
            v = hv_compute_path(X, n, d, ref, path, n_threads)
            if v != v:
                status = 1
        else:
            status = 2
    if status == 1:
        raise MemoryError("hypervolume: out of memory")
    if status == 2:
        return float("nan")
    return v
