/* Exact hypervolume (minimisation) in plain C, used by nsganetv2.moo._hypervolume.
 *
 * Entry point: hv_compute(X, n, d, ref) with X an (n x d) row-major array, 1 <= d <= 64. Rows that do not
 * strictly dominate ref are ignored. Algorithms:
 *   d = 1  minimum
 *   d = 2  sort + sweep, O(n log n)
 *   d = 3  z-sweep over a 2-D staircase kept in a hierarchical bitset over the (x, y) order, O(n log n)
 *   d = 4  w-sweep keeping the 3-D front in a static z-order with an "active" bitset; each new point's 3-D
 *          contribution is its box minus the volume swept by its clipped 2-D staircase (points below it in z
 *          form the base, points above shrink it until one covers it), HV4D+-style, O(n^2)
 *   d = 5  below HV_QHV_MIN_N5 points, hv5d (hv5.h): sweep over the 5th objective; each point's exclusive 4-D
 *          volume is its box (cut by the "cap" points) minus the 4-D volume of its clipped survivors, which come
 *          out of an AVX2 scan of the earlier points (kept in w order) already in w order, and are swept keeping
 *          the 3-D front; the ones not worse than p in w enter at once through one z-sweep. O(n^2) per point at
 *          worst, much less in practice. (WFG below stays as the d = 5 reference, _path 1 and 2.)
 *   5 <= d <= 8, from HV_QHV_MIN_N5 points on for d = 5: QHV-II (hv_qhv.h): the pivot with the largest box adds
 *          it, the rest of the box splits into d disjoint boxes, recursively; inclusion-exclusion on <= 5 points.
 *   d >= 9 WFG (While, Bradstreet, Barone 2012): points sorted by the last objective; each point's exclusive
 *          volume against the earlier ones is its box minus the hypervolume of its non-dominated limit set.
 *          Earlier points worse than p in one objective only ("caps") shrink the box to [p, cap) and filter
 *          the rest in O(d); the survivors are made non-dominated by worse-objective masks (a point can only
 *          be dominated by one whose mask is a subset of its own); the d = 2..5 kernels are the base cases.
 *          4-D limit sets with few survivors skip the mask filter: a w-sweep keeping the 3-D front in a z-sorted
 *          array (hv4d_front_sweep) drops the dominated ones as it goes.
 * Nothing here allocates Python objects or takes the GIL. Allocation failure returns NaN.
 */
#ifndef NSGANETV2_HV_H
#define NSGANETV2_HV_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(HV_NO_SIMD) /* HV_NO_SIMD: the portable build, on x86 */
#include <immintrin.h>
#define HV_X86 1
#endif

/* ------------------------------------------------------------------------------------------------ */
/* introsort on small structs, generated per type                                                   */
/* ------------------------------------------------------------------------------------------------ */
#define HV_DEFINE_SORT(NAME, T, LESS)                                                                  \
    static void NAME##_heap_down(T *a, ptrdiff_t i, ptrdiff_t n) {                                    \
        T v = a[i];                                                                                    \
        for (;;) {                                                                                     \
            ptrdiff_t c = 2 * i + 1;                                                                   \
            if (c >= n) break;                                                                         \
            if (c + 1 < n && LESS(a[c], a[c + 1])) c++;                                                \
            if (!LESS(v, a[c])) break;                                                                 \
            a[i] = a[c];                                                                               \
            i = c;                                                                                     \
        }                                                                                              \
        a[i] = v;                                                                                      \
    }                                                                                                  \
    static void NAME##_rec(T *a, ptrdiff_t n, int depth) {                                             \
        while (n > 16) {                                                                               \
            if (depth-- == 0) { /* heapsort fallback */                                                \
                for (ptrdiff_t i = n / 2 - 1; i >= 0; i--) NAME##_heap_down(a, i, n);                  \
                for (ptrdiff_t e = n - 1; e > 0; e--) {                                                \
                    T t = a[0]; a[0] = a[e]; a[e] = t;                                                 \
                    NAME##_heap_down(a, 0, e);                                                         \
                }                                                                                      \
                return;                                                                                \
            }                                                                                          \
            ptrdiff_t m = n >> 1;                                                                      \
            T t;                                                                                       \
            if (LESS(a[m], a[0])) { t = a[m]; a[m] = a[0]; a[0] = t; }                                 \
            if (LESS(a[n - 1], a[m])) {                                                                \
                t = a[n - 1]; a[n - 1] = a[m]; a[m] = t;                                               \
                if (LESS(a[m], a[0])) { t = a[m]; a[m] = a[0]; a[0] = t; }                             \
            }                                                                                          \
            T piv = a[m];                                                                              \
            ptrdiff_t i = -1, j = n;                                                                   \
            for (;;) {                                                                                 \
                do i++; while (LESS(a[i], piv));                                                       \
                do j--; while (LESS(piv, a[j]));                                                       \
                if (i >= j) break;                                                                     \
                t = a[i]; a[i] = a[j]; a[j] = t;                                                       \
            }                                                                                          \
            ptrdiff_t nl = j + 1;                                                                      \
            if (nl < n - nl) { NAME##_rec(a, nl, depth); a += nl; n -= nl; }                           \
            else { NAME##_rec(a + nl, n - nl, depth); n = nl; }                                        \
        }                                                                                              \
        for (ptrdiff_t i = 1; i < n; i++) {                                                            \
            T v = a[i];                                                                                \
            ptrdiff_t j = i;                                                                           \
            while (j > 0 && LESS(v, a[j - 1])) { a[j] = a[j - 1]; j--; }                               \
            a[j] = v;                                                                                  \
        }                                                                                              \
    }                                                                                                  \
    static void NAME(T *a, ptrdiff_t n) {                                                              \
        int depth = 2;                                                                                 \
        for (ptrdiff_t k = n; k > 1; k >>= 1) depth += 2;                                              \
        NAME##_rec(a, n, depth);                                                                       \
    }

/* how WFG (d >= 5) handles its 4-D limit sets: chosen by size, or forced (tests) */
#define HV_PATH_AUTO 0
#define HV_PATH_NDS 1   /* made non-dominated (by worse-objective masks), then the d = 4 kernel */
#define HV_PATH_SWEEP 2 /* straight into a w-sweep keeping the 3-D front (hv4d_front_sweep) */
#define HV_PATH_HV5_SCALAR 3 /* d = 5: the hv5d kernel with its scalar scan (tests); WFG limit sets as AUTO */
#define HV_PATH_QHV 4        /* 5 <= d <= 8: QHV-II at every size (tests) */
#define HV_PATH_QHV_SCALAR 5 /* the same, its portable (non-AVX2) path */
#define HV_PATH_NO_QHV 6     /* as AUTO without QHV-II (QHV's own fallback past its depth guard) */
#define HV_PATH_QHV_SHALLOW 7 /* QHV-II with its depth guard at 2, so that most boxes go to the fallback (tests) */
/* QHV-II (hv_qhv.h) takes d = 5 from this many points on (below, hv5d: 1.4x faster at 100, 0.85x at 150, 0.65x at
 * 1000) and 6 <= d <= 8 from HV_QHV_MIN_N6 on (0.2-0.5x of WFG's time from 12 points on) */
#define HV_QHV_MIN_N5 150
#define HV_QHV_MIN_N6 0

typedef struct { double k; ptrdiff_t i; } hv_key;
#define HV_KEY_LESS(a, b) ((a).k < (b).k)
HV_DEFINE_SORT(hv_sort_key_intro, hv_key, HV_KEY_LESS)

/* order-preserving map of a double to an unsigned integer */
static inline uint64_t hv_key_bits(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u >> 63) ? ~u : (u | 0x8000000000000000ULL);
}

