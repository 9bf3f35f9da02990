/* Non-dominated sorting (all fronts) and the first front, minimisation, weak dominance (plain C, no Python).
 *
 * q dominates p iff q <= p in every objective and q < p in at least one; exact duplicates share a front.
 *
 * Few rows (M >= 3, up to moo_pairs_most_rows(M) rows: 64 at M = 3 to 384 at M = 6..10, then fewer as M grows;
 * where the CPU has AVX2): pairs of rows are compared without a branch, four at a time (moo_nds_pairs); the first
 * front skips the rows already dominated.
 *
 * Every other path sweeps the rows in lexicographic order (so a dominator always precedes what it dominates and
 * duplicates are adjacent), and a row is only ever tested against rows before it: since rows are distinct after
 * duplicates are set aside, "precedes and is <= in objectives 2..M" already means "dominates".
 *
 * All fronts, M = 2 and 3, from MOO_SWEEP_MIN_N rows on (moo_nds_sweep): no row is copied. One arena holds the rows' order as int32 indices and
 * their first objective's keys (12 bytes a point, 4 more while sorting); the output array is the sort's scratch.
 * The sort is one bucket pass, linear in the first objective's value (about one key a bucket; radix sort for long
 * buckets, then one insertion pass; runs of equal first keys ordered by the later objectives). One pass in that
 * order then reads each row from F, gives a copy of the previous row its rank, and writes the rank straight into
 * the output:
 *   M = 2  the rank is the first front whose least f2 so far is above the row's: a search with a fixed number of
 *          steps over those minima (padded to a power of two), so that a row's search never waits on the
 *          previous row's result (O(N log K));
 *   M = 3  the (f2, f3) plane is cut into a grid of quantile buckets; per front and f2 bucket the least f3 to the
 *          left (T) and a small staircase of the front's rows in the bucket; per grid cell the number of fronts
 *          whose T lies below it (R). R brackets the rank to the few fronts crossing the row's cell, T settles
 *          most of those, and a binary search over the staircases the rest (see moo_sweep3). When its tables
 *          would outgrow their budget (very many fronts, or fronts that stay long staircases in (f2, f3)) the
 *          sweep gives up and the path below runs instead.
 * Otherwise (first front, M = 1, M >= 4, fewer rows, the sweep's fallback) the rows are copied in sorted order with duplicates
 * collapsed, and the kernels see distinct, sorted rows:
 *   M = 1  rank = position among the distinct values;
 *   M = 2  binary search over the fronts' minimum f2 (first front: a running minimum);
 *   M = 3  binary search over the fronts, each front a staircase over (f2, f3) kept as a 64-ary bitset tree over
 *          the f2-ranks (O(N log K log_64 N)); with very many fronts (bitset memory) treap staircases instead;
 *   M >= 4 ENS-BS with one bucket k-d tree per front over f2..fM ("ENS-NDT", Gustavsson & Syberfeldt 2018), split
 *          at the median of the widest objective, subtrees pruned by their componentwise minimum corner.
 * The first front alone (moo_nds with first_only) first drops, in linear passes, the points dominated by a few
 * points of least coordinate sum, then runs the same machinery on the survivors.
 */
#ifndef NSGANETV2_MOO_NDS_H
#define NSGANETV2_MOO_NDS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moo_common.h"

#define MOO_ERR_MEMORY (-1)
/* a non-finite value in row r is reported as -(r + 2) */

/* ------------------------------------------------------------------ M = 2 ------------------------------------ */

static int32_t moo_rank2(const double *U, int32_t u, int32_t *r) {
    double *last = (double *)moo_scratch_get(2, (size_t)(u > 0 ? u : 1) * sizeof(double));
    if (!last) return MOO_ERR_MEMORY;
    int32_t K = 0;
    for (int32_t s = 0; s < u; s++) {
        double b = U[2 * s + 1];
        /* first front whose minimum f2 is > b (the minima never decrease with the front index); branch-free */
        int32_t lo = 0;
        if (K > 0) {
            const double *base = last;
            int32_t len = K;
            while (len > 1) {
                int32_t half = len >> 1;
                base = base[half] <= b ? base + half : base;
                len -= half;
            }
            lo = (int32_t)(base - last) + (base[0] <= b);
        }
        last[lo] = b;
        r[s] = lo;
        if (lo == K) K++;
    }
    moo_scratch_release(2);
    return K;
}

