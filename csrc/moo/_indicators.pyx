# cython: language_level=3
"""Compiled quality indicators (see csrc/moo/indicators.h). Inputs are validated by nsganetv2.moo.indicators."""

cdef extern from "moo/indicators.h" nogil:
    enum:
        MOO_IND_IGD
        MOO_IND_IGD_PLUS
        MOO_IND_EPS_ADD
        MOO_IND_EPS_ADD_PORTABLE
        MOO_IND_IGD_SCAN
        MOO_IND_IGD_PORTABLE
        MOO_IND_IGD_PLUS_PORTABLE
    double moo_indicator(const double *A, Py_ssize_t n, const double *R, Py_ssize_t r, int d, int which)

cdef extern from "moo/moo_common.h" nogil:
    int moo_all_finite(const double *X, Py_ssize_t n)

#: the indicators' codes for ``indicator_kernel``
CODES = {"igd": MOO_IND_IGD, "igd_plus": MOO_IND_IGD_PLUS, "epsilon_additive": MOO_IND_EPS_ADD}
#: for the tests: epsilon_additive by its chunk sweep at every M on the portable path even with AVX2; igd by the
#: scan at every N; igd and igd_plus by the chunk sweep's portable path
EPS_ADD_PORTABLE = MOO_IND_EPS_ADD_PORTABLE
IGD_SCAN = MOO_IND_IGD_SCAN
IGD_PORTABLE = MOO_IND_IGD_PORTABLE
IGD_PLUS_PORTABLE = MOO_IND_IGD_PLUS_PORTABLE


def indicator_kernel(const double[:, ::1] A, const double[:, ::1] R, int which) -> float:
    """Indicator ``which`` (a value of ``CODES``) of the rows of ``A`` against the reference front ``R`` (both
    float64, C-contiguous, same number of columns, non-empty). NaN when a value is NaN or infinite."""
    cdef double v
    if A.shape[1] != R.shape[1] or A.shape[0] == 0 or R.shape[0] == 0:
        raise ValueError("indicator_kernel: A and R need rows and the same number of columns")
    if which < 0 or which > MOO_IND_IGD_PLUS_PORTABLE:
        raise ValueError(f"indicator_kernel: which must be one of {sorted(CODES.values())} (or a code for the tests), "
                         f"not {which}")
    cdef bint ok
    with nogil:
        ok = (moo_all_finite(&A[0, 0], A.shape[0] * A.shape[1])
              and moo_all_finite(&R[0, 0], R.shape[0] * R.shape[1]))
        if ok:
            v = moo_indicator(&A[0, 0], A.shape[0], &R[0, 0], R.shape[0], <int>A.shape[1], which)
    if not ok:
        return float("nan")
    if v != v:
        raise MemoryError("indicator: out of memory")
    return v
