# cython: language_level=3
"""Compiled hypervolume contributions (see csrc/moo/hvc.h). Inputs are validated by nsganetv2.moo.hypervolume."""
cimport numpy as cnp
import numpy as np
from libc.stdint cimport int64_t, int32_t, uint8_t

cnp.import_array()

cdef extern from "moo/moo_common.h":
    ctypedef double (*hv_rec_fn)(const double *X, Py_ssize_t n, int d, Py_ssize_t stride, const double *ref,
                                 int path) noexcept nogil

cdef extern from "moo/moo_common.h" nogil:
    int moo_all_finite(const double *X, Py_ssize_t n)

cdef extern from "moo/hv.h" nogil:
    double hv_rec(const double *X, Py_ssize_t n, int d, Py_ssize_t stride, const double *ref, int path)

cdef extern from "moo/nds.h" nogil:
    int64_t moo_nds(const double *F, int32_t n, int m, int64_t *out64, uint8_t *out8, int first_only, int algo)

cdef extern from "moo/hvc.h" nogil:
    ctypedef int64_t (*hvc_front_fn)(const double *F, int32_t n, int m, int64_t *out64, uint8_t *out8,
                                     int first_only, int algo) noexcept nogil
    int hvc_compute(const double *X, Py_ssize_t n, int d, const double *ref, int ignore_dominated, double *out,
                    hv_rec_fn hv, hvc_front_fn front)


def hv_contributions_kernel(const double[:, ::1] F, const double[::1] ref, bint ignore_dominated=False):
    """Exclusive hypervolume of each row of ``F`` (float64, C-contiguous, 1..64 columns) as a new float64 array, or
    ``None`` when ``F`` or ``ref`` holds a NaN or an infinity (the Python face then names the row)."""
    cdef Py_ssize_t n = F.shape[0]
    cdef int d = <int>F.shape[1]
    cdef int status = 0
    if ref.shape[0] != d or d > 64 or d < 1:
        raise ValueError(f"hv_contributions_kernel: ref has {ref.shape[0]} values for {d} objectives (1..64 allowed)")
    out = np.zeros(n)
    if n == 0:
        return out
    cdef double[::1] o = out
    with nogil:
        if moo_all_finite(&F[0, 0], n * d) and moo_all_finite(&ref[0], d):
            status = hvc_compute(&F[0, 0], n, d, &ref[0], ignore_dominated, &o[0], <hv_rec_fn>hv_rec,
                                 <hvc_front_fn>moo_nds)
        else:
            status = 2
    if status == 2:
        return None
    if status != 0:
        raise MemoryError("hv_contributions: out of memory")
    return out
