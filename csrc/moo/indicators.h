/* Quality indicators of a point set A (n x d) against a reference front R (r x d), minimisation; depends on
 * moo_common.h only. Each is an outer loop over R and an inner minimum over A:
 *   igd       mean over R of the Euclidean distance to the nearest point of A
 *   igd_plus  the same with d+(a, z) = || max(a - z, 0) || (Ishibuchi et al. 2015)
 *   eps_add   max over R of min over A of max_j (a_j - z_j) (additive epsilon, Zitzler et al. 2003)
 * igd for d <= 3 scans A sorted by the first objective outwards from z's place (moo_ind_scan): the gap in the
 * first objective bounds the rest of either side and each point's sum stops once it cannot win. eps_add for d = 2
 * binary-searches the staircase of A's non-dominated points (moo_eps2_staircase: O((n + r) log n)); for other d it
 * sweeps A column by column in chunks (AVX2 where the CPU has it), leaving z after the first chunk that holds a point
 * within the largest value so far (moo_eps_chunks). igd_plus, and igd from d = 4, are a
 * vectorised sweep over A stored column by column. O(n r d) in the worst case.
 */
#ifndef NSGANETV2_INDICATORS_H
#define NSGANETV2_INDICATORS_H

#include "moo_common.h"

/* MOO_IND_EPS_ADD_PORTABLE: eps_add by the chunk sweep at every d, on its portable path (tests) */
enum { MOO_IND_IGD = 0, MOO_IND_IGD_PLUS = 1, MOO_IND_EPS_ADD = 2, MOO_IND_EPS_ADD_PORTABLE = 3 };

/* min over the rows of S (n rows sorted by column 0, c0 its column 0) of the squared distance to z (igd). */
static inline double moo_ind_scan(const double *S, const double *c0, ptrdiff_t n, int d, const double *z) {
    ptrdiff_t hi = moo_lower_bound(c0, n, z[0]), lo = hi - 1;
    double best = INFINITY;
    int right = 1, left = 1;
    while ((right && hi < n) || (left && lo >= 0)) {
        /* the side whose next point is nearer in the first objective */
        ptrdiff_t i;
        if (!(right && hi < n)) i = lo--;
        else if (!(left && lo >= 0)) i = hi++;
        else i = (c0[hi] - z[0] <= z[0] - c0[lo]) ? hi++ : lo--;
        const double g = c0[i] - z[0];
        if (g * g >= best) {
            if (g >= 0) right = 0;
            else left = 0;
            continue;
        }
        const double *a = S + i * d;
        double e = g * g;
        for (int j = 1; j < d && e < best; j++) { const double t = a[j] - z[j]; e += t * t; }
        if (e < best) best = e;
    }
    return best;
}

/* eps_add for d != 2: A column by column in chunks of MOO_EPS_CHUNK rows; per reference point z the chunks are
 * swept in turn (each a vectorisable pass: per row the max over objectives of a_j - z_j, then the chunk's min), and
 * the sweep stops after the first chunk that holds a row within floor (the largest minimum so far: z then cannot
 * raise the maximum). A few reference points spread over R go first to raise the floor early; the maximum does not
 * depend on the order. NaN when out of memory. */
#define MOO_EPS_CHUNK 32
#define MOO_EPS_WARM 16
/* min over the chunks T (nc of them, d columns each) of max_j (a_j - z_j), leaving after the first chunk within
 * floor; compiled twice (AVX2 and portable), the same arithmetic. */