static int32_t moo_first2(const double *U, int32_t u, int32_t *r) {
    double best = INFINITY;
    int32_t first = 1;
    for (int32_t s = 0; s < u; s++) {
        double b = U[2 * s + 1];
        if (first || b < best) {
            best = b;
            r[s] = 0;
            first = 0;
        } else {
            r[s] = 1;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------ M = 3: treap staircases ----------------- */

typedef struct {
    const double *U; /* rows of 3 values; node id == row id */
    int32_t *l, *r;
    uint32_t *pri;
} moo_treap;

#define TK2(T, t) ((T)->U[3 * (int64_t)(t) + 1])
#define TK3(T, t) ((T)->U[3 * (int64_t)(t) + 2])

/* L: nodes with f2 < a, R: f2 >= a */
static void moo_tr_split2(moo_treap *T, int32_t t, double a, int32_t *L, int32_t *R) {
    while (t >= 0) {
        if (TK2(T, t) < a) {
            *L = t;
            L = &T->r[t];
            t = T->r[t];
        } else {
            *R = t;
            R = &T->l[t];
            t = T->l[t];
        }
    }
    *L = -1;
    *R = -1;
}

/* in a staircase f3 decreases with f2: L: prefix with f3 >= b, R: the rest */
static void moo_tr_split3(moo_treap *T, int32_t t, double b, int32_t *L, int32_t *R) {
    while (t >= 0) {
        if (TK3(T, t) >= b) {
            *L = t;
            L = &T->r[t];
            t = T->r[t];
        } else {
            *R = t;
            R = &T->l[t];
            t = T->l[t];
        }
    }
    *L = -1;
    *R = -1;
}

static int32_t moo_tr_merge(moo_treap *T, int32_t a, int32_t b) {
    int32_t root = -1;
    int32_t *slot = &root;
    while (a >= 0 && b >= 0) {
        if (T->pri[a] > T->pri[b]) {
            *slot = a;
            slot = &T->r[a];
            a = T->r[a];
        } else {
            *slot = b;
            slot = &T->l[b];
            b = T->l[b];
        }
    }
    *slot = a >= 0 ? a : b;
    return root;
}

/* is row p weakly dominated in (f2, f3) by a node of the staircase rooted at t? */
static inline int moo_tr_dominated(const moo_treap *T, int32_t t, double a, double b) {
    int32_t best = -1;
    while (t >= 0) {
        if (TK2(T, t) <= a) {
            best = t;
            t = T->r[t];
        } else {
            t = T->l[t];
        }
    }
    return best >= 0 && TK3(T, best) <= b;
}

static int32_t moo_tr_insert(moo_treap *T, int32_t root, int32_t p) {
    double a = TK2(T, p), b = TK3(T, p);
    int32_t L, R, D, R2;
    moo_tr_split2(T, root, a, &L, &R);
    moo_tr_split3(T, R, b, &D, &R2); /* D: now dominated by p in (f2, f3): dropped */
    T->l[p] = T->r[p] = -1;
    return moo_tr_merge(T, moo_tr_merge(T, L, p), R2);
}

static int32_t moo_rank3(const double *U, int32_t u, int32_t *r, int first_only) {
    size_t nn = (size_t)(u > 0 ? u : 1);
    moo_treap T;
    T.U = U;
    T.l = (int32_t *)malloc(nn * sizeof(int32_t));
    T.r = (int32_t *)malloc(nn * sizeof(int32_t));
    T.pri = (uint32_t *)malloc(nn * sizeof(uint32_t));
    int32_t *root = (int32_t *)malloc(nn * sizeof(int32_t));
    int32_t K = 0;
    if (!T.l || !T.r || !T.pri || !root) {
        K = MOO_ERR_MEMORY;
        goto done;
    }
    uint32_t x = 2463534242u;
    for (int32_t s = 0; s < u; s++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        T.pri[s] = x;
    }
    for (int32_t s = 0; s < u; s++) {
        double a = U[3 * (int64_t)s + 1], b = U[3 * (int64_t)s + 2];
        int32_t k;
        if (first_only) {
            if (K > 0 && moo_tr_dominated(&T, root[0], a, b)) {
                r[s] = 1;
                continue;
            }
            k = 0;
        } else {
            int32_t lo = 0, hi = K;
            while (lo < hi) {
                int32_t mid = (lo + hi) >> 1;
                if (moo_tr_dominated(&T, root[mid], a, b)) lo = mid + 1;
                else hi = mid;
            }
            k = lo;
        }
        if (k == K) {
            root[K++] = -1;
        }
        root[k] = moo_tr_insert(&T, root[k], s);
        r[s] = k;
    }
done:
    free(T.l);
    free(T.r);
    free(T.pri);
    free(root);
    return K;
}

/* ------------------------------------------------------------------ M = 3: rank-space bitset staircases ------- */
/* Same sweep as moo_rank3, but every front's staircase is a hierarchical bitset (moo_bits) over the f2-ranks of
 * the points (predecessor / successor in a few word operations). Memory is K * ~u/64 words, so when the fronts get
 * too many the caller falls back to the treaps (return value MOO_BITS_TOO_MANY). */
#define MOO_BITS_TOO_MANY (-3)
/* at most 32 words per point plus 1 MiB in all fronts' bitsets */
#define MOO_BITS_MAX_WORDS(u) ((int64_t)32 * (u) + 131072)

static int32_t moo_rank3b(const double *U, int32_t u, int32_t *r, int first_only) {
    moo_bits L;
    moo_bits_layout(&L, u);
    const int64_t W = L.W;
    size_t s_f = MOO_ALIGN((size_t)u * sizeof(double)), s_i = MOO_ALIGN((size_t)u * sizeof(int32_t));
    unsigned char *blk = (unsigned char *)moo_scratch_get(2, s_f + 3 * s_i);
    double *f3k = blk ? (double *)blk : NULL;
    int32_t *idx = blk ? (int32_t *)(blk + s_f) : NULL;
    int32_t *key = blk ? (int32_t *)(blk + s_f + s_i) : NULL;
    int32_t *hi2 = blk ? (int32_t *)(blk + s_f + 2 * s_i) : NULL;
    int64_t cap = first_only ? 1 : 4;
    uint64_t *B = (uint64_t *)calloc((size_t)(cap * W), sizeof(uint64_t));
    moo_sortws w;
    int32_t K = MOO_ERR_MEMORY;
    int ws_ok = moo_sortws_init(&w, u) == 0;
    if (!idx || !key || !hi2 || !f3k || !B || !ws_ok) goto done;
    /* f2-ranks (ties by position), and for each point the last rank holding its f2 value */
    for (int32_t s = 0; s < u; s++) {
        idx[s] = s;
        w.key[s] = moo_dkey(U[3 * (int64_t)s + 1]);
    }
    MOO_SORT(&w, w.key, idx, u);
    for (int32_t i = u - 1, last = u - 1; i >= 0; i--) {
        if (i < u - 1 && w.key[i] != w.key[i + 1]) last = i;
        key[idx[i]] = i;
        hi2[idx[i]] = last;
        f3k[i] = U[3 * (int64_t)idx[i] + 2];
    }
    K = 0;
    for (int32_t s = 0; s < u; s++) {
        double b = U[3 * (int64_t)s + 2];
        int64_t q = hi2[s];
        int32_t k;
        if (first_only) {
            if (K > 0) {
                int64_t t = moo_bits_pred(B, &L, q);
                if (t >= 0 && f3k[t] <= b) {
                    r[s] = 1;
                    continue;
                }
            }
            k = 0;
        } else {
            int32_t lo = 0, hi = K;
            while (lo < hi) {
                int32_t mid = (lo + hi) >> 1;
                int64_t t = moo_bits_pred(B + mid * W, &L, q);
                if (t >= 0 && f3k[t] <= b) lo = mid + 1;
                else hi = mid;
            }
            k = lo;
        }
        if (k == K) {
            if (K == cap) {
                int64_t ncap = 2 * cap;
                if (ncap * W > MOO_BITS_MAX_WORDS(u)) {
                    K = MOO_BITS_TOO_MANY;
                    goto done;
                }
                uint64_t *nb = (uint64_t *)realloc(B, (size_t)(ncap * W) * sizeof(uint64_t));
                if (!nb) {
                    K = MOO_ERR_MEMORY;
                    goto done;
                }
                B = nb;
                memset(B + cap * W, 0, (size_t)((ncap - cap) * W) * sizeof(uint64_t));
                cap = ncap;
            }
            K++;
        }
        uint64_t *Bk = B + (int64_t)k * W;
        int64_t kp = key[s];
        int64_t t = moo_bits_succ(Bk, &L, kp);
        while (t >= 0 && f3k[t] >= b) { /* now dominated by p in (f2, f3) */
            moo_bits_clear(Bk, &L, t);
            t = moo_bits_succ(Bk, &L, t + 1);
        }
        moo_bits_set(Bk, &L, kp);
        r[s] = k;
    }
done:
    moo_scratch_release(2);
    free(B);
    moo_sortws_free(&w);
    return K;
}

/* ------------------------------------------------------------------ M >= 4: bucket k-d trees ----------------- */

#ifndef NDT_B
#define NDT_B 32
#endif

typedef struct {
    int d; /* dimensions stored: objectives 2..M */
    /* nodes: leaf >= 0 is a bucket id; internal nodes have leaf == -1 */
    int32_t *leaf, *lo, *hi, *dep, *sj;
    double *sv;
    double *bmin; /* d values per node: componentwise minimum of the points below */
    int32_t nn, ncap;
    /* buckets */
    double *bc; /* NDT_B * d values per bucket */
    int32_t *bn;
    int32_t nb, bcap;
    int32_t *stack;
    int32_t scap;
} moo_ndt;

static int moo_ndt_grow_nodes(moo_ndt *T) {
    int32_t cap = T->ncap ? 2 * T->ncap : 64;
    int32_t **arrs[5] = {&T->leaf, &T->lo, &T->hi, &T->dep, &T->sj};
    for (int i = 0; i < 5; i++) {
        int32_t *p = (int32_t *)realloc(*arrs[i], (size_t)cap * sizeof(int32_t));
        if (!p) return -1;
        *arrs[i] = p;
    }
    double *q = (double *)realloc(T->sv, (size_t)cap * sizeof(double));
    if (!q) return -1;
    T->sv = q;
    q = (double *)realloc(T->bmin, (size_t)cap * T->d * sizeof(double));
    if (!q) return -1;
    T->bmin = q;
    int32_t *s = (int32_t *)realloc(T->stack, (size_t)(cap + 1) * sizeof(int32_t));
    if (!s) return -1;
    T->stack = s;
    T->scap = cap + 1;
    T->ncap = cap;
    return 0;
}

static int moo_ndt_grow_buckets(moo_ndt *T) {
    int32_t cap = T->bcap ? 2 * T->bcap : 32;
    double *q = (double *)realloc(T->bc, (size_t)cap * NDT_B * T->d * sizeof(double));
    if (!q) return -1;
    T->bc = q;
    int32_t *p = (int32_t *)realloc(T->bn, (size_t)cap * sizeof(int32_t));
    if (!p) return -1;
    T->bn = p;
    T->bcap = cap;
    return 0;
}

static int32_t moo_ndt_new_leaf(moo_ndt *T, int32_t depth) {
    if (T->nn == T->ncap && moo_ndt_grow_nodes(T)) return -1;
    if (T->nb == T->bcap && moo_ndt_grow_buckets(T)) return -1;
    int32_t t = T->nn++;
    int32_t b = T->nb++;
    T->leaf[t] = b;
    T->bn[b] = 0;
    T->dep[t] = depth;
    for (int j = 0; j < T->d; j++) T->bmin[(int64_t)t * T->d + j] = INFINITY;
    return t;
}

static void moo_ndt_free(moo_ndt *T) {
    free(T->leaf);
    free(T->lo);
    free(T->hi);
    free(T->dep);
    free(T->sj);
    free(T->sv);
    free(T->bmin);
    free(T->bc);
    free(T->bn);
    free(T->stack);
}

/* is c (d values) weakly dominated by a point stored in the tree rooted at root? st: room for T->scap node ids (the
 * tree is only read, so threads may query one tree at once, each with its own st) */
static int moo_ndt_dominated_on(const moo_ndt *T, int32_t root, const double *c, int32_t *st) {
    const int d = T->d;
    int32_t top = 0;
    st[top++] = root;
    while (top) {
        int32_t t = st[--top];
        const double *bm = T->bmin + (int64_t)t * d;
        int jj = 0;
        while (jj < d && bm[jj] <= c[jj]) jj++;
        if (jj < d) continue; /* some objective is larger than c's everywhere below t */
        int32_t b = T->leaf[t];
        if (b >= 0) {
            const double *q = T->bc + (int64_t)b * NDT_B * d;
            int32_t cnt = T->bn[b];
            for (int32_t i = 0; i < cnt; i++, q += d) {
                int j = 0;
                while (j < d && q[j] <= c[j]) j++;
                if (j == d) return 1;
            }
        } else {
            if (c[T->sj[t]] >= T->sv[t]) st[top++] = T->hi[t];
            st[top++] = T->lo[t]; /* the low side is searched first */
        }
    }
    return 0;
}

static inline int moo_ndt_dominated(moo_ndt *T, int32_t root, const double *c) {
    return moo_ndt_dominated_on(T, root, c, T->stack);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* split the full leaf t; 0 or -1 (memory) */
static int moo_ndt_split(moo_ndt *T, int32_t t) {
    const int d = T->d;
    int32_t b = T->leaf[t];
    int32_t cnt = T->bn[b];
    double vals[NDT_B + 1];
    int j = -1;
    double s = 0.0;
    {
        /* split the objective with the widest spread in this bucket, at its median */
        const double *q = T->bc + (int64_t)b * NDT_B * d;
        double bestw = 0.0;
        for (int jj = 0; jj < d; jj++) {
            double lo = q[jj], hi = q[jj];
            for (int32_t i = 1; i < cnt; i++) {
                double x = q[(int64_t)i * d + jj];
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
            if (hi - lo > bestw) {
                bestw = hi - lo;
                j = jj;
            }
        }
        if (j >= 0) {
            for (int32_t i = 0; i < cnt; i++) vals[i] = q[(int64_t)i * d + j];
            qsort(vals, (size_t)cnt, sizeof(double), cmp_double);
            s = vals[cnt / 2];
            if (s == vals[0]) {
                int32_t i = cnt / 2;
                while (vals[i] == vals[0]) i++;
                s = vals[i];
            }
        }
    }
    if (j < 0) return -1; /* impossible: points of one front differ in some objective after the first */
    int32_t depth = T->dep[t];
    int32_t a = moo_ndt_new_leaf(T, depth + 1);
    if (a < 0) return -1;
    int32_t c = moo_ndt_new_leaf(T, depth + 1);
    if (c < 0) return -1;
    int32_t ba = T->leaf[a], bc_ = T->leaf[c];
    const double *q = T->bc + (int64_t)b * NDT_B * d;
    for (int32_t i = 0; i < cnt; i++) {
        const double *row = q + (int64_t)i * d;
        int32_t dst = row[j] < s ? ba : bc_;
        memcpy(T->bc + ((int64_t)dst * NDT_B + T->bn[dst]) * d, row, (size_t)d * sizeof(double));
        T->bn[dst]++;
        double *bm = T->bmin + (int64_t)(dst == ba ? a : c) * d;
        for (int jj = 0; jj < d; jj++)
            if (row[jj] < bm[jj]) bm[jj] = row[jj];
    }
    /* t becomes internal; its bucket b is abandoned (buckets are cheap) */
    T->leaf[t] = -1;
    T->sj[t] = j;
    T->sv[t] = s;
    T->lo[t] = a;
    T->hi[t] = c;
    return 0;
}

static int moo_ndt_insert(moo_ndt *T, int32_t root, const double *c) {
    const int d = T->d;
    for (;;) {
        int32_t t = root;
        for (;;) {
            double *bm = T->bmin + (int64_t)t * d;
            for (int j = 0; j < d; j++)
                if (c[j] < bm[j]) bm[j] = c[j];
            if (T->leaf[t] >= 0) break;
            t = c[T->sj[t]] < T->sv[t] ? T->lo[t] : T->hi[t];
        }
        int32_t b = T->leaf[t];
        if (T->bn[b] < NDT_B) {
            memcpy(T->bc + ((int64_t)b * NDT_B + T->bn[b]) * d, c, (size_t)d * sizeof(double));
            T->bn[b]++;
            return 0;
        }
        if (moo_ndt_split(T, t)) return -1;
    }
}

static int32_t moo_rankd(const double *U, int32_t u, int m, int32_t *r, int first_only) {
    moo_ndt T;
    memset(&T, 0, sizeof T);
    T.d = m - 1;
    int32_t *root = (int32_t *)malloc((size_t)(u > 0 ? u : 1) * sizeof(int32_t));
    int32_t K = 0;
    if (!root) return MOO_ERR_MEMORY;
    for (int32_t s = 0; s < u; s++) {
        const double *c = U + (int64_t)s * m + 1;
        int32_t k;
        if (first_only) {
            if (K > 0 && moo_ndt_dominated(&T, root[0], c)) {
                r[s] = 1;
                continue;
            }
            k = 0;
        } else {
            int32_t lo = 0, hi = K;
            while (lo < hi) {
                int32_t mid = (lo + hi) >> 1;
                if (moo_ndt_dominated(&T, root[mid], c)) lo = mid + 1;
                else hi = mid;
            }
            k = lo;
        }
        if (k == K) {
            int32_t t = moo_ndt_new_leaf(&T, 0);
            if (t < 0) {
                K = MOO_ERR_MEMORY;
                goto done;
            }
            root[K++] = t;
        }
        if (moo_ndt_insert(&T, root[k], c)) {
            K = MOO_ERR_MEMORY;
            goto done;
        }
        r[s] = k;
    }
done:
    free(root);
    moo_ndt_free(&T);
    return K;
}

/* ------------------------------------------------------------------ M = 2, 3, all fronts: the sweep ---------- */
/* Rows are not copied: an arena of n column-0 keys and n int32 row indices (12 bytes a point, plus 4 bytes a point
 * of bucket counters while sorting) holds the lexicographic order, the output array serves as the sort's scratch,
 * and one pass in that order reads each row from F and writes its rank straight into the output. */

/* the first front's threads get at least this many rows each (below, a second thread pays for no more than its
 * start: bench_sort.py --threads --n 10000 30000) */
#define MOO_MT_MIN_ROWS 8192
/* the sweep from this many rows on (below, the row-copying path is as fast or faster, and much faster on one
 * front: bench_sort.py --large and the COPY / SWEEP algos compare them) */
#define MOO_SWEEP_MIN_N 65536
#define MOO_SWEEP_AHEAD 16   /* rows prefetched ahead in the sweeps */
#define MOO_SWEEP_SHORT 32   /* buckets and tie runs up to this long are finished by insertion sort */
#define MOO_SWEEP_SPREAD 1   /* the sort's bucket pass aims at this many keys a bucket */

/* the sweep gave up (the M = 3 tables would outgrow their memory budget): the caller takes moo_nds_core */
#define MOO_SWEEP_GIVE_UP (-4)

typedef struct {
    uint64_t *k;   /* n keys of column 0 (moo_dkey), ascending */
    int32_t *v;    /* n row indices in lexicographic row order */
    uint32_t *cnt; /* n / MOO_SWEEP_SPREAD + 2 bucket counters */
    uint32_t *lsd; /* 6 * 2048 counters of the radix sort */
} moo_sweep_arena;

static size_t moo_sweep_arena_bytes(int32_t n) {
    return MOO_ALIGN((size_t)n * sizeof(uint64_t)) + MOO_ALIGN((size_t)n * sizeof(int32_t)) +
           MOO_ALIGN(((size_t)n / MOO_SWEEP_SPREAD + 2) * sizeof(uint32_t)) + MOO_ALIGN(6 * 2048 * sizeof(uint32_t));
}

static void moo_sweep_arena_carve(moo_sweep_arena *A, unsigned char *p, int32_t n) {
    A->k = (uint64_t *)p;
    p += MOO_ALIGN((size_t)n * sizeof(uint64_t));
    A->v = (int32_t *)p;
    p += MOO_ALIGN((size_t)n * sizeof(int32_t));
    A->cnt = (uint32_t *)p;
    p += MOO_ALIGN(((size_t)n / MOO_SWEEP_SPREAD + 2) * sizeof(uint32_t));
    A->lsd = (uint32_t *)p;
}

/* Bucket pass: the rows spread over nb = n / MOO_SWEEP_SPREAD buckets (at least 1) by their first objective's value,
 * linearly between its least and largest value (a monotone map: equal values share a bucket, and the keys order the
 * inside of a bucket), their keys first written to scr; A->cnt[b] ends as the end of bucket b. Linear in the value
 * rather than in the key's bits, so that uniform data fills the buckets evenly (the keys' bits crowd the top binade);
 * data that is not spread evenly leaves long buckets to the radix sort. The key pass also checks the rows for NaN
 * and infinity (it reads them anyway). Returns nb, or -(r + 2) for the first row r holding a non-finite value. */
static inline double moo_sweep_min(double a, double b) { return a < b ? a : b; }

static int64_t moo_sweep_scatter(const double *F, int32_t n, int m, moo_sweep_arena *A, uint64_t *scr) {
    double lo = INFINITY, hi = -INFINITY;
    uint64_t nonfinite = 0;
    for (int32_t i = 0; i < n; i++) {
        const double *row = F + (int64_t)i * m;
        for (int j = 0; j < m; j++) {
            uint64_t u;
            memcpy(&u, row + j, sizeof u);
            nonfinite |= (~u & 0x7FF0000000000000ULL) == 0; /* all exponent bits set: NaN or infinity */
        }
        scr[i] = moo_dkey(row[0]);
        lo = row[0] < lo ? row[0] : lo;
        hi = row[0] > hi ? row[0] : hi;
    }
    if (nonfinite) return moo_first_nonfinite(F, n, m);
    const uint32_t nb = (uint32_t)(n / MOO_SWEEP_SPREAD > 1 ? n / MOO_SWEEP_SPREAD : 1);
    const double scale = hi > lo ? nb / (hi - lo) : 0.0; /* hi - lo may overflow to inf: scale 0, one bucket */
    const double top = (double)(nb - 1);
#define MOO_SWEEP_BUCKET(key) ((uint32_t)moo_sweep_min((moo_dkey_inv(key) - lo) * scale, top))
    uint32_t *cnt = A->cnt;
    memset(cnt, 0, ((size_t)nb + 1) * sizeof *cnt);
    for (int32_t i = 0; i < n; i++) cnt[MOO_SWEEP_BUCKET(scr[i]) + 1]++;
    for (uint32_t b = 1; b <= nb; b++) cnt[b] += cnt[b - 1];
    for (int32_t i = 0; i < n; i++) {
        const uint32_t pos = cnt[MOO_SWEEP_BUCKET(scr[i])]++;
        A->k[pos] = scr[i];
        A->v[pos] = i;
    }
#undef MOO_SWEEP_BUCKET
    return nb;
}

/* Finish every bucket in place: the long ones by the radix sort with scr (n words, free once the keys are
 * scattered) as its key scratch and, when it fits beside them, its index scratch; then one insertion pass over the
 * whole array, which moves keys only inside their (short) buckets. 0, or -1 (memory). */
static int moo_sweep_finish(int32_t n, moo_sweep_arena *A, uint32_t nb, uint64_t *scr) {
    uint32_t longest = 0, start = 0;
    for (uint32_t b = 0; b < nb; b++) {
        longest = A->cnt[b] - start > longest ? A->cnt[b] - start : longest;
        start = A->cnt[b];
    }
    int32_t *tv = NULL, *own = NULL;
    if (longest > MOO_SWEEP_SHORT) {
        if (12 * (size_t)longest <= 8 * (size_t)n) tv = (int32_t *)(scr + longest);
        else tv = own = (int32_t *)malloc((size_t)longest * sizeof(int32_t)); /* one bucket holds most keys */
        if (!tv) return -1;
    }
    start = 0;
    for (uint32_t b = 0; longest > MOO_SWEEP_SHORT && b < nb; b++) {
        const int32_t len = (int32_t)(A->cnt[b] - start);
        if (len > MOO_SWEEP_SHORT) moo_lsd_u64(A->k + start, A->v + start, len, scr, tv, A->lsd);
        start = A->cnt[b];
    }
    free(own);
    moo_insertion_u64(A->k, A->v, n);
    return 0;
}

/* row p before row q in columns from..m-1 (lexicographic) */
static inline int moo_row_less(const double *p, const double *q, int from, int m) {
    for (int j = from; j < m; j++) {
        if (p[j] != q[j]) return p[j] < q[j];
    }
    return 0;
}

/* rows a and b equal in all m columns */
static inline int moo_rows_equal(const double *a, const double *b, int m) {
    for (int j = 0; j < m; j++) {
        if (a[j] != b[j]) return 0;
    }
    return 1;
}

/* Rows with equal first keys are adjacent: order each such run by the later columns (insertion sort when short,
 * else moo_lex_range, whose scratch is the only memory ties cost). 0, or -1 (memory). */
static int moo_sweep_ties(const double *F, int32_t n, int m, const uint64_t *k, int32_t *v) {
    int32_t longest = 0;
    for (int32_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && k[j] == k[i]; j++) {
        }
        longest = j - i > longest ? j - i : longest;
    }
    if (longest < 2) return 0;
    moo_sortws w;
    if (longest > MOO_SWEEP_SHORT && moo_sortws_init(&w, longest)) {
        moo_sortws_free(&w);
        return -1;
    }
    for (int32_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && k[j] == k[i]; j++) {
        }
        if (j - i > MOO_SWEEP_SHORT) {
            moo_lex_range(F, m, v + i, 0, j - i, 1, &w);
            continue;
        }
        for (int32_t s = i + 1; s < j; s++) {
            const int32_t x = v[s];
            int32_t t = s;
            while (t > i && moo_row_less(F + (int64_t)x * m, F + (int64_t)v[t - 1] * m, 1, m)) {
                v[t] = v[t - 1];
                t--;
            }
            v[t] = x;
        }
    }
    if (longest > MOO_SWEEP_SHORT) moo_sortws_free(&w);
    return 0;
}

/* The lexicographic order of the rows into A (scr: n words of scratch). 0, MOO_ERR_MEMORY, or -(r + 2) for the
 * first row r holding NaN or infinity. */
static int64_t moo_sweep_sort(const double *F, int32_t n, int m, moo_sweep_arena *A, uint64_t *scr) {
    const int64_t nb = moo_sweep_scatter(F, n, m, A, scr);
    if (nb < 0) return nb;
    if (moo_sweep_finish(n, A, (uint32_t)nb, scr)) return MOO_ERR_MEMORY;
    return m > 1 && moo_sweep_ties(F, n, m, A->k, A->v) ? MOO_ERR_MEMORY : 0;
}

/* Prefetch the row and the output slot MOO_SWEEP_AHEAD positions ahead. */
static inline void moo_sweep_prefetch(const double *F, int m, const int32_t *v, int32_t s, int32_t n,
                                      const int64_t *out) {
    const int32_t i = v[s + MOO_SWEEP_AHEAD < n ? s + MOO_SWEEP_AHEAD : n - 1];
    __builtin_prefetch(F + (int64_t)i * m + 1);
    __builtin_prefetch(out + i, 1);
}

/* Count of the values <= x in the ascending a[0..cap) (cap a power of two, a[cap - 1] > x): a search with a fixed
 * number of steps, so that the next row's search does not wait on this row's result (no data dependence on K).
 * Consecutive rows' searches overlap, so it is bound by instructions, not by the loads' latency: a two-level search
 * (every 8th value searched first, then an 8-wide compare) was 8 % slower at N = 1e6. */
static inline int32_t moo_count_le_pow2(const double *a, int32_t cap, double x) {
    int32_t base = 0;
    for (int32_t step = cap >> 1; step > 0; step >>= 1) base += a[base + step - 1] <= x ? step : 0;
    return base + (a[base] <= x);
}

/* M = 2: the rank of row p is the first front whose least f2 so far is > p's f2 (every earlier row precedes p
 * lexicographically, so one with f2 <= p's dominates it). last[] holds those minima, non-decreasing, padded with
 * +inf to a power of two. Returns K, or MOO_ERR_MEMORY. */
static int32_t moo_sweep2(const double *F, int32_t n, int m, const moo_sweep_arena *A, int64_t *out) {
    int32_t cap = 64, K = 0, rank = 0;
    double *last = (double *)malloc((size_t)cap * sizeof(double));
    if (!last) return MOO_ERR_MEMORY;
    for (int32_t t = 0; t < cap; t++) last[t] = INFINITY;
    uint64_t pk = 0;
    double pb = NAN; /* the previous row (NaN: none, never equal) */
    for (int32_t s = 0; s < n; s++) {
        moo_sweep_prefetch(F, m, A->v, s, n, out);
        const int32_t i = A->v[s];
        const uint64_t key = A->k[s];
        const double b = F[(int64_t)i * m + 1];
        if (key != pk || b != pb) { /* a copy of the previous row keeps its rank */
            pk = key;
            pb = b;
            rank = moo_count_le_pow2(last, cap, b);
            last[rank] = b;
            if (rank == K && ++K == cap) {
                double *g = (double *)realloc(last, 2 * (size_t)cap * sizeof(double));
                if (!g) {
                    free(last);
                    return MOO_ERR_MEMORY;
                }
                last = g;
                for (int32_t t = cap; t < 2 * cap; t++) last[t] = INFINITY;
                cap *= 2;
            }
        }
        out[i] = rank;
    }
    free(last);
    return K;
}

/* ---- M = 3 ---- */
/* A row p = (a, b) in (f2, f3) is dominated by front j iff an earlier row of front j is <= p in f2 and f3. The f2
 * axis is cut into G buckets and the f3 axis into H buckets (quantiles of a sample of the column, looked up
 * through a table over the keys' leading bits: moo_axis). For front j and f2 bucket g:
 *   T[g][j]     the least f3 of front j's rows in buckets < g (+inf if none); non-decreasing in j, since every
 *               row of front j + 1 is dominated by one of front j;
 *   cell (g, j) front j's rows in bucket g as a staircase (f2 ascending, f3 descending), only those below T[g][j];
 *   R[g][h]     the number of fronts j whose T[g][j] lies in an f3 bucket < h.
 * For p in buckets (g, h), the fronts below R[g][h] dominate p and those from R[g + 1][h + 1] on do not; T settles
 * most of the few in between (T[g][j] <= b: dominated; T[g + 1][j] > b: not), and a binary search probing the
 * cells the rest. Inserting p into front j changes cell (g, j), lowers T[g'][j] to b for the buckets g' > g where
 * it was above, and counts front j into R for the f3 buckets it newly covers; each (g, h, j) is counted once. */

typedef struct {
    uint64_t kmin;
    int shift, nq;   /* fine cell of key x: (x - kmin) >> shift, clamped to [0, nq) */
    uint16_t *q;     /* fine cell -> bucket (non-decreasing) */
} moo_axis;

static inline int moo_axis_of(const moo_axis *X, double x) {
    const uint64_t key = moo_dkey(x);
    uint64_t c = key < X->kmin ? 0 : (key - X->kmin) >> X->shift;
    c = c < (uint64_t)X->nq ? c : (uint64_t)X->nq - 1;
    return X->q[c];
}

/* Buckets of column col: nb quantile buckets over a sample of at most 64 nb rows, through 16 nb fine cells of the
 * keys' range (a monotone map: what falls outside the sample's range takes the first or last cell). */
static int moo_axis_build(moo_axis *X, const double *F, int32_t n, int m, int col, int nb) {
    X->nq = 16 * nb;
    X->q = (uint16_t *)malloc((size_t)X->nq * sizeof(uint16_t));
    uint32_t *hist = (uint32_t *)calloc((size_t)X->nq, sizeof(uint32_t));
    if (!X->q || !hist) {
        free(hist);
        return -1;
    }
    const int32_t step = n / (64 * nb) > 1 ? n / (64 * nb) : 1;
    uint64_t kmin = UINT64_MAX, kmax = 0;
    int32_t taken = 0;
    for (int32_t i = 0; i < n; i += step, taken++) {
        const uint64_t x = moo_dkey(F[(int64_t)i * m + col]);
        kmin = x < kmin ? x : kmin;
        kmax = x > kmax ? x : kmax;
    }
    const uint64_t range = kmax - kmin;
    int shift = 0;
    while ((range >> shift) >= (uint64_t)X->nq) shift++;
    X->kmin = kmin;
    X->shift = shift;
    for (int32_t i = 0; i < n; i += step) hist[(moo_dkey(F[(int64_t)i * m + col]) - kmin) >> shift]++;
    int64_t before = 0;
    for (int c = 0; c < X->nq; c++) {
        const int64_t b = before * nb / taken; /* the cells past the sample's largest key: the last bucket */
        X->q[c] = (uint16_t)(b < nb ? b : nb - 1);
        before += hist[c];
    }
    free(hist);
    return 0;
}

typedef struct { int32_t off, n, cap; } moo_cell; /* a staircase: n (f2, f3) pairs at pool[off..), room for cap */

typedef struct {
    int G, H;
    moo_axis ax2, ax3;
    int32_t *R;        /* (G + 1) x (H + 1) */
    double *T;         /* (G + 1) x capK */
    moo_cell *C;       /* G x capK */
    int32_t capK, K;
    int64_t table_max; /* bytes T and C may take; beyond it the sweep gives up */
    double *pool;      /* pairs (f2, f3) */
    int32_t used, room, room_max; /* pairs taken (free blocks included), allocated, allowed */
    int32_t freel[32]; /* free blocks of 2 << c pairs (-1: none); a free block holds the next one's offset */
} moo_s3;

static void moo_s3_free(moo_s3 *S) {
    free(S->ax2.q);
    free(S->ax3.q);
    free(S->R);
    free(S->T);
    free(S->C);
    free(S->pool);
}

/* Room for front columns [S->capK, cap): the tables widened (rows moved from the last) and the new columns empty.
 * 0, -1 (memory) or 1 (over the budget: give up). */
static int moo_s3_widen(moo_s3 *S, int32_t cap) {
    const int G = S->G;
    const int64_t old = S->capK;
    if ((int64_t)cap * ((G + 1) * (int64_t)sizeof(double) + G * (int64_t)sizeof(moo_cell)) > S->table_max) return 1;
    double *T = (double *)realloc(S->T, (size_t)(G + 1) * cap * sizeof(double));
    if (T) S->T = T;
    moo_cell *C = (moo_cell *)realloc(S->C, (size_t)G * cap * sizeof(moo_cell));
    if (C) S->C = C;
    if (!T || !C) return -1;
    for (int64_t g = G; g >= 0; g--) {
        if (g > 0) memmove(T + g * cap, T + g * old, (size_t)old * sizeof(double));
        for (int64_t j = old; j < cap; j++) T[g * cap + j] = INFINITY;
        if (g == G) continue;
        if (g > 0) memmove(C + g * cap, C + g * old, (size_t)old * sizeof(moo_cell));
        memset(C + g * cap + old, 0, (size_t)(cap - old) * sizeof(moo_cell));
    }
    S->capK = cap;
    return 0;
}

/* Buckets a side of the grid: about sqrt(n) / 16, a power of two in [2, 64]. Budgets: T and C at most 2 bytes a
 * point (and 1 MiB), the staircases at most n / 2 pairs (and 65536); data that needs more (very many fronts, or
 * fronts whose rows stay mutually non-dominated in (f2, f3)) is left to the older kernels. tight (tests): a 2 x 2
 * grid and budgets of 64 fronts and n / 8 pairs, so that long staircases and giving up show at small n. */
static int moo_s3_init(moo_s3 *S, const double *F, int32_t n, int m, int tight) {
    memset(S, 0, sizeof *S);
    for (int c = 0; c < 32; c++) S->freel[c] = -1;
    int nb = 2;
    while (!tight && nb < 64 && (int64_t)(8 * 2 * nb) * (8 * 2 * nb) <= n) nb *= 2;
    S->G = S->H = nb;
    S->table_max = tight ? 64 * (int64_t)((nb + 1) * sizeof(double) + nb * sizeof(moo_cell))
                         : (int64_t)2 * n + ((int64_t)1 << 20);
    const int64_t room = tight ? n / 8 + 8 : n / 2 + 65536;
    S->room_max = (int32_t)(room < INT32_MAX / 2 ? room : INT32_MAX / 2);
    S->R = (int32_t *)calloc((size_t)(nb + 1) * (nb + 1), sizeof(int32_t));
    if (!S->R || moo_axis_build(&S->ax2, F, n, m, 1, nb) || moo_axis_build(&S->ax3, F, n, m, 2, nb)) return -1;
    return moo_s3_widen(S, 16);
}

/* a block of 2 << c pairs from the free list or the pool's end: its offset, -1 (memory) or -2 (over budget) */
static int32_t moo_s3_block(moo_s3 *S, int c) {
    const int32_t want = 2 << c;
    if (S->freel[c] >= 0) {
        const int32_t off = S->freel[c];
        memcpy(&S->freel[c], S->pool + 2 * (int64_t)off, sizeof(int32_t));
        return off;
    }
    if (S->used + want > S->room) {
        if (S->used + want > S->room_max) return -2;
        int64_t room = S->room ? 2 * (int64_t)S->room : 1024;
        while (room < S->used + want) room *= 2;
        room = room < S->room_max ? room : S->room_max;
        double *p = (double *)realloc(S->pool, (size_t)room * 2 * sizeof(double));
        if (!p) return -1;
        S->pool = p;
        S->room = (int32_t)room;
    }
    S->used += want;
    return S->used - want;
}

static inline int moo_s3_class(int32_t cap) { return __builtin_ctz((unsigned)cap) - 1; } /* cap = 2 << class */

/* does the staircase of cell c hold a pair <= (a, b)? (the last pair with f2 <= a has the least f3 of those) */
static inline int moo_cell_dominates(const double *pool, const moo_cell *c, double a, double b) {
    const double *e = pool + 2 * (int64_t)c->off;
    int32_t lo = 0, len = c->n;
    while (len > 8) { /* long staircases (few, on fronts that are single curves in (f2, f3)): halve first */
        const int32_t half = len >> 1;
        lo = e[2 * (lo + half - 1)] <= a ? lo + half : lo;
        len -= half;
    }
    int32_t cnt = lo;
    for (int32_t t = lo; t < lo + len; t++) cnt += e[2 * t] <= a;
    return cnt > 0 && e[2 * (cnt - 1) + 1] <= b;
}

/* Put (a, b) into the staircase of cell c, dropping the pairs it dominates and those not below t (T of the cell:
 * already dominated through an earlier bucket; they form the staircase's head). 0, -1 (memory), -2 (budget). */
static int moo_cell_insert(moo_s3 *S, moo_cell *c, double a, double b, double t) {
    double *e = S->pool + 2 * (int64_t)c->off;
    const int32_t n = c->n;
    int32_t j0 = 0;
    while (j0 < n && e[2 * j0] < a) j0++;
    int32_t p0 = 0, e1 = j0;
    while (p0 < j0 && e[2 * p0 + 1] >= t) p0++;
    while (e1 < n && e[2 * e1 + 1] >= b) e1++;
    const int32_t nn = (j0 - p0) + 1 + (n - e1);
    if (nn > c->cap) { /* move to a block twice as large */
        const int32_t cap = c->cap ? 2 * c->cap : 2;
        const int32_t off = moo_s3_block(S, moo_s3_class(cap));
        if (off < 0) return off;
        e = S->pool + 2 * (int64_t)c->off; /* the pool may have moved */
        double *d = S->pool + 2 * (int64_t)off;
        memcpy(d, e + 2 * p0, (size_t)(j0 - p0) * 2 * sizeof(double));
        memcpy(d + 2 * (j0 - p0 + 1), e + 2 * e1, (size_t)(n - e1) * 2 * sizeof(double));
        if (c->cap) { /* the old block to its free list */
            const int cl = moo_s3_class(c->cap);
            memcpy(e, &S->freel[cl], sizeof(int32_t));
            S->freel[cl] = c->off;
        }
        c->off = off;
        c->cap = cap;
        e = d;
    } else {
        if (p0 > 0) memmove(e, e + 2 * p0, (size_t)(j0 - p0) * 2 * sizeof(double));
        if (e1 != j0 - p0 + 1) memmove(e + 2 * (j0 - p0 + 1), e + 2 * e1, (size_t)(n - e1) * 2 * sizeof(double));
    }
    e[2 * (j0 - p0)] = a;
    e[2 * (j0 - p0) + 1] = b;
    c->n = nn;
    return 0;
}

/* After p = (a, b) joined front j from f2 bucket g: T[g'][j] := min(T[g'][j], b) for g' > g, and front j counted
 * into R[g'][h] for the f3 buckets h it newly covers. */
static void moo_s3_lower(moo_s3 *S, int g, int32_t j, double b) {
    const int hb = moo_axis_of(&S->ax3, b);
    for (int gg = g + 1; gg <= S->G; gg++) {
        double *t = S->T + (int64_t)gg * S->capK + j;
        if (*t <= b) break; /* and so are the later buckets' */
        const int ho = *t == INFINITY ? S->H : moo_axis_of(&S->ax3, *t);
        *t = b;
        int32_t *r = S->R + (int64_t)gg * (S->H + 1);
        for (int h = hb + 1; h <= ho; h++) r[h]++;
    }
}

/* The front of p = (a, b) (buckets g, h): fronts below the returned index dominate p, the others do not. */
static inline int32_t moo_s3_rank(const moo_s3 *S, int g, int h, double a, double b) {
    const int32_t *R = S->R;
    const int W = S->H + 1;
    int32_t lo = R[g * W + h], hi = R[(g + 1) * W + h + 1];
    const double *T0 = S->T + (int64_t)g * S->capK, *T1 = T0 + S->capK;
    while (lo < hi && T0[lo] <= b) lo++;
    while (hi > lo && T1[hi - 1] > b) hi--;
    const moo_cell *C = S->C + (int64_t)g * S->capK;
    while (lo < hi) {
        const int32_t mid = (lo + hi) >> 1;
        if (moo_cell_dominates(S->pool, C + mid, a, b)) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}


/* M = 3. Returns K, MOO_ERR_MEMORY or MOO_SWEEP_GIVE_UP. */
static int32_t moo_sweep3(const double *F, int32_t n, int m, const moo_sweep_arena *A, int64_t *out, int tight) {
    moo_s3 S;
    int32_t K = MOO_ERR_MEMORY, rank = 0;
    if (moo_s3_init(&S, F, n, m, tight)) goto done;
    uint64_t pk = 0;
    double pa = NAN, pb = NAN; /* the previous row (NaN: none, never equal) */
    for (int32_t s = 0; s < n; s++) {
        moo_sweep_prefetch(F, m, A->v, s, n, out);
        const int32_t i = A->v[s];
        const uint64_t key = A->k[s];
        const double a = F[(int64_t)i * m + 1], b = F[(int64_t)i * m + 2];
        if (key != pk || a != pa || b != pb) { /* a copy of the previous row keeps its rank */
            pk = key;
            pa = a;
            pb = b;
            const int g = moo_axis_of(&S.ax2, a);
            rank = moo_s3_rank(&S, g, moo_axis_of(&S.ax3, b), a, b);
            if (rank == S.K && ++S.K == S.capK) {
                const int w = moo_s3_widen(&S, 2 * S.capK);
                if (w) {
                    K = w > 0 ? MOO_SWEEP_GIVE_UP : MOO_ERR_MEMORY;
                    goto done;
                }
            }
            const int64_t at = (int64_t)g * S.capK + rank;
            const int ins = moo_cell_insert(&S, S.C + at, a, b, S.T[at]);
            if (ins) {
                K = ins == -2 ? MOO_SWEEP_GIVE_UP : MOO_ERR_MEMORY;
                goto done;
            }
            moo_s3_lower(&S, g, rank, b);
        }
        out[i] = rank;
    }
    K = S.K;
done:
    moo_s3_free(&S);
    return K;
}

/* All fronts for M = 2 or 3: the rows sorted into the arena, then the sweep for m. Returns K, MOO_ERR_MEMORY,
 * -(r + 2) for the first row r holding NaN or infinity, or MOO_SWEEP_GIVE_UP (out64 then holds garbage). tight:
 * see moo_s3_init. */
static int64_t moo_nds_sweep(const double *F, int32_t n, int m, int64_t *out64, int tight) {
    unsigned char *blk = (unsigned char *)moo_scratch_get(1, moo_sweep_arena_bytes(n));
    if (!blk) return MOO_ERR_MEMORY;
    moo_sweep_arena A;
    moo_sweep_arena_carve(&A, blk, n);
    int64_t K = moo_sweep_sort(F, n, m, &A, (uint64_t *)out64);
    if (K == 0) K = m == 2 ? moo_sweep2(F, n, m, &A, out64) : moo_sweep3(F, n, m, &A, out64, tight);
    moo_scratch_release(1);
    return K;
}

/* ------------------------------------------------------------------ driver ----------------------------------- */


/* The sort proper (finite input assumed): lexicographic sort, duplicates collapsed, the kernel for m.
 * Writes out64 (ranks) or out8 (first front); returns the number of fronts or MOO_ERR_MEMORY. */
static int64_t moo_nds_core(const double *F, int32_t n, int m, int64_t *out64, uint8_t *out8, int first_only,
                            int algo) {
    if (n <= 0) return 0;
    size_t s_U = MOO_ALIGN((size_t)n * m * sizeof(double)), s_i = MOO_ALIGN((size_t)n * sizeof(int32_t));
    unsigned char *blk = (unsigned char *)moo_scratch_get(1, s_U + 3 * s_i);
    int64_t K = MOO_ERR_MEMORY;
    if (!blk) return K;
    double *U = (double *)blk;
    int32_t *idx = (int32_t *)(blk + s_U), *grp = (int32_t *)(blk + s_U + s_i), *r = (int32_t *)(blk + s_U + 2 * s_i);
    if (moo_lexsort_rows(F, n, m, idx)) goto done;
    /* collapse duplicates: U holds the distinct rows in lexicographic order */
    int32_t u = 0;
    const double *prev = NULL;
    for (int32_t s = 0; s < n; s++) {
        const double *row = F + (int64_t)idx[s] * m;
        if (!prev || !moo_rows_equal(row, prev, m)) {
            memcpy(U + (int64_t)u * m, row, (size_t)m * sizeof(double));
            u++;
            prev = row;
        }
        grp[s] = u - 1;
    }
    int32_t k;
    if (m == 1) {
        for (int32_t s = 0; s < u; s++) r[s] = first_only ? (s > 0) : s;
        k = first_only ? 1 : u;
    } else if (m == 2 && algo == MOO_NDS_AUTO) {
        k = first_only ? moo_first2(U, u, r) : moo_rank2(U, u, r);
    } else if (m == 3 && algo == MOO_NDS_AUTO) {
        k = moo_rank3b(U, u, r, first_only);
        if (k == MOO_BITS_TOO_MANY) k = moo_rank3(U, u, r, first_only);
    } else if (m == 3 && algo == MOO_NDS_TREAP) {
        k = moo_rank3(U, u, r, first_only);
    } else {
        k = moo_rankd(U, u, m, r, first_only);
    }
    if (k < 0) goto done;
    K = k;
    if (first_only) {
        for (int32_t s = 0; s < n; s++) out8[idx[s]] = (uint8_t)(r[grp[s]] == 0);
    } else {
        for (int32_t s = 0; s < n; s++) out64[idx[s]] = r[grp[s]];
    }
done:
    moo_scratch_release(1);
    return K;
}

/* the sum of a row's m values */
static inline double moo_row_sum(const double *row, int m) {
    double acc = 0.0;
    for (int j = 0; j < m; j++) acc += row[j];
    return acc;
}

/* ------------------------------------------------------------------ few rows: all pairs ---------------------- */
/* Up to MOO_PAIRS_MAX_N rows, pairs of rows are compared without a branch, four at a time with AVX2: on few rows that
 * costs less than the lexsort, the copies and the trees (bench_sort.py --inputs 64: never the same rows twice, so
 * that no branch is learnt). Rows p < q (places in a copy of the rows as columns) are compared once: row p's words
 * hold, for the rows q > p, bit q of below (row q dominates row p) and of over (row p dominates row q). Duplicates
 * dominate neither way, so they share a front.
 *   first front  rows in order of coordinate sum (a dominator's sum is at most its victim's), and a row already
 *                dominated is not compared at all: what it dominates, its dominator does, and that was compared;
 *   all fronts   every pair; the below bits become the other rows' over bits, and Kahn's order over the dominance
 *                graph peels one front at a time. */
#define MOO_PAIRS_MAX_N 384 /* most rows for the pairs (the words of a row fit in MOO_PAIRS_WORDS) */
#define MOO_PAIRS_WORDS (MOO_PAIRS_MAX_N / 64)

/* AUTO's most rows for the pairs at M objectives (0: never): where they beat the sorted paths on uniform points and
 * on sphere fronts alike, for all fronts and the first front (the pairs cost n^2 M, the trees less in n and more
 * in M), and from M = 6 as many as keep the columns (n M doubles) within MOO_PAIRS_MAX_VALUES, a level-1 data cache
 * of 32 KiB (M = 20: 1.19x the sorted paths' time at 256 rows, 0.67x at 204; M = 50: 2.0x at 128 rows, 0.88x at
 * 81) */
#define MOO_PAIRS_MAX_VALUES 4096
static inline int32_t moo_pairs_most_rows(int m) {
    if (m <= 2) return 0;
    if (m == 3) return 64;
    if (m == 4) return 192;
    if (m == 5) return 256;
    const int32_t fit = MOO_PAIRS_MAX_VALUES / m;
    return fit < MOO_PAIRS_MAX_N ? fit : MOO_PAIRS_MAX_N;
}

/* the places' rows F[ord[p]] (ord NULL: row p) as m columns of np (n rounded up to 4) values, padded with NaN, which
 * compares false both ways */
static void moo_pairs_columns(const double *F, int32_t n, int m, const int32_t *ord, int32_t np, double *C) {
    for (int k = 0; k < m; k++) {
        double *c = C + (int64_t)k * np;
        for (int32_t p = 0; p < n; p++) c[p] = F[(int64_t)(ord ? ord[p] : p) * m + k];
        for (int32_t p = n; p < np; p++) c[p] = NAN;
    }
}

/* ORs into below and over the bits of row x (at place p) against the places q > p */
static void moo_pairs_row(const double *C, int32_t np, int m, const double *x, int32_t p, uint64_t *below,
                          uint64_t *over) {
    for (int32_t q = p + 1; q < np; q++) {
        int le = 1, ge = 1;
        for (int k = 0; k < m; k++) {
            const double c = C[(int64_t)k * np + q];
            le &= c <= x[k];
            ge &= c >= x[k];
        }
        below[q >> 6] |= (uint64_t)(le & !ge) << (q & 63);
        over[q >> 6] |= (uint64_t)(ge & !le) << (q & 63);
    }
}

#ifdef MOO_X86
__attribute__((target("avx2"))) static void moo_pairs_row_avx2(const double *C, int32_t np, int m, const double *x,
                                                               int32_t p, uint64_t *below, uint64_t *over) {
    const uint64_t from = ~0ULL << ((p + 1) & 3); /* in the four places holding p + 1: that place and above */
    for (int32_t q = (p + 1) & ~3; q < np; q += 4) {
        __m256d c = _mm256_loadu_pd(C + q), v = _mm256_broadcast_sd(x);
        __m256d le = _mm256_cmp_pd(c, v, _CMP_LE_OQ), ge = _mm256_cmp_pd(c, v, _CMP_GE_OQ);
        for (int k = 1; k < m; k++) {
            c = _mm256_loadu_pd(C + (int64_t)k * np + q);
            v = _mm256_broadcast_sd(x + k);
            le = _mm256_and_pd(le, _mm256_cmp_pd(c, v, _CMP_LE_OQ));
            ge = _mm256_and_pd(ge, _mm256_cmp_pd(c, v, _CMP_GE_OQ));
        }
        uint64_t l = (uint64_t)_mm256_movemask_pd(le), g = (uint64_t)_mm256_movemask_pd(ge);
        if (q <= p) l &= from, g &= from;
        below[q >> 6] |= (l & ~g) << (q & 63);
        over[q >> 6] |= (g & ~l) << (q & 63);
    }
}
#endif

static inline void moo_pairs_compare(const double *C, int32_t np, int m, const double *x, int32_t p,
                                     uint64_t *below, uint64_t *over, int avx2) {
#ifdef MOO_X86
    if (avx2) {
        moo_pairs_row_avx2(C, np, m, x, p, below, over);
        return;
    }
#endif
    (void)avx2;
    moo_pairs_row(C, np, m, x, p, below, over);
}

/* moo_nds on 0 < n <= MOO_PAIRS_MAX_N finite rows, by pairs; avx2: the AVX2 compare (the CPU has it). */
static int64_t moo_nds_pairs(const double *F, int32_t n, int m, int64_t *out64, uint8_t *out8, int first_only,
                             int avx2) {
    const int32_t np = (n + 3) & ~3, w = (n + 63) / 64;
    const size_t s_C = MOO_ALIGN((size_t)np * m * sizeof(double)), s_b = MOO_ALIGN((size_t)n * w * sizeof(uint64_t));
    const size_t s_k = MOO_ALIGN((size_t)n * sizeof(moo_key));
    unsigned char *blk = (unsigned char *)moo_scratch_get(1, s_C + 2 * s_b + s_k + 2 * (size_t)n * sizeof(int32_t));
    if (!blk) return MOO_ERR_MEMORY;
    double *C = (double *)blk;
    uint64_t *below = (uint64_t *)(blk + s_C), *over = (uint64_t *)(blk + s_C + s_b);
    moo_key *key = (moo_key *)(blk + s_C + 2 * s_b);
    int32_t *cnt = (int32_t *)(blk + s_C + 2 * s_b + s_k), *q = cnt + n; /* q: Kahn's queue, or the sum order */
    int64_t K = 1;
    if (first_only) {
        for (int32_t i = 0; i < n; i++) key[i] = (moo_key){moo_row_sum(F + (int64_t)i * m, m), i};
        moo_sort_key(key, n);
        int32_t *ord = q; /* the row at each place */
        for (int32_t p = 0; p < n; p++) ord[p] = (int32_t)key[p].i;
        moo_pairs_columns(F, n, m, ord, np, C);
        uint64_t dominated[MOO_PAIRS_WORDS] = {0};
        for (int32_t p = 0; p < n; p++) {
            if (dominated[p >> 6] >> (p & 63) & 1) continue;
            uint64_t bw[MOO_PAIRS_WORDS] = {0}, ow[MOO_PAIRS_WORDS] = {0}, any = 0;
            moo_pairs_compare(C, np, m, F + (int64_t)ord[p] * m, p, bw, ow, avx2);
            for (int32_t b = 0; b < w; b++) {
                any |= bw[b];
                dominated[b] |= ow[b];
            }
            if (any) dominated[p >> 6] |= 1ULL << (p & 63);
        }
        for (int32_t p = 0; p < n; p++) out8[ord[p]] = !(dominated[p >> 6] >> (p & 63) & 1);
    } else {
        moo_pairs_columns(F, n, m, NULL, np, C);
        memset(below, 0, 2 * s_b);
        for (int32_t i = 0; i < n; i++)
            moo_pairs_compare(C, np, m, F + (int64_t)i * m, i, below + (int64_t)i * w, over + (int64_t)i * w, avx2);
        for (int32_t i = 0; i < n; i++) { /* over: every row a row dominates (row j > i dominates row i) */
            for (int32_t b = 0; b < w; b++) {
                for (uint64_t o = below[(int64_t)i * w + b]; o; o &= o - 1) {
                    const int32_t j = b * 64 + __builtin_ctzll(o);
                    over[(int64_t)j * w + (i >> 6)] |= 1ULL << (i & 63);
                }
            }
        }
        for (int32_t i = 0; i < n; i++) cnt[i] = 0;
        for (int32_t i = 0; i < n; i++) { /* cnt[j]: row j's dominators */
            for (int32_t b = 0; b < w; b++) {
                for (uint64_t o = over[(int64_t)i * w + b]; o; o &= o - 1) cnt[b * 64 + __builtin_ctzll(o)]++;
            }
        }
        int32_t head = 0, tail = 0;
        for (int32_t i = 0; i < n; i++)
            if (cnt[i] == 0) q[tail++] = i;
        for (K = 0; head < tail; K++) { /* every row is queued once: dominance has no cycle */
            for (const int32_t end = tail; head < end; head++) {
                const int32_t j = q[head];
                out64[j] = K;
                for (int32_t b = 0; b < w; b++) {
                    for (uint64_t o = over[(int64_t)j * w + b]; o; o &= o - 1) {
                        const int32_t i = b * 64 + __builtin_ctzll(o);
                        if (--cnt[i] == 0) q[tail++] = i;
                    }
                }
            }
        }
    }
    moo_scratch_release(1);
    return K;
}

/* the passes that gather rows from scattered places (over F, or over the survivors' rows) prefetch the row this
 * many places ahead */
#define MOO_FF_AHEAD 32

/* The first front of the rows R[pos[i]] (i < cnt) alone: cm[i] = 1 for members (moo_nds_core on a copy of them, in
 * that order). Returns moo_nds_core's K, or MOO_ERR_MEMORY. */
static int64_t moo_front_at(const double *R, int m, const int32_t *pos, int32_t cnt, uint8_t *cm, int algo) {
    double *C = (double *)malloc((size_t)(cnt > 0 ? cnt : 1) * m * sizeof(double));
    if (!C) return MOO_ERR_MEMORY;
    for (int32_t i = 0; i < cnt; i++) memcpy(C + (int64_t)i * m, R + (int64_t)pos[i] * m, (size_t)m * sizeof(double));
    const int64_t K = moo_nds_core(C, cnt, m, NULL, cm, 1, algo);
    free(C);
    return K;
}

/* The first front (out8) of n rows once the filters left the cnt rows R[pos[i]] (F's rows rkeep[pos[i]]): the
 * non-dominated sort of those rows alone, scattered back into out8. Returns moo_nds_core's K. */
static int64_t moo_ff_finish(int32_t n, int m, const double *R, const int32_t *rkeep, const int32_t *pos, int32_t cnt,
                             uint8_t *out8, int algo) {
    uint8_t *cm = (uint8_t *)malloc((size_t)(cnt > 0 ? cnt : 1));
    const int64_t K = cm ? moo_front_at(R, m, pos, cnt, cm, algo) : MOO_ERR_MEMORY;
    if (K >= 0) {
        memset(out8, 0, (size_t)n);
        for (int32_t i = 0; i < cnt; i++) out8[rkeep[pos[i]]] = cm[i];
    }
    free(cm);
    return K;
}

/* First-front early exit: points dominated by a few points of small coordinate sum are dropped in linear passes
 * (any point may serve as a filter: what it dominates is not in the first front), and only the survivors are
 * sorted. On random data this removes almost everything; on a single front it costs one pass.
 *
 * On T threads every pass runs over contiguous chunks of the rows (or of the survivors), combined in chunk order:
 * one pass checks finiteness and finds the row of least sum (the first filter); each filter pass packs its chunk's
 * survivors to the chunk's start and finds the next filter among them, and a pass on the threads packs the chunks
 * together into a second set of arrays, so that the set left and the filters chosen are the same for any T. The
 * first filter pass's survivors have their rows copied together (R) once; the later passes read them there in order
 * and pack only positions in R and sums. The survivors' first front: for M >= 4 moo_kept_front_mt (parts of the
 * first objective's range sorted and swept a part a thread, then the later parts' fronts tested against the earlier
 * parts' on the threads); for M = 2, 3 the same parts when the filters left most rows (each part's own front by
 * moo_front_at, the cross test against the least f2 or a staircase of the parts before), else many survivors are
 * split over the threads, each share reduced to its own first front, and the front of those fronts is the answer. */

/* the survivors' first front runs on one thread a this many survivors */
#define MOO_MT_MIN_FINISH 2048
/* the passes over the rows run in this many chunks on T > 1 threads (a thread that comes late still finds some) */
#define MOO_FF_MAX_CHUNKS 128
#define MOO_FF_CHUNKS(T) ((T) <= 1 ? 1 : 8 * (T) < MOO_FF_MAX_CHUNKS ? 8 * (T) : MOO_FF_MAX_CHUNKS)

typedef struct {
    const double *F;
    int m, algo;
    int32_t *keep;                /* the first pass's survivors: row indices (later: positions in R) */
    double *ksum;                 /* their coordinate sums, +inf once a survivor has served as a filter */
    double *R;                    /* the first pass's survivors' rows, together (NULL before) */
    int32_t *rkeep;               /* their row indices */
    int32_t *keep2;               /* the other set of positions and sums, which a pass packs the survivors into */
    double *ksum2;
    int32_t cnt;                  /* the positions the last pass ran over, in nc chunks */
    int nc;
    int all;                      /* 1 while the set is every row (keep not yet written) */
    const double *p;              /* the filter row of a pass, index pi */
    int32_t pi;
    int64_t bad[MOO_FF_MAX_CHUNKS]; /* a chunk's first non-finite row (-1: none), or an error code */
    double bs[MOO_FF_MAX_CHUNKS];   /* a chunk's least sum, at row best (-1: none) */
    int32_t best[MOO_FF_MAX_CHUNKS], o[MOO_FF_MAX_CHUNKS];
} moo_ff_ctx;

/* finiteness and the least sum of rows [lo, hi) (m: x->m, a constant where the callers below inline it) */
static MOO_ALWAYS_INLINE void moo_ff_scan_m(moo_ff_ctx *x, int t, ptrdiff_t lo, ptrdiff_t hi, const int m) {
    int64_t bad = -1;
    int32_t best = -1;
    double bs = INFINITY;
    for (ptrdiff_t i = lo; i < hi; i++) {
        const double *row = x->F + (int64_t)i * m;
        if (bad < 0 && moo_row_nonfinite(row, m)) bad = i;
        const double acc = moo_row_sum(row, m);
        if (acc < bs) { bs = acc; best = (int32_t)i; }
    }
    x->bad[t] = bad;
    x->bs[t] = bs;
    x->best[t] = best;
}

/* the filter pass over set positions [lo, hi): survivors packed at lo (x->o[t] of them), the filter row's sum set
 * to +inf, the least sum among the others found (m as in moo_ff_scan_m) */
static MOO_ALWAYS_INLINE void moo_ff_filter_m(moo_ff_ctx *x, int t, ptrdiff_t lo, ptrdiff_t hi, const int m) {
    const double *p = x->p;
    const int all = x->all;
    int32_t *keep = x->keep;
    double *ksum = x->ksum;
    int32_t o = (int32_t)lo, best = -1;
    double bs = INFINITY;
    for (ptrdiff_t s = lo; s < hi; s++) {
        const int32_t at = all ? (int32_t)s : keep[s], i = all ? at : x->rkeep[at];
        const double *q = all ? x->F + (int64_t)i * m : x->R + (int64_t)at * m;
        int le = 1, lt = 0;
        for (int j = 0; j < m; j++) {
            le &= p[j] <= q[j];
            lt |= p[j] < q[j];
        }
        if (le && lt) continue;
        const double sm = i == x->pi ? INFINITY : all ? moo_row_sum(q, m) : ksum[s];
        keep[o] = at;
        ksum[o] = sm;
        o++;
        if (sm < bs) { bs = sm; best = i; }
    }
    x->o[t] = o - (int32_t)lo;
    x->bs[t] = bs;
    x->best[t] = best;
}

/* a pass body with m a constant for the common small m (unrolled rows), the generic loop otherwise */
#define MOO_FF_BY_M(body, x, t, lo, hi)              \
    switch ((x)->m) {                                \
        case 2: body(x, t, lo, hi, 2); break;        \
        case 3: body(x, t, lo, hi, 3); break;        \
        case 4: body(x, t, lo, hi, 4); break;        \
        case 5: body(x, t, lo, hi, 5); break;        \
        default: body(x, t, lo, hi, (x)->m); break;  \
    }

static void moo_ff_scan(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    MOO_FF_BY_M(moo_ff_scan_m, (moo_ff_ctx *)c, t, lo, hi)
}

static void moo_ff_filter(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    MOO_FF_BY_M(moo_ff_filter_m, (moo_ff_ctx *)c, t, lo, hi)
}

/* the survivors the first C chunks of the last pass kept */
static inline int32_t moo_ff_kept(const moo_ff_ctx *x, int C) {
    int32_t kept = 0;
    for (int k = 0; k < C; k++) kept += x->o[k];
    return kept;
}

/* Chunk k (lo) of the last pass (x->nc chunks over x->cnt positions): its x->o[k] survivors, packed at the chunk's
 * start, copied to the other set at their place in the whole (after the survivors of the chunks before); the first
 * time (R not yet written) their rows are copied from F to R, and their positions are their places in R. */
static void moo_ff_pack(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ff_ctx *x = (moo_ff_ctx *)c;
    const int m = x->m, k = (int)lo;
    const int32_t from = (int32_t)moo_chunk_lo(x->cnt, k, x->nc), cnt = x->o[k], to = moo_ff_kept(x, k);
    (void)t;
    (void)hi;
    memcpy(x->ksum2 + to, x->ksum + from, (size_t)cnt * sizeof(double));
    if (!x->all) {
        memcpy(x->keep2 + to, x->keep + from, (size_t)cnt * sizeof(int32_t));
        return;
    }
    const int32_t *keep = x->keep + from;
    double *dst = x->R + (int64_t)to * m;
    memcpy(x->rkeep + to, keep, (size_t)cnt * sizeof(int32_t));
    for (int32_t s = 0; s < cnt; s++, dst += m) {
        x->keep2[to + s] = to + s;
        if (s + MOO_FF_AHEAD < cnt) __builtin_prefetch(x->F + (int64_t)keep[s + MOO_FF_AHEAD] * m);
        const double *row = x->F + (int64_t)keep[s] * m;
        for (int j = 0; j < m; j++) dst[j] = row[j];
    }
}

/* The survivors of the last pass (C chunks over cnt positions) packed together into the other set on T threads,
 * which becomes the current one (one chunk after the first pass: packed already); returns their number. */
static int32_t moo_ff_pack_all(moo_ff_ctx *x, int32_t cnt, int C, int T) {
    x->cnt = cnt;
    x->nc = C;
    const int32_t left = moo_ff_kept(x, C);
    if (C == 1 && !x->all) return left;
    moo_parallel_for(T, C, C, moo_ff_pack, x);
    int32_t *ki = x->keep; x->keep = x->keep2; x->keep2 = ki;
    double *ks = x->ksum; x->ksum = x->ksum2; x->ksum2 = ks;
    return left;
}

/* one share of the survivors, places [lo, hi): its own first front (moo_nds_core on its rows), whose positions
 * are packed at lo, in order (x->o[t] of them); x->bad[t] 0 or an error code */
static void moo_ff_chunk_front(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ff_ctx *x = (moo_ff_ctx *)c;
    const int32_t cnt = (int32_t)(hi - lo);
    int32_t *keep = x->keep + lo;
    uint8_t *cm = (uint8_t *)malloc((size_t)(cnt > 0 ? cnt : 1));
    const int64_t K = cm ? moo_front_at(x->R, x->m, keep, cnt, cm, x->algo) : MOO_ERR_MEMORY;
    int32_t o = 0;
    for (int32_t i = 0; K >= 0 && i < cnt; i++) {
        if (cm[i]) keep[o++] = keep[i];
    }
    x->o[t] = o;
    x->bad[t] = K < 0 ? K : 0;
    free(cm);
}

/* the least sum over the C chunks (the first in chunk order on ties), -1 when none */
static int32_t moo_ff_least(const moo_ff_ctx *x, int C) {
    int32_t best = -1;
    double bs = INFINITY;
    for (int t = 0; t < C; t++) {
        if (x->best[t] >= 0 && x->bs[t] < bs) { bs = x->bs[t]; best = x->best[t]; }
    }
    return best;
}

/* ---- the survivors' first front for M >= 4, on T threads ----
 * moo_rankd's sweep: in lexicographic order a row is in the first front iff no row of the front so far weakly
 * dominates it in objectives 2..M (a copy of the row before it gets that row's answer); the front so far is a k-d
 * tree over those objectives. On P > 1 threads the rows are put in P parts by their first objective (split at
 * quantiles of a sample: every row of part k has a smaller first objective than every row of part k + 1, and copies
 * of a row share its part), and then:
 *   - each part is sorted and swept on its own thread into a tree of its own: the rows no row of their part
 *     dominates, the part's own front (part 0's is the answer's part; a later part's may hold more);
 *   - the rows of the later parts' own fronts are tested on the threads against the trees of the parts before
 *     theirs, read by every thread at once: a row is in the answer iff none of them dominates it in objectives 2..M
 *     (testing against a row of an earlier part's own front that is not in the answer is sound: what dominates that
 *     row dominates this one too). */

/* the parts' splits come from this many sampled rows a part */
#define MOO_SS_SAMPLE 256

typedef struct {
    int m, P;          /* P parts (and trees), one a thread */
    int32_t cnt;
    double split[MOO_MAX_THREADS]; /* part k: split[k - 1] <= first objective < split[k] */
    int32_t at[MOO_MAX_THREADS + 1]; /* part k's places: [at[k], at[k + 1]) */
    const double *U;   /* the survivors' rows: U[pos[s]] (s < cnt) */
    const int32_t *pos;
    int32_t *ord;      /* their positions in U, part by part, in lexicographic order (ties by position); M = 2, 3:
                        * in the order gathered */
    double *V;         /* their rows in that order; M = 3: the parts' staircases */
    uint8_t *part;     /* by position: the part */
    uint8_t *r;        /* by place: 0 in the front, 1 dominated */
    moo_ndt tree[MOO_MAX_THREADS]; /* part k's own front, objectives 2..M */
    int32_t *front;    /* the places of part k's own front from at[k] on, nf[k] of them; then the later parts'
                        * together (the cross test's rows: part k's from fat[k]) */
    int32_t nf[MOO_MAX_THREADS];
    int32_t fat[MOO_MAX_THREADS + 1];
    int32_t scap;      /* room a tree query's stack needs in any tree */
    int algo;          /* M = 2, 3: moo_front_at's algo for a part's own front */
    int32_t steps[MOO_MAX_THREADS]; /* M = 3: the steps of part k's staircase */
    double least[MOO_MAX_THREADS]; /* M = 2, 3: part k's least second objective; after moo_ss_gather, the least of
                                    * parts 0..k - 1 */
    int err[MOO_MAX_THREADS];
} moo_ss_ctx;

static inline const double *moo_ss_row(const moo_ss_ctx *x, int32_t i) { return x->V + (int64_t)i * x->m; }

/* the parts of survivors [lo, hi) (rows U[pos[s]]) */
static void moo_ss_parts(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ss_ctx *x = (moo_ss_ctx *)c;
    (void)t;
    for (ptrdiff_t s = lo; s < hi; s++) {
        const double f1 = x->U[(int64_t)x->pos[s] * x->m];
        int k = 0;
        for (int j = 0; j < x->P - 1; j++) k += f1 >= x->split[j]; /* no branch: the parts come at random */
        x->part[s] = (uint8_t)k;
    }
}

/* places [lo, hi) swept with tree T: r = 0 for a row no earlier row of the range dominates (its place listed in
 * front, nf of them), else 1; a copy of the row before takes its answer. 0, or -1 when out of memory. */
static int moo_ss_sweep(moo_ss_ctx *x, moo_ndt *T, int32_t lo, int32_t hi, int32_t *front, int32_t *nf) {
    int32_t o = 0;
    for (int32_t i = lo; i < hi; i++) {
        const double *row = moo_ss_row(x, i);
        if (i > lo && moo_rows_equal(row, moo_ss_row(x, i - 1), x->m)) {
            x->r[i] = x->r[i - 1];
        } else if (moo_ndt_dominated(T, 0, row + 1)) {
            x->r[i] = 1;
        } else {
            x->r[i] = 0;
            if (moo_ndt_insert(T, 0, row + 1)) return -1;
        }
        if (!x->r[i]) front[o++] = i;
    }
    *nf = o;
    return 0;
}

/* part k's positions gathered into its places of ord, in order; returns them */
static int32_t *moo_ss_part_ord(moo_ss_ctx *x, int k) {
    int32_t *ord = x->ord + x->at[k];
    const int32_t nk = x->at[k + 1] - x->at[k];
    for (int32_t s = 0, o = 0; o < nk; s++) { /* no branch: the parts come at random */
        ord[o] = x->pos[s];
        o += x->part[s] == k;
    }
    return ord;
}

/* part k (lo): gathered into its places of ord and sorted, its rows copied in order to V, then swept into tree k
 * (x->err[k] = -1 when out of memory) */
static void moo_ss_part(void *c, int k, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ss_ctx *x = (moo_ss_ctx *)c;
    const int m = x->m;
    const int32_t a = x->at[k], nk = x->at[k + 1] - a;
    int32_t *ord = moo_ss_part_ord(x, k);
    (void)lo;
    (void)hi;
    moo_sortws w;
    x->err[k] = moo_sortws_init(&w, nk);
    if (!x->err[k]) moo_lex_range(x->U, m, ord, 0, nk, 0, &w);
    moo_sortws_free(&w);
    if (x->err[k]) return;
    double *dst = x->V + (int64_t)a * m;
    for (int32_t i = 0; i < nk; i++, dst += m) {
        if (i + MOO_FF_AHEAD < nk) __builtin_prefetch(x->U + (int64_t)ord[i + MOO_FF_AHEAD] * m);
        const double *row = x->U + (int64_t)ord[i] * m;
        for (int j = 0; j < m; j++) dst[j] = row[j];
    }
    x->err[k] = moo_ss_sweep(x, &x->tree[k], a, a + nk, x->front + a, &x->nf[k]);
}

/* the cross test of rows [lo, hi) of the later parts' own fronts against the trees of the parts before theirs
 * (x->err[t] = -1 when out of memory) */
static void moo_ss_cross(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ss_ctx *x = (moo_ss_ctx *)c;
    int32_t *st = (int32_t *)malloc((size_t)x->scap * sizeof(int32_t));
    x->err[t] = st ? 0 : -1;
    int k = 1;
    for (ptrdiff_t s = lo; st && s < hi; s++) {
        while (s >= x->fat[k + 1]) k++;
        const int32_t i = x->front[s];
        const double *c1 = moo_ss_row(x, i) + 1;
        for (int j = 0; j < k && !x->r[i]; j++) x->r[i] = (uint8_t)moo_ndt_dominated_on(&x->tree[j], 0, c1, st);
    }
    free(st);
}

/* ---- M = 2, 3: a part's own front by moo_front_at (its places are its rows in gathered order, unsorted); the cross
 * test of a later part's front row against an earlier part's front: M = 2, is the least second objective there at
 * most the row's; M = 3, the earlier part's own front as a staircase over (f2, f3): the rows whose f3 is below that
 * of every row before them in f2 order, their f2 ascending (in V) and their f3 (after it in V), the last step at or
 * below the row's f2 found by a binary search ---- */

/* part k (lo) for M = 2, 3 (x->err[k] = -1 when out of memory) */
static void moo_ss_part23(void *c, int k, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ss_ctx *x = (moo_ss_ctx *)c;
    const int m = x->m;
    const int32_t a = x->at[k], nk = x->at[k + 1] - a;
    int32_t *ord = moo_ss_part_ord(x, k);
    (void)lo;
    (void)hi;
    x->err[k] = -1;
    if (moo_front_at(x->U, m, ord, nk, x->r + a, x->algo) < 0) return;
    int32_t o = 0; /* r: 1 in the part's own front so far, now 0 there */
    double least = INFINITY;
    for (int32_t i = a; i < a + nk; i++) {
        x->r[i] = !x->r[i];
        if (x->r[i]) continue;
        x->front[a + o++] = i;
        const double f2 = x->U[(int64_t)x->ord[i] * m + 1];
        least = f2 < least ? f2 : least;
    }
    x->nf[k] = o;
    x->least[k] = least;
    if (m == 3 && k < x->P - 1) {
        moo_key *key = (moo_key *)malloc((size_t)(o > 0 ? o : 1) * sizeof(moo_key));
        if (!key) return;
        for (int32_t t = 0; t < o; t++) key[t] = (moo_key){x->U[(int64_t)x->ord[x->front[a + t]] * m + 1], t};
        moo_sort_key(key, o);
        double *f2 = x->V + a, *f3 = x->V + x->cnt + a, run = INFINITY;
        int32_t st = 0; /* the steps: a row whose f3 is below every f3 before it in f2 order */
        for (int32_t t = 0; t < o; t++) {
            const double z = x->U[(int64_t)x->ord[x->front[a + key[t].i]] * m + 2];
            if (z >= run) continue;
            run = z;
            f2[st] = key[t].k;
            f3[st++] = run;
        }
        x->steps[k] = st;
        free(key);
    }
    x->err[k] = 0;
}

/* the cross test for M = 2, 3 of rows [lo, hi) of the later parts' own fronts */
static void moo_ss_cross23(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ss_ctx *x = (moo_ss_ctx *)c;
    int k = 1;
    x->err[t] = 0;
    for (ptrdiff_t s = lo; s < hi; s++) {
        while (s >= x->fat[k + 1]) k++;
        const int32_t i = x->front[s];
        const double *row = x->U + (int64_t)x->ord[i] * x->m;
        if (x->m == 2) {
            x->r[i] = x->least[k] <= row[1];
            continue;
        }
        const double up = nextafter(row[1], INFINITY); /* the staircase rows with f2 <= the row's are those below up */
        for (int j = 0; j < k && !x->r[i]; j++) {
            const ptrdiff_t u = x->steps[j] ? moo_lower_bound(x->V + x->at[j], x->steps[j], up) : 0;
            x->r[i] = u > 0 && x->V[x->cnt + x->at[j] + u - 1] <= row[2];
        }
    }
}

/* the later parts' own fronts put together in x->front (they lie in it at their parts' places, after the earlier
 * parts' places), part k's from fat[k] on; returns their number */
static int32_t moo_ss_gather(moo_ss_ctx *x) {
    int32_t o = 0;
    for (int k = 1; k < x->P; k++) {
        x->fat[k] = o;
        memmove(x->front + o, x->front + x->at[k], (size_t)x->nf[k] * sizeof(int32_t));
        o += x->nf[k];
    }
    x->fat[x->P] = o;
    double run = INFINITY; /* M = 2: least[k] from a part's own least second objective to the least over the parts
                            * before it */
    for (int k = 0; k < x->P; k++) {
        const double own = x->least[k];
        x->least[k] = run;
        run = own < run ? own : run;
    }
    x->scap = 1;
    for (int k = 0; k < x->P - 1; k++) {
        if (x->tree[k].scap > x->scap) x->scap = x->tree[k].scap;
    }
    return o;
}

/* The first front (out8) of n rows from the cnt survivors R[pos[i]] (F's rows rkeep[pos[i]]), on T threads (T <=
 * MOO_MAX_THREADS, capped at the CPUs by the caller); algo: moo_front_at's for the parts' own fronts at m = 2, 3.
 * Returns 1 or MOO_ERR_MEMORY. */
static int64_t moo_kept_front_mt(int32_t n, int m, const double *R, const int32_t *rkeep, const int32_t *pos,
                                 int32_t cnt, uint8_t *out8, int T, int algo) {
    moo_ss_ctx x;
    memset(&x, 0, sizeof x);
    x.m = m; x.U = R; x.pos = pos; x.cnt = cnt; x.P = T < 1 ? 1 : T; x.algo = algo;
    int64_t K = MOO_ERR_MEMORY;
    const int32_t ns = x.P > 1 ? (cnt < MOO_SS_SAMPLE * x.P ? cnt : MOO_SS_SAMPLE * x.P) : 0;
    const size_t s_U = MOO_ALIGN((size_t)cnt * m * sizeof(double)), s_o = MOO_ALIGN((size_t)cnt * sizeof(int32_t));
    const size_t s_r = MOO_ALIGN((size_t)cnt);
    unsigned char *blk = (unsigned char *)moo_scratch_get(5, s_U + 2 * s_o + 2 * s_r + (size_t)ns * sizeof(double));
    if (!blk) goto done;
    x.V = (double *)blk;
    x.ord = (int32_t *)(blk + s_U);
    x.front = (int32_t *)(blk + s_U + s_o);
    x.part = blk + s_U + 2 * s_o;
    x.r = blk + s_U + 2 * s_o + s_r;
    for (int k = 0; k < x.P && m >= 4; k++) {
        x.tree[k].d = m - 1;
        if (moo_ndt_new_leaf(&x.tree[k], 0) < 0) goto done;
    }
    if (ns > 0) { /* the splits: quantiles of the first objective over a sample */
        double *smp = (double *)(blk + s_U + 2 * s_o + 2 * s_r);
        for (int32_t i = 0; i < ns; i++) smp[i] = R[(int64_t)pos[(int64_t)i * cnt / ns] * m];
        qsort(smp, (size_t)ns, sizeof(double), cmp_double);
        for (int k = 1; k < x.P; k++) x.split[k - 1] = smp[(int64_t)k * ns / x.P];
    }
    if (x.P > 1) moo_parallel_for(x.P, MOO_FF_CHUNKS(x.P), cnt, moo_ss_parts, &x);
    else memset(x.part, 0, (size_t)cnt);
    for (int32_t s = 0; s < cnt; s++) x.at[x.part[s] + 1]++;
    for (int k = 0; k < x.P; k++) x.at[k + 1] += x.at[k];
    moo_parallel_for(x.P, x.P, x.P, m >= 4 ? moo_ss_part : moo_ss_part23, &x);
    for (int k = 0; k < x.P; k++) {
        if (x.err[k]) goto done;
    }
    if (x.P > 1) {
        const int32_t nc = moo_ss_gather(&x);
        const int C = 4 * x.P < MOO_MAX_THREADS ? 4 * x.P : MOO_MAX_THREADS;
        moo_parallel_for(x.P, C, nc, m >= 4 ? moo_ss_cross : moo_ss_cross23, &x);
        for (int t = 0; t < C; t++) {
            if (x.err[t]) goto done;
        }
    }
    memset(out8, 0, (size_t)n);
    for (int32_t i = 0; i < cnt; i++) {
        if (!x.r[i]) out8[rkeep[x.ord[i]]] = 1;
    }
    K = 1;
done:
    for (int k = 0; k < x.P; k++) moo_ndt_free(&x.tree[k]); /* zeroed where not made: free(NULL) */
    moo_scratch_release(5);
    return K;
}

/* The first front (out8) of the n rows of F on T >= 1 threads; K as moo_nds, or -(r + 2) for a non-finite row r. */
static int64_t moo_first_filtered(const double *F, int32_t n, int m, uint8_t *out8, int algo, int T) {
    if (T > MOO_MAX_THREADS) T = MOO_MAX_THREADS;
    if (T < 1) T = 1;
    size_t s_f = MOO_ALIGN((size_t)n * sizeof(double));
    unsigned char *blk = (unsigned char *)moo_scratch_get(3, s_f + (size_t)n * sizeof(int32_t));
    int64_t K = MOO_ERR_MEMORY;
    moo_ff_ctx x;
    if (!blk) goto done;
    x.F = F; x.m = m; x.algo = algo; x.ksum = (double *)blk; x.keep = (int32_t *)(blk + s_f); x.R = NULL; x.all = 1;
    const int C = MOO_FF_CHUNKS(T);
    moo_parallel_for(T, C, n, moo_ff_scan, &x);
    for (int t = 0; t < C; t++) {
        if (x.bad[t] >= 0) { K = -(x.bad[t] + 2); goto done; }
    }
    int32_t cnt = n, best = moo_ff_least(&x, C);
    for (int round = 0; round < 4 && cnt > 32 && best >= 0; round++) {
        x.p = F + (int64_t)best * m;
        x.pi = best;
        moo_parallel_for(T, C, cnt, moo_ff_filter, &x);
        int32_t kept;
        if (x.all) { /* the survivors' rows together in R, and two sets of positions in R and sums that the passes pack
                      * the survivors into in turn */
            kept = moo_ff_kept(&x, C);
            const size_t k1 = (size_t)(kept > 0 ? kept : 1), s_R = MOO_ALIGN(k1 * m * sizeof(double));
            const size_t s_s = MOO_ALIGN(k1 * sizeof(double)), s_k = MOO_ALIGN(k1 * sizeof(int32_t));
            unsigned char *b4 = (unsigned char *)moo_scratch_get(4, s_R + 3 * s_k + 2 * s_s);
            if (!b4) goto done;
            x.R = (double *)b4;
            x.rkeep = (int32_t *)(b4 + s_R);
            x.keep2 = (int32_t *)(b4 + s_R + s_k);
            x.ksum2 = (double *)(b4 + s_R + 2 * s_k);
            moo_ff_pack_all(&x, cnt, C, T); /* the rows from F; keep and ksum now the set in b4 */
            x.keep2 = (int32_t *)(b4 + s_R + 2 * s_k + s_s);
            x.ksum2 = (double *)(b4 + s_R + 3 * s_k + s_s);
            x.all = 0;
        } else {
            kept = moo_ff_pack_all(&x, cnt, C, T);
        }
        const int32_t removed = cnt - kept;
        best = moo_ff_least(&x, C);
        cnt = kept;
        if (removed < cnt / 8) break; /* not worth another pass */
    }
    if (x.all) { /* too few rows for a filter pass */
        K = moo_nds_core(F, n, m, NULL, out8, 1, algo);
        goto done;
    }
    const int S = cnt / MOO_MT_MIN_FINISH < T ? cnt / MOO_MT_MIN_FINISH : T; /* threads for the survivors */
    if (m >= 4 || (S > 1 && cnt > n / 2)) { /* M = 2, 3: when the filters left most rows (as on a single front) */
        K = moo_kept_front_mt(n, m, x.R, x.rkeep, x.keep, cnt, out8, S, algo);
        goto done;
    }
    if (S > 1) { /* shares, one a thread (the parts above when the filters left most rows: on a front the shares keep
                  * what they get, and the front of their fronts costs as much as one thread) */
        moo_parallel_for(T, S, cnt, moo_ff_chunk_front, &x);
        for (int t = 0; t < S; t++) {
            if (x.bad[t] < 0) { K = x.bad[t]; goto done; }
        }
        cnt = moo_ff_pack_all(&x, cnt, S, T);
    }
    K = moo_ff_finish(n, m, x.R, x.rkeep, x.keep, cnt, out8, algo);
done:
    moo_scratch_release(4);
    moo_scratch_release(3);
    return K;
}

/* Ranks (first_only = 0; out64[i] = front index) or the first front (first_only = 1; out8[i] = 1 for members, 0
 * otherwise) of the n x m row-major matrix F. algo: a moo_nds_algo (moo_common.h), MOO_NDS_AUTO but in tests.
 * Returns the number of fronts found (>= 1; 1 when first_only), MOO_ERR_MEMORY, or -(r + 2) for a non-finite value
 * in row r. */
static int64_t moo_nds(const double *F, int32_t n, int m, int64_t *out64, uint8_t *out8, int first_only, int algo) {
    const int sweep = ((algo == MOO_NDS_AUTO || algo == MOO_NDS_NO_FILTER) && n >= MOO_SWEEP_MIN_N) ||
                      algo == MOO_NDS_SWEEP || algo == MOO_NDS_SWEEP_TIGHT;
    if (!first_only && (m == 2 || m == 3) && sweep && n > 0) { /* the sweep checks finiteness itself */
        int64_t K = moo_nds_sweep(F, n, m, out64, algo == MOO_NDS_SWEEP_TIGHT);
        if (K != MOO_SWEEP_GIVE_UP) return K;
    }
#ifdef MOO_X86
    const int avx2 = algo != MOO_NDS_PAIRS_SCALAR && moo_have_avx2();
#else
    const int avx2 = 0;
#endif
    /* AUTO only with AVX2: the portable pairs take 1.5-3.6x the sorted paths' time */
    const int pairs = algo == MOO_NDS_AUTO ? avx2 && n <= moo_pairs_most_rows(m)
                                           : (algo == MOO_NDS_PAIRS || algo == MOO_NDS_PAIRS_SCALAR) &&
                                                 n <= MOO_PAIRS_MAX_N;
    if (pairs && n > 0) {
        int64_t bad = moo_first_nonfinite(F, n, m);
        if (bad != -1) return bad;
        return moo_nds_pairs(F, n, m, out64, out8, first_only, avx2);
    }
    const int filter = algo != MOO_NDS_NO_FILTER && algo != MOO_NDS_KDTREE_NO_FILTER;
    if (first_only && n > 64 && filter) return moo_first_filtered(F, n, m, out8, algo, 1); /* checks finiteness */
    int64_t bad = moo_first_nonfinite(F, n, m);
    if (bad != -1) return bad;
    const int core = algo == MOO_NDS_NO_FILTER || algo == MOO_NDS_COPY || algo == MOO_NDS_SWEEP_TIGHT ||
                     algo == MOO_NDS_SWEEP;
    return moo_nds_core(F, n, m, out64, out8, first_only, core ? MOO_NDS_AUTO : algo);
}

/* moo_nds's first front on T threads (T <= 1: moo_nds itself). */
MOO_UNUSED static int64_t moo_first_front_mt(const double *F, int32_t n, int m, uint8_t *out8, int algo, int T) {
    const int filter = algo != MOO_NDS_NO_FILTER && algo != MOO_NDS_KDTREE_NO_FILTER;
    if (T > n / MOO_MT_MIN_ROWS) T = n / MOO_MT_MIN_ROWS; /* shorter passes do not pay for a thread */
    if (T > moo_cpu_count()) T = moo_cpu_count(); /* as moo_parallel_for will: the chunks and shares are sized by T */
    if (T <= 1 || n <= 64 || !filter) return moo_nds(F, n, m, NULL, out8, 1, algo);
    return moo_first_filtered(F, n, m, out8, algo, T);
}

#endif
