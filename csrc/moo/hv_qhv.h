/* Exact hypervolume for 5 <= d <= 8 by QHV-II (Russo & Francisco, "Quick Hypervolume", 2014, and its d-box
 * split, 2016); depends on moo_common.h only (past the depth guard it calls back the dispatcher it is given).
 *
 * HV(S, box [lo, hi)): the pivot p in S with the largest box [max(p, lo), hi) adds that box; the rest of the box,
 * the x in [lo, hi) with x < p in some objective, splits into d disjoint boxes B_j = {x_i >= p_i for the objectives
 * i taken before j, x_j < p_j} (any order of the objectives), and each B_j recurses on the points that reach into
 * it (clipped p'_j < p_j, weakly dominated ones included: they cost time only). Sets of at most HV_QHV_IEX points
 * are summed by inclusion-exclusion. What makes it fast:
 *   - no point is copied or clipped: a node holds an index list into one padded array and its box, and clipping
 *     to the box happens inside each volume; the index lists live in one growable arena (offsets, not pointers);
 *   - the d objectives of a point are two AVX2 vectors (0..3 and 4..7, padded with 0 inside a [0, 1) box, which
 *     multiplies volumes by 1 and never splits); the pivot search and the split are branch-free per point;
 *   - the child boxes run fewest points first: the later ones start from more raised lower bounds.
 *   - each node's lists are written just before its box runs, eight indices a step (pshufb), and the lists'
 *     sizes come from the masks' bits spread to bytes and summed in one 64-bit word.
 * Each level removes the pivot, so the depth is at most n; past max_depth a box is handed to the caller's hv_rec_fn
 * (along HV_PATH_NO_QHV: hv5d or WFG) to keep the C stack small. */
#ifndef NSGANETV2_HV_QHV_H
#define NSGANETV2_HV_QHV_H

#include "moo_common.h"

#define HV_QHV_IEX 5          /* sets of at most this many points: inclusion-exclusion */
/* deeper boxes go to the fallback: about 0.9 KB of C stack a level keeps the guard within a 512 KB thread stack
 * (macOS), well past the depth real fronts reach */
#define HV_QHV_MAX_DEPTH 256
#define HV_QHV_SHALLOW_DEPTH 2 /* the guard along HV_PATH_QHV_SHALLOW (tests) */

typedef struct {
    double lo[8], hi[8];
} hv_qbox;

typedef struct {
    const double *X; /* n rows of 8 doubles (objectives, then 0 padding), 32-byte aligned */
    int32_t *ar;     /* index lists */
    ptrdiff_t cap;   /* ints in ar */
    int d, avx2, failed; /* avx2: the AVX2 path runs */
    int max_depth;       /* deeper boxes go to rec */
    hv_rec_fn rec;
    struct hv_qplan *plan; /* the split into tasks for threads (NULL: none; see hv_qhv_threads) */
} hv_qstate;

/* Makes room for `need` ints in the arena; 0 on failure (then Q->failed is set). */
static int hv_qhv_reserve(hv_qstate *Q, ptrdiff_t need) {
    if (need <= Q->cap) return 1;
    ptrdiff_t cap = Q->cap * 2 > need ? Q->cap * 2 : need;
    int32_t *a = (int32_t *)realloc(Q->ar, (size_t)cap * sizeof(int32_t));
    if (!a) {
        Q->failed = 1;
        return 0;
    }
    Q->ar = a;
    Q->cap = cap;
    return 1;
}

/* The box past the depth guard: its points, clipped to lo, through Q->rec. */
static double hv_qhv_fallback(hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B) {
    const int d = Q->d;
    double *Y = (double *)malloc((size_t)n * (size_t)d * sizeof(double));
    if (!Y) {
        Q->failed = 1;
        return 0.0;
    }
    for (ptrdiff_t t = 0; t < n; t++) {
        const double *x = Q->X + 8 * (ptrdiff_t)Q->ar[io + t];
        for (int i = 0; i < d; i++) Y[t * d + i] = x[i] > B->lo[i] ? x[i] : B->lo[i];
    }
    double v = Q->rec(Y, n, d, d, B->hi, HV_PATH_NO_QHV);
    free(Y);
    if (v != v) Q->failed = 1;
    return v;
}