/* LSD radix sort on the keys, 11 bits a pass, skipping passes where every key has the same digit. */
static int hv_sort_key_radix(hv_key *a, ptrdiff_t n) {
    hv_key *tmp = (hv_key *)malloc((size_t)n * sizeof(hv_key));
    ptrdiff_t *cnt = (ptrdiff_t *)malloc(2048 * sizeof(ptrdiff_t));
    if (!tmp || !cnt) { free(tmp); free(cnt); return -1; }
    hv_key *src = a, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 11) {
        memset(cnt, 0, 2048 * sizeof(ptrdiff_t));
        for (ptrdiff_t i = 0; i < n; i++) cnt[(hv_key_bits(src[i].k) >> shift) & 2047]++;
        if (cnt[(hv_key_bits(src[0].k) >> shift) & 2047] == n) continue;
        ptrdiff_t acc = 0;
        for (int b = 0; b < 2048; b++) { ptrdiff_t c = cnt[b]; cnt[b] = acc; acc += c; }
        for (ptrdiff_t i = 0; i < n; i++) dst[cnt[(hv_key_bits(src[i].k) >> shift) & 2047]++] = src[i];
        hv_key *t = src; src = dst; dst = t;
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof(hv_key));
    free(tmp);
    free(cnt);
    return 0;
}

static void hv_sort_key(hv_key *a, ptrdiff_t n) {
    if (n >= 2048 && hv_sort_key_radix(a, n) == 0) return;
    hv_sort_key_intro(a, n);
}

typedef struct { double x, y; } hv_p2;
#define HV_P2_LESS(a, b) ((a).x < (b).x || ((a).x == (b).x && (a).y < (b).y))
HV_DEFINE_SORT(hv_sort_p2, hv_p2, HV_P2_LESS)

