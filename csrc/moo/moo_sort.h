/* Stable sorting helpers shared by the multi-objective kernels (plain C, no Python).
 *
 * Doubles are mapped to order-preserving unsigned 64-bit keys (-0.0 is folded onto +0.0 so that keys are equal
 * exactly when the doubles compare equal), then sorted with a stable LSD radix sort (11-bit digits, passes whose
 * digit is constant are skipped) or, for short arrays, a stable insertion / merge sort.
 */
#ifndef NSGANETV2_MOO_SORT_H
#define NSGANETV2_MOO_SORT_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef MOO_RADIX_MIN
#define MOO_RADIX_MIN 192
#endif
#define MOO_INSERTION_MAX 24

static inline uint64_t moo_dkey(double x) {
    uint64_t u;
    x += 0.0; /* -0.0 -> +0.0; not folded away by the compiler without -ffast-math */
    memcpy(&u, &x, sizeof u);
    return (u & 0x8000000000000000ULL) ? ~u : (u | 0x8000000000000000ULL);
}

/* inverse of moo_dkey (-0.0 comes back as +0.0) */
static inline double moo_dkey_inv(uint64_t u) {
    u = (u & 0x8000000000000000ULL) ? (u & 0x7FFFFFFFFFFFFFFFULL) : ~u;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void moo_insertion_u64(uint64_t *k, int32_t *v, int32_t n) {
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
static void moo_merge_u64(uint64_t *k, int32_t *v, int32_t n, uint64_t *tk, int32_t *tv) {
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
static void moo_lsd_u64(uint64_t *k, int32_t *v, int32_t n, uint64_t *tk, int32_t *tv, uint32_t *cnt) {
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
static void moo_sort_u64_big(uint64_t *k, int32_t *v, int32_t n, uint64_t *tk, int32_t *tv, uint32_t *cnt,
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
 * Slots: 0 sorting workspace, 1 the driver's arrays, 2 a kernel's arrays, 3 the first-front filter. Each slot
 * has one user at a time. */
#define MOO_SCRATCH_KEEP ((size_t)32 << 20)
typedef struct {
    unsigned char *buf[4];
    size_t cap[4];
} moo_scratch_t;

static pthread_key_t moo_scr_key;
static pthread_once_t moo_scr_once = PTHREAD_ONCE_INIT;
static int moo_scr_key_ok = 0;

static void moo_scr_destroy(void *p) {
    moo_scratch_t *s = (moo_scratch_t *)p;
    for (int i = 0; i < 4; i++) free(s->buf[i]);
    free(s);
}

static void moo_scr_make_key(void) { moo_scr_key_ok = pthread_key_create(&moo_scr_key, moo_scr_destroy) == 0; }

static moo_scratch_t *moo_scr_state(void) {
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
static void *moo_scratch_get(int slot, size_t bytes) {
    moo_scratch_t *s = moo_scr_state();
    if (!s) return NULL;
    if (bytes > s->cap[slot]) {
        free(s->buf[slot]);
        s->buf[slot] = (unsigned char *)malloc(bytes);
        s->cap[slot] = s->buf[slot] ? bytes : 0;
    }
    return s->buf[slot];
}

static void moo_scratch_release(int slot) {
    moo_scratch_t *s = moo_scr_state();
    if (s && s->cap[slot] > MOO_SCRATCH_KEEP) {
        free(s->buf[slot]);
        s->buf[slot] = NULL;
        s->cap[slot] = 0;
    }
}

#define MOO_ALIGN(b) (((b) + 63) & ~(size_t)63)

static int moo_sortws_init(moo_sortws *w, int32_t n) {
    size_t nn = n > 0 ? (size_t)n : 1;
    size_t s_key = MOO_ALIGN(nn * sizeof(uint64_t)), s_tv = MOO_ALIGN(nn * sizeof(int32_t));
    size_t s_cnt = MOO_ALIGN(6 * 2048 * sizeof(uint32_t)), s_bk = MOO_ALIGN((2 * nn + 2) * sizeof(uint32_t));
    unsigned char *p = (unsigned char *)moo_scratch_get(0, 2 * s_key + s_tv + s_cnt + s_bk);
    if (!p) {
        memset(w, 0, sizeof *w);
        return -1;
    }
    w->key = (uint64_t *)p;
    w->tk = (uint64_t *)(p + s_key);
    w->tv = (int32_t *)(p + 2 * s_key);
    w->cnt = (uint32_t *)(p + 2 * s_key + s_tv);
    w->bk = (uint32_t *)(p + 2 * s_key + s_tv + s_cnt);
    return 0;
}

static void moo_sortws_free(moo_sortws *w) {
    (void)w;
    moo_scratch_release(0);
}

/* Sort idx[lo:hi] lexicographically by columns col.. of the row-major (., m) matrix F; stable. */
static void moo_lex_range(const double *F, int m, int32_t *idx, int32_t lo, int32_t hi, int col, moo_sortws *w) {
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

#if defined(__GNUC__)
__attribute__((unused))
#endif
/* idx := the permutation that sorts the rows of F (n x m) lexicographically (ties by row index). 0 or -1 (memory). */
static int moo_lexsort_rows(const double *F, int32_t n, int m, int32_t *idx) {
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

#endif