/* threads ------------------------------------------------------------------------------------------------------
 * The boxes below the top of the recursion are independent: with T > 1 threads, the top (the boxes holding more
 * than n / HV_QHV_TASK_DIV points, down to depth HV_QHV_TASK_DEPTH) runs first, on the calling thread, and records
 * what it adds up in a log: each box below the top becomes a task (its index list, box and depth) whose volume is
 * left for later. The threads then compute the tasks, largest first, each into its own slot, and the log is
 * summed in its order with the tasks' volumes put in: every addition happens in the order of the single-threaded
 * recursion, so the result is the same, to the bit, for any number of threads. */
#define HV_QHV_TASK_DIV 2
#define HV_QHV_TASK_DEPTH 8
#define HV_QHV_THREADS_MIN 256 /* smaller sets run on one thread (the same value: only the time would differ) */

typedef struct { ptrdiff_t off, n; hv_qbox B; int depth; } hv_qtask;

/* a log entry: a node's pivot volume that opens its children (HV_QLOG_OPEN), the close of the last open node, a
 * volume computed in the top (a small box), or a task's volume (index in i) */
enum { HV_QLOG_OPEN, HV_QLOG_CLOSE, HV_QLOG_VALUE, HV_QLOG_TASK };
typedef struct { int kind; ptrdiff_t i; double v; } hv_qlog;

typedef struct hv_qplan {
    ptrdiff_t min_top;   /* boxes with more points than this (and not too deep) stay in the top */
    hv_qtask *task;
    ptrdiff_t nt, tcap;  /* tasks and room */
    int32_t *list;       /* the tasks' index lists */
    ptrdiff_t nl, lcap;
    hv_qlog *log;
    ptrdiff_t ng, gcap;  /* entries and room */
} hv_qplan;

/* 1 when a box of n points at this depth is below the top (a task; the root never is). */
static inline int hv_qhv_is_task(const hv_qstate *Q, ptrdiff_t n, int depth) {
    return depth > 0 && (n <= Q->plan->min_top || depth >= HV_QHV_TASK_DEPTH || depth > Q->max_depth);
}

/* Grows *buf (of *cap items of `size` bytes) to hold `need`; 0 on failure. */
static int hv_qhv_grow(void **buf, ptrdiff_t *cap, ptrdiff_t need, size_t size) {
    if (need <= *cap) return 1;
    ptrdiff_t c = *cap * 2 > need ? *cap * 2 : need;
    void *b = realloc(*buf, (size_t)c * size);
    if (!b) return 0;
    *buf = b;
    *cap = c;
    return 1;
}

/* Appends an entry to the plan's log (Q->failed when out of memory). */
static void hv_qhv_log_add(hv_qstate *Q, int kind, ptrdiff_t i, double v) {
    hv_qplan *P = Q->plan;
    if (!hv_qhv_grow((void **)&P->log, &P->gcap, P->ng + 1, sizeof(hv_qlog))) {
        Q->failed = 1;
        return;
    }
    P->log[P->ng].kind = kind;
    P->log[P->ng].i = i;
    P->log[P->ng++].v = v;
}

/* Appends to the log when there is one; passes v through. */
static inline double hv_qhv_log(hv_qstate *Q, int kind, ptrdiff_t i, double v) {
    if (Q->plan) hv_qhv_log_add(Q, kind, i, v);
    return v;
}