typedef struct { double x, y; ptrdiff_t i; } hv_p2i;
#define HV_P2I_LESS(a, b) ((a).x < (b).x || ((a).x == (b).x && (a).y < (b).y))
HV_DEFINE_SORT(hv_sort_p2i, hv_p2i, HV_P2I_LESS)

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
    if (n >= 2048) { /* radix sort on x; the sweep is indifferent to the order of tied x */
        hv_key *o = (hv_key *)malloc((size_t)n * sizeof(hv_key));
        if (!o) { free(P); return NAN; }
        for (ptrdiff_t i = 0; i < n; i++) { o[i].k = X[i * stride]; o[i].i = i; }
        hv_sort_key(o, n);
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
/* hierarchical bitset: predecessor / successor in O(log_64 n)                                      */
/* ------------------------------------------------------------------------------------------------ */
#define HV_BITS_MAXLEV 8
typedef struct {
    int nlev;
    uint64_t *w[HV_BITS_MAXLEV];
    uint64_t *mem;
} hv_bits;

static int hv_bits_init(hv_bits *b, ptrdiff_t n) {
    ptrdiff_t sizes[HV_BITS_MAXLEV], total = 0, m = n;
    int l = 0;
    do {
        m = (m + 63) >> 6;
        sizes[l++] = m;
        total += m;
    } while (m > 1 && l < HV_BITS_MAXLEV);
    b->nlev = l;
    b->mem = (uint64_t *)calloc((size_t)total, sizeof(uint64_t));
    if (!b->mem) return -1;
    uint64_t *p = b->mem;
    for (int i = 0; i < l; i++) { b->w[i] = p; p += sizes[i]; }
    return 0;
}

static inline void hv_bits_set(hv_bits *b, ptrdiff_t i) {
    for (int l = 0; l < b->nlev; l++) {
        uint64_t old = b->w[l][i >> 6];
        b->w[l][i >> 6] = old | (1ULL << (i & 63));
        if (old) return;
        i >>= 6;
    }
}

static inline void hv_bits_clear(hv_bits *b, ptrdiff_t i) {
    for (int l = 0; l < b->nlev; l++) {
        uint64_t v = b->w[l][i >> 6] & ~(1ULL << (i & 63));
        b->w[l][i >> 6] = v;
        if (v) return;
        i >>= 6;
    }
}

/* smallest set index > i, or -1 */
static inline ptrdiff_t hv_bits_succ(const hv_bits *b, ptrdiff_t i) {
    int l = 0;
    ptrdiff_t k = i;
    for (;;) {
        if (l >= b->nlev) return -1;
        ptrdiff_t wi = k >> 6;
        int bit = (int)(k & 63);
        uint64_t m = bit == 63 ? 0 : (b->w[l][wi] & (~0ULL << (bit + 1)));
        if (m) { k = (wi << 6) | __builtin_ctzll(m); break; }
        k = wi;
        l++;
    }
    while (l > 0) { l--; k = (k << 6) | __builtin_ctzll(b->w[l][k]); }
    return k;
}

/* largest set index < i, or -1 */
static inline ptrdiff_t hv_bits_pred(const hv_bits *b, ptrdiff_t i) {
    int l = 0;
    ptrdiff_t k = i;
    for (;;) {
        if (l >= b->nlev) return -1;
        ptrdiff_t wi = k >> 6;
        int bit = (int)(k & 63);
        uint64_t m = b->w[l][wi] & ((1ULL << bit) - 1);
        if (m) { k = (wi << 6) | (63 - __builtin_clzll(m)); break; }
        k = wi;
        l++;
    }
    while (l > 0) { l--; k = (k << 6) | (63 - __builtin_clzll(b->w[l][k])); }
    return k;
}

/* ------------------------------------------------------------------------------------------------ */
/* d = 3                                                                                            */
/* ------------------------------------------------------------------------------------------------ */
/* X: n rows with stride `stride`, objectives in columns 0..2. */
static double hv3d(const double *X, ptrdiff_t n, ptrdiff_t stride, const double *ref) {
    if (n == 0) return 0.0;
    if (n == 1) return (ref[0] - X[0]) * (ref[1] - X[1]) * (ref[2] - X[2]);
    const double rx = ref[0], ry = ref[1], rz = ref[2];
    size_t bytes = (size_t)n * (sizeof(hv_key) + sizeof(hv_p2i) + sizeof(ptrdiff_t) + 2 * sizeof(double));
    char *mem = (char *)malloc(bytes);
    hv_bits bits;
    if (!mem) return NAN;
    if (hv_bits_init(&bits, n)) { free(mem); return NAN; }
    hv_key *zo = (hv_key *)mem;
    hv_p2i *xo = (hv_p2i *)(zo + n);
    ptrdiff_t *rank = (ptrdiff_t *)(xo + n);
    double *px = (double *)(rank + n), *py = px + n;
    for (ptrdiff_t i = 0; i < n; i++) {
        const double *r = X + i * stride;
        zo[i].k = r[2]; zo[i].i = i;
        xo[i].x = r[0]; xo[i].y = r[1]; xo[i].i = i;
    }
    hv_sort_key(zo, n);
    hv_sort_p2i(xo, n);
    for (ptrdiff_t j = 0; j < n; j++) { rank[xo[j].i] = j; px[j] = xo[j].x; py[j] = xo[j].y; }

    double area = 0.0, vol = 0.0;
    for (ptrdiff_t t = 0; t < n; t++) {
        ptrdiff_t r = rank[zo[t].i];
        double x = px[r], y = py[r];
        ptrdiff_t q = hv_bits_pred(&bits, r);
        double upper = ry;
        int dominated = 0;
        if (q >= 0) {
            if (py[q] <= y) dominated = 1;
            else upper = py[q];
        }
        if (!dominated) {
            double added = 0.0, xprev = x, floor_y = upper;
            ptrdiff_t s = hv_bits_succ(&bits, r);
            while (s >= 0 && py[s] >= y) {
                added += (px[s] - xprev) * (floor_y - y);
                xprev = px[s];
                floor_y = py[s];
                hv_bits_clear(&bits, s);
                s = hv_bits_succ(&bits, s);
            }
            double xend = s >= 0 ? px[s] : rx;
            added += (xend - xprev) * (floor_y - y);
            hv_bits_set(&bits, r);
            area += added;
        }
        double znext = t + 1 < n ? zo[t + 1].k : rz;
        vol += area * (znext - zo[t].k);
    }
    free(bits.mem);
    free(mem);
    return vol;
}

/* ------------------------------------------------------------------------------------------------ */
/* d = 4                                                                                            */
/* Branchless lower bound: the number of values in the ascending a[0..n) (n >= 1) that are below key. */
static inline ptrdiff_t hv_lower_bound(const double *a, ptrdiff_t n, double key) {
    const double *base = a;
    while (n > 1) {
        const ptrdiff_t half = n >> 1;
        base = base[half - 1] < key ? base + half : base;
        n -= half;
    }
    return (base - a) + (*base < key);
}

/* ------------------------------------------------------------------------------------------------ */
/* 2-D staircase inside the box [bx, rx] x [by, ry]: x ascending, y descending. */
typedef struct { double *x, *y; ptrdiff_t n; double dom; } hv_stair;

/* Insert (a, b) (inside the box); add the newly dominated area to st->dom. */
static inline void hv_stair_insert(hv_stair *st, double a, double b, double rx, double ry) {
    double *sx = st->x, *sy = st->y;
    const ptrdiff_t j = st->n > 0 ? hv_lower_bound(sx, st->n, a) : 0; /* first index with sx >= a */
    double upper = ry;
    if (j > 0) {
        if (sy[j - 1] <= b) return;
        upper = sy[j - 1];
    }
    if (j < st->n && sx[j] == a && sy[j] <= b) return;
    double added = 0.0, xprev = a, floor_y = upper;
    ptrdiff_t k = j;
    while (k < st->n && sy[k] >= b) {
        added += (sx[k] - xprev) * (floor_y - b);
        xprev = sx[k];
        floor_y = sy[k];
        k++;
    }
    double xend = k < st->n ? sx[k] : rx;
    added += (xend - xprev) * (floor_y - b);
    st->dom += added;
    /* replace [j, k) by the new point */
    ptrdiff_t removed = k - j;
    if (removed != 1) {
        ptrdiff_t tail = st->n - k;
        if (removed == 0) {
            for (ptrdiff_t t = tail - 1; t >= 0; t--) { sx[j + 1 + t] = sx[k + t]; sy[j + 1 + t] = sy[k + t]; }
        } else {
            for (ptrdiff_t t = 0; t < tail; t++) { sx[j + 1 + t] = sx[k + t]; sy[j + 1 + t] = sy[k + t]; }
        }
        st->n += 1 - removed;
    }
    sx[j] = a;
    sy[j] = b;
}

/* Clipped projection of q onto p's box, filtered by the two extreme steps ("caps") and the last general point
 * inserted before the full insert (INSERT: the staircase insert to use). Sets covered when q covers p's whole box
 * (q <= p in x and y). Expects px, py, rx, ry, xcap, ycap, lx, ly, covered and the staircase st in scope. */
#define HV_CLIP_ADD(INSERT, qx, qy)                                                                      \
    do {                                                                                                 \
        if ((qx) <= px) {                                                                                \
            if ((qy) <= py) { covered = 1; break; }                                                      \
            if ((qy) < ycap) { ycap = (qy); INSERT(&st, px, (qy), rx, ry); }                             \
        } else if ((qy) <= py) {                                                                         \
            if ((qx) < xcap) { xcap = (qx); INSERT(&st, (qx), py, rx, ry); }                             \
        } else if ((qy) < ycap && (qx) < xcap && !((qx) >= lx && (qy) >= ly)) {                          \
            INSERT(&st, (qx), (qy), rx, ry);                                                             \
            lx = (qx); ly = (qy);                                                                        \
        }                                                                                                \
    } while (0)
#define HV4_ADD(qx, qy) HV_CLIP_ADD(hv_stair_insert, qx, qy)

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
    size_t per = 2 * sizeof(hv_key) + sizeof(ptrdiff_t) + 5 * sizeof(double);
    size_t bytes = (size_t)n * per + 16 + (size_t)nw * sizeof(uint64_t);
    char stackmem[64 * (2 * sizeof(hv_key) + sizeof(ptrdiff_t) + 5 * sizeof(double)) + 16 + 8]
        __attribute__((aligned(16)));
    char *mem = bytes <= sizeof(stackmem) ? stackmem : (char *)malloc(bytes);
    if (!mem) return NAN;
    hv_key *wo = (hv_key *)mem, *zo = wo + n;
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
    hv_sort_key(wo, n);
    hv_sort_key(zo, n);
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
                HV4_ADD(qx, qy);
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
                    HV4_ADD(qx, qy);
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

#ifdef HV_X86
static int hv_have_avx2(void);
#endif
/* 1 when some front point (fx, fy, fz)[s] weakly dominates (px, py, pz). */
static inline int hv_front_dominated(const double *fx, const double *fy, const double *fz, ptrdiff_t nf, double px,
                                     double py, double pz) {
    int dom = 0;
    for (ptrdiff_t s = 0; s < nf; s++) dom |= (fx[s] <= px) & (fy[s] <= py) & (fz[s] <= pz);
    return dom;
}
#ifdef HV_X86
__attribute__((target("avx2"))) static int hv_front_dominated_avx2(const double *fx, const double *fy,
                                                                   const double *fz, ptrdiff_t nf, double px,
                                                                   double py, double pz) {
    const __m256d vx = _mm256_set1_pd(px), vy = _mm256_set1_pd(py), vz = _mm256_set1_pd(pz);
    ptrdiff_t s = 0;
    for (; s + 4 <= nf; s += 4) {
        __m256d a = _mm256_and_pd(_mm256_cmp_pd(_mm256_loadu_pd(fx + s), vx, _CMP_LE_OQ),
                                  _mm256_cmp_pd(_mm256_loadu_pd(fy + s), vy, _CMP_LE_OQ));
        a = _mm256_and_pd(a, _mm256_cmp_pd(_mm256_loadu_pd(fz + s), vz, _CMP_LE_OQ));
        if (_mm256_movemask_pd(a)) return 1;
    }
    return hv_front_dominated(fx + s, fy + s, fz + s, nf - s, px, py, pz);
}
#endif

/* HV of the 4-D points C (rows of 4, each strictly inside ref), visited in w order through ord[0..nc): a w-sweep
 * keeping the 3-D front as a z-sorted array. A point weakly dominated by the front is skipped (so no prior
 * non-dominance filtering is needed); otherwise its 3-D contribution is its box minus the volume swept by its
 * clipped 2-D staircase (front points below it in z form the base, those above shrink it until one covers it),
 * and the front points it dominates leave. work: 8 * nc doubles. Meant for small sets (WFG limit sets). */
static double hv4d_front_sweep(const double *C, const hv_key *ord, ptrdiff_t nc, const double *ref, double *work) {
    const double rx = ref[0], ry = ref[1], rz = ref[2], rw = ref[3];
    double *fx = work, *fy = fx + nc, *fz = fy + nc, *tx = fz + nc, *ty = tx + nc, *tz = ty + nc;
    hv_stair st;
    st.x = tz + nc;
    st.y = st.x + nc;
#ifdef HV_X86
    const int avx2 = hv_have_avx2();
#endif
    ptrdiff_t nf = 0;
    double vol3 = 0.0, hv = 0.0;
    for (ptrdiff_t t = 0; t < nc; t++) {
        const double *c = C + ord[t].i * 4;
        const double px = c[0], py = c[1], pz = c[2];
#ifdef HV_X86
        const int dom = avx2 ? hv_front_dominated_avx2(fx, fy, fz, nf, px, py, pz)
                             : hv_front_dominated(fx, fy, fz, nf, px, py, pz);
#else
        const int dom = hv_front_dominated(fx, fy, fz, nf, px, py, pz);
#endif
        if (!dom) {
            ptrdiff_t pos = nf;
            while (pos > 0 && fz[pos - 1] >= pz) pos--;
            const double A = (rx - px) * (ry - py);
            double xcap = rx, ycap = ry, lx = INFINITY, ly = INFINITY;
            int covered = 0;
            st.n = 0;
            st.dom = 0.0;
            /* base: front points below in z, downwards (none covers p: p is not dominated) */
            for (ptrdiff_t s = pos - 1; s >= 0; s--) {
                const double qx = fx[s], qy = fy[s];
                if (!((qx < xcap) & (qy < ycap) & ((qx < lx) | (qy < ly)))) continue;
                HV4_ADD(qx, qy);
            }
            /* points above in z, upwards, until one covers p's box; p enters the front at pos */
            const ptrdiff_t nt = nf - pos;
            memcpy(tx, fx + pos, (size_t)nt * sizeof(double));
            memcpy(ty, fy + pos, (size_t)nt * sizeof(double));
            memcpy(tz, fz + pos, (size_t)nt * sizeof(double));
            fx[pos] = px; fy[pos] = py; fz[pos] = pz;
            ptrdiff_t w = pos + 1, j = 0;
            double cc = 0.0, zcur = pz;
            for (; j < nt; j++) {
                const double qx = tx[j], qy = ty[j], qz = tz[j];
                cc += (A - st.dom) * (qz - zcur);
                zcur = qz;
                HV4_ADD(qx, qy);
                if (covered) break;
                if (!((qx >= px) & (qy >= py))) { fx[w] = qx; fy[w] = qy; fz[w] = qz; w++; }
            }
            if (covered) {
                for (; j < nt; j++) { fx[w] = tx[j]; fy[w] = ty[j]; fz[w] = tz[j]; w++; }
            } else {
                cc += (A - st.dom) * (rz - zcur);
            }
            nf = w;
            vol3 += cc;
        }
        const double wnext = t + 1 < nc ? C[ord[t + 1].i * 4 + 3] : rw;
        hv += vol3 * (wnext - c[3]);
    }
    return hv;
}
#undef HV4_ADD

/* ------------------------------------------------------------------------------------------------ */
/* d >= 5: WFG                                                                                      */
/* ------------------------------------------------------------------------------------------------ */
static double hv_rec(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref, int path);

/* Scan of the earlier points q for point p: code[j] = bit mask of the objectives where q is worse than p;
 * cap[i] = best q[i] over the q worse than p in objective i only. Returns 1 when some q weakly dominates p. */
static int hv_scan_caps(const double *Y, ptrdiff_t k, int d, int e, const double *p, double *cap,
                        uint64_t *code) {
    for (ptrdiff_t j = 0; j < k; j++) {
        const double *q = Y + j * d;
        uint64_t m = 0;
        for (int i = 0; i < e; i++) m |= (uint64_t)(q[i] > p[i]) << i;
        code[j] = m;
        if (m == 0) return 1;
        if ((m & (m - 1)) == 0) {
            int i = __builtin_ctzll(m);
            if (q[i] < cap[i]) cap[i] = q[i];
        }
    }
    return 0;
}

/* Clip the q worse than p in two or more objectives and not dominated by a cap point; key = coordinate sum. */
static ptrdiff_t hv_scan_survivors(const double *Y, ptrdiff_t k, int d, int e, const double *p, const double *cap,
                                   const uint64_t *code, double *C, hv_key *order, unsigned int *smask) {
    ptrdiff_t nc = 0;
    for (ptrdiff_t j = 0; j < k; j++) {
        uint64_t m = code[j];
        if ((m & (m - 1)) == 0) continue;
        const double *q = Y + j * d;
        int capped = 0;
        for (int i = 0; i < e; i++) capped |= q[i] >= cap[i];
        if (capped) continue;
        double *c = C + nc * e, sum = 0.0;
        for (int i = 0; i < e; i++) {
            double v = q[i] > p[i] ? q[i] : p[i];
            c[i] = v;
            sum += v;
        }
        order[nc].k = sum;
        order[nc].i = nc;
        smask[nc] = (unsigned int)m; /* used only when e <= HV_MASK_MAX_E */
        nc++;
    }
    return nc;
}

#ifdef HV_X86
static int hv_have_avx2(void) {
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return have;
}

static const uint64_t hv_single_lut[16][4] __attribute__((aligned(32))) = {
    {0, 0, 0, 0}, {~0ULL, 0, 0, 0}, {0, ~0ULL, 0, 0}, {0, 0, 0, 0},
    {0, 0, ~0ULL, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0},
    {0, 0, 0, ~0ULL}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0},
    {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}};

