/* Quality indicators of a point set A (n x d) against a reference front R (r x d), minimisation; depends on
 * moo_common.h only. Each is an outer loop over R and an inner minimum over A:
 *   igd       mean over R of the Euclidean distance to the nearest point of A
 *   igd_plus  the same with d+(a, z) = || max(a - z, 0) || (Ishibuchi et al. 2015)
 *   eps_add   max over R of min over A of max_j (a_j - z_j) (additive epsilon, Zitzler et al. 2003)
 * igd for d <= 3 and more than MOO_IGD_SCAN_MIN_N rows scans A sorted by the first objective outwards from z's
 * place (moo_ind_scan): the gap in the first objective bounds the rest of either side and each point's sum stops
 * once it cannot win. eps_add for d = 2 binary-searches the staircase of A's non-dominated points
 * (moo_eps2_staircase: O((n + r) log n)); for other d it sweeps A column by column in chunks (AVX2 where the CPU has
 * it), leaving z after the first chunk that holds a point within the largest value so far (moo_eps_chunks).
 * igd_plus, and igd otherwise, sweep the same chunks without a branch (moo_dist_chunks). O(n r d) in the worst case.
 */
#ifndef NSGANETV2_INDICATORS_H
#define NSGANETV2_INDICATORS_H

#include "moo_common.h"

/* For the tests: MOO_IND_EPS_ADD_PORTABLE eps_add by the chunk sweep at every d, on its portable path; MOO_IND_IGD_SCAN
 * igd by the scan at every n and d; MOO_IND_IGD_PORTABLE / MOO_IND_IGD_PLUS_PORTABLE the chunk sweep's portable
 * path at every n and d. */
enum {
    MOO_IND_IGD = 0, MOO_IND_IGD_PLUS = 1, MOO_IND_EPS_ADD = 2, MOO_IND_EPS_ADD_PORTABLE = 3, MOO_IND_IGD_SCAN = 4,
    MOO_IND_IGD_PORTABLE = 5, MOO_IND_IGD_PLUS_PORTABLE = 6
};

/* igd for d <= 3 takes the chunk sweep up to this many rows of A and the scan above: on a front the scan visits
 * more points the further the front lies from the reference points (at 5 % off, 4x the sweep's time from 1,600 to
 * 12,800 rows at d = 2, 3), on a uniform cloud at d = 2 it wins from about 3,000 rows (2.7x at 12,800) */
#define MOO_IGD_SCAN_MIN_N 4096

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

/* 1 when the AVX2 twins run: the CPU has AVX2 and the caller did not ask for the portable path */
static inline int moo_ind_avx2(int portable) {
#ifdef MOO_X86
    return !portable && moo_have_avx2();
#else
    (void)portable;
    return 0;
#endif
}

static inline double moo_eps_min(const double *T, ptrdiff_t nc, const double *z, int d, double floor, int avx2) {
#ifdef MOO_X86
    if (avx2) return moo_eps_min_avx2(T, nc, z, d, floor);
#endif
    (void)avx2;
    return moo_eps_min_portable(T, nc, z, d, floor);
}

/* A (n x d) in chunks of MOO_EPS_CHUNK rows: chunk c, objective j holds MOO_EPS_CHUNK values (the last chunk padded
 * with +inf, which no minimum takes); *nc: the chunks. NULL when out of memory (free() the result). */
static double *moo_ind_chunks(const double *A, ptrdiff_t n, int d, ptrdiff_t *nc_out) {
    const ptrdiff_t nc = (n + MOO_EPS_CHUNK - 1) / MOO_EPS_CHUNK;
    double *T = (double *)malloc((size_t)nc * d * MOO_EPS_CHUNK * sizeof(double));
    if (!T) return NULL;
    for (ptrdiff_t c = 0; c < nc; c++)
        for (int j = 0; j < d; j++) {
            double *col = T + ((size_t)c * d + j) * MOO_EPS_CHUNK;
            for (int k = 0; k < MOO_EPS_CHUNK; k++) {
                const ptrdiff_t i = c * MOO_EPS_CHUNK + k;
                col[k] = i < n ? A[i * d + j] : INFINITY;
            }
        }
    *nc_out = nc;
    return T;
}

/* portable: the portable sweep even where the CPU has AVX2 (tests) */
static double moo_eps_chunks(const double *A, ptrdiff_t n, const double *R, ptrdiff_t r, int d, int portable) {
    ptrdiff_t nc;
    double *T = moo_ind_chunks(A, n, d, &nc);
    if (!T) return NAN;
    const int avx2 = moo_ind_avx2(portable);
    double total = -INFINITY;
    const ptrdiff_t stride = r > MOO_EPS_WARM ? r / MOO_EPS_WARM : 1;
    for (int pass = 0; pass < 2; pass++)
        for (ptrdiff_t t = 0; t < r; t++) {
            if ((t % stride == 0 && t / stride < MOO_EPS_WARM) != (pass == 0)) continue;
            const double best = moo_eps_min(T, nc, R + t * d, d, total, avx2);
            total = best > total ? best : total;
        }
    free(T);
    return total;
}

/* igd (plus = 0) and igd_plus (plus = 1) by chunks: min over the chunks T (nc of them, d columns each) of the
 * squared distance to z, the objectives added in order from 0.0 (as the scan adds them); compiled twice (AVX2 and
 * portable), the same arithmetic. */