/* A box below the top becomes a task (its volume 0 for now). */
static double hv_qhv_task(hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B, int depth) {
    hv_qplan *P = Q->plan;
    if (!hv_qhv_grow((void **)&P->task, &P->tcap, P->nt + 1, sizeof(hv_qtask)) ||
        !hv_qhv_grow((void **)&P->list, &P->lcap, P->nl + n, sizeof(int32_t))) {
        Q->failed = 1;
        return 0.0;
    }
    hv_qtask *t = &P->task[P->nt];
    t->off = P->nl;
    t->n = n;
    t->B = *B;
    t->depth = depth;
    memcpy(P->list + P->nl, Q->ar + io, (size_t)n * sizeof(int32_t));
    P->nl += n;
    return hv_qhv_log(Q, HV_QLOG_TASK, P->nt++, 0.0);
}

/* The log summed as the recursion sums: a node is its pivot volume plus ((0 + child 1) + child 2) + ... */
static double hv_qhv_log_sum(const hv_qplan *P, const double *vol) {
    double best[HV_QHV_TASK_DEPTH + 2], acc[HV_QHV_TASK_DEPTH + 2];
    int top = 0;
    acc[0] = 0.0;
    for (ptrdiff_t g = 0; g < P->ng; g++) {
        const hv_qlog *e = &P->log[g];
        switch (e->kind) {
            case HV_QLOG_OPEN: top++; best[top] = e->v; acc[top] = 0.0; break;
            case HV_QLOG_CLOSE: top--; acc[top] += best[top + 1] + acc[top + 1]; break;
            case HV_QLOG_VALUE: acc[top] += e->v; break;
            default: acc[top] += vol[e->i]; break;
        }
    }
    return acc[0];
}

#ifdef MOO_X86
/* pshufb control that packs the int32 lanes of a 4-bit mask to the front */
static const int8_t hv_qhv_pack4[16][16] __attribute__((aligned(16))) = {
    {-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {4, 5, 6, 7, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, -128, -128, -128, -128, -128, -128, -128, -128},
    {8, 9, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 8, 9, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128},
    {4, 5, 6, 7, 8, 9, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -128, -128, -128, -128},
    {12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128},
    {4, 5, 6, 7, 12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, -128, -128, -128, -128},
    {8, 9, 10, 11, 12, 13, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128},
    {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, -128, -128, -128, -128},
    {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -128, -128, -128, -128},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}};

/* Writes the idx[t] whose mask[t] has bit j to out, in order, eight at a time (out needs 8 ints of slack). */
__attribute__((target("avx2,popcnt"))) static void hv_qhv_list_avx2(const int32_t *idx, const unsigned char *mask,
                                                                     ptrdiff_t n, int j, int32_t *out) {
    const __m128i bit = _mm_set1_epi8((char)(1 << j));
    ptrdiff_t c = 0, t = 0;
    for (; t + 8 <= n; t += 8) {
        const __m128i m = _mm_loadl_epi64((const __m128i *)(mask + t));
        const unsigned bits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(m, bit), bit));
        for (int h = 0; h < 2; h++) {
            const unsigned b4 = (bits >> (4 * h)) & 15u;
            const __m128i v = _mm_loadu_si128((const __m128i *)(idx + t + 4 * h)),
                          pack = _mm_load_si128((const __m128i *)hv_qhv_pack4[b4]);
            _mm_storeu_si128((__m128i *)(out + c), _mm_shuffle_epi8(v, pack));
            c += __builtin_popcount(b4);
        }
    }
    for (; t < n; t++) {
        out[c] = idx[t];
        c += (mask[t] >> j) & 1u;
    }
}
#endif

/* A node's volume (shared by both paths): best, its pivot's, plus its children's. mask[t] has bit j set when point t
 * (of the n listed at io) reaches into box j. The boxes run fewest points first, each raising the lower bounds of
 * the ones after it; each one's list is written at ao just before its turn (one list of room a level). */
typedef double (*hv_qhv_rec_fn)(hv_qstate *, ptrdiff_t, ptrdiff_t, const hv_qbox *, ptrdiff_t, int);