__attribute__((target("avx2"))) static int hv_scan_caps4_avx2(const double *Y, ptrdiff_t k, int d, const double *p,
                                                              double *cap, uint64_t *code) {
    const __m256d vp = _mm256_loadu_pd(p), inf = _mm256_set1_pd(INFINITY);
    __m256d vcap = _mm256_loadu_pd(cap);
    int covered = 0;
    for (ptrdiff_t j = 0; j < k; j++) {
        __m256d q = _mm256_loadu_pd(Y + j * d);
        unsigned int m = (unsigned int)_mm256_movemask_pd(_mm256_cmp_pd(q, vp, _CMP_GT_OQ));
        code[j] = m;
        if (m == 0) { covered = 1; break; }
        __m256d sel = _mm256_castsi256_pd(_mm256_load_si256((const __m256i *)hv_single_lut[m]));
        vcap = _mm256_min_pd(vcap, _mm256_blendv_pd(inf, q, sel));
    }
    _mm256_storeu_pd(cap, vcap);
    return covered;
}

__attribute__((target("avx2"))) static ptrdiff_t hv_scan_survivors4_avx2(const double *Y, ptrdiff_t k, int d,
                                                                         const double *p, const double *cap,
                                                                         const uint64_t *code, double *C,
                                                                         hv_key *order, unsigned int *smask) {
    const __m256d vp = _mm256_loadu_pd(p), vcap = _mm256_loadu_pd(cap);
    ptrdiff_t nc = 0;
    for (ptrdiff_t j = 0; j < k; j++) {
        uint64_t m = code[j];
        if ((m & (m - 1)) == 0) continue;
        __m256d q = _mm256_loadu_pd(Y + j * d);
        if (_mm256_movemask_pd(_mm256_cmp_pd(q, vcap, _CMP_GE_OQ))) continue;
        __m256d c = _mm256_max_pd(q, vp);
        _mm256_storeu_pd(C + nc * 4, c);
        __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(c), _mm256_extractf128_pd(c, 1));
        order[nc].k = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
        order[nc].i = nc;
        smask[nc] = (unsigned int)m;
        nc++;
    }
    return nc;
}
#endif

