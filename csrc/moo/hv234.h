/* Exact hypervolume for d = 2, 3 and 4 (minimisation); depends on moo_common.h only. X: n rows, `stride` doubles
 * apart, every row strictly dominating ref. Allocation failure returns NaN.
 *   d = 2  sort + sweep, O(n log n)
 *   d = 3  z-sweep over a 2-D staircase kept in a hierarchical bitset over the (x, y) order, O(n log n)
 *   d = 4  sort by w, then hv4_sweep (moo_common.h): a w-sweep keeping the 3-D front in z-sorted arrays; each
 *          new point's 3-D contribution is its box minus the volume swept by its clipped 2-D staircase (points
 *          below it in z form the base, found by AVX2 passes; points above shrink it until one covers it),
 *          HV4D+-style, O(n^2). What makes it fast at small n: the w order by moo_sort_key's bucket sort; the
 *          staircase as (x, y) pairs between sentinels (no bounds tests, one 16-byte move per shifted point) in
 *          p's box cut down by the caps (the caps are its box, not two points: two insertions fewer per point).
 *          Replaced, slower: the same sweep over a static z order with an "active" bitset, which visited the
 *          points below one by one. Tried and slower: memmove (a call) for the staircase's and the front's
 *          shifts; one fixed 8-value move per staircase insertion (its loads wait on the stores just made); the
 *          probe keeping its candidates below p (worse in x and y) for the base walk instead of a second pass
 *          (without the caps' cut the candidates are many: 35 % slower at N = 1000); the front's tail shift as
 *          one loop per array.
 */
#ifndef NSGANETV2_HV234_H
#define NSGANETV2_HV234_H

#include "moo_common.h"

typedef struct { double x, y; } hv_p2;
#define HV_P2_LESS(a, b) ((a).x < (b).x || ((a).x == (b).x && (a).y < (b).y))
MOO_DEFINE_SORT(hv_sort_p2, hv_p2, HV_P2_LESS)

/* ------------------------------------------------------------------------------------------------ */
/* d = 2                                                                                            */
/* ------------------------------------------------------------------------------------------------ */
/* P: n points (x, y), sorted in place by x. */
static double hv2d_sorted(const hv_p2 *P, ptrdiff_t n, double rx, double ry) {
    double area = 0.0, ymin = ry;
    for (ptrdiff_t i = 0; i < n; i++) {
        double y = P[i].y;
        if (y < ymin) {
            area += (rx - P[i].x) * (ymin - y);
            ymin = y;
        }
    }
    return area;
}

/* X: n rows with stride `stride`, objectives in columns 0 and 1. */
static double hv2d(const double *X, ptrdiff_t n, ptrdiff_t stride, const double *ref) {
    if (n == 0) return 0.0;
    if (n == 1) return (ref[0] - X[0]) * (ref[1] - X[1]);
    hv_p2 buf[64];
    hv_p2 *P = n <= 64 ? buf : (hv_p2 *)malloc((size_t)n * sizeof(hv_p2));
    if (!P) return NAN;
    if (n >= MOO_KEY_BUCKET_MIN) { /* bucket or radix sort on x (moo_sort_key: few branches depend on the values);
                                    * the sweep is indifferent to the order of tied x */
        moo_key *o = (moo_key *)malloc((size_t)n * sizeof(moo_key));
        if (!o) { free(P); return NAN; }
        for (ptrdiff_t i = 0; i < n; i++) { o[i].k = X[i * stride]; o[i].i = i; }
        moo_sort_key(o, n);
        for (ptrdiff_t i = 0; i < n; i++) { P[i].x = o[i].k; P[i].y = X[o[i].i * stride + 1]; }
        free(o);
    } else {
        for (ptrdiff_t i = 0; i < n; i++) { P[i].x = X[i * stride]; P[i].y = X[i * stride + 1]; }
        hv_sort_p2(P, n);
    }
    double v = hv2d_sorted(P, n, ref[0], ref[1]);
    if (P != buf) free(P);
    return v;
}