static double hv_qhv_children(hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B, ptrdiff_t ao, int depth,
                              double best, const double *pv, const unsigned char *mask, hv_qhv_rec_fn rec) {
    const int d = Q->d;
    /* counts per box: the mask's bits spread to bytes and summed as one 64-bit word, 255 masks at a time */
    ptrdiff_t cnt[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (ptrdiff_t t0 = 0; t0 < n; t0 += 255) {
        const ptrdiff_t t1 = n - t0 < 255 ? n : t0 + 255;
        uint64_t acc = 0;
        for (ptrdiff_t t = t0; t < t1; t++) { /* byte j of the spread mask: bit j, as 0 or 1 */
            const uint64_t b = (uint64_t)mask[t] * 0x0101010101010101ULL & 0x8040201008040201ULL;
            acc += ((b + 0x7f7f7f7f7f7f7f7fULL) >> 7) & 0x0101010101010101ULL;
        }
        for (int j = 0; j < 8; j++) cnt[j] += (ptrdiff_t)((acc >> (8 * j)) & 0xff);
    }
    int ord[8];
    for (int j = 0; j < d; j++) { /* rank by count, ties by objective */
        int r = 0;
        for (int k = 0; k < d; k++) r += (cnt[k] < cnt[j]) | ((cnt[k] == cnt[j]) & (k < j));
        ord[r] = j;
    }
    hv_qbox C = *B;
    double v = 0.0;
    hv_qhv_log(Q, HV_QLOG_OPEN, 0, best);
    for (int a = 0; a < d; a++) {
        const int j = ord[a];
        if (cnt[j]) {
            int32_t *ar = Q->ar; /* the arena may have moved during the previous box */
#ifdef MOO_X86
            if (Q->avx2) hv_qhv_list_avx2(ar + io, mask, n, j, ar + ao);
            else
#endif
            {
                ptrdiff_t c = 0;
                for (ptrdiff_t t = 0; t < n; t++) {
                    ar[ao + c] = ar[io + t];
                    c += (mask[t] >> j) & 1u;
                }
            }
            const double h = C.hi[j];
            C.hi[j] = pv[j];
            v += rec(Q, ao, cnt[j], &C, ao + cnt[j], depth + 1);
            C.hi[j] = h;
        }
        C.lo[j] = pv[j];
    }
    hv_qhv_log(Q, HV_QLOG_CLOSE, 0, 0.0);
    return best + v;
}

/* scalar path ------------------------------------------------------------------------------------------------- */
static double hv_qhv_rec_scalar(hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B, ptrdiff_t ao, int depth);

/* Inclusion-exclusion over the n <= HV_QHV_IEX points at io, clipped to B. */
static double hv_qhv_iex_scalar(const hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B) {
    const int d = Q->d;
    double m[1 << HV_QHV_IEX][8];
    double v = 0.0;
    for (int s = 1; s < (1 << n); s++) {
        const int t = __builtin_ctz((unsigned)s), r = s & (s - 1);
        const double *x = Q->X + 8 * (ptrdiff_t)Q->ar[io + t];
        double box = 1.0;
        for (int i = 0; i < d; i++) {
            double c = x[i] > B->lo[i] ? x[i] : B->lo[i];
            if (r && m[r][i] > c) c = m[r][i];
            m[s][i] = c;
            box *= B->hi[i] - c;
        }
        v += (__builtin_popcount((unsigned)s) & 1) ? box : -box;
    }
    return v;
}

static double hv_qhv_rec_scalar(hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B, ptrdiff_t ao, int depth) {
    if (n <= HV_QHV_IEX) return hv_qhv_log(Q, HV_QLOG_VALUE, 0, hv_qhv_iex_scalar(Q, io, n, B));
    if (Q->plan && hv_qhv_is_task(Q, n, depth)) return hv_qhv_task(Q, io, n, B, depth);
    if (depth > Q->max_depth) return hv_qhv_fallback(Q, io, n, B);
    const int d = Q->d;
    if (!hv_qhv_reserve(Q, ao + n + 8)) return 0.0;
    const int32_t *idx = Q->ar + io;
    double best = -1.0;
    ptrdiff_t b = 0;
    for (ptrdiff_t t = 0; t < n; t++) {
        const double *x = Q->X + 8 * (ptrdiff_t)idx[t];
        double v = 1.0;
        for (int i = 0; i < d; i++) v *= B->hi[i] - (x[i] > B->lo[i] ? x[i] : B->lo[i]);
        if (v > best) { best = v; b = t; }
    }
    double pv[8];
    const double *xb = Q->X + 8 * (ptrdiff_t)idx[b];
    for (int i = 0; i < d; i++) pv[i] = xb[i] > B->lo[i] ? xb[i] : B->lo[i];
    unsigned char mstack[256];
    unsigned char *mk = n <= 256 ? mstack : (unsigned char *)malloc((size_t)n);
    if (!mk) { Q->failed = 1; return 0.0; }
    for (ptrdiff_t t = 0; t < n; t++) {
        const double *x = Q->X + 8 * (ptrdiff_t)idx[t];
        unsigned m = 0;
        for (int i = 0; i < d; i++) m |= (unsigned)((x[i] > B->lo[i] ? x[i] : B->lo[i]) < pv[i]) << i;
        mk[t] = (unsigned char)m;
    }
    const double v = hv_qhv_children(Q, io, n, B, ao, depth, best, pv, mk, hv_qhv_rec_scalar);
    if (mk != mstack) free(mk);
    return v;
}

/* AVX2 path --------------------------------------------------------------------------------------------------- */
#ifdef MOO_X86
#define HV_QHV_AVX2 __attribute__((target("avx2,fma")))

/* The products over the four lanes of q0..q3, one per lane. */
HV_QHV_AVX2 static inline __m256d hv_qhv_prod4(__m256d q0, __m256d q1, __m256d q2, __m256d q3) {
    const __m256d t01 = _mm256_mul_pd(_mm256_unpacklo_pd(q0, q1), _mm256_unpackhi_pd(q0, q1));
    const __m256d t23 = _mm256_mul_pd(_mm256_unpacklo_pd(q2, q3), _mm256_unpackhi_pd(q2, q3));
    return _mm256_mul_pd(_mm256_permute2f128_pd(t01, t23, 0x20), _mm256_permute2f128_pd(t01, t23, 0x31));
}

/* the box sides of a point x clipped to [lo, hi), objectives 0..3 times objectives 4..7 */
#define HV_QHV_SIDES(x) \
    _mm256_mul_pd(_mm256_sub_pd(hi0, _mm256_max_pd(_mm256_load_pd(x), lo0)), \
                  _mm256_sub_pd(hi1, _mm256_max_pd(_mm256_load_pd((x) + 4), lo1)))

/* +1 for the subsets of odd size, -1 for the others, 0 for the empty one */
static const double hv_qhv_sign[32] __attribute__((aligned(32))) = {
    0, 1, 1, -1, 1, -1, -1, 1, 1, -1, -1, 1, -1, 1, 1, -1, 1, -1, -1, 1, -1, 1, 1, -1, -1, 1, 1, -1, 1, -1, -1, 1};

HV_QHV_AVX2 static double hv_qhv_rec_avx2(hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B, ptrdiff_t ao,
                                          int depth);

/* Inclusion-exclusion, the subsets' boxes four at a time. */
HV_QHV_AVX2 static double hv_qhv_iex_avx2(const hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B) {
    const __m256d lo0 = _mm256_loadu_pd(B->lo), lo1 = _mm256_loadu_pd(B->lo + 4), hi0 = _mm256_loadu_pd(B->hi),
                  hi1 = _mm256_loadu_pd(B->hi + 4);
    __m256d m0[1 << HV_QHV_IEX], m1[1 << HV_QHV_IEX];
    const int ns = n < 2 ? 4 : 1 << n;
    m0[0] = m0[2] = m0[3] = hi0; /* empty (and, for n = 1, unused) subsets: zero volume */
    m1[0] = m1[2] = m1[3] = hi1;
    for (ptrdiff_t t = 0; t < n; t++) { /* the singletons, clipped */
        const double *x = Q->X + 8 * (ptrdiff_t)Q->ar[io + t];
        m0[1 << t] = _mm256_max_pd(_mm256_load_pd(x), lo0);
        m1[1 << t] = _mm256_max_pd(_mm256_load_pd(x + 4), lo1);
    }
    for (int s = 3; s < (1 << n); s++) {
        const int r = s & (s - 1);
        if (!r) continue;
        const int t = s & -s;
        m0[s] = _mm256_max_pd(m0[t], m0[r]);
        m1[s] = _mm256_max_pd(m1[t], m1[r]);
    }
    __m256d acc = _mm256_setzero_pd();
    for (int s = 0; s < ns; s += 4) {
#define HV_QHV_SUB(k) _mm256_mul_pd(_mm256_sub_pd(hi0, m0[s + k]), _mm256_sub_pd(hi1, m1[s + k]))
        const __m256d v = hv_qhv_prod4(HV_QHV_SUB(0), HV_QHV_SUB(1), HV_QHV_SUB(2), HV_QHV_SUB(3));
#undef HV_QHV_SUB
        acc = _mm256_add_pd(acc, _mm256_mul_pd(v, _mm256_load_pd(hv_qhv_sign + s)));
    }
    __m128d l = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
    return _mm_cvtsd_f64(_mm_add_sd(l, _mm_unpackhi_pd(l, l)));
}

HV_QHV_AVX2 static double hv_qhv_rec_avx2(hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B, ptrdiff_t ao,
                                          int depth) {
    if (n <= HV_QHV_IEX) return hv_qhv_log(Q, HV_QLOG_VALUE, 0, hv_qhv_iex_avx2(Q, io, n, B));
    if (Q->plan && hv_qhv_is_task(Q, n, depth)) return hv_qhv_task(Q, io, n, B, depth);
    if (depth > Q->max_depth) return hv_qhv_fallback(Q, io, n, B);
    if (!hv_qhv_reserve(Q, ao + n + 8)) return 0.0;
    const int32_t *idx = Q->ar + io;
    const double *X = Q->X;
    const __m256d lo0 = _mm256_loadu_pd(B->lo), lo1 = _mm256_loadu_pd(B->lo + 4), hi0 = _mm256_loadu_pd(B->hi),
                  hi1 = _mm256_loadu_pd(B->hi + 4);
    /* pivot: the largest clipped box, four points at a time (the last block repeats its first point) */
    __m256d best = _mm256_set1_pd(-1.0), bi = _mm256_setzero_pd(), ti = _mm256_setr_pd(0, 1, 2, 3);
    const __m256d four = _mm256_set1_pd(4.0);
    for (ptrdiff_t t = 0; t < n; t += 4) {
        const ptrdiff_t r = n - t, t1 = r > 1 ? t + 1 : t, t2 = r > 2 ? t + 2 : t, t3 = r > 3 ? t + 3 : t;
        const double *x0 = X + 8 * (ptrdiff_t)idx[t], *x1 = X + 8 * (ptrdiff_t)idx[t1],
                     *x2 = X + 8 * (ptrdiff_t)idx[t2], *x3 = X + 8 * (ptrdiff_t)idx[t3];
        const __m256d v = hv_qhv_prod4(HV_QHV_SIDES(x0), HV_QHV_SIDES(x1), HV_QHV_SIDES(x2), HV_QHV_SIDES(x3));
        const __m256d gt = _mm256_cmp_pd(v, best, _CMP_GT_OQ);
        if (r < 4) ti = _mm256_setr_pd((double)t, (double)t1, (double)t2, (double)t3); /* the lanes' own points */
        best = _mm256_blendv_pd(best, v, gt);
        bi = _mm256_blendv_pd(bi, ti, gt);
        ti = _mm256_add_pd(ti, four);
    }
    double bv[4] __attribute__((aligned(32))), bt[4] __attribute__((aligned(32)));
    _mm256_store_pd(bv, best);
    _mm256_store_pd(bt, bi);
    int l = 0;
    for (int q = 1; q < 4; q++) if (bv[q] > bv[l]) l = q;
    double pv[8] __attribute__((aligned(32)));
    const double *xb = X + 8 * (ptrdiff_t)idx[(ptrdiff_t)bt[l]];
    const __m256d p0 = _mm256_max_pd(_mm256_load_pd(xb), lo0), p1 = _mm256_max_pd(_mm256_load_pd(xb + 4), lo1);
    _mm256_store_pd(pv, p0);
    _mm256_store_pd(pv + 4, p1);
    unsigned char mstack[256];
    unsigned char *mk = n <= 256 ? mstack : (unsigned char *)malloc((size_t)n);
    if (!mk) { Q->failed = 1; return 0.0; }
    for (ptrdiff_t t = 0; t < n; t++) {
        const double *x = X + 8 * (ptrdiff_t)idx[t];
        const int m0 = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_max_pd(_mm256_load_pd(x), lo0), p0, _CMP_LT_OQ));
        const int m1 = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_max_pd(_mm256_load_pd(x + 4), lo1), p1, _CMP_LT_OQ));
        mk[t] = (unsigned char)(m0 | m1 << 4);
    }
    const double v = hv_qhv_children(Q, io, n, B, ao, depth, bv[l], pv, mk, hv_qhv_rec_avx2);
    if (mk != mstack) free(mk);
    return v;
}
#undef HV_QHV_SIDES
#endif