#include "hv5.h"
#include "hv_qhv.h"

/* 1 when l <= c in all e coordinates (SSE2 two at a time on x86-64). */
static inline int hv_le(const double *l, const double *c, int e) {
#ifdef HV_X86
    int i = 0, ok = 1;
    for (; i + 1 < e; i += 2) ok &= _mm_movemask_pd(_mm_cmple_pd(_mm_loadu_pd(l + i), _mm_loadu_pd(c + i))) == 3;
    if (i < e) ok &= l[i] <= c[i];
    return ok;
#else
    int ok = 1;
    for (int i = 0; i < e; i++) ok &= l[i] <= c[i];
    return ok;
#endif
}

/* 2 when l <= c everywhere, 1 when l >= c everywhere (and not <=), 0 otherwise. */
static inline int hv_cmp(const double *l, const double *c, int e) {
#ifdef HV_X86
    int i = 0, le = 1, ge = 1;
    for (; i + 1 < e; i += 2) {
        __m128d a = _mm_loadu_pd(l + i), b = _mm_loadu_pd(c + i);
        le &= _mm_movemask_pd(_mm_cmple_pd(a, b)) == 3;
        ge &= _mm_movemask_pd(_mm_cmpge_pd(a, b)) == 3;
    }
    if (i < e) { le &= l[i] <= c[i]; ge &= l[i] >= c[i]; }
#else
    int le = 1, ge = 1;
    for (int i = 0; i < e; i++) { le &= l[i] <= c[i]; ge &= l[i] >= c[i]; }
#endif
    return le ? 2 : ge;
}

