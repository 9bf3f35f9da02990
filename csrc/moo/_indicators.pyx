# cython: language_level=3
"""Compiled quality indicators (see csrc/moo/indicators.h). Inputs are validated by nsganetv2.moo.indicators."""

cdef extern from "moo/indicators.h" nogil:
    enum:
        MOO_IND_IGD
        MOO_IND_IGD_PLUS
        MOO_IND_EPS_ADD
    double moo_indicator(const double *A, Py_ssize_t n, const double *R, Py_ssize_t r, int d, int which)

#: the indicators' codes for ``indicator_kernel``
CODES = {"igd": MOO_IND_IGD, "igd_plus": MOO_IND_IGD_PLUS, "epsilon_additive": MOO_IND_EPS_ADD}


def indicator_kernel(const double[:, ::1] A, const double[:, ::1] R, int which) -> float:
    """Indicator ``which`` (a value of ``CODES``) of the rows of ``A`` against the reference front ``R`` (both
    float64, C-contiguous, same number of columns, non-empty, finite)."""
    cdef double v
    if A.shape[1] != R.shape[1] or A.shape[0] == 0 or R.shape[0] == 0:
        raise ValueError("indicator_kernel: A and R need rows and the same number of columns")
    if which < 0 or which > 2:
        raise ValueError(f"indicator_kernel: which must be one of {sorted(CODES.values())}, not {which}")
    with nogil:
        v = moo_indicator(&A[0, 0], A.shape[0], &R[0, 0], R.shape[0], <int>A.shape[1], which)
    return v