/* The recursion from box B over the n points listed at io (arena offset ao for the children), on Q's path. */
static double hv_qhv_run(hv_qstate *Q, ptrdiff_t io, ptrdiff_t n, const hv_qbox *B, ptrdiff_t ao, int depth) {
#ifdef MOO_X86
    if (Q->avx2) return hv_qhv_rec_avx2(Q, io, n, B, ao, depth);
#endif
    return hv_qhv_rec_scalar(Q, io, n, B, ao, depth);
}

/* One thread: the next task not taken (largest first, by ord), into its slot of vol, until none is left; it has
 * its own arena. */
typedef struct {
    const hv_qstate *Q;
    hv_qplan *P;
    const ptrdiff_t *ord;
    double *vol;    /* the tasks' volumes */
    ptrdiff_t next; /* the next entry of ord to take (atomic) */
    int failed;     /* set by a thread that failed (atomic) */
} hv_qhv_pool;

static void hv_qhv_worker(void *ctx, int t, ptrdiff_t lo, ptrdiff_t hi) {
    (void)t; (void)lo; (void)hi;
    hv_qhv_pool *pool = (hv_qhv_pool *)ctx;
    hv_qstate W = *pool->Q;
    W.plan = NULL;
    W.cap = 0;
    W.ar = NULL;
    W.failed = 0;
    for (;;) {
        const ptrdiff_t k = __atomic_fetch_add(&pool->next, 1, __ATOMIC_RELAXED);
        if (k >= pool->P->nt) break;
        const hv_qtask *tk = &pool->P->task[pool->ord[k]];
        if (!hv_qhv_reserve(&W, 16 * tk->n + 64)) break;
        memcpy(W.ar, pool->P->list + tk->off, (size_t)tk->n * sizeof(int32_t));
        pool->vol[pool->ord[k]] = hv_qhv_run(&W, 0, tk->n, &tk->B, tk->n, tk->depth);
        if (W.failed) break;
    }
    if (W.failed) __atomic_store_n(&pool->failed, 1, __ATOMIC_RELAXED);
    free(W.ar);
}