static const unsigned char hv_popcount8[256] = {
#define HV_B2(n) n, n + 1, n + 1, n + 2
#define HV_B4(n) HV_B2(n), HV_B2(n + 1), HV_B2(n + 1), HV_B2(n + 2)
#define HV_B6(n) HV_B4(n), HV_B4(n + 1), HV_B4(n + 1), HV_B4(n + 2)
    HV_B6(0), HV_B6(1), HV_B6(1), HV_B6(2)
#undef HV_B2
#undef HV_B4
#undef HV_B6
};

#define HV_MASK_MAX_E 8
#ifndef HV_SWEEP4_MAX
#define HV_SWEEP4_MAX 48 /* 4-D limit steps with at most this many survivors skip the mask filter */
#endif
#ifndef HV_NDS_SMALL
#define HV_NDS_SMALL 16
#endif
/* Non-dominated survivors appended to L[m..]: survivor t (row t of C) is worse than p exactly in the objectives
 * of smask[t], so it can only be dominated by a survivor whose mask is a subset of its own. Survivors are
 * grouped by mask (counting sort through `order`), masks taken by increasing popcount; a candidate is compared
 * with the kept points of its sub-masks only, and within its own mask both ways. Returns the new size. */
static ptrdiff_t hv_nds_by_mask(const double *C, ptrdiff_t nc, int e, const unsigned int *smask, hv_key *order,
                                double *L, ptrdiff_t m) {
    const unsigned int nm = 1u << e;
    ptrdiff_t cnt[1u << HV_MASK_MAX_E], start[1u << HV_MASK_MAX_E], kbeg[1u << HV_MASK_MAX_E],
        kend[1u << HV_MASK_MAX_E];
    for (unsigned int q = 0; q < nm; q++) { cnt[q] = 0; kbeg[q] = kend[q] = 0; }
    for (ptrdiff_t t = 0; t < nc; t++) cnt[smask[t]]++;
    ptrdiff_t acc = 0;
    for (unsigned int q = 0; q < nm; q++) { start[q] = acc; acc += cnt[q]; }
    for (ptrdiff_t t = 0; t < nc; t++) order[start[smask[t]]++].i = t;
    /* start[q] now points past bucket q; visit the masks present by increasing popcount */
    unsigned int present[1u << HV_MASK_MAX_E];
    int np = 0;
    for (int level = 2; level <= e; level++)
        for (unsigned int q = 0; q < nm; q++)
            if (cnt[q] && hv_popcount8[q] == level) present[np++] = q;
    for (int pi = 0; pi < np; pi++) {
        {
            const unsigned int q = present[pi];
            const ptrdiff_t b0 = start[q] - cnt[q], b1 = start[q];
            kbeg[q] = m;
            for (ptrdiff_t t = b0; t < b1; t++) {
                const double *c = C + order[t].i * e;
                int dom = 0;
                /* strict sub-masks with at least two bits: kept points there never need removal */
                for (unsigned int sub = (q - 1) & q; sub && !dom; sub = (sub - 1) & q) {
                    if (kbeg[sub] == kend[sub]) continue;
                    for (ptrdiff_t r = kbeg[sub]; r < kend[sub]; r++) {
                        if (hv_le(L + r * e, c, e)) { dom = 1; break; }
                    }
                }
                if (dom) continue;
                /* same mask: drop the kept points c dominates */
                ptrdiff_t w = kbeg[q];
                for (ptrdiff_t r = kbeg[q]; r < m; r++) {
                    double *l = L + r * e;
                    int rel = hv_cmp(l, c, e);
                    if (rel == 2) { dom = 1; break; }
                    if (!rel) {
                        if (w != r) memcpy(L + w * e, l, (size_t)e * sizeof(double));
                        w++;
                    }
                }
                if (dom) continue; /* nothing was dropped (see hv_wfg_sorted) */
                memcpy(L + w * e, c, (size_t)e * sizeof(double));
                m = w + 1;
            }
            kend[q] = m;
        }
    }
    return m;
}

