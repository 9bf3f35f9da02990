# cython: language_level=3
# distutils: extra_compile_args = -fno-math-errno -fno-trapping-math
"""Radial-basis weighted sums, the inner loop of RBF and GP (Kriging) prediction.

The caller computes ``G = Q @ X.T`` for a block of queries with BLAS; the kernel turns each entry into the
squared distance ``|q|^2 + |x|^2 - 2 q.x`` (clipped at 0), applies the radial function and accumulates the
weighted sum over centres: ``out[i] = sum_j w[j] * phi(d2[i, j])``. One pass, no temporaries.
"""
cimport numpy as cnp

cnp.import_array()

cdef extern from "surrogate/_radial.h" nogil:
    double nv2_row_cubic_d(const double* g, double q, const double* xn, const double* w, long n, double p)
    double nv2_row_cubic_f(const float* g, double q, const double* xn, const double* w, long n, double p)
    double nv2_row_gauss_d(const double* g, double q, const double* xn, const double* w, long n, double p)
    double nv2_row_gauss_f(const float* g, double q, const double* xn, const double* w, long n, double p)
    double nv2_row_tps_d(const double* g, double q, const double* xn, const double* w, long n, double p)
    double nv2_row_tps_f(const float* g, double q, const double* xn, const double* w, long n, double p)
    double nv2_exp_neg(double x)

ctypedef fused real:
    float
    double

# kind codes shared with nsganetv2/surrogate/_radial.py
DEF CUBIC = 0
DEF TPS = 1
DEF GAUSS = 2


def exp_neg(double x):
    """The kernel's exp(x) for x <= 0 (exposed for tests)."""
    return nv2_exp_neg(x)


def radial_sum(const real[:, ::1] G, const double[::1] qn, const double[::1] xn, const double[::1] w,
               double[::1] out, int kind, double param=0.0):
    """``out[i] = sum_j w[j] * phi(max(qn[i] + xn[j] - 2 G[i, j], 0))`` for one block of queries.

    kind 0: cubic ``r^3``; 1: thin-plate ``r^2 log r``; 2: Gaussian ``exp(-param * r^2)``.
    """
    cdef Py_ssize_t m = G.shape[0], n = G.shape[1], i
    if qn.shape[0] != m or xn.shape[0] != n or w.shape[0] != n or out.shape[0] != m:
        raise ValueError("radial_sum: shapes of G, qn, xn, w and out do not agree")
    if kind < 0 or kind > 2:
        raise ValueError(f"radial_sum: unknown kernel kind {kind}")
    if n == 0:
        for i in range(m):
            out[i] = 0.0
        return None
    with nogil:
        for i in range(m):
            if real is double:
                if kind == CUBIC:
                    out[i] = nv2_row_cubic_d(&G[i, 0], qn[i], &xn[0], &w[0], n, param)
                elif kind == GAUSS:
                    out[i] = nv2_row_gauss_d(&G[i, 0], qn[i], &xn[0], &w[0], n, param)
                else:
                    out[i] = nv2_row_tps_d(&G[i, 0], qn[i], &xn[0], &w[0], n, param)
            else:
                if kind == CUBIC:
                    out[i] = nv2_row_cubic_f(&G[i, 0], qn[i], &xn[0], &w[0], n, param)
                elif kind == GAUSS:
                    out[i] = nv2_row_gauss_f(&G[i, 0], qn[i], &xn[0], &w[0], n, param)
                else:
                    out[i] = nv2_row_tps_f(&G[i, 0], qn[i], &xn[0], &w[0], n, param)
    return None