/* The recursion on T > 1 threads (see "threads" above): the same value as hv_qhv_run(Q, 0, n, B, n, 0). */
static double hv_qhv_threads(hv_qstate *Q, ptrdiff_t n, const hv_qbox *B, int T) {
    hv_qplan P;
    memset(&P, 0, sizeof P);
    P.min_top = n / HV_QHV_TASK_DIV;
    Q->plan = &P;
    hv_qhv_run(Q, 0, n, B, n, 0); /* the top: the log and the tasks */
    Q->plan = NULL;
    const size_t nt = (size_t)(P.nt > 0 ? P.nt : 1);
    moo_key *by = (moo_key *)malloc(nt * sizeof(moo_key));
    ptrdiff_t *ord = (ptrdiff_t *)malloc(nt * sizeof(ptrdiff_t));
    double *vol = (double *)malloc(nt * sizeof(double)), v = 0.0;
    if (!Q->failed && by && ord && vol) {
        for (ptrdiff_t k = 0; k < P.nt; k++) { by[k].k = -(double)P.task[k].n; by[k].i = k; }
        moo_sort_key(by, P.nt);
        for (ptrdiff_t k = 0; k < P.nt; k++) ord[k] = by[k].i;
        hv_qhv_pool pool = {Q, &P, ord, vol, 0, 0};
        moo_parallel_for(T, T, T, hv_qhv_worker, &pool);
        if (pool.failed) Q->failed = 1;
        v = hv_qhv_log_sum(&P, vol);
    } else {
        Q->failed = 1;
    }
    free(by);
    free(ord);
    free(vol);
    free(P.task);
    free(P.list);
    free(P.log);
    return v;
}