/* Y: n rows of d (packed), sorted by the last objective ascending.
 * Point k's exclusive (d-1)-volume against points 0..k-1 is box(k) - HV(limit set), the limit set being the
 * non-dominated subset of the earlier points clipped to point k ("worse" of the two). Points better than p in
 * all but one objective i clip to p with a single coordinate changed; the best of them ("cap" i) dominates
 * every clipped point whose coordinate i is no better, which filters most candidates in O(d). The survivors
 * are sorted by coordinate sum (a dominating point comes first) and filtered pairwise. At d = 5 a step with few
 * survivors skips that filter: they go, in w order, straight into hv4d_front_sweep, whose 3-D front rejects
 * the dominated ones (fewer instructions, more branch misses: it pays for small steps only). */
static double hv_wfg_sorted(const double *Y, ptrdiff_t n, int d, const double *ref, int path) {
    const int e = d - 1;
    size_t cap_n = (size_t)(n > 0 ? n : 1);
    /* one block: C (clipped survivors), L (limit set), order, code, smask; on the stack for small n */
    size_t bytes = cap_n * (2 * (size_t)e * sizeof(double) + sizeof(hv_key) + sizeof(uint64_t) + sizeof(unsigned int));
    const int sweep4 = e == 4 && path != HV_PATH_NDS;
    if (sweep4) bytes += cap_n * 8 * sizeof(double) + 8; /* hv4d_front_sweep's work space */
    double stackmem[(32 * (2 * 8 * sizeof(double) + sizeof(hv_key) + sizeof(uint64_t) + sizeof(unsigned int))) /
                        sizeof(double) + 32 * 8 + 1];
    char *mem = (e <= 8 && n <= 32) ? (char *)stackmem : (char *)malloc(bytes);
    if (!mem) return NAN;
    double *C = (double *)mem, *L = C + cap_n * (size_t)e;
    hv_key *order = (hv_key *)(L + cap_n * (size_t)e);
    uint64_t *code = (uint64_t *)(order + cap_n);
    unsigned int *smask = (unsigned int *)(code + cap_n);
    double *work4 = sweep4 ? (double *)(((uintptr_t)(smask + cap_n) + 7) & ~(uintptr_t)7) : NULL;
    const int buckets = e <= HV_MASK_MAX_E;
#ifdef HV_X86
    const int fast4 = e == 4 && hv_have_avx2();
#endif
    double total = 0.0;
    double cap[64];
    for (ptrdiff_t k = 0; k < n; k++) {
        const double *p = Y + k * d;
        for (int i = 0; i < e; i++) cap[i] = ref[i];
        ptrdiff_t nc;
#ifdef HV_X86
        if (fast4) {
            if (hv_scan_caps4_avx2(Y, k, d, p, cap, code)) continue;
            nc = hv_scan_survivors4_avx2(Y, k, d, p, cap, code, C, order, smask);
        } else
#endif
        {
            if (hv_scan_caps(Y, k, d, e, p, cap, code)) continue;
            nc = hv_scan_survivors(Y, k, d, e, p, cap, code, C, order, smask);
        }
        /* The cap points cut p's box down to [p, cap): what is left of p's exclusive volume is that box minus
         * the part the non-dominated survivors (all inside it) cover, i.e. their hypervolume with ref = cap. */
        if (sweep4 && (nc <= HV_SWEEP4_MAX || path == HV_PATH_SWEEP)) {
            /* limit set HV straight from the survivors: those not worse than p in w (all at w = p[3]) first */
            ptrdiff_t nb = 0;
            for (ptrdiff_t t = 0; t < nc; t++) {
                if (!(smask[t] & 8u)) { hv_key tmp = order[nb]; order[nb] = order[t]; order[t] = tmp; nb++; }
            }
            if (nb > 1) hv_sort_key(order, nb); /* by coordinate sum: a dominating point comes first */
            for (ptrdiff_t t = nb; t < nc; t++) order[t].k = C[order[t].i * 4 + 3];
            if (nc - nb > 1) hv_sort_key(order + nb, nc - nb);
            double box = 1.0;
            for (int i = 0; i < e; i++) box *= cap[i] - p[i];
            double excl = box - (nc ? hv4d_front_sweep(C, order, nc, cap, work4) : 0.0);
            if (excl < 0.0) excl = 0.0; /* rounding only */
            total += excl * (ref[e] - p[e]);
            continue;
        }
        ptrdiff_t m = 0;
        if (buckets && nc > HV_NDS_SMALL) {
            m = hv_nds_by_mask(C, nc, e, smask, order, L, m);
        } else {
            const ptrdiff_t m0 = m;
            if (nc > 1) hv_sort_key(order, nc);
            for (ptrdiff_t t = 0; t < nc; t++) {
                const double *c = C + order[t].i * e;
                int dom = 0;
                ptrdiff_t w = m0;
                for (ptrdiff_t r = m0; r < m; r++) {
                    double *l = L + r * e;
                    int le = 1, ge = 1;
                    for (int i = 0; i < e; i++) { le &= l[i] <= c[i]; ge &= l[i] >= c[i]; }
                    if (le) { dom = 1; break; }
                    if (!ge) { /* keep l; drop it when c dominates it (only on rounding ties of the sum) */
                        if (w != r) memcpy(L + w * e, l, (size_t)e * sizeof(double));
                        w++;
                    }
                }
                if (dom) continue; /* c dominated by a kept point dominates no kept point: nothing dropped */
                memcpy(L + w * e, c, (size_t)e * sizeof(double));
                m = w + 1;
            }
        }
        double box = 1.0;
        for (int i = 0; i < e; i++) box *= cap[i] - p[i];
        double excl = box - hv_rec(L, m, e, e, cap, path);
        if (excl < 0.0) excl = 0.0; /* rounding only */
        total += excl * (ref[e] - p[e]);
    }
    if (mem != (char *)stackmem) free(mem);
    return total;
}

