/* Non-dominated sorting (all fronts) and the first front, minimisation, weak dominance (plain C, no Python).
 *
 * q dominates p iff q <= p in every objective and q < p in at least one; exact duplicates share a front.
 *
 * Every path first sorts the rows lexicographically (so a dominator always precedes what it dominates and
 * duplicates are adjacent) and collapses duplicates; the kernels then see distinct, sorted rows:
 *   M = 1  rank = position among the distinct values;
 *   M = 2  sweep, rank by a branch-free binary search over the fronts' minimum f2 (O(N log N));
 *   M = 3  sweep, binary search over the fronts, each front a staircase over (f2, f3) kept as a 64-ary bitset tree
 *          over the f2-ranks (O(N log K log_64 N)); with very many fronts (bitset memory) treap staircases instead;
 *   M >= 4 ENS-BS with one bucket k-d tree per front over f2..fM ("ENS-NDT", Gustavsson & Syberfeldt 2018), split
 *          at the median of the widest objective, subtrees pruned by their componentwise minimum corner.
 * A point is only ever tested against points that precede it, and since rows are distinct, "precedes and is
 * <= in objectives 2..M" already means "dominates".
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

/* is c (d values) weakly dominated by a point stored in the tree rooted at root? */
static int moo_ndt_dominated(moo_ndt *T, int32_t root, const double *c) {
    const int d = T->d;
    int32_t *st = T->stack;
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

/* ------------------------------------------------------------------ driver ----------------------------------- */

/* Returns -(r + 2) for the first row r holding a NaN or infinity, else -1 if none (checked row by row). */
static int64_t moo_first_nonfinite(const double *F, int64_t n, int m) {
    for (int64_t i = 0; i < n; i++) {
        const double *row = F + i * m;
        double acc = 0.0;
        for (int j = 0; j < m; j++) acc += row[j] * 0.0; /* NaN iff some value is NaN or inf */
        if (acc != acc) return -(i + 2);
    }
    return -1;
}

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
        int same = prev != NULL;
        if (same) {
            for (int j = 0; j < m; j++) {
                if (row[j] != prev[j]) {
                    same = 0;
                    break;
                }
            }
        }
        if (!same) {
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

/* The first front of the n rows of F once the filters left the cnt rows keep[0..cnt): the non-dominated sort of
 * those rows alone (of F itself when none was removed), scattered back into out8. Returns moo_nds_core's K. */
static int64_t moo_ff_finish(const double *F, int32_t n, int m, const int32_t *keep, int32_t cnt, uint8_t *out8,
                             int algo) {
    if (cnt == n) return moo_nds_core(F, n, m, NULL, out8, 1, algo);
    int64_t K = MOO_ERR_MEMORY;
    double *C = (double *)malloc((size_t)cnt * m * sizeof(double));
    uint8_t *cm = (uint8_t *)malloc((size_t)(cnt > 0 ? cnt : 1));
    if (C && cm) {
        for (int32_t i = 0; i < cnt; i++) memcpy(C + (int64_t)i * m, F + (int64_t)keep[i] * m, (size_t)m * sizeof(double));
        K = moo_nds_core(C, cnt, m, NULL, cm, 1, algo);
        if (K >= 0) {
            memset(out8, 0, (size_t)n);
            for (int32_t i = 0; i < cnt; i++) out8[keep[i]] = cm[i];
        }
    }
    free(C);
    free(cm);
    return K;
}

/* First-front early exit: points dominated by a few points of small coordinate sum are dropped in linear passes
 * (any point may serve as a filter: what it dominates is not in the first front), and only the survivors are
 * sorted. On random data this removes almost everything; on a single front it costs one pass. */
static int64_t moo_first_filtered(const double *F, int32_t n, int m, uint8_t *out8, int algo) {
    size_t s_f = MOO_ALIGN((size_t)n * sizeof(double));
    unsigned char *blk = (unsigned char *)moo_scratch_get(3, s_f + (size_t)n * sizeof(int32_t));
    double *sum = blk ? (double *)blk : NULL;
    int32_t *keep = blk ? (int32_t *)(blk + s_f) : NULL;
    int64_t K = MOO_ERR_MEMORY;
    if (!keep || !sum) goto done;
    for (int32_t i = 0; i < n; i++) {
        const double *row = F + (int64_t)i * m;
        double acc = 0.0;
        for (int j = 0; j < m; j++) acc += row[j];
        sum[i] = acc;
        keep[i] = i;
    }
    int32_t cnt = n;
    for (int round = 0; round < 4 && cnt > 32; round++) {
        /* the survivor of least sum that has not served yet (served filters get sum = +inf) */
        int32_t best = -1;
        double bs = INFINITY;
        for (int32_t i = 0; i < cnt; i++) {
            if (sum[keep[i]] < bs) {
                bs = sum[keep[i]];
                best = keep[i];
            }
        }
        if (best < 0) break;
        sum[best] = INFINITY;
        const double *p = F + (int64_t)best * m;
        int32_t o = 0;
        for (int32_t i = 0; i < cnt; i++) {
            const double *q = F + (int64_t)keep[i] * m;
            int le = 1, lt = 0;
            for (int j = 0; j < m; j++) {
                le &= p[j] <= q[j];
                lt |= p[j] < q[j];
            }
            if (!(le && lt)) keep[o++] = keep[i];
        }
        int32_t removed = cnt - o;
        cnt = o;
        if (removed < cnt / 8) break; /* not worth another pass */
    }
    K = moo_ff_finish(F, n, m, keep, cnt, out8, algo);
done:
    moo_scratch_release(3);
    return K;
}

/* Ranks (first_only = 0; out64[i] = front index) or the first front (first_only = 1; out8[i] = 1 for members, 0
 * otherwise) of the n x m row-major matrix F. algo: a moo_nds_algo (moo_common.h), MOO_NDS_AUTO but in tests.
 * Returns the number of fronts found (>= 1; 1 when first_only), MOO_ERR_MEMORY, or -(r + 2) for a non-finite value
 * in row r. */
static int64_t moo_nds(const double *F, int32_t n, int m, int64_t *out64, uint8_t *out8, int first_only, int algo) {
    int64_t bad = moo_first_nonfinite(F, n, m);
    if (bad != -1) return bad;
    const int filter = algo != MOO_NDS_NO_FILTER && algo != MOO_NDS_KDTREE_NO_FILTER;
    if (first_only && n > 64 && filter) return moo_first_filtered(F, n, m, out8, algo);
    return moo_nds_core(F, n, m, out64, out8, first_only, algo == MOO_NDS_NO_FILTER ? MOO_NDS_AUTO : algo);
}

/* The same on T threads: every pass over the rows (finiteness, sums, each filter's argmin and compaction) runs on
 * contiguous chunks, combined in chunk order, so that the mask is the one moo_first_filtered computes. */
typedef struct {
    const double *F;
    int m;
    double *sum;
    int32_t *keep;
    const double *p;           /* the filter point of a compaction */
    int64_t bad[MOO_MAX_THREADS];     /* first non-finite row of a chunk, or -1 */
    double bs[MOO_MAX_THREADS];       /* least sum of a chunk */
    int32_t best[MOO_MAX_THREADS], o[MOO_MAX_THREADS];
} moo_ff_ctx;

static void moo_ff_init(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ff_ctx *x = (moo_ff_ctx *)c;
    const int m = x->m;
    x->bad[t] = -1;
    for (ptrdiff_t i = lo; i < hi; i++) {
        const double *row = x->F + (int64_t)i * m;
        double acc = 0.0, fin = 0.0;
        for (int j = 0; j < m; j++) {
            acc += row[j];
            fin += row[j] * 0.0;
        }
        if (fin != fin && x->bad[t] < 0) x->bad[t] = i;
        x->sum[i] = acc;
        x->keep[i] = (int32_t)i;
    }
}

static void moo_ff_argmin(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ff_ctx *x = (moo_ff_ctx *)c;
    int32_t best = -1;
    double bs = INFINITY;
    for (ptrdiff_t i = lo; i < hi; i++) {
        if (x->sum[x->keep[i]] < bs) {
            bs = x->sum[x->keep[i]];
            best = x->keep[i];
        }
    }
    x->bs[t] = bs;
    x->best[t] = best;
}

static void moo_ff_filter(void *c, int t, ptrdiff_t lo, ptrdiff_t hi) {
    moo_ff_ctx *x = (moo_ff_ctx *)c;
    const double *p = x->p;
    const int m = x->m;
    int32_t o = (int32_t)lo;
    for (ptrdiff_t i = lo; i < hi; i++) {
        const double *q = x->F + (int64_t)x->keep[i] * m;
        int le = 1, lt = 0;
        for (int j = 0; j < m; j++) {
            le &= p[j] <= q[j];
            lt |= p[j] < q[j];
        }
        if (!(le && lt)) x->keep[o++] = x->keep[i];
    }
    x->o[t] = o - (int32_t)lo;
}

static int64_t moo_first_filtered_mt(const double *F, int32_t n, int m, uint8_t *out8, int algo, int T) {
    if (T > MOO_MAX_THREADS) T = MOO_MAX_THREADS;
    size_t s_f = MOO_ALIGN((size_t)n * sizeof(double));
    unsigned char *blk = (unsigned char *)moo_scratch_get(3, s_f + (size_t)n * sizeof(int32_t));
    int64_t K = MOO_ERR_MEMORY;
    moo_ff_ctx x;
    if (!blk) goto done;
    x.F = F; x.m = m; x.sum = (double *)blk; x.keep = (int32_t *)(blk + s_f);
    moo_parallel_for(T, n, moo_ff_init, &x);
    for (int t = 0; t < T; t++) {
        if (x.bad[t] >= 0) { K = -(x.bad[t] + 2); goto done; }
    }
    int32_t cnt = n;
    for (int round = 0; round < 4 && cnt > 32; round++) {
        moo_parallel_for(T, cnt, moo_ff_argmin, &x);
        int32_t best = -1;
        double bs = INFINITY;
        for (int t = 0; t < T; t++) {
            if (x.bs[t] < bs) { bs = x.bs[t]; best = x.best[t]; }
        }
        if (best < 0) break;
        x.sum[best] = INFINITY;
        x.p = F + (int64_t)best * m;
        moo_parallel_for(T, cnt, moo_ff_filter, &x);
        int32_t o = 0;
        for (int t = 0; t < T; t++) { /* chunk t kept x.o[t] rows at its start: close the gaps in order */
            const int32_t lo = (int32_t)((double)cnt * t / T);
            if (o != lo) memmove(x.keep + o, x.keep + lo, (size_t)x.o[t] * sizeof(int32_t));
            o += x.o[t];
        }
        int32_t removed = cnt - o;
        cnt = o;
        if (removed < cnt / 8) break; /* not worth another pass */
    }
    K = moo_ff_finish(F, n, m, x.keep, cnt, out8, algo);
done:
    moo_scratch_release(3);
    return K;
}

/* moo_nds's first front on T threads (T <= 1: moo_nds itself). */
MOO_UNUSED static int64_t moo_first_front_mt(const double *F, int32_t n, int m, uint8_t *out8, int algo, int T) {
    const int filter = algo != MOO_NDS_NO_FILTER && algo != MOO_NDS_KDTREE_NO_FILTER;
    if (T <= 1 || n <= 64 || !filter) return moo_nds(F, n, m, NULL, out8, 1, algo);
    return moo_first_filtered_mt(F, n, m, out8, algo, T);
}

#endif
