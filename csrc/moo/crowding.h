/* Crowding distance with pymoo's semantics (pymoo calc_crowding_distance via get_crowding_function("cd")):
 * per objective, a stable sort (ties keep row order, like numpy's mergesort); the first and the last position get
 * +inf, every other position (next - previous) / (max - min); a constant objective contributes 0 everywhere (pymoo
 * turns its 0/0 into 0); the per-objective terms are summed in objective order and divided by M.
 * Duplicated points therefore get distance 0 towards their twin, and only one copy of an extreme gets +inf.
 * N <= 2: every point gets +inf (pymoo's FunctionalDiversity). Plain C, no Python. */
#ifndef NSGANETV2_MOO_CROWDING_H
#define NSGANETV2_MOO_CROWDING_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "moo_common.h"

/* out: n values. Returns 0, -1 (memory) or -(r + 2) for a non-finite value in row r. */
static int64_t moo_crowding(const double *F, int32_t n, int m, double *out) {
    const int64_t bad = moo_first_nonfinite(F, n, m);
    if (bad != -1) return bad;
    if (n <= 2) {
        for (int32_t i = 0; i < n; i++) out[i] = INFINITY;
        return 0;
    }
    moo_sortws w;
    size_t s_v = MOO_ALIGN((size_t)n * sizeof(double));
    unsigned char *blk = (unsigned char *)moo_scratch_get(1, s_v + (size_t)n * sizeof(int32_t));
    if (moo_sortws_init(&w, n) || !blk) {
        moo_sortws_free(&w);
        moo_scratch_release(1);
        return -1;
    }
    double *v = (double *)blk;
    int32_t *idx = (int32_t *)(blk + s_v);
    for (int32_t i = 0; i < n; i++) out[i] = 0.0;
    for (int j = 0; j < m; j++) {
        for (int32_t i = 0; i < n; i++) {
            idx[i] = i;
            w.key[i] = moo_dkey(F[(int64_t)i * m + j]);
        }
        MOO_SORT(&w, w.key, idx, n);
        for (int32_t i = 0; i < n; i++) v[i] = moo_dkey_inv(w.key[i]); /* sorted values, read sequentially */
        double norm = v[n - 1] - v[0];
        if (norm == 0.0 || isinf(norm)) continue; /* pymoo: 0/0 and inf/inf give NaN terms, replaced by 0 */
        out[idx[0]] += INFINITY;
        for (int32_t i = 1; i < n - 1; i++) {
            double dl = (v[i] - v[i - 1]) / norm, dn = (v[i + 1] - v[i]) / norm;
            out[idx[i]] += dl + dn;
        }
        out[idx[n - 1]] += INFINITY;
    }
    for (int32_t i = 0; i < n; i++) out[i] /= m;
    moo_sortws_free(&w);
    moo_scratch_release(1);
    return 0;
}

#endif