#ifndef HV_IE_MAX
#define HV_IE_MAX 4
#endif
/* Inclusion-exclusion over the non-empty subsets (depth-first, running componentwise max): tiny sets only. */
static double hv_ie_rec(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref,
                        ptrdiff_t from, const double *upper, double sign) {
    double total = 0.0, u[64];
    for (ptrdiff_t i = from; i < n; i++) {
        const double *x = X + i * stride;
        double v = 1.0;
        for (int j = 0; j < d; j++) {
            u[j] = x[j] > upper[j] ? x[j] : upper[j];
            v *= ref[j] - u[j];
        }
        total += sign * v;
        if (i + 1 < n && v > 0.0) total += hv_ie_rec(X, n, d, stride, ref, i + 1, u, -sign);
    }
    return total;
}

/* General entry on rows that all strictly dominate ref. */
static double hv_rec(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref, int path) {
    if (n == 0) return 0.0;
    if (n == 1) {
        double v = 1.0;
        for (int i = 0; i < d; i++) v *= ref[i] - X[i];
        return v;
    }
    if (n <= HV_IE_MAX && d >= 4) {
        double lo[64];
        for (int j = 0; j < d; j++) lo[j] = -INFINITY;
        return hv_ie_rec(X, n, d, stride, ref, 0, lo, 1.0);
    }
    switch (d) {
        case 1: {
            double m = X[0];
            for (ptrdiff_t i = 1; i < n; i++) if (X[i * stride] < m) m = X[i * stride];
            return ref[0] - m;
        }
        case 2: return hv2d(X, n, stride, ref);
        case 3: return hv3d(X, n, stride, ref);
        case 4: return hv4d(X, n, stride, ref);
        default: break;
    }
    if (d >= 5 && d <= 8) {
        if (path == HV_PATH_QHV || path == HV_PATH_QHV_SCALAR || path == HV_PATH_QHV_SHALLOW ||
            (path == HV_PATH_AUTO && n >= (d == 5 ? HV_QHV_MIN_N5 : HV_QHV_MIN_N6)))
            return hv_qhv(X, n, d, stride, ref, path == HV_PATH_QHV_SCALAR,
                          path == HV_PATH_QHV_SHALLOW ? 2 : HV_QHV_MAX_DEPTH);
        if (d == 5 && (path == HV_PATH_AUTO || path == HV_PATH_HV5_SCALAR || path == HV_PATH_NO_QHV))
            return hv5d(X, n, stride, ref, path == HV_PATH_HV5_SCALAR);
    }
    hv_key ostack[32];
    double ystack[32 * 8];
    const int small = n <= 32 && d <= 8;
    hv_key *o = small ? ostack : (hv_key *)malloc((size_t)n * sizeof(hv_key));
    double *Y = small ? ystack : (double *)malloc((size_t)n * (size_t)d * sizeof(double));
    if (!o || !Y) {
        if (!small) { free(o); free(Y); }
        return NAN;
    }
    for (ptrdiff_t i = 0; i < n; i++) { o[i].k = X[i * stride + d - 1]; o[i].i = i; }
    hv_sort_key(o, n);
    for (ptrdiff_t i = 0; i < n; i++) memcpy(Y + i * d, X + o[i].i * stride, (size_t)d * sizeof(double));
    double v = hv_wfg_sorted(Y, n, d, ref, path);
    if (!small) { free(o); free(Y); }
    return v;
}

/* 1 when all n values are finite (x - x is 0 exactly for finite x, NaN otherwise). */
static int hv_all_finite(const double *X, ptrdiff_t n) {
    double acc = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) acc += X[i] - X[i];
    return acc == 0.0;
}

/* Public entry: X (n x d) row-major; only rows with every value < ref count. d <= 64. path: HV_PATH_AUTO, or
 * (tests) HV_PATH_NDS / HV_PATH_SWEEP to compute 5-D sets by WFG with that handling of its 4-D limit sets, or
 * HV_PATH_HV5_SCALAR for hv5d with its scalar scan. */
static double hv_compute_path(const double *X, ptrdiff_t n, int d, const double *ref, int path) {
    ptrdiff_t keep = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        int ok = 1;
        for (int j = 0; j < d; j++) ok &= X[i * d + j] < ref[j];
        keep += ok;
    }
    if (keep == n) return hv_rec(X, n, d, d, ref, path);
    if (keep == 0) return 0.0;
    double *Y = (double *)malloc((size_t)keep * (size_t)d * sizeof(double));
    if (!Y) return NAN;
    ptrdiff_t k = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        int ok = 1;
        for (int j = 0; j < d; j++) ok &= X[i * d + j] < ref[j];
        if (ok) { memcpy(Y + k * d, X + i * d, (size_t)d * sizeof(double)); k++; }
    }
    double v = hv_rec(Y, keep, d, d, ref, path);
    free(Y);
    return v;
}

static inline double hv_compute(const double *X, ptrdiff_t n, int d, const double *ref) {
    return hv_compute_path(X, n, d, ref, HV_PATH_AUTO);
}

#endif