static MOO_ALWAYS_INLINE double moo_eps_min_body(const double *T, ptrdiff_t nc, const double *z, int d, double floor) {
    double best = INFINITY;
    for (ptrdiff_t c = 0; c < nc && best > floor; c++) {
        const double *blk = T + (size_t)c * d * MOO_EPS_CHUNK;
        double e[MOO_EPS_CHUNK];
        for (int k = 0; k < MOO_EPS_CHUNK; k++) e[k] = blk[k] - z[0];
        for (int j = 1; j < d; j++) {
            const double *col = blk + (size_t)j * MOO_EPS_CHUNK, zj = z[j];
            for (int k = 0; k < MOO_EPS_CHUNK; k++) { const double v = col[k] - zj; e[k] = v > e[k] ? v : e[k]; }
        }
        for (int k = 0; k < MOO_EPS_CHUNK; k++) best = e[k] < best ? e[k] : best;
    }
    return best;
}

static double moo_eps_min_portable(const double *T, ptrdiff_t nc, const double *z, int d, double floor) {
    return moo_eps_min_body(T, nc, z, d, floor);
}

#ifdef MOO_X86
__attribute__((target("avx2"))) static double moo_eps_min_avx2(const double *T, ptrdiff_t nc, const double *z, int d,
                                                               double floor) {
    return moo_eps_min_body(T, nc, z, d, floor);
}
#endif

/* portable: the portable sweep even where the CPU has AVX2 (tests) */
static double moo_eps_chunks(const double *A, ptrdiff_t n, const double *R, ptrdiff_t r, int d, int portable) {
    const ptrdiff_t nc = (n + MOO_EPS_CHUNK - 1) / MOO_EPS_CHUNK;
    /* chunk c, objective j: MOO_EPS_CHUNK values (the last chunk padded with +inf) */
    double *T = (double *)malloc((size_t)nc * d * MOO_EPS_CHUNK * sizeof(double));
    if (!T) return NAN;
    for (ptrdiff_t c = 0; c < nc; c++)
        for (int j = 0; j < d; j++) {
            double *col = T + ((size_t)c * d + j) * MOO_EPS_CHUNK;
            for (int k = 0; k < MOO_EPS_CHUNK; k++) {
                const ptrdiff_t i = c * MOO_EPS_CHUNK + k;
                col[k] = i < n ? A[i * d + j] : INFINITY;
            }
        }
#ifdef MOO_X86
    const int avx2 = !portable && moo_have_avx2();
#else
    (void)portable;
#endif
    double total = -INFINITY;
    const ptrdiff_t stride = r > MOO_EPS_WARM ? r / MOO_EPS_WARM : 1;
    for (int pass = 0; pass < 2; pass++)
        for (ptrdiff_t t = 0; t < r; t++) {
            if ((t % stride == 0 && t / stride < MOO_EPS_WARM) != (pass == 0)) continue;
            double best;
#ifdef MOO_X86
            if (avx2) best = moo_eps_min_avx2(T, nc, R + t * d, d, total);
            else
#endif
                best = moo_eps_min_portable(T, nc, R + t * d, d, total);
            total = best > total ? best : total;
        }
    free(T);
    return total;
}

/* eps_add for d = 2: only A's non-dominated points can be nearest, and on their staircase (a0 rising, a1 falling)
 * a0 - z0 rises and a1 - z1 falls, so max of the two is least where they cross: a binary search per reference
 * point, the same differences as the definition's. NaN when out of memory. */