/* X: n >= 1 rows with stride `stride`, 5 <= d <= 8 objectives, each row strictly dominating ref. scalar: 1 forces
 * the portable path; max_depth: HV_QHV_MAX_DEPTH, lower in tests; rec: computes the boxes past it; T: threads (the
 * same value for any T). Returns NaN when out of memory, +inf when the volume overflows. */
static double hv_qhv(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref, int scalar,
                     int max_depth, hv_rec_fn rec, int T) {
    double *P = (double *)aligned_alloc(32, (size_t)n * 8 * sizeof(double));
    hv_qstate Q;
    Q.cap = 16 * n + 64;
    Q.ar = (int32_t *)malloc((size_t)Q.cap * sizeof(int32_t));
    if (!P || !Q.ar) {
        free(P);
        free(Q.ar);
        return NAN;
    }
    hv_qbox B;
    for (int i = 0; i < 8; i++) { B.lo[i] = i < d ? INFINITY : 0.0; B.hi[i] = i < d ? ref[i] : 1.0; }
    for (ptrdiff_t k = 0; k < n; k++) {
        for (int i = 0; i < 8; i++) {
            const double x = i < d ? X[k * stride + i] : 0.0;
            P[8 * k + i] = x;
            if (i < d && x < B.lo[i]) B.lo[i] = x;
        }
        Q.ar[k] = (int32_t)k;
    }
    Q.X = P;
    Q.d = d;
    Q.failed = 0;
    Q.max_depth = max_depth;
    Q.rec = rec;
    Q.plan = NULL;
    Q.avx2 = 0;
#ifdef MOO_X86
    Q.avx2 = !scalar && moo_have_avx2();
#endif
    (void)scalar;
    const double v = T > 1 && n >= HV_QHV_THREADS_MIN ? hv_qhv_threads(&Q, n, &B, T) : hv_qhv_run(&Q, 0, n, &B, n, 0);
    free(P);
    free(Q.ar);
    /* inputs are finite: a NaN here is inf - inf from a volume past the largest double, so the true value overflows */
    return Q.failed ? NAN : (v != v ? INFINITY : v);
}

#endif
