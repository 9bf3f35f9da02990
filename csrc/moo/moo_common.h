/* Common layer of the multi-objective kernels (plain C, no Python): every other header in csrc/moo includes this
 * one and nothing else of ours, except the hypervolume dispatcher hv.h, which includes the algorithm headers.
 *
 *   named paths     the path selectors the kernels take (hv_path, moo_nds_algo; AUTO but in tests and benchmarks),
 *                   mirrored in nsganetv2/moo/_paths.py
 *   CPU features    MOO_X86 (x86-64 intrinsics compiled in; -DHV_NO_SIMD builds the portable code only) and
 *                   moo_have_avx2() (checked at run time, once)
 *   finiteness      moo_row_nonfinite / moo_all_finite / moo_first_nonfinite: the NaN and infinity checks of the
 *                   kernels' inputs
 *   keys            doubles as order-preserving unsigned 64-bit keys
 *   sorting         one stable radix sort of (key, int32) pairs (LSD, MSD for large arrays, merge sort when short),
 *                   its per-thread scratch, row lexsort; an introsort generator for small structs, and moo_sort_key
 *                   for (double, index) pairs (introsort when short, a bucket sort up to 1024 pairs, the radix sort
 *                   from 2048); (x, y, index) points by (x, y), and their runs of equal x by y
 *   bitsets         64-ary hierarchical bitsets: predecessor / successor in O(log_64 n)
 *   threads         moo_parallel_for: a function over contiguous chunks of a range, run by a team of threads kept
 *                   for the process's life
 *   4-D sweep       hv4_sweep, the hypervolume w-sweep over a z-sorted 3-D front (with its clipped 2-D staircase)
 *                   that hv234.h (d = 4), hv5.h and hv_wfg.h (4-D limit sets) share
 */
#ifndef NSGANETV2_MOO_COMMON_H
#define NSGANETV2_MOO_COMMON_H

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(HV_NO_SIMD)
#include <immintrin.h>
#define MOO_X86 1
#endif

#if defined(__GNUC__)
#define MOO_UNUSED __attribute__((unused)) /* helpers that not every includer calls */
#define MOO_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MOO_UNUSED
#define MOO_ALWAYS_INLINE inline
#endif

/* ------------------------------------------------------------------------------------------------------------ */
/* named paths                                                                                                  */
/* ------------------------------------------------------------------------------------------------------------ */
/* Hypervolume (hv.h): HV_PATH_AUTO lets the dispatcher choose; the others force one algorithm (tests, benchmarks). */
enum hv_path {
    HV_PATH_AUTO = 0,
    HV_PATH_WFG_MASK = 1,    /* d >= 5 by WFG, every 4-D limit set made non-dominated by worse-objective masks, then
                              * the d = 4 kernel */
    HV_PATH_WFG_SWEEP = 2,   /* d >= 5 by WFG, every 4-D limit set straight into a w-sweep keeping the 3-D front */
    HV_PATH_HV5_SCALAR = 3,  /* d = 5: hv5d at every size, with its scalar scan; WFG limit sets as AUTO */
    HV_PATH_QHV = 4,         /* 5 <= d <= 8: QHV-II at every size */
    HV_PATH_QHV_SCALAR = 5,  /* the same, its portable (non-AVX2) path */
    HV_PATH_NO_QHV = 6,      /* as AUTO without QHV-II (QHV-II's own fallback past its depth guard) */
    HV_PATH_QHV_SHALLOW = 7, /* QHV-II with its depth guard at HV_QHV_SHALLOW_DEPTH: most boxes go to the fallback */
    HV_PATH_COUNT = 8
};

/* Non-dominated sorting (nds.h): MOO_NDS_AUTO picks the best path for M; the others exist for the tests. */
enum moo_nds_algo {
    MOO_NDS_AUTO = 0,
    MOO_NDS_KDTREE = 1,           /* the k-d tree path for every M */
    MOO_NDS_TREAP = 2,            /* the treap staircases for M = 3 (the k-d tree for other M) */
    MOO_NDS_NO_FILTER = 3,        /* as AUTO, without the first-front filter */
    MOO_NDS_KDTREE_NO_FILTER = 4, /* the k-d tree path without the first-front filter */
    MOO_NDS_COPY = 5,             /* all fronts, M = 2, 3: the rows copied in sorted order, the bitset staircases
                                   * for M = 3 (what AUTO takes when the sweep gives up) */
    MOO_NDS_SWEEP_TIGHT = 6,      /* all fronts, M = 3: the sweep on a 2 x 2 grid with tiny budgets (gives up early) */
    MOO_NDS_SWEEP = 7,            /* all fronts, M = 2, 3: the sweep at every size (AUTO takes it from MOO_SWEEP_MIN_N) */
    MOO_NDS_PAIRS = 8,            /* pairs of rows compared, up to MOO_PAIRS_MAX_N rows at every M (AUTO: up to
                                   * moo_pairs_most_rows(M)); as AUTO above */
    MOO_NDS_PAIRS_SCALAR = 9,     /* the same without AVX2 */
    MOO_NDS_COUNT = 10
};

/* A function computing the hypervolume of n rows (stride apart, d objectives, each strictly dominating ref) along
 * path: what the recursive algorithms call for their sub-problems, so that they need not include the dispatcher. */
typedef double (*hv_rec_fn)(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref, int path);

/* ------------------------------------------------------------------------------------------------------------ */
/* CPU features                                                                                                 */
/* ------------------------------------------------------------------------------------------------------------ */
#ifdef MOO_X86
MOO_UNUSED static int moo_have_avx2(void) {
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return have;
}
#endif

/* ------------------------------------------------------------------------------------------------------------ */
/* finiteness                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */
/* 1 when some of the m values of row is NaN or infinite (x * 0.0 is NaN exactly for those). */
static inline int moo_row_nonfinite(const double *row, int m) {
    double acc = 0.0;
    for (int j = 0; j < m; j++) acc += row[j] * 0.0;
    return acc != acc;
}

/* 1 when all n values are finite (x - x is 0 exactly for finite x, NaN otherwise); four sums, so that the
 * additions do not wait for one another. */
MOO_UNUSED static int moo_all_finite(const double *X, ptrdiff_t n) {
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 += X[i] - X[i];
        a1 += X[i + 1] - X[i + 1];
        a2 += X[i + 2] - X[i + 2];
        a3 += X[i + 3] - X[i + 3];
    }
    for (; i < n; i++) a0 += X[i] - X[i];
    return (a0 + a1) + (a2 + a3) == 0.0;
}

/* -(r + 2) for the first row r of the n x m rows F holding a NaN or infinity, else -1. */
MOO_UNUSED static int64_t moo_first_nonfinite(const double *F, int64_t n, int m) {
    for (int64_t i = 0; i < n; i++) {
        if (moo_row_nonfinite(F + i * m, m)) return -(i + 2);
    }
    return -1;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* keys                                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */
/* Order-preserving map of a double to an unsigned integer (-0.0 below +0.0). */
static inline uint64_t moo_dbits(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x8000000000000000ULL) ? ~u : (u | 0x8000000000000000ULL);
}

/* The same with -0.0 folded onto +0.0, so that keys are equal exactly when the doubles compare equal. */
static inline uint64_t moo_dkey(double x) {
    return moo_dbits(x + 0.0); /* -0.0 -> +0.0; not folded away by the compiler without -ffast-math */
}