static double moo_eps2_staircase(const double *A, ptrdiff_t n, const double *R, ptrdiff_t r) {
    moo_key *o = (moo_key *)malloc((size_t)n * sizeof(moo_key));
    double *x = (double *)malloc((size_t)n * 2 * sizeof(double));
    if (!o || !x) { free(o); free(x); return NAN; }
    double *y = x + n;
    for (ptrdiff_t i = 0; i < n; i++) { o[i].k = A[2 * i]; o[i].i = i; }
    moo_sort_key(o, n);
    ptrdiff_t m = 0;
    double ymin = INFINITY;
    for (ptrdiff_t k = 0; k < n; k++) { /* the staircase: x strictly rising, y strictly falling */
        const double a0 = o[k].k, a1 = A[2 * o[k].i + 1];
        if (a1 < ymin) {
            if (m > 0 && x[m - 1] == a0) m--; /* the same a0 with a smaller a1 */
            x[m] = a0;
            y[m] = a1;
            m++;
            ymin = a1;
        }
    }
    free(o);
    double total = -INFINITY;
    for (ptrdiff_t t = 0; t < r; t++) {
        const double z0 = R[2 * t], z1 = R[2 * t + 1];
        ptrdiff_t lo = 0, len = m; /* first k with x[k] - z0 >= y[k] - z1 */
        while (len > 0) {
            const ptrdiff_t half = len >> 1;
            if (x[lo + half] - z0 < y[lo + half] - z1) { lo += half + 1; len -= half + 1; }
            else len = half;
        }
        double best = INFINITY;
        if (lo < m) best = x[lo] - z0 > y[lo] - z1 ? x[lo] - z0 : y[lo] - z1;
        if (lo > 0) {
            const double u = x[lo - 1] - z0, v = y[lo - 1] - z1, e = u > v ? u : v;
            best = e < best ? e : best;
        }
        total = best > total ? best : total;
    }
    free(x);
    return total;
}

/* NaN when out of memory. */
static double moo_indicator(const double *A, ptrdiff_t n, const double *R, ptrdiff_t r, int d, int which) {
    if (which == MOO_IND_IGD_PLUS || (which == MOO_IND_IGD && d >= 4)) {
        const int plus = which == MOO_IND_IGD_PLUS;
        double *T = (double *)malloc((size_t)n * (size_t)(d + 1) * sizeof(double));
        if (!T) return NAN;
        double *acc = T + (size_t)n * d;
        for (ptrdiff_t i = 0; i < n; i++)
            for (int j = 0; j < d; j++) T[(size_t)j * n + i] = A[i * d + j];
        double total = 0.0;
        for (ptrdiff_t t = 0; t < r; t++) {
            const double *z = R + t * d;
            for (ptrdiff_t i = 0; i < n; i++) acc[i] = 0.0;
            for (int j = 0; j < d; j++) {
                const double *c = T + (size_t)j * n, zj = z[j];
                if (plus) {
                    for (ptrdiff_t i = 0; i < n; i++) {
                        const double e = c[i] - zj, p = 0.5 * (e + fabs(e)); /* max(e, 0), exactly */
                        acc[i] += p * p;
                    }
                } else {
                    for (ptrdiff_t i = 0; i < n; i++) { const double e = c[i] - zj; acc[i] += e * e; }
                }
            }
            double best = INFINITY;
            for (ptrdiff_t i = 0; i < n; i++) best = acc[i] < best ? acc[i] : best;
            total += sqrt(best);
        }
        free(T);
        return total / (double)r;
    }
    if (which == MOO_IND_EPS_ADD_PORTABLE || (which == MOO_IND_EPS_ADD && d != 2))
        return moo_eps_chunks(A, n, R, r, d, which == MOO_IND_EPS_ADD_PORTABLE);
    if (which == MOO_IND_EPS_ADD) return moo_eps2_staircase(A, n, R, r);
    /* igd, d <= 3: A sorted by the first objective */
    moo_key *o = (moo_key *)malloc((size_t)n * sizeof(moo_key));
    double *S = (double *)malloc((size_t)n * (size_t)(d + 1) * sizeof(double));
    if (!o || !S) { free(o); free(S); return NAN; }
    double *c0 = S + (size_t)n * d;
    for (ptrdiff_t i = 0; i < n; i++) { o[i].k = A[i * d]; o[i].i = i; }
    moo_sort_key(o, n);
    for (ptrdiff_t i = 0; i < n; i++) { memcpy(S + i * d, A + o[i].i * d, (size_t)d * sizeof(double)); c0[i] = o[i].k; }
    free(o);
    double total = 0.0;
    for (ptrdiff_t t = 0; t < r; t++) total += sqrt(moo_ind_scan(S, c0, n, d, R + t * d));
    free(S);
    return total / (double)r;
}

#endif
