/* Quality indicators of a point set A (n x d) against a reference front R (r x d), minimisation; depends on
 * moo_common.h only. All three are an outer loop over R and an inner minimum over A, O(n r d); the additive epsilon
 * leaves a reference point as soon as some point is within the largest value so far:
 *   igd       mean over R of the Euclidean distance to the nearest point of A
 *   igd_plus  the same with d+(a, z) = || max(a - z, 0) || (Ishibuchi et al. 2015)
 *   eps_add   max over R of min over A of max_j (a_j - z_j) (additive epsilon, Zitzler et al. 2003)
 */
#ifndef NSGANETV2_INDICATORS_H
#define NSGANETV2_INDICATORS_H

#include "moo_common.h"

enum { MOO_IND_IGD = 0, MOO_IND_IGD_PLUS = 1, MOO_IND_EPS_ADD = 2 };

/* A is copied column by column (d arrays of n values), so that the distances of every point of A to one reference
 * point come out of loops the compiler vectorises. NaN when out of memory. */
static double moo_indicator(const double *A, ptrdiff_t n, const double *R, ptrdiff_t r, int d, int which) {
    double *T = (double *)malloc((size_t)n * (size_t)(d + 1) * sizeof(double));
    if (!T) return NAN;
    double *acc = T + (size_t)n * d;
    for (ptrdiff_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) T[(size_t)j * n + i] = A[i * d + j];
    double total = which == MOO_IND_EPS_ADD ? -INFINITY : 0.0;
    for (ptrdiff_t t = 0; t < r; t++) {
        const double *z = R + t * d;
        double best = INFINITY;
        if (which == MOO_IND_EPS_ADD) { /* a point within the max so far settles z: nothing to raise */
            for (ptrdiff_t i = 0; i < n && best > total; i++) {
                const double *a = A + i * d;
                double e = a[0] - z[0];
                for (int j = 1; j < d && e < best; j++) e = a[j] - z[j] > e ? a[j] - z[j] : e;
                best = e < best ? e : best;
            }
            total = best > total ? best : total;
            continue;
        } else {
            for (ptrdiff_t i = 0; i < n; i++) acc[i] = 0.0;
            for (int j = 0; j < d; j++) {
                const double *c = T + (size_t)j * n, zj = z[j];
                if (which == MOO_IND_IGD_PLUS) {
                    for (ptrdiff_t i = 0; i < n; i++) {
                        double e = c[i] - zj;
                        e = e > 0.0 ? e : 0.0;
                        acc[i] += e * e;
                    }
                } else {
                    for (ptrdiff_t i = 0; i < n; i++) { const double e = c[i] - zj; acc[i] += e * e; }
                }
            }
        }
        for (ptrdiff_t i = 0; i < n; i++) best = acc[i] < best ? acc[i] : best;
        if (which == MOO_IND_EPS_ADD) total = best > total ? best : total;
        else total += sqrt(best);
    }
    free(T);
    return which == MOO_IND_EPS_ADD ? total : total / (double)r;
}

#endif
