# cython: language_level=3
"""Compiled hypervolume kernel (see csrc/moo/hv.h). Inputs are validated by nsganetv2.moo.hypervolume."""

cdef extern from "moo/hv.h" nogil:
    double hv_compute_path(const double *X, Py_ssize_t n, int d, const double *ref, int path)
    int hv_all_finite(const double *X, Py_ssize_t n)


def hypervolume_kernel(const double[:, ::1] F, const double[::1] ref, int _path=0) -> float:
    """Exact hypervolume of the rows of ``F`` (float64, C-contiguous, 1..64 columns) that strictly dominate
    ``ref``. Returns NaN, computing nothing, when ``F`` or ``ref`` holds a NaN or an infinity.

    ``_path`` is for tests and benchmarks: 0 chooses (M = 5: the hv5d sweep of csrc/moo/hv5.h below 150 points,
    QHV-II of csrc/moo/hv_qhv.h from there and for M = 6..8); 1 forces WFG with the mask filter + 4-D kernel, 2 WFG
    with the 4-D front sweep, for every 4-D WFG limit set (M >= 5); 3 the hv5d sweep with its scalar (non-AVX2)
    scan for every 5-D set; 4 QHV-II for every 5..8-D set, 5 the same on its portable (non-AVX2) path; 6 chooses
    as 0 without QHV-II; 7 QHV-II handing its boxes past depth 2 to the others (its guard against deep recursion)."""
    cdef Py_ssize_t n = F.shape[0]
    cdef int d = <int>F.shape[1]
    cdef double v = 0.0
    cdef int status = 0
    if ref.shape[0] != d or d > 64 or d < 1:
        raise ValueError(f"hypervolume_kernel: ref has {ref.shape[0]} values for {d} objectives (1..64 allowed)")
    if _path < 0 or _path > 7:
        raise ValueError(f"hypervolume_kernel: _path must be 0..7, not {_path}")
    if n == 0:
        return 0.0
    with nogil:
        if hv_all_finite(&F[0, 0], n * d) and hv_all_finite(&ref[0], d):
            v = hv_compute_path(&F[0, 0], n, d, &ref[0], _path)
            if v != v:
                status = 1
        else:
            status = 2
    if status == 1:
        raise MemoryError("hypervolume: out of memory")
    if status == 2:
        return float("nan")
    return v
