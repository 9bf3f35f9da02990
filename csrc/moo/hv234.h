/* Exact hypervolume for d = 2, 3 and 4 (minimisation); depends on moo_common.h only. X: n rows, `stride` doubles
 * apart, every row strictly dominating ref. Allocation failure returns NaN.
 *   d = 2  sort + sweep, O(n log n)
 *   d = 3  z-sweep over a 2-D staircase kept in a hierarchical bitset over the (x, y) order, O(n log n)
 *   d = 4  w-sweep keeping the 3-D front in a static z-order with an "active" bitset; each new point's 3-D
 *          contribution is its box minus the volume swept by its clipped 2-D staircase (points below it in z
 *          form the base, points above shrink it until one covers it), HV4D+-style, O(n^2)
 */
#ifndef NSGANETV2_HV234_H
#define NSGANETV2_HV234_H

#include "moo_common.h"

typedef struct { double x, y; } hv_p2;
#define HV_P2_LESS(a, b) ((a).x < (b).x || ((a).x == (b).x && (a).y < (b).y))
MOO_DEFINE_SORT(hv_sort_p2, hv_p2, HV_P2_LESS)

typedef struct { double x, y; ptrdiff_t i; } hv_p2i;
#define HV_P2I_LESS(a, b) ((a).x < (b).x || ((a).x == (b).x && (a).y < (b).y))
MOO_DEFINE_SORT(hv_sort_p2i, hv_p2i, HV_P2I_LESS)

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
    if (n >= MOO_KEY_RADIX_MIN) { /* radix sort on x; the sweep is indifferent to the order of tied x */
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
    size_t bytes = (size_t)n * (sizeof(moo_key) + sizeof(hv_p2i) + sizeof(ptrdiff_t) + 2 * sizeof(double));
    char *mem = (char *)malloc(bytes);
    moo_bits L;
    moo_bits_layout(&L, n);
    uint64_t *bits = mem ? (uint64_t *)calloc((size_t)L.W, sizeof(uint64_t)) : NULL;
    if (!bits) { free(mem); return NAN; }
    moo_key *zo = (moo_key *)mem;
    hv_p2i *xo = (hv_p2i *)(zo + n);
    ptrdiff_t *rank = (ptrdiff_t *)(xo + n);
    double *px = (double *)(rank + n), *py = px + n;
    for (ptrdiff_t i = 0; i < n; i++) {
        const double *r = X + i * stride;
        zo[i].k = r[2]; zo[i].i = i;
        xo[i].x = r[0]; xo[i].y = r[1]; xo[i].i = i;
    }
    moo_sort_key(zo, n);
    hv_sort_p2i(xo, n);
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
/* X: n rows with stride `stride`, objectives in columns 0..3.
 * w-sweep: HV4 = sum_t vol3(points with w <= w_t) * (w_{t+1} - w_t). The 3-D front lives in a static z-sorted
 * array with an "active" bitset; a new point's 3-D contribution is its box minus the volume swept by its
 * clipped 2-D staircase: points below it in z (visited downwards, so that the nearest, most covering ones come
 * first) form the base, points above it (visited upwards) shrink it until one covers it. */
static double hv4d(const double *X, ptrdiff_t n, ptrdiff_t stride, const double *ref) {
    if (n == 0) return 0.0;
    if (n == 1) return (ref[0] - X[0]) * (ref[1] - X[1]) * (ref[2] - X[2]) * (ref[3] - X[3]);
    const double rx = ref[0], ry = ref[1], rz = ref[2], rw = ref[3];
    const ptrdiff_t nw = (n + 63) >> 6;
    size_t per = 2 * sizeof(moo_key) + sizeof(ptrdiff_t) + 5 * sizeof(double);
    size_t bytes = (size_t)n * per + 16 + (size_t)nw * sizeof(uint64_t);
    char stackmem[64 * (2 * sizeof(moo_key) + sizeof(ptrdiff_t) + 5 * sizeof(double)) + 16 + 8]
        __attribute__((aligned(16)));
    char *mem = bytes <= sizeof(stackmem) ? stackmem : (char *)malloc(bytes);
    if (!mem) return NAN;
    moo_key *wo = (moo_key *)mem, *zo = wo + n;
    ptrdiff_t *zrank = (ptrdiff_t *)(zo + n);
    double *zx = (double *)(zrank + n), *zy = zx + n, *zz = zy + n;
    hv_stair st;
    st.x = zz + n;
    st.y = st.x + n;
    uint64_t *actw = (uint64_t *)(st.y + n); /* bit set while the point is on the 3-D front */
    memset(actw, 0, (size_t)nw * sizeof(uint64_t));
    for (ptrdiff_t i = 0; i < n; i++) {
        wo[i].k = X[i * stride + 3]; wo[i].i = i;
        zo[i].k = X[i * stride + 2]; zo[i].i = i;
    }
    moo_sort_key(wo, n);
    moo_sort_key(zo, n);
    for (ptrdiff_t r = 0; r < n; r++) {
        const double *q = X + zo[r].i * stride;
        zrank[zo[r].i] = r;
        zx[r] = q[0]; zy[r] = q[1]; zz[r] = q[2];
    }

    double vol3 = 0.0, hv = 0.0;
    for (ptrdiff_t t = 0; t < n; t++) {
        const ptrdiff_t r = zrank[wo[t].i];
        const double px = zx[r], py = zy[r], pz = zz[r];
        const double A = (rx - px) * (ry - py);
        double xcap = rx, ycap = ry, lx = INFINITY, ly = INFINITY;
        st.n = 0;
        st.dom = 0.0;
        int covered = 0;
        /* phase 1: active points below r in z order, downwards; a branch-free test (caps and the last general
         * point inserted) rejects most of them before the staircase is touched */
        ptrdiff_t s;
        for (ptrdiff_t wi = r >> 6; wi >= 0 && !covered; wi--) {
            uint64_t bits = actw[wi];
            if (wi == (r >> 6)) bits &= (1ULL << (r & 63)) - 1;
            while (bits) {
                int b = 63 - __builtin_clzll(bits);
                bits &= ~(1ULL << b);
                s = (wi << 6) | b;
                const double qx = zx[s], qy = zy[s];
                if (!((qx < xcap) & (qy < ycap) & ((qx < lx) | (qy < ly)))) continue;
                HV_CLIP_ADD(hv_stair_insert, qx, qy);
                if (covered) break;
            }
        }
        if (!covered) {
            actw[r >> 6] |= 1ULL << (r & 63);
            /* phase 2: active points above r, upwards, until one covers p's box */
            double c = 0.0, zcur = pz;
            for (ptrdiff_t wi = r >> 6; wi < nw && !covered; wi++) {
                uint64_t bits = actw[wi];
                if (wi == (r >> 6)) bits &= (r & 63) == 63 ? 0 : ~0ULL << ((r & 63) + 1);
                while (bits) {
                    int b = __builtin_ctzll(bits);
                    bits &= bits - 1;
                    s = (wi << 6) | b;
                    const double qx = zx[s], qy = zy[s], qz = zz[s];
                    c += (A - st.dom) * (qz - zcur);
                    zcur = qz;
                    HV_CLIP_ADD(hv_stair_insert, qx, qy);
                    if (covered) break;
                    if (qx >= px && qy >= py) { /* dominated by p in 3-D: leaves the front */
                        actw[wi] &= ~(1ULL << b);
                    }
                }
            }
            if (!covered) c += (A - st.dom) * (rz - zcur);
            vol3 += c;
        }
        double wnext = t + 1 < n ? wo[t + 1].k : rw;
        hv += vol3 * (wnext - wo[t].k);
    }
    if (mem != stackmem) free(mem);
    return hv;
}

#endif
