# cython: language_level=3
"""Compiled hypervolume kernel (see csrc/moo/hv.h). Inputs are validated by nsganetv2.moo.hypervolume."""

cdef extern from "moo/hv.h" nogil:
    double hv_compute(const double *X, Py_ssize_t n, int d, const double *ref)
    int hv_all_finite(const double *X, Py_ssize_t n)


def hypervolume_kernel(const double[:, ::1] F, const double[::1] ref) -> float:
    """Exact hypervolume of the rows of ``F`` (float64, C-contiguous, 1..64 columns) that strictly dominate
    ``ref``. Returns NaN, computing nothing, when ``F`` or ``ref`` holds a NaN or an infinity."""
    cdef Py_ssize_t n = F.shape[0]
    cdef int d = <int>F.shape[1]
    cdef double v = 0.0
    cdef int status = 0
    if ref.shape[0] != d or d > 64 or d < 1:
        raise ValueError(f"hypervolume_kernel: ref has {ref.shape[0]} values for {d} objectives (1..64 allowed)")
    if n == 0:
        return 0.0
    with nogil:
        if hv_all_finite(&F[0, 0], n * d) and hv_all_finite(&ref[0], d):
            v = hv_compute(&F[0, 0], n, d, &ref[0])
            if v != v:
                status = 1
        else:
            status = 2
    if status == 1:
        raise MemoryError("hypervolume: out of memory")
    if status == 2:
        return float("nan")
    return v