/* ------------------------------------------------------------------------------------------------ */
/* d = 3                                                                                            */
/* ------------------------------------------------------------------------------------------------ */
/* X: n rows with stride `stride`, objectives in columns 0..2. */
static double hv3d(const double *X, ptrdiff_t n, ptrdiff_t stride, const double *ref) {
    if (n == 0) return 0.0;
    if (n == 1) return (ref[0] - X[0]) * (ref[1] - X[1]) * (ref[2] - X[2]);
    const double rx = ref[0], ry = ref[1], rz = ref[2];
    size_t bytes = (size_t)n * (2 * sizeof(moo_key) + sizeof(moo_p2i) + sizeof(ptrdiff_t) + 2 * sizeof(double));
    char *mem = (char *)malloc(bytes);
    moo_bits L;
    moo_bits_layout(&L, n);
    uint64_t *bits = mem ? (uint64_t *)calloc((size_t)L.W, sizeof(uint64_t)) : NULL;
    if (!bits) { free(mem); return NAN; }
    moo_key *zo = (moo_key *)mem;
    moo_p2i *xo = (moo_p2i *)(zo + n);
    ptrdiff_t *rank = (ptrdiff_t *)(xo + n);
    double *px = (double *)(rank + n), *py = px + n;
    moo_key *xk = (moo_key *)(py + n);
    for (ptrdiff_t i = 0; i < n; i++) {
        const double *r = X + i * stride;
        zo[i].k = r[2]; zo[i].i = i;
        xk[i].k = r[0]; xk[i].i = i;
    }
    moo_sort_key(zo, n);
    if (n >= MOO_KEY_BUCKET_MIN) { /* (x, y) order: a key sort on x (few branches depend on the values), then the
                                    * runs of equal x by y */
        moo_sort_key(xk, n);
        for (ptrdiff_t j = 0; j < n; j++) { xo[j].x = xk[j].k; xo[j].y = X[xk[j].i * stride + 1]; xo[j].i = xk[j].i; }
        moo_sort_p2i_runs(xo, n);
    } else {
        for (ptrdiff_t i = 0; i < n; i++) { xo[i].x = X[i * stride]; xo[i].y = X[i * stride + 1]; xo[i].i = i; }
        moo_sort_p2i(xo, n);
    }
    for (ptrdiff_t j = 0; j < n; j++) { rank[xo[j].i] = j; px[j] = xo[j].x; py[j] = xo[j].y; }

    double area = 0.0, vol = 0.0;
    for (ptrdiff_t t = 0; t < n; t++) {
        ptrdiff_t r = rank[zo[t].i];
        double x = px[r], y = py[r];
        ptrdiff_t q = moo_bits_pred(bits, &L, r - 1);
        double upper = ry;
        int dominated = 0;
        if (q >= 0) {
            if (py[q] <= y) dominated = 1;
            else upper = py[q];
        }
        if (!dominated) {
            double added = 0.0, xprev = x, floor_y = upper;
            ptrdiff_t s = moo_bits_succ(bits, &L, r + 1);
            while (s >= 0 && py[s] >= y) {
                added += (px[s] - xprev) * (floor_y - y);
                xprev = px[s];
                floor_y = py[s];
                moo_bits_clear(bits, &L, s);
                s = moo_bits_succ(bits, &L, s + 1);
            }
            double xend = s >= 0 ? px[s] : rx;
            added += (xend - xprev) * (floor_y - y);
            moo_bits_set(bits, &L, r);
            area += added;
        }
        double znext = t + 1 < n ? zo[t + 1].k : rz;
        vol += area * (znext - zo[t].k);
    }
    free(bits);
    free(mem);
    return vol;
}

/* ------------------------------------------------------------------------------------------------ */
/* d = 4                                                                                            */
/* ------------------------------------------------------------------------------------------------ */
/* X: n rows with stride `stride`, objectives in columns 0..3: the rows in w order, as columns, through hv4_sweep
 * (moo_common.h). */
static double hv4d(const double *X, ptrdiff_t n, ptrdiff_t stride, const double *ref) {
    if (n == 0) return 0.0;
    if (n == 1) return (ref[0] - X[0]) * (ref[1] - X[1]) * (ref[2] - X[2]) * (ref[3] - X[3]);
    const size_t doubles = 4 * (size_t)n + HV4_WORK_DOUBLES(n);
    double stackmem[128 * (4 + 5 + 2) + HV4_WORK_DOUBLES(0)]; /* the doubles, then the keys, for n <= 128 */
    double *mem = n <= 128 ? stackmem : (double *)malloc(doubles * sizeof(double) + (size_t)n * sizeof(moo_key));
    if (!mem) return NAN;
    double *cx = mem, *cy = cx + n, *cz = cy + n, *cw = cz + n;
    moo_key *wo = (moo_key *)(mem + doubles);
    for (ptrdiff_t i = 0; i < n; i++) { wo[i].k = X[i * stride + 3]; wo[i].i = i; }
    moo_sort_key(wo, n);
    for (ptrdiff_t t = 0; t < n; t++) {
        const double *q = X + wo[t].i * stride;
        cx[t] = q[0]; cy[t] = q[1]; cz[t] = q[2]; cw[t] = wo[t].k;
    }
    hv4_work W; /* the w order is done with: its keys serve the sweep */
#ifdef MOO_X86
    hv4_work_init(&W, cw + n, wo, n, moo_have_avx2());
#else
    hv4_work_init(&W, cw + n, wo, n, 0);
#endif
    const double v = hv4_sweep(cx, cy, cz, cw, n, ref, &W);
    if (mem != stackmem) free(mem);
    return v;
}

#endif