static MOO_ALWAYS_INLINE double moo_dist_min_body(const double *T, ptrdiff_t nc, const double *z, int d, int plus) {
    double best = INFINITY;
    for (ptrdiff_t c = 0; c < nc; c++) {
        const double *blk = T + (size_t)c * d * MOO_EPS_CHUNK;
        double e[MOO_EPS_CHUNK];
        for (int k = 0; k < MOO_EPS_CHUNK; k++) e[k] = 0.0;
        for (int j = 0; j < d; j++) {
            const double *col = blk + (size_t)j * MOO_EPS_CHUNK, zj = z[j];
            if (plus) {
                for (int k = 0; k < MOO_EPS_CHUNK; k++) {
                    const double v = col[k] - zj, p = v > 0.0 ? v : 0.0; /* (0.5 (v + |v|) is NaN at v = -inf
                                                                            * and inf at v > DBL_MAX / 2) */
                    e[k] += p * p;
                }
            } else {
                for (int k = 0; k < MOO_EPS_CHUNK; k++) { const double v = col[k] - zj; e[k] += v * v; }
            }
        }
        for (int k = 0; k < MOO_EPS_CHUNK; k++) best = e[k] < best ? e[k] : best;
    }
    return best;
}

static double moo_dist_min_portable(const double *T, ptrdiff_t nc, const double *z, int d, int plus) {
    return moo_dist_min_body(T, nc, z, d, plus);
}

#ifdef MOO_X86
/* moo_dist_min_body four rows a vector, the same operations in the same order (the minimum of finite sums, +inf
 * for the padding, is the same whichever way it is taken) */
__attribute__((target("avx2"))) static double moo_dist_min_avx2(const double *T, ptrdiff_t nc, const double *z, int d,
                                                                int plus) {
    const __m256d zero = _mm256_setzero_pd();
    __m256d best = _mm256_set1_pd(INFINITY);
    for (ptrdiff_t c = 0; c < nc; c++) {
        const double *blk = T + (size_t)c * d * MOO_EPS_CHUNK;
        __m256d e[MOO_EPS_CHUNK / 4];
        for (int q = 0; q < MOO_EPS_CHUNK / 4; q++) e[q] = _mm256_setzero_pd();
        for (int j = 0; j < d; j++) {
            const double *col = blk + (size_t)j * MOO_EPS_CHUNK;
            const __m256d zj = _mm256_broadcast_sd(z + j);
            for (int q = 0; q < MOO_EPS_CHUNK / 4; q++) {
                __m256d v = _mm256_sub_pd(_mm256_loadu_pd(col + 4 * q), zj);
                if (plus) v = _mm256_max_pd(v, zero); /* max(v, 0): +0 for v = -0 as the portable path */
                e[q] = _mm256_add_pd(e[q], _mm256_mul_pd(v, v));
            }
        }
        for (int q = 0; q < MOO_EPS_CHUNK / 4; q++) best = _mm256_min_pd(best, e[q]);
    }
    __m128d h = _mm_min_pd(_mm256_castpd256_pd128(best), _mm256_extractf128_pd(best, 1));
    return _mm_cvtsd_f64(_mm_min_sd(h, _mm_unpackhi_pd(h, h)));
}
#endif

static inline double moo_dist_min(const double *T, ptrdiff_t nc, const double *z, int d, int plus, int avx2) {
#ifdef MOO_X86
    if (avx2) return moo_dist_min_avx2(T, nc, z, d, plus);
#endif
    (void)avx2;
    return moo_dist_min_portable(T, nc, z, d, plus);
}

/* igd or igd_plus by the chunk sweep: O(n r d). NaN when out of memory. */
static double moo_dist_chunks(const double *A, ptrdiff_t n, const double *R, ptrdiff_t r, int d, int plus,
                              int portable) {
    ptrdiff_t nc;
    double *T = moo_ind_chunks(A, n, d, &nc);
    if (!T) return NAN;
    const int avx2 = moo_ind_avx2(portable);
    double total = 0.0;
    for (ptrdiff_t t = 0; t < r; t++) {
        total += sqrt(moo_dist_min(T, nc, R + t * d, d, plus, avx2));
    }
    free(T);
    return total / (double)r;
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
        ptrdiff_t lo = 0, len = m; /* first k with x[k] - z0 >= y[k] - z1 (m >= 1), a search without a branch on
                                    * the values (as moo_lower_bound) */
        while (len > 1) {
            const ptrdiff_t half = len >> 1;
            lo = x[lo + half - 1] - z0 < y[lo + half - 1] - z1 ? lo + half : lo;
            len -= half;
        }
        lo += x[lo] - z0 < y[lo] - z1;
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
    if (which == MOO_IND_IGD_PLUS || which == MOO_IND_IGD_PLUS_PORTABLE)
        return moo_dist_chunks(A, n, R, r, d, 1, which == MOO_IND_IGD_PLUS_PORTABLE);
    if (which == MOO_IND_IGD_PORTABLE || (which == MOO_IND_IGD && (d >= 4 || n <= MOO_IGD_SCAN_MIN_N)))
        return moo_dist_chunks(A, n, R, r, d, 0, which == MOO_IND_IGD_PORTABLE);
    if (which == MOO_IND_EPS_ADD_PORTABLE || (which == MOO_IND_EPS_ADD && d != 2))
        return moo_eps_chunks(A, n, R, r, d, which == MOO_IND_EPS_ADD_PORTABLE);
    if (which == MOO_IND_EPS_ADD) return moo_eps2_staircase(A, n, R, r);
    /* igd (MOO_IND_IGD above MOO_IGD_SCAN_MIN_N rows, or MOO_IND_IGD_SCAN), d <= 3: A sorted by the first objective */
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