/* inverse of moo_dbits and moo_dkey (-0.0 from moo_dkey comes back as +0.0) */
static inline double moo_dkey_inv(uint64_t u) {
    u = (u & 0x8000000000000000ULL) ? (u & 0x7FFFFFFFFFFFFFFFULL) : ~u;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* the radix sort: stable sort of (uint64 key, int32 value) pairs                                               */
/* ------------------------------------------------------------------------------------------------------------ */
#ifndef MOO_RADIX_MIN
#define MOO_RADIX_MIN 192
#endif
#define MOO_INSERTION_MAX 24

MOO_UNUSED static void moo_insertion_u64(uint64_t *k, int32_t *v, int32_t n) {
    for (int32_t i = 1; i < n; i++) {
        uint64_t kk = k[i];
        int32_t vv = v[i];
        int32_t j = i - 1;
        while (j >= 0 && k[j] > kk) {
            k[j + 1] = k[j];
            v[j + 1] = v[j];
            j--;
        }
        k[j + 1] = kk;
        v[j + 1] = vv;
    }
}

/* Stable top-down merge sort of (k, v) by k; tk/tv are scratch of length n. */
MOO_UNUSED static void moo_merge_u64(uint64_t *k, int32_t *v, int32_t n, uint64_t *tk, int32_t *tv) {
    if (n <= MOO_INSERTION_MAX) {
        moo_insertion_u64(k, v, n);
        return;
    }
    int32_t h = n / 2;
    moo_merge_u64(k, v, h, tk, tv);
    moo_merge_u64(k + h, v + h, n - h, tk, tv);
    if (k[h - 1] <= k[h]) return; /* already in order */
    memcpy(tk, k, (size_t)h * sizeof *k);
    memcpy(tv, v, (size_t)h * sizeof *v);
    int32_t i = 0, j = h, o = 0;
    while (i < h && j < n) {
        if (k[j] < tk[i]) {
            k[o] = k[j];
            v[o++] = v[j++];
        } else {
            k[o] = tk[i];
            v[o++] = tv[i++];
        }
    }
    while (i < h) {
        k[o] = tk[i];
        v[o++] = tv[i++];
    }
}

/* Stable sort of (k, v) by k. tk/tv are scratch of length n; cnt is scratch of 6*2048 uint32.
 * LSD radix: 8-bit digits (8 passes, small histograms) below MOO_RADIX_WIDE elements, 11-bit digits (6 passes)
 * above; a pass whose digit is the same for every key is skipped. */
#define MOO_RADIX_WIDE 12000
MOO_UNUSED static void moo_lsd_u64(uint64_t *k, int32_t *v, int32_t n, uint64_t *tk, int32_t *tv, uint32_t *cnt) {
    if (n < MOO_RADIX_MIN) {
        moo_merge_u64(k, v, n, tk, tv);
        return;
    }
    const int wide = n >= MOO_RADIX_WIDE;
    const int bits = wide ? 11 : 8, nd = wide ? 6 : 8, nb = 1 << bits;
    const uint64_t mask = (uint64_t)nb - 1;
    memset(cnt, 0, (size_t)nd * nb * sizeof *cnt);
    if (wide) {
        for (int32_t i = 0; i < n; i++) {
            uint64_t x = k[i];
            cnt[0 * 2048 + (x & 2047)]++;
            cnt[1 * 2048 + ((x >> 11) & 2047)]++;
            cnt[2 * 2048 + ((x >> 22) & 2047)]++;
            cnt[3 * 2048 + ((x >> 33) & 2047)]++;
            cnt[4 * 2048 + ((x >> 44) & 2047)]++;
            cnt[5 * 2048 + (x >> 55)]++;
        }
    } else {
        for (int32_t i = 0; i < n; i++) {
            uint64_t x = k[i];
            for (int p = 0; p < 8; p++) cnt[p * 256 + ((x >> (8 * p)) & 255)]++;
        }
    }
    uint64_t *sk = k, *dk = tk;
    int32_t *sv = v, *dv = tv;
    for (int p = 0; p < nd; p++) {
        uint32_t *c = cnt + p * nb;
        int shift = bits * p;
        if (c[(sk[0] >> shift) & mask] == (uint32_t)n) continue; /* every key has this digit */
        uint32_t sum = 0;
        for (int b = 0; b < nb; b++) {
            uint32_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (int32_t i = 0; i < n; i++) {
            uint64_t x = sk[i];
            uint32_t pos = c[(x >> shift) & mask]++;
            dk[pos] = x;
            dv[pos] = sv[i];
        }
        uint64_t *t1 = sk; sk = dk; dk = t1;
        int32_t *t2 = sv; sv = dv; dv = t2;
    }
    if (sk != k) {
        memcpy(k, sk, (size_t)n * sizeof *k);
        memcpy(v, sv, (size_t)n * sizeof *v);
    }
}

/* MSD pass for large arrays: keys are spread over ~2n buckets by their bits below the common prefix of min and
 * max (one histogram, one scatter into tk/tv), then every bucket is finished in place (insertion sort when short,
 * LSD radix otherwise, with k/v as its scratch) and the result copied back. Stable. bk: scratch of n*2+2 uint32. */
#ifndef MOO_MSD_MIN
#define MOO_MSD_MIN 8192
#endif
MOO_UNUSED static void moo_sort_u64_big(uint64_t *k, int32_t *v, int32_t n, uint64_t *tk, int32_t *tv, uint32_t *cnt,
                             uint32_t *bk) {
    uint64_t kmin = k[0], kmax = k[0];
    for (int32_t i = 1; i < n; i++) {
        uint64_t x = k[i];
        kmin = x < kmin ? x : kmin;
        kmax = x > kmax ? x : kmax;
    }
    if (kmin == kmax) return;
    uint64_t range = kmax - kmin;
    int rbits = 64 - __builtin_clzll(range);
    int nbits = 1;
    while (nbits < 24 && ((int64_t)1 << (nbits + 1)) <= 2 * (int64_t)n) nbits++; /* 2^nbits <= 2n */
    int shift = rbits > nbits ? rbits - nbits : 0;
    uint32_t nb = (uint32_t)(range >> shift) + 1;
    memset(bk, 0, ((size_t)nb + 1) * sizeof *bk);
    for (int32_t i = 0; i < n; i++) bk[((k[i] - kmin) >> shift) + 1]++;
    for (uint32_t b = 1; b <= nb; b++) bk[b] += bk[b - 1];
    for (int32_t i = 0; i < n; i++) {
        uint32_t pos = bk[(k[i] - kmin) >> shift]++;
        tk[pos] = k[i];
        tv[pos] = v[i];
    }
    /* now bk[b] is the end of bucket b */
    uint32_t start = 0;
    for (uint32_t b = 0; b < nb; b++) {
        uint32_t end = bk[b];
        uint32_t len = end - start;
        if (len > 1) {
            if (len <= 48) moo_insertion_u64(tk + start, tv + start, (int32_t)len);
            else moo_lsd_u64(tk + start, tv + start, (int32_t)len, k + start, v + start, cnt);
        }
        start = end;
    }
    memcpy(k, tk, (size_t)n * sizeof *k);
    memcpy(v, tv, (size_t)n * sizeof *v);
}

/* Stable sort of (k, v) by k with the workspace's scratch. */
#define MOO_SORT(w, k, v, n) \
    ((n) >= MOO_MSD_MIN ? moo_sort_u64_big((k), (v), (n), (w)->tk, (w)->tv, (w)->cnt, (w)->bk) \
                        : moo_lsd_u64((k), (v), (n), (w)->tk, (w)->tv, (w)->cnt))

/* Workspace for sorting rows. */
typedef struct {
    uint64_t *key, *tk;
    int32_t *tv;
    uint32_t *cnt, *bk;
} moo_sortws;

/* Per-thread scratch blocks reused across calls: large fresh allocations would otherwise be returned to the OS
 * on free and page-faulted in again on every call. A block above MOO_SCRATCH_KEEP bytes is released after use;
 * a thread's blocks are freed when the thread exits (pthread key destructor).
 * Slots: 0 sorting workspace (with moo_sort_key's values), 1 the driver's arrays, 2 a kernel's arrays, 3 the
 * first-front filter, 4 its survivors' rows, 5 the survivors' first front on threads (whose parts call the driver).
 * Each slot has one user at a time. */
#define MOO_SCRATCH_SLOTS 6
#define MOO_SCRATCH_KEEP ((size_t)32 << 20)
typedef struct {
    unsigned char *buf[MOO_SCRATCH_SLOTS];
    size_t cap[MOO_SCRATCH_SLOTS];
} moo_scratch_t;

static pthread_key_t moo_scr_key;
static pthread_once_t moo_scr_once = PTHREAD_ONCE_INIT;
static int moo_scr_key_ok = 0;

MOO_UNUSED static void moo_scr_destroy(void *p) {
    moo_scratch_t *s = (moo_scratch_t *)p;
    for (int i = 0; i < MOO_SCRATCH_SLOTS; i++) free(s->buf[i]);
    free(s);
}

MOO_UNUSED static void moo_scr_make_key(void) {
    moo_scr_key_ok = pthread_key_create(&moo_scr_key, moo_scr_destroy) == 0;
}

MOO_UNUSED static moo_scratch_t *moo_scr_state(void) {
    pthread_once(&moo_scr_once, moo_scr_make_key);
    if (!moo_scr_key_ok) return NULL;
    moo_scratch_t *s = (moo_scratch_t *)pthread_getspecific(moo_scr_key);
    if (!s) {
        s = (moo_scratch_t *)calloc(1, sizeof *s);
        if (s && pthread_setspecific(moo_scr_key, s) != 0) {
            free(s);
            s = NULL;
        }
    }
    return s;
}

/* a block of at least `bytes` for `slot` (NULL when out of memory) */
MOO_UNUSED static void *moo_scratch_get(int slot, size_t bytes) {
    moo_scratch_t *s = moo_scr_state();
    if (!s) return NULL;
    if (bytes > s->cap[slot]) {
        free(s->buf[slot]);
        s->buf[slot] = (unsigned char *)malloc(bytes);
        s->cap[slot] = s->buf[slot] ? bytes : 0;
    }
    return s->buf[slot];
}

MOO_UNUSED static void moo_scratch_release(int slot) {
    moo_scratch_t *s = moo_scr_state();
    if (s && s->cap[slot] > MOO_SCRATCH_KEEP) {
        free(s->buf[slot]);
        s->buf[slot] = NULL;
        s->cap[slot] = 0;
    }
}

#define MOO_ALIGN(b) (((b) + 63) & ~(size_t)63)

/* The workspace for n keys in scratch slot 0, followed by `extra` bytes (returned in *tail when asked for). */
MOO_UNUSED static int moo_sortws_init_extra(moo_sortws *w, int32_t n, size_t extra, void **tail) {
    size_t nn = n > 0 ? (size_t)n : 1;
    size_t s_key = MOO_ALIGN(nn * sizeof(uint64_t)), s_tv = MOO_ALIGN(nn * sizeof(int32_t));
    size_t s_cnt = MOO_ALIGN(6 * 2048 * sizeof(uint32_t)), s_bk = MOO_ALIGN((2 * nn + 2) * sizeof(uint32_t));
    size_t s_ws = 2 * s_key + s_tv + s_cnt + s_bk;
    unsigned char *p = (unsigned char *)moo_scratch_get(0, s_ws + extra);
    if (!p) {
        memset(w, 0, sizeof *w);
        return -1;
    }
    w->key = (uint64_t *)p;
    w->tk = (uint64_t *)(p + s_key);
    w->tv = (int32_t *)(p + 2 * s_key);
    w->cnt = (uint32_t *)(p + 2 * s_key + s_tv);
    w->bk = (uint32_t *)(p + 2 * s_key + s_tv + s_cnt);
    if (tail) *tail = p + s_ws;
    return 0;
}

static inline int moo_sortws_init(moo_sortws *w, int32_t n) { return moo_sortws_init_extra(w, n, 0, NULL); }

MOO_UNUSED static void moo_sortws_free(moo_sortws *w) {
    (void)w;
    moo_scratch_release(0);
}

/* Sort idx[lo:hi] lexicographically by columns col.. of the row-major (., m) matrix F; stable. */
MOO_UNUSED static void moo_lex_range(const double *F, int m, int32_t *idx, int32_t lo, int32_t hi, int col,
                                     moo_sortws *w) {
    uint64_t *key = w->key;
    for (int32_t j = lo; j < hi; j++) key[j] = moo_dkey(F[(int64_t)idx[j] * m + col]);
    MOO_SORT(w, key + lo, idx + lo, hi - lo);
    if (col + 1 >= m) return;
    int32_t i = lo;
    while (i < hi) {
        int32_t j = i + 1;
        uint64_t ki = key[i];
        while (j < hi && key[j] == ki) j++;
        if (j - i > 1) moo_lex_range(F, m, idx, i, j, col + 1, w);
        i = j;
    }
}

/* idx := the permutation that sorts the rows of F (n x m) lexicographically (ties by row index). 0 or -1 (memory). */
MOO_UNUSED static int moo_lexsort_rows(const double *F, int32_t n, int m, int32_t *idx) {
    moo_sortws w;
    if (moo_sortws_init(&w, n)) {
        moo_sortws_free(&w);
        return -1;
    }
    for (int32_t i = 0; i < n; i++) idx[i] = i;
    moo_lex_range(F, m, idx, 0, n, 0, &w);
    moo_sortws_free(&w);
    return 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* introsort on small structs, generated per type                                                               */
/* ------------------------------------------------------------------------------------------------------------ */
#define MOO_DEFINE_SORT(NAME, T, LESS)                                                                 \
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
    MOO_UNUSED static void NAME(T *a, ptrdiff_t n) {                                                   \
        int depth = 2;                                                                                 \
        for (ptrdiff_t k = n; k > 1; k >>= 1) depth += 2;                                              \
        NAME##_rec(a, n, depth);                                                                       \
    }

/* ------------------------------------------------------------------------------------------------------------ */
/* (double, index) pairs                                                                                        */
/* ------------------------------------------------------------------------------------------------------------ */
typedef struct { double k; ptrdiff_t i; } moo_key;
#define MOO_KEY_LESS(a, b) ((a).k < (b).k)
MOO_DEFINE_SORT(moo_sort_key_intro, moo_key, MOO_KEY_LESS)

#ifndef MOO_KEY_RADIX_MIN
#define MOO_KEY_RADIX_MIN 2048 /* moo_sort_key takes the radix sort from this many pairs on */
#endif

/* Stable radix sort of the pairs by k (moo_dbits keys); -1 when out of memory. */
MOO_UNUSED static int moo_sort_key_radix(moo_key *a, int32_t n) {
    moo_sortws w;
    void *tail;
    if (moo_sortws_init_extra(&w, n, (size_t)n * sizeof(int32_t), &tail)) {
        moo_sortws_free(&w);
        return -1;
    }
    int32_t *pos = (int32_t *)tail;
    for (int32_t j = 0; j < n; j++) {
        w.key[j] = moo_dbits(a[j].k);
        pos[j] = j;
    }
    MOO_SORT(&w, w.key, pos, n);
    uint64_t *idx = w.tk; /* free once sorted */
    for (int32_t j = 0; j < n; j++) idx[j] = (uint64_t)a[j].i;
    for (int32_t j = 0; j < n; j++) {
        a[j].k = moo_dkey_inv(w.key[j]); /* moo_dbits is a bijection: the very same double */
        a[j].i = (ptrdiff_t)idx[pos[j]];
    }
    moo_sortws_free(&w);
    return 0;
}

#define MOO_KEY_BUCKET_MIN 48    /* moo_sort_key takes the bucket sort from this many pairs on */
#define MOO_KEY_BUCKET_MAX 1024  /* and up to this many (its scratch is on the stack) */

/* Stable bucket sort of n (MOO_KEY_BUCKET_MIN..MAX) pairs with finite k: 2 n buckets evenly over [min k, max k]
 * (with n, more keys share one and the insertion pass mispredicts more), the bucket of k being
 * (k - min) * (2 n / (max - min)), which rounding keeps monotone in k, so that one insertion pass over the buckets'
 * concatenation finishes the sort (its moves stay inside a bucket); past 8 n moves (keys crowded in a few buckets)
 * the introsort finishes instead. -1 (nothing done) when the scale is 0 or not finite. */
MOO_UNUSED static int moo_sort_key_bucket(moo_key *a, ptrdiff_t n) {
    double lo = a[0].k, hi = a[0].k;
    for (ptrdiff_t i = 1; i < n; i++) {
        lo = a[i].k < lo ? a[i].k : lo;
        hi = a[i].k > hi ? a[i].k : hi;
    }
    if (!(lo < hi)) return lo == hi ? 0 : -1; /* all equal: sorted */
    const ptrdiff_t nb = 2 * n; /* buckets: few are shared */
    const double scale = (double)nb / (hi - lo);
    if (!(scale > 0.0 && scale < INFINITY)) return -1;
    uint16_t b[MOO_KEY_BUCKET_MAX];
    uint32_t start[2 * MOO_KEY_BUCKET_MAX + 1];
    moo_key t[MOO_KEY_BUCKET_MAX];
    memset(start, 0, ((size_t)nb + 1) * sizeof *start);
    for (ptrdiff_t i = 0; i < n; i++) {
        const ptrdiff_t j = (ptrdiff_t)((a[i].k - lo) * scale);
        b[i] = (uint16_t)(j < nb ? j : nb - 1);
        start[b[i] + 1]++;
    }
    for (ptrdiff_t j = 1; j <= nb; j++) start[j] += start[j - 1];
    for (ptrdiff_t i = 0; i < n; i++) t[start[b[i]]++] = a[i];
    a[0] = t[0];
    ptrdiff_t budget = 8 * n; /* moves; crowded buckets (clustered keys) go to the introsort instead */
    for (ptrdiff_t i = 1; i < n; i++) {
        const moo_key v = t[i];
        ptrdiff_t j = i;
        while (j > 0 && v.k < a[j - 1].k) { a[j] = a[j - 1]; j--; }
        a[j] = v;
        budget -= i - j;
        if (budget < 0) {
            memcpy(a + i + 1, t + i + 1, (size_t)(n - i - 1) * sizeof *a);
            moo_sort_key_intro(a, n);
            return 0;
        }
    }
    return 0;
}

/* Sort the pairs by k (ties in any order). */
MOO_UNUSED static void moo_sort_key(moo_key *a, ptrdiff_t n) {
    if (n >= MOO_KEY_RADIX_MIN && n < INT32_MAX && moo_sort_key_radix(a, (int32_t)n) == 0) return;
    if (n >= MOO_KEY_BUCKET_MIN && n <= MOO_KEY_BUCKET_MAX && moo_sort_key_bucket(a, n) == 0) return;
    moo_sort_key_intro(a, n);
}

/* (x, y, index) points: moo_sort_p2i sorts them by (x, y), comparisons deciding on the values; moo_sort_p2i_runs
 * puts runs of equal x (of points sorted by x alone, as a key sort leaves them) in y order */
typedef struct { double x, y; ptrdiff_t i; } moo_p2i;
#define MOO_P2I_LESS(a, b) ((a).x < (b).x || ((a).x == (b).x && (a).y < (b).y))
MOO_DEFINE_SORT(moo_sort_p2i, moo_p2i, MOO_P2I_LESS)

MOO_UNUSED static void moo_sort_p2i_runs(moo_p2i *P, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n;) {
        ptrdiff_t j = i + 1;
        while (j < n && P[j].x == P[i].x) j++;
        if (j - i > 1) moo_sort_p2i(P + i, j - i);
        i = j;
    }
}

/* Branchless lower bound: the number of values in the ascending a[0..n) (n >= 1) that are below key. */
static inline ptrdiff_t moo_lower_bound(const double *a, ptrdiff_t n, double key) {
    const double *base = a;
    while (n > 1) {
        const ptrdiff_t half = n >> 1;
        base = base[half - 1] < key ? base + half : base;
        n -= half;
    }
    return (base - a) + (*base < key);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* hierarchical bitsets                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */
/* A set over [0, n) as 64-ary levels: bit x of level l + 1 is set when word x of level l is not zero; the top level
 * is one word. The layout (word offsets of the levels inside a block of W words) serves any number of blocks. */
#define MOO_BITS_MAXLEV 11 /* 64^11 > 2^64 */
typedef struct {
    int nl;                          /* levels */
    ptrdiff_t off[MOO_BITS_MAXLEV];  /* first word of each level in a block */
    ptrdiff_t nw[MOO_BITS_MAXLEV];   /* words of each level */
    ptrdiff_t W;                     /* words in a block */
} moo_bits;

MOO_UNUSED static void moo_bits_layout(moo_bits *L, ptrdiff_t n) {
    ptrdiff_t words = (n + 63) >> 6, W = 0;
    L->nl = 0;
    for (;;) {
        L->off[L->nl] = W;
        L->nw[L->nl++] = words;
        W += words;
        if (words <= 1) break;
        words = (words + 63) >> 6;
    }
    L->W = W;
}

static inline void moo_bits_set(uint64_t *B, const moo_bits *L, ptrdiff_t x) {
    for (int l = 0; l < L->nl; l++) {
        uint64_t *w = B + L->off[l] + (x >> 6);
        const uint64_t old = *w;
        *w = old | (1ULL << (x & 63));
        if (old) return; /* the levels above already have it */
        x >>= 6;
    }
}

static inline void moo_bits_clear(uint64_t *B, const moo_bits *L, ptrdiff_t x) {
    for (int l = 0; l < L->nl; l++) {
        uint64_t *w = B + L->off[l] + (x >> 6);
        *w &= ~(1ULL << (x & 63));
        if (*w) return;
        x >>= 6;
    }
}

/* the largest set index <= x (-1 <= x < n), or -1 */
static inline ptrdiff_t moo_bits_pred(const uint64_t *B, const moo_bits *L, ptrdiff_t x) {
    int l = 0;
    for (;;) {
        if (x < 0) return -1;
        const ptrdiff_t wi = x >> 6;
        const uint64_t m = B[L->off[l] + wi] & (~0ULL >> (63 - (x & 63)));
        if (m) {
            x = (wi << 6) | (63 - __builtin_clzll(m));
            break;
        }
        if (++l >= L->nl) return -1;
        x = wi - 1;
    }
    while (l > 0) {
        l--;
        x = (x << 6) | (63 - __builtin_clzll(B[L->off[l] + x]));
    }
    return x;
}

/* the smallest set index >= x (0 <= x <= n), or -1 */
static inline ptrdiff_t moo_bits_succ(const uint64_t *B, const moo_bits *L, ptrdiff_t x) {
    int l = 0;
    for (;;) {
        const ptrdiff_t wi = x >> 6;
        if (wi >= L->nw[l]) return -1;
        const uint64_t m = B[L->off[l] + wi] & (~0ULL << (x & 63));
        if (m) {
            x = (wi << 6) | __builtin_ctzll(m);
            break;
        }
        if (++l >= L->nl) return -1;
        x = wi + 1;
    }
    while (l > 0) {
        l--;
        x = (x << 6) | __builtin_ctzll(B[L->off[l] + x]);
    }
    return x;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* threads                                                                                                      */
/* ------------------------------------------------------------------------------------------------------------ */
/* moo_parallel_for(T, C, n, fn, ctx) calls fn(ctx, c, lo, hi) once for each of C contiguous chunks of [0, n) (chunk
 * c = [c n / C, (c + 1) n / C)) on up to T threads, and returns when all are done. The chunks, hence the results,
 * never depend on T or on which thread ran a chunk.
 *
 * The threads are a team kept for the life of the process: T - 1 workers (T capped at the CPUs online), started on
 * first use, that spin a little after a job and then sleep. The caller publishes a job and takes chunks itself; a
 * worker takes chunks as it arrives. So the caller never waits for a worker to start or wake (on a VM, waking an
 * idle vCPU can cost as much as a whole call): it waits only for the chunks a worker has already taken. The job's
 * state is one 64-bit atomic word: generation (32 bits), helpers allowed (8), chunk count (12) and next chunk (12);
 * a worker claims a chunk by compare-and-swap on it and reads the job only then, so a worker that arrives late finds
 * nothing to claim and never sees a half-written job. One job at a time: a call made while the team is busy (another
 * thread's call, or a chunk that calls moo_parallel_for) runs its chunks on its own thread. A forked child starts
 * with no team. */
typedef void (*moo_chunk_fn)(void *ctx, int c, ptrdiff_t lo, ptrdiff_t hi);

#define MOO_MAX_THREADS 64
#define MOO_MAX_CHUNKS 4095
#define MOO_TEAM_SPIN 20000 /* pause loops a worker spins after a job before it sleeps (a fraction of a millisecond) */

typedef struct {
    pthread_mutex_t mu;    /* guards sleepers and the workers' start; the condition's mutex */
    pthread_cond_t wake;
    pthread_mutex_t busy;  /* held by the caller whose job the team runs */
    int started, sleepers;
    uint64_t state;        /* atomic: gen << 32 | helpers << 24 | chunks << 12 | next */
    int done;              /* atomic: chunks finished in the current job */
    moo_chunk_fn fn;       /* the job: written before its generation is published */
    void *ctx;
    ptrdiff_t n;
} moo_team_t;

static moo_team_t moo_team = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, 0, 0,
                              0, 0, NULL, NULL, 0};

#define MOO_TEAM_GEN(s) ((uint32_t)((s) >> 32))
#define MOO_TEAM_HELPERS(s) ((int)(((s) >> 24) & 0xff))
#define MOO_TEAM_CHUNKS(s) ((int)(((s) >> 12) & 0xfff))
#define MOO_TEAM_NEXT(s) ((int)((s) & 0xfff))

/* the start of chunk c of C over [0, n) (c = C gives n) */
static inline ptrdiff_t moo_chunk_lo(ptrdiff_t n, int c, int C) {
    return c >= C ? n : (ptrdiff_t)((double)n * c / C);
}

static inline void moo_cpu_relax(void) {
#ifdef MOO_X86
    _mm_pause();
#endif
}

/* Claims and runs chunks of generation gen while any is left (helper: the worker's index, or -1 for the caller). */
static void moo_team_work(uint32_t gen, int helper) {
    moo_team_t *tm = &moo_team;
    uint64_t s = __atomic_load_n(&tm->state, __ATOMIC_ACQUIRE);
    for (;;) {
        if (MOO_TEAM_GEN(s) != gen || helper >= MOO_TEAM_HELPERS(s) || MOO_TEAM_NEXT(s) >= MOO_TEAM_CHUNKS(s)) return;
        if (!__atomic_compare_exchange_n(&tm->state, &s, s + 1, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
        const int c = MOO_TEAM_NEXT(s), C = MOO_TEAM_CHUNKS(s); /* chunk c is ours: the job stays until it is done */
        tm->fn(tm->ctx, c, moo_chunk_lo(tm->n, c, C), moo_chunk_lo(tm->n, c + 1, C));
        __atomic_fetch_add(&tm->done, 1, __ATOMIC_RELEASE);
        s = __atomic_load_n(&tm->state, __ATOMIC_ACQUIRE);
    }
}

MOO_UNUSED static void *moo_team_worker(void *arg) {
    moo_team_t *tm = &moo_team;
    const int helper = (int)(intptr_t)arg;
    uint32_t gen = MOO_TEAM_GEN(__atomic_load_n(&tm->state, __ATOMIC_ACQUIRE));
    for (;;) {
        moo_team_work(gen, helper); /* nothing to claim when that job is over */
        const uint32_t seen = gen;
        for (int spin = 0; gen == seen && spin < MOO_TEAM_SPIN; spin++) {
            moo_cpu_relax();
            gen = MOO_TEAM_GEN(__atomic_load_n(&tm->state, __ATOMIC_ACQUIRE));
        }
        if (gen == seen) {
            pthread_mutex_lock(&tm->mu);
            tm->sleepers++;
            while ((gen = MOO_TEAM_GEN(__atomic_load_n(&tm->state, __ATOMIC_ACQUIRE))) == seen)
                pthread_cond_wait(&tm->wake, &tm->mu);
            tm->sleepers--;
            pthread_mutex_unlock(&tm->mu);
        }
    }
    return NULL;
}

/* in a forked child: no workers (they were not copied), the locks new */
MOO_UNUSED static void moo_team_after_fork(void) {
    pthread_mutex_init(&moo_team.mu, NULL);
    pthread_cond_init(&moo_team.wake, NULL);
    pthread_mutex_init(&moo_team.busy, NULL);
    moo_team.started = moo_team.sleepers = 0;
}

MOO_UNUSED static void moo_team_register_fork(void) { pthread_atfork(NULL, NULL, moo_team_after_fork); }

/* the tests' stand-in for the CPUs online when > 0, so that the paths for more threads than the host has run too */
MOO_UNUSED static int moo_cpus_for_tests = 0;

/* the CPUs online (once; 1 when unknown): more threads than that only spin and wait for each other */
MOO_UNUSED static int moo_cpu_count(void) {
    static int count = 0;
    if (moo_cpus_for_tests > 0) return moo_cpus_for_tests < MOO_MAX_THREADS ? moo_cpus_for_tests : MOO_MAX_THREADS;
    if (count == 0) {
        long c = 1;
#ifdef _SC_NPROCESSORS_ONLN
        c = sysconf(_SC_NPROCESSORS_ONLN);
#endif
        count = c < 1 ? 1 : c > MOO_MAX_THREADS ? MOO_MAX_THREADS : (int)c;
    }
    return count;
}

MOO_UNUSED static void moo_parallel_for(int T, int C, ptrdiff_t n, moo_chunk_fn fn, void *ctx) {
    static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
    moo_team_t *tm = &moo_team;
    if (T > moo_cpu_count()) T = moo_cpu_count();
    if (C > MOO_MAX_CHUNKS) C = MOO_MAX_CHUNKS;
    if (T > C) T = C;
    if (T <= 1 || pthread_mutex_trylock(&tm->busy) != 0) {
        for (int c = 0; c < C; c++) fn(ctx, c, moo_chunk_lo(n, c, C), moo_chunk_lo(n, c + 1, C));
        return;
    }
    pthread_once(&fork_once, moo_team_register_fork);
    pthread_mutex_lock(&tm->mu);
    while (tm->started < T - 1) { /* a worker that cannot be started leaves its chunks to the others */
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        const int ok = pthread_create(&th, &at, moo_team_worker, (void *)(intptr_t)tm->started) == 0;
        pthread_attr_destroy(&at);
        if (!ok) break;
        tm->started++;
    }
    pthread_mutex_unlock(&tm->mu);
    tm->fn = fn;
    tm->ctx = ctx;
    tm->n = n;
    __atomic_store_n(&tm->done, 0, __ATOMIC_RELAXED);
    const uint32_t gen = MOO_TEAM_GEN(__atomic_load_n(&tm->state, __ATOMIC_RELAXED)) + 1;
    __atomic_store_n(&tm->state, (uint64_t)gen << 32 | (uint64_t)(T - 1) << 24 | (uint64_t)C << 12,
                     __ATOMIC_RELEASE);
    pthread_mutex_lock(&tm->mu);
    if (tm->sleepers) pthread_cond_broadcast(&tm->wake);
    pthread_mutex_unlock(&tm->mu);
    moo_team_work(gen, -1);
    while (__atomic_load_n(&tm->done, __ATOMIC_ACQUIRE) < C) moo_cpu_relax();
    pthread_mutex_unlock(&tm->busy);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* the clipped 2-D staircase of the 4-D hypervolume sweep                                                         */
/* ------------------------------------------------------------------------------------------------------------ */
/* 2-D staircase inside the box [bx, rx] x [by, ry]: the points (x, y) = (s[2i], s[2i + 1]), x ascending, y
 * descending (pairs, so that an insertion moves one 16-byte value per point), between two sentinels, (-inf, ry) at
 * index -1 and (rx, -inf) at index n, so that the searches and walks need no bounds tests. */
typedef struct { double *s; ptrdiff_t n; double dom; } hv_stair;

/* An empty staircase in box (rx, ry) on s (room for 2 (1 + entries + 1) values; s points past the first pair). */
static MOO_ALWAYS_INLINE void hv_stair_init(hv_stair *st, double *s, double rx, double ry) {
    st->s = s;
    s[-2] = -INFINITY;
    s[-1] = ry;
    s[0] = rx;
    s[1] = -INFINITY;
    st->n = 0;
    st->dom = 0.0;
}

/* Empties st, its box now (rx, ry). */
static MOO_ALWAYS_INLINE void hv_stair_clear(hv_stair *st, double rx, double ry) {
    st->s[-1] = ry;
    st->s[0] = rx;
    st->s[1] = -INFINITY;
    st->n = 0;
    st->dom = 0.0;
}

/* The index of the first point of st with x >= a (linear on short staircases, binary on longer ones). */
static MOO_ALWAYS_INLINE ptrdiff_t hv_stair_search(const hv_stair *st, double a) {
    const double *s = st->s;
    const ptrdiff_t n = st->n;
    ptrdiff_t j = 0;
    if (n > 12) { /* branchless lower bound on the x values */
        const double *base = s;
        ptrdiff_t len = n;
        while (len > 1) {
            const ptrdiff_t half = len >> 1;
            base = base[2 * (half - 1)] < a ? base + 2 * half : base;
            len -= half;
        }
        j = ((base - s) >> 1) + (*base < a);
    } else {
        while (s[2 * j] < a) j++; /* stops at the sentinel rx > a */
    }
    return j;
}

/* Inserts (a, b) at index j (from hv_stair_search(st, a)), (a, b) not covered: adds the newly dominated area to
 * st->dom and drops the points it covers. */
static MOO_ALWAYS_INLINE void hv_stair_put(hv_stair *st, ptrdiff_t j, double a, double b) {
    double *s = st->s;
    const ptrdiff_t n = st->n;
    double floor_y = s[2 * j - 1], added = 0.0, xprev = a;
    ptrdiff_t k = j;
    while (s[2 * k + 1] >= b) { /* stops at the sentinel -inf */
        added += (s[2 * k] - xprev) * (floor_y - b);
        xprev = s[2 * k];
        floor_y = s[2 * k + 1];
        k++;
    }
    added += (s[2 * k] - xprev) * (floor_y - b);
    st->dom += added;
    const ptrdiff_t removed = k - j;
    if (removed == 0) { /* the points from j on, the end sentinel with them, move up by one */
        for (ptrdiff_t t = n; t >= j; t--) { s[2 * t + 2] = s[2 * t]; s[2 * t + 3] = s[2 * t + 1]; }
    } else if (removed > 1) { /* those from k on down to j + 1 */
        for (ptrdiff_t t = k; t <= n; t++) {
            s[2 * (t + 1 - removed)] = s[2 * t];
            s[2 * (t + 1 - removed) + 1] = s[2 * t + 1];
        }
    }
    st->n = n + 1 - removed;
    s[2 * j] = a;
    s[2 * j + 1] = b;
}

/* Inserts (a, b) (inside the box) and adds the newly dominated area to st->dom; returns 0 when (a, b) is covered
 * (nothing changes). Inlined at each of its call sites in the sweeps' inner loops. */
static MOO_ALWAYS_INLINE int hv_stair_add(hv_stair *st, double a, double b) {
    const double *s = st->s;
    const ptrdiff_t j = hv_stair_search(st, a);
    if (s[2 * j - 1] <= b) return 0;
    if (s[2 * j] == a && s[2 * j + 1] <= b) return 0;
    hv_stair_put(st, j, a, b);
    return 1;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* the 4-D w-sweep of the hypervolume kernels (hv234.h's d = 4, hv5.h's and hv_wfg.h's 4-D limit sets)            */
/* ------------------------------------------------------------------------------------------------------------ */
/* Work space of hv4_sweep for up to n points: the 3-D front (fx, fy, fz: n + 4 each), the staircase (st:
 * n + 1 pairs and the sentinels), sort keys (key: n); avx2: the AVX2 probes run. */
typedef struct {
    double *fx, *fy, *fz, *st;
    moo_key *key;
    int avx2;
} hv4_work;

#define HV4_COUNT_MAX 12 /* fronts of up to this many points: hv4_count_below_avx2 rather than the binary search */
#define HV4_WORK_DOUBLES(n) (5 * (size_t)(n) + 18) /* the doubles of hv4_work for n points (keys apart) */

/* Points the work space at mem (HV4_WORK_DOUBLES(n) doubles) and key (n keys). */
static inline void hv4_work_init(hv4_work *W, double *mem, moo_key *key, ptrdiff_t n, int avx2) {
    W->fx = mem;
    W->fy = W->fx + n + 4;
    W->fz = W->fy + n + 4;
    W->st = W->fz + n + 4 + 2; /* past the sentinel */
    W->key = key;
    W->avx2 = avx2;
}

/* p = (px, py, pz) against the z-sorted front [0, hi) (hi: the points with fz <= pz): returns 1 when one weakly
 * dominates p. Otherwise lowers *xcap to the least x of the points below p in z (fz < pz) worse than p in x only,
 * and *ycap to the least y of those worse in y only: p's "caps", which cut its 2-D box down. */
static inline int hv4_probe(const double *fx, const double *fy, const double *fz, ptrdiff_t hi, double px,
                            double py, double pz, double *xcap, double *ycap) {
    int dom = 0;
    double xc = *xcap, yc = *ycap;
    for (ptrdiff_t s = 0; s < hi; s++) {
        const int below = fz[s] < pz, nx = fx[s] <= px, ny = fy[s] <= py;
        dom |= nx & ny;
        xc = (below & !nx & ny) && fx[s] < xc ? fx[s] : xc;
        yc = (below & nx & !ny) && fy[s] < yc ? fy[s] : yc;
    }
    *xcap = xc;
    *ycap = yc;
    return dom;
}

#ifdef MOO_X86
/* hv4_probe, four at a time; fx, fy, fz hold +inf in [nf, nf + 3) */
__attribute__((target("avx2"))) static inline int hv4_probe_avx2(const double *fx, const double *fy,
                                                                  const double *fz, ptrdiff_t hi, double px,
                                                                  double py, double pz, double *xcap, double *ycap) {
    const __m256d vx = _mm256_set1_pd(px), vy = _mm256_set1_pd(py), vz = _mm256_set1_pd(pz),
                  inf = _mm256_set1_pd(INFINITY);
    __m256d xc = _mm256_set1_pd(*xcap), yc = _mm256_set1_pd(*ycap), dom = _mm256_setzero_pd();
    for (ptrdiff_t s = 0; s < hi; s += 4) {
        const __m256d x = _mm256_loadu_pd(fx + s), y = _mm256_loadu_pd(fy + s), z = _mm256_loadu_pd(fz + s);
        const __m256d nx = _mm256_cmp_pd(x, vx, _CMP_LE_OQ), ny = _mm256_cmp_pd(y, vy, _CMP_LE_OQ);
        const __m256d below = _mm256_cmp_pd(z, vz, _CMP_LT_OQ);
        dom = _mm256_or_pd(dom, _mm256_and_pd(_mm256_and_pd(nx, ny), _mm256_cmp_pd(z, vz, _CMP_LE_OQ)));
        xc = _mm256_min_pd(xc, _mm256_blendv_pd(inf, x, _mm256_andnot_pd(nx, _mm256_and_pd(ny, below))));
        yc = _mm256_min_pd(yc, _mm256_blendv_pd(inf, y, _mm256_andnot_pd(ny, _mm256_and_pd(nx, below))));
    }
    if (_mm256_movemask_pd(dom)) return 1;
    __m128d a = _mm_min_pd(_mm256_castpd256_pd128(xc), _mm256_extractf128_pd(xc, 1));
    *xcap = _mm_cvtsd_f64(_mm_min_sd(a, _mm_unpackhi_pd(a, a)));
    a = _mm_min_pd(_mm256_castpd256_pd128(yc), _mm256_extractf128_pd(yc, 1));
    *ycap = _mm_cvtsd_f64(_mm_min_sd(a, _mm_unpackhi_pd(a, a)));
    return 0;
}

/* The front points below p in z (*pos) and those not above it (*hi), four at a time (the front's last block padded
 * with +inf). */
__attribute__((target("avx2,popcnt"))) static inline void hv4_count_below_avx2(const double *fz, ptrdiff_t nf,
                                                                                double pz, ptrdiff_t *pos,
                                                                                ptrdiff_t *hi) {
    const __m256d vz = _mm256_set1_pd(pz);
    ptrdiff_t lt = 0, le = 0;
    for (ptrdiff_t s = 0; s < nf; s += 4) {
        const __m256d z = _mm256_loadu_pd(fz + s);
        lt += __builtin_popcount((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(z, vz, _CMP_LT_OQ)));
        le += __builtin_popcount((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(z, vz, _CMP_LE_OQ)));
    }
    *pos = lt;
    *hi = le;
}

/* The front's points [from, from + tail) up by one place, four at a time from the top (the arrays have room for four
 * values past the front's end). */
__attribute__((target("avx2"))) static inline void hv4_shift_up_avx2(double *fx, double *fy, double *fz,
                                                                      ptrdiff_t from, ptrdiff_t tail) {
    for (ptrdiff_t s = from + ((tail - 1) & ~(ptrdiff_t)3); s >= from; s -= 4) {
        const __m256d x = _mm256_loadu_pd(fx + s), y = _mm256_loadu_pd(fy + s), z = _mm256_loadu_pd(fz + s);
        _mm256_storeu_pd(fx + s + 1, x);
        _mm256_storeu_pd(fy + s + 1, y);
        _mm256_storeu_pd(fz + s + 1, z);
    }
}
/* The front's +inf padding at nf, one store per array. */
__attribute__((target("avx2"))) static inline void hv4_pad_avx2(double *fx, double *fy, double *fz, ptrdiff_t nf) {
    const __m256d inf = _mm256_set1_pd(INFINITY);
    _mm256_storeu_pd(fx + nf, inf);
    _mm256_storeu_pd(fy + nf, inf);
    _mm256_storeu_pd(fz + nf, inf);
}

/* The front points [0, pos) that may reach into p's box cut down by the caps (worse than p in x and y, below
 * both caps), four at a time from the top down: bit l of the result for point 4 * b + l of block b. */
__attribute__((target("avx2"))) static inline unsigned hv4_base_block_avx2(const double *fx, const double *fy,
                                                                            ptrdiff_t b, ptrdiff_t pos, double px,
                                                                            double py, double xcap, double ycap) {
    const __m256d x = _mm256_loadu_pd(fx + 4 * b), y = _mm256_loadu_pd(fy + 4 * b);
    const __m256d inx = _mm256_and_pd(_mm256_cmp_pd(x, _mm256_set1_pd(px), _CMP_GT_OQ),
                                      _mm256_cmp_pd(x, _mm256_set1_pd(xcap), _CMP_LT_OQ));
    const __m256d iny = _mm256_and_pd(_mm256_cmp_pd(y, _mm256_set1_pd(py), _CMP_GT_OQ),
                                      _mm256_cmp_pd(y, _mm256_set1_pd(ycap), _CMP_LT_OQ));
    const __m256d in = _mm256_and_pd(inx, iny);
    const ptrdiff_t left = pos - 4 * b;
    return (unsigned)_mm256_movemask_pd(in) & (left >= 4 ? 15u : (1u << left) - 1u);
}
#endif

/* st: p's staircase from the front points below it in z (pos of them), p not dominated, in p's box cut down by the
 * caps (which it takes as its box rather than as two points): the points worse than p in x and y inside that box,
 * downwards (the nearest, most covering ones first), each skipped when the last one added covers it. Returns the
 * last one added in *lx, *ly. */
static MOO_ALWAYS_INLINE void hv4_base(hv_stair *st, const hv4_work *W, int avx2, ptrdiff_t pos, double px,
                                       double py, double xcap, double ycap, double *lxo, double *lyo) {
    const double *fx = W->fx, *fy = W->fy;
    double lx = INFINITY, ly = INFINITY;
    hv_stair_clear(st, xcap, ycap);
#define HV4_BASE_ADD(s)                                                                                            \
    do {                                                                                                           \
        const double qx = fx[s], qy = fy[s];                                                                       \
        if ((qx < lx) | (qy < ly)) {                                                                               \
            hv_stair_add(st, qx, qy);                                                                              \
            lx = qx;                                                                                               \
            ly = qy;                                                                                               \
        }                                                                                                          \
    } while (0)
#ifdef MOO_X86
    if (avx2) {
        for (ptrdiff_t b = (pos - 1) >> 2; b >= 0; b--) {
            unsigned m = hv4_base_block_avx2(fx, fy, b, pos, px, py, xcap, ycap);
            while (m) {
                const int l = 31 - __builtin_clz(m);
                m &= ~(1u << l);
                HV4_BASE_ADD(4 * b + l);
            }
        }
    } else
#else
    (void)avx2;
#endif
    {
        for (ptrdiff_t s = pos - 1; s >= 0; s--) {
            if ((fx[s] > px) & (fy[s] > py) & (fx[s] < xcap) & (fy[s] < ycap)) HV4_BASE_ADD(s);
        }
    }
#undef HV4_BASE_ADD
    *lxo = lx;
    *lyo = ly;
}

/* The first run of equal w (nc0 >= 2 points, the points not worse than p in w when hv5.h calls): they all enter at
 * once; a z-sweep over one 2-D staircase gives their 3-D volume, and the points it keeps form the z-sorted front.
 * Returns that volume; *nfo: the front's size. */
static double hv4_first_run(const double *cx, const double *cy, const double *cz, ptrdiff_t nc0, const double *cap,
                            const hv4_work *W, ptrdiff_t *nfo) {
    moo_key *key = W->key;
    for (ptrdiff_t t = 0; t < nc0; t++) { key[t].k = cz[t]; key[t].i = t; }
    if (nc0 <= 32) { /* insertion sort by (z, y, x): a weakly dominating point comes first */
        for (ptrdiff_t t = 1; t < nc0; t++) {
            const moo_key v = key[t];
            const double vz = v.k, vy = cy[v.i], vx = cx[v.i];
            ptrdiff_t u = t;
            while (u > 0) {
                const moo_key o = key[u - 1];
                if (o.k < vz || (o.k == vz && (cy[o.i] < vy || (cy[o.i] == vy && cx[o.i] <= vx)))) break;
                key[u] = o;
                u--;
            }
            key[u] = v;
        }
    } else {
        moo_sort_key(key, nc0);
    }
    hv_stair st;
    hv_stair_init(&st, W->st, cap[0], cap[1]);
    ptrdiff_t nf = 0;
    double vol3 = 0.0;
    for (ptrdiff_t u = 0; u < nc0; u++) {
        const ptrdiff_t t = key[u].i;
        const double before = st.dom;
        if (hv_stair_add(&st, cx[t], cy[t])) {
            vol3 += (st.dom - before) * (cap[2] - cz[t]);
            W->fx[nf] = cx[t]; W->fy[nf] = cy[t]; W->fz[nf] = cz[t];
            nf++;
        }
    }
    *nfo = nf;
    return vol3;
}

/* Clipped projection (qx, qy) of a front point onto p's 2-D box: sets covered when it covers the whole box (q <= p
 * in x and y); a cap (worse in one of x, y only) that improves on xcap / ycap, or a point worse in both that is
 * inside the cut box and not covered by the last one added (lx, ly), goes into the staircase st. A cap is never
 * covered there (nothing in st sits at or left of px below ycap, nor at or below py left of xcap): it goes in by
 * hv_stair_put, a y cap at index 0. Expects px, py, xcap, ycap, lx, ly, covered and st in scope. */
#define HV_CLIP_ADD(qx, qy)                                                                              \
    do {                                                                                                 \
        if ((qx) <= px) {                                                                                \
            if ((qy) <= py) { covered = 1; break; }                                                      \
            if ((qy) < ycap) { ycap = (qy); hv_stair_put(&st, 0, px, (qy)); }                            \
        } else if ((qy) <= py) {                                                                         \
            if ((qx) < xcap) { xcap = (qx); hv_stair_put(&st, hv_stair_search(&st, (qx)), (qx), py); }   \
        } else if ((qy) < ycap && (qx) < xcap && !((qx) >= lx && (qy) >= ly)) {                          \
            hv_stair_add(&st, (qx), (qy));                                                               \
            lx = (qx); ly = (qy);                                                                        \
        }                                                                                                \
    } while (0)

/* p = (px, py, pz), not dominated by the z-sorted front [0, nf) and entering at pos (the points with fz < pz below
 * it), with its staircase st from the points below (in the box cut down by xcap, ycap): adds the volume of p's 3-D
 * contribution swept from pz up through the points above (each shrinks the 2-D area left until one covers p's box),
 * and puts p into the front, dropping the points it dominates (compaction in place, carrying one point). Returns the
 * contribution; *nfo: the front's new size (its 3 padding values renewed). */
static MOO_ALWAYS_INLINE double hv4_lift(hv_stair *stp, const hv4_work *W, ptrdiff_t nf, ptrdiff_t pos, double px,
                                         double py, double pz, double xcap, double ycap, double lx, double ly,
                                         const double *cap, ptrdiff_t *nfo, const int avx2) {
    double *fx = W->fx, *fy = W->fy, *fz = W->fz;
    const double A = (xcap - px) * (ycap - py); /* the staircase's box: p's cut down by the caps */
    hv_stair st = *stp;
    int covered = 0;
    double carx = px, cary = py, carz = pz, cc = 0.0, zcur = pz;
    ptrdiff_t w = pos, j = pos;
    for (; j < nf; j++) {
        const double qx = fx[j], qy = fy[j], qz = fz[j];
        if ((qx < xcap) & (qy < ycap)) { /* the others leave the area as it is: their slab is part of the last */
            cc += (A - st.dom) * (qz - zcur);
            zcur = qz;
            HV_CLIP_ADD(qx, qy);
            if (covered) break;
        }
        if (!((qx >= px) & (qy >= py))) {
            fx[w] = carx; fy[w] = cary; fz[w] = carz;
            w++;
            carx = qx; cary = qy; carz = qz;
        }
    }
    if (covered) {
        /* front[j] covers p's 2-D box from its z up; it stays unless p dominates it (equal x and y) */
        const ptrdiff_t from = (fx[j] >= px && fy[j] >= py) ? j + 1 : j, tail = nf - from;
        if (w == from) { /* nothing left free: shift the tail up by one */
#ifdef MOO_X86
            if (avx2) {
                if (tail > 0) hv4_shift_up_avx2(fx, fy, fz, from, tail);
            } else
#endif
                for (ptrdiff_t s = nf - 1; s >= from; s--) { fx[s + 1] = fx[s]; fy[s + 1] = fy[s]; fz[s + 1] = fz[s]; }
        } else if (w + 1 < from) {
            for (ptrdiff_t s = 0; s < tail; s++) {
                fx[w + 1 + s] = fx[from + s]; fy[w + 1 + s] = fy[from + s]; fz[w + 1 + s] = fz[from + s];
            }
        }
        fx[w] = carx; fy[w] = cary; fz[w] = carz;
        nf = w + 1 + tail;
    } else {
        cc += (A - st.dom) * (cap[2] - zcur);
        fx[w] = carx; fy[w] = cary; fz[w] = carz;
        nf = w + 1;
    }
#ifdef MOO_X86
    if (avx2) hv4_pad_avx2(fx, fy, fz, nf);
    else
#else
    (void)avx2;
#endif
        for (int l = 0; l < 3; l++) fx[nf + l] = fy[nf + l] = fz[nf + l] = INFINITY; /* the probes' last block */
    *nfo = nf;
    return cc;
}

/* 4-D hypervolume, reference cap, of the nc points (cx, cy, cz, cw)[t] given in ascending w, each strictly inside
 * cap: a w-sweep keeping the 3-D front in z-sorted arrays (HV4D+-style). A point weakly dominated by the front is
 * skipped; otherwise its 3-D contribution is its box minus the volume swept by its clipped 2-D staircase: the
 * front points below it in z form the base (one vectorised probe finds a dominating point and the caps, which cut
 * the box down and become the staircase's box; one vectorised pass the other points that reach into the cut box),
 * those above shrink it until one covers it. The front points below p in z (and those level with it, which the
 * probe also reads) are counted by AVX2 compares while the front holds at most HV4_COUNT_MAX points (hv5d's limit
 * sets: about 6), found by binary search beyond; the lift's tail shift and padding are AVX2 stores, and its caps go
 * into the staircase without the tests a cap cannot fail. The 4-D volume adds each contribution times its w
 * distance to cap (the first run's volume likewise), so that nothing is added for a skipped point and no running
 * 3-D volume is carried. Compiled twice (hv4_sweep picks one): with AVX2 throughout, so that the probes inline, and
 * portable. */
static MOO_ALWAYS_INLINE double hv4_sweep_body(const double *cx, const double *cy, const double *cz,
                                              const double *cw, ptrdiff_t nc, const double *cap, const hv4_work *W,
                                              const int avx2) {
    const double rx = cap[0], ry = cap[1], rw = cap[3];
    double *fx = W->fx, *fy = W->fy, *fz = W->fz;
    hv_stair st;
    hv_stair_init(&st, W->st, rx, ry);
    ptrdiff_t nf = 0, t0 = 0;
    double hv = 0.0;
    while (t0 < nc && cw[t0] == cw[0]) t0++;
    if (t0 > 1) {
        hv = hv4_first_run(cx, cy, cz, t0, cap, W, &nf) * (rw - cw[0]);
    } else {
        t0 = 0;
    }
    for (int l = 0; l < 3; l++) fx[nf + l] = fy[nf + l] = fz[nf + l] = INFINITY;
    for (ptrdiff_t t = t0; t < nc; t++) {
        const double px = cx[t], py = cy[t], pz = cz[t];
        ptrdiff_t pos, hi;
#ifdef MOO_X86
        if (avx2 && nf <= HV4_COUNT_MAX) hv4_count_below_avx2(fz, nf, pz, &pos, &hi);
        else
#endif
        {
            pos = nf ? moo_lower_bound(fz, nf, pz) : 0; /* the front points below p in z */
            hi = pos;
            while (hi < nf && fz[hi] == pz) hi++;
        }
        double xcap = rx, ycap = ry, lx, ly;
        int dom;
#ifdef MOO_X86
        if (avx2) dom = hv4_probe_avx2(fx, fy, fz, hi, px, py, pz, &xcap, &ycap);
        else
#endif
            dom = hv4_probe(fx, fy, fz, hi, px, py, pz, &xcap, &ycap);
        if (!dom) {
            hv4_base(&st, W, avx2, pos, px, py, xcap, ycap, &lx, &ly);
            hv += hv4_lift(&st, W, nf, pos, px, py, pz, xcap, ycap, lx, ly, cap, &nf, avx2) * (rw - cw[t]);
        }
    }
    return hv;
}

static double hv4_sweep_portable(const double *cx, const double *cy, const double *cz, const double *cw,
                                 ptrdiff_t nc, const double *cap, const hv4_work *W) {
    return hv4_sweep_body(cx, cy, cz, cw, nc, cap, W, 0);
}

#ifdef MOO_X86
__attribute__((target("avx2"))) static double hv4_sweep_avx2(const double *cx, const double *cy, const double *cz,
                                                             const double *cw, ptrdiff_t nc, const double *cap,
                                                             const hv4_work *W) {
    return hv4_sweep_body(cx, cy, cz, cw, nc, cap, W, 1);
}
#endif

static inline double hv4_sweep(const double *cx, const double *cy, const double *cz, const double *cw, ptrdiff_t nc,
                               const double *cap, const hv4_work *W) {
#ifdef MOO_X86
    if (W->avx2) return hv4_sweep_avx2(cx, cy, cz, cw, nc, cap, W);
#endif
    return hv4_sweep_portable(cx, cy, cz, cw, nc, cap, W);
}

#endif
