# cython: language_level=3
# distutils: extra_compile_args = -fno-math-errno -fno-trapping-math
"""Radial-basis weighted sums, the inner loop of RBF and GP (Kriging) prediction.

The caller computes ``G = Q @ X.T`` for a block of queries with BLAS; the kernel turns each entry into the
squared distance ``|q|^2 + |x|^2 - 2 q.x`` (clipped at 0), applies the radial function and accumulates the
weighted sum over centres: ``out[i] = sum_j w[j] * phi(d2[i, j])``. One pass, no temporaries.

``lattice_sum`` is the Gaussian kernel's fast path for integer inputs with few values per feature (genomes):
products of tabulated per-group factors instead of distances and exps (``_lattice.h``).
"""
import numpy as np
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


cdef extern from "surrogate/_lattice.h" nogil:
    long nv2_lattice_offsets(const double* Q, long m, long d, const double* lo, const double* card,
                             const int* gstart, const double* mult, const int* gbase, long G, long bw, double* tmp,
                             int* off, unsigned char* ok)
    void nv2_lattice_sum(const double* T, long G, long rows, long bw, long nb, const double* w, const int* off,
                         long m, double* S, double* out)
    int NV2_LAT_W


LATTICE_WIDTH = NV2_LAT_W


def lattice_sum(const double[:, ::1] Q, const double[::1] lo, const double[::1] card, const int[::1] gstart, const double[::1] mult, const int[::1] gbase, const double[::1] T,
                const double[::1] w, long bw, double[::1] out, unsigned char[::1] ok):
    """Gaussian sums of one block of queries on a lattice table (see ``_lattice.h``); returns the count of
    rows it could not place on the lattice (``ok[i] == 0``; their ``out`` is meaningless).

    Features ``gstart[g] .. gstart[g + 1] - 1`` form group g, whose joint value ``k`` (``sum mult * (q - lo)``
    over those features) selects table row ``gbase[g] + k`` of each block of ``bw`` centres.
    """
    cdef Py_ssize_t m = Q.shape[0], d = Q.shape[1], G = gbase.shape[0], p, g
    cdef long nb, rows, bad, top
    if lo.shape[0] != d or card.shape[0] != d or mult.shape[0] != d:
        raise ValueError("lattice_sum: per-feature arrays must have one entry per column of Q")
    if out.shape[0] != m or ok.shape[0] != m:
        raise ValueError("lattice_sum: out and ok must have one entry per row of Q")
    if G < 1 or gstart.shape[0] != G + 1 or gstart[0] != 0 or gstart[G] != d:
        raise ValueError("lattice_sum: gstart must run from 0 to d in G + 1 steps")
    if bw < NV2_LAT_W or bw % NV2_LAT_W or w.shape[0] % bw or w.shape[0] == 0:
        raise ValueError("lattice_sum: bad block width")
    nb = w.shape[0] // bw
    if T.shape[0] % (nb * bw):
        raise ValueError("lattice_sum: table size does not match its geometry")
    rows = T.shape[0] // (nb * bw)
    for p in range(d):
        if not card[p] >= 1:
            raise ValueError("lattice_sum: bad cardinality")
    for g in range(G):  # every joint value of group g must land inside the table
        if gstart[g + 1] <= gstart[g] or gbase[g] < 0:
            raise ValueError("lattice_sum: empty group or negative row base")
        top = gbase[g]
        for p in range(gstart[g], gstart[g + 1]):
            if mult[p] < 1:
                raise ValueError("lattice_sum: multipliers must be >= 1")
            top += <long>mult[p] * <long>(card[p] - 1)
        if top >= rows:
            raise ValueError("lattice_sum: a group's joint values run past the table")
    if m == 0:
        return 0
    cdef int[::1] off = np.empty(m * G, dtype=np.intc)
    cdef double[::1] S = np.empty(4 * m)
    cdef double[::1] tmp = np.empty(d)
    with nogil:
        bad = nv2_lattice_offsets(&Q[0, 0], m, d, &lo[0], &card[0], &gstart[0], &mult[0], &gbase[0], G, bw,
                                  &tmp[0], &off[0], &ok[0])
        nv2_lattice_sum(&T[0], G, rows, bw, nb, &w[0], &off[0], m, &S[0], &out[0])
    return bad
