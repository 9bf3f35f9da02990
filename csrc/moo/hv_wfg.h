/* Exact hypervolume for any d (minimisation); depends on moo_common.h only. Sub-problems of fewer objectives go to
 * the hv_rec_fn the caller passes (the dispatcher), so the d = 2..8 kernels serve as base cases.
 *
 * WFG (While, Bradstreet, Barone 2012): points sorted by the last objective; each point's exclusive volume against
 * the earlier ones is its box minus the hypervolume of its non-dominated limit set. Earlier points worse than p in
 * one objective only ("caps") shrink the box to [p, cap) and filter the rest in O(d); the survivors are made
 * non-dominated by worse-objective masks (a point can only be dominated by one whose mask is a subset of its own).
 * 4-D limit sets (d = 5) with few survivors skip the mask filter: hv4_sweep (moo_common.h), a w-sweep keeping the
 * 3-D front in z-sorted arrays, drops the dominated ones as it goes.
 * Inclusion-exclusion (hv_ie) for a handful of points.
 * Allocation failure returns NaN.
 */
#ifndef NSGANETV2_HV_WFG_H
#define NSGANETV2_HV_WFG_H

#include "moo_common.h"

/* ------------------------------------------------------------------------------------------------ */
/* the 4-D front sweep of small limit sets                                                          */
/* ------------------------------------------------------------------------------------------------ */
/* HV of the 4-D points C (rows of 4, each strictly inside ref), listed by ord[0..nc) in ascending w: their columns
 * through hv4_sweep (moo_common.h), whose 3-D front rejects the dominated ones as it goes. ord's keys serve as its
 * sort keys afterwards; work: HV4_WORK4_DOUBLES(nc) doubles. */
#define HV4_WORK4_DOUBLES(nc) (4 * (size_t)(nc) + HV4_WORK_DOUBLES(nc))
static double hv4d_front_sweep(const double *C, moo_key *ord, ptrdiff_t nc, const double *ref, double *work) {
    double *cx = work, *cy = cx + nc, *cz = cy + nc, *cw = cz + nc;
    for (ptrdiff_t t = 0; t < nc; t++) {
        const double *c = C + ord[t].i * 4;
        cx[t] = c[0]; cy[t] = c[1]; cz[t] = c[2]; cw[t] = c[3];
    }
    hv4_work W;
#ifdef MOO_X86
    hv4_work_init(&W, cw + nc, ord, nc, moo_have_avx2());
#else
    hv4_work_init(&W, cw + nc, ord, nc, 0);
#endif
    return hv4_sweep(cx, cy, cz, cw, nc, ref, &W);
}

/* ------------------------------------------------------------------------------------------------ */
/* WFG                                                                                              */
/* ------------------------------------------------------------------------------------------------ */
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
                                   const uint64_t *code, double *C, moo_key *order, unsigned int *smask) {
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

#ifdef MOO_X86
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
                                                                         moo_key *order, unsigned int *smask) {
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



/* 1 when l <= c in all e coordinates (SSE2 two at a time on x86-64). */
static inline int hv_le(const double *l, const double *c, int e) {
#ifdef MOO_X86
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
#ifdef MOO_X86
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
static ptrdiff_t hv_nds_by_mask(const double *C, ptrdiff_t nc, int e, const unsigned int *smask, moo_key *order,
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
static double hv_wfg_sorted(const double *Y, ptrdiff_t n, int d, const double *ref, int path, hv_rec_fn rec) {
    const int e = d - 1;
    size_t cap_n = (size_t)(n > 0 ? n : 1);
    /* one block: C (clipped survivors), L (limit set), order, code, smask; on the stack for small n */
    size_t bytes = cap_n * (2 * (size_t)e * sizeof(double) + sizeof(moo_key) + sizeof(uint64_t) + sizeof(unsigned int));
    const int sweep4 = e == 4 && path != HV_PATH_WFG_MASK;
    if (sweep4) bytes += HV4_WORK4_DOUBLES(cap_n) * sizeof(double) + 8; /* hv4d_front_sweep's work space */
    double stackmem[(32 * (2 * 8 * sizeof(double) + sizeof(moo_key) + sizeof(uint64_t) + sizeof(unsigned int))) /
                        sizeof(double) + HV4_WORK4_DOUBLES(32) + 1];
    char *mem = (e <= 8 && n <= 32) ? (char *)stackmem : (char *)malloc(bytes);
    if (!mem) return NAN;
    double *C = (double *)mem, *L = C + cap_n * (size_t)e;
    moo_key *order = (moo_key *)(L + cap_n * (size_t)e);
    uint64_t *code = (uint64_t *)(order + cap_n);
    unsigned int *smask = (unsigned int *)(code + cap_n);
    double *work4 = sweep4 ? (double *)(((uintptr_t)(smask + cap_n) + 7) & ~(uintptr_t)7) : NULL;
    const int buckets = e <= HV_MASK_MAX_E;
#ifdef MOO_X86
    const int fast4 = e == 4 && moo_have_avx2();
#endif
    double total = 0.0;
    double cap[64];
    for (ptrdiff_t k = 0; k < n; k++) {
        const double *p = Y + k * d;
        for (int i = 0; i < e; i++) cap[i] = ref[i];
        ptrdiff_t nc;
#ifdef MOO_X86
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
        if (sweep4 && (nc <= HV_SWEEP4_MAX || path == HV_PATH_WFG_SWEEP)) {
            /* limit set HV straight from the survivors, in w order (those not worse than p in w, all at w = p[3],
             * first: hv4_sweep's first run) */
            for (ptrdiff_t t = 0; t < nc; t++) order[t].k = C[order[t].i * 4 + 3];
            if (nc > 1) moo_sort_key(order, nc);
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
            if (nc > 1) moo_sort_key(order, nc);
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
        double excl = box - rec(L, m, e, e, cap, path);
        if (excl < 0.0) excl = 0.0; /* rounding only */
        total += excl * (ref[e] - p[e]);
    }
    if (mem != (char *)stackmem) free(mem);
    return total;
}


/* X: n >= 2 rows with stride `stride`, d objectives (d >= 5), each row strictly dominating ref. */
static double hv_wfg(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref, int path,
                     hv_rec_fn rec) {
    moo_key ostack[32];
    double ystack[32 * 8];
    const int small = n <= 32 && d <= 8;
    moo_key *o = small ? ostack : (moo_key *)malloc((size_t)n * sizeof(moo_key));
    double *Y = small ? ystack : (double *)malloc((size_t)n * (size_t)d * sizeof(double));
    if (!o || !Y) {
        if (!small) { free(o); free(Y); }
        return NAN;
    }
    for (ptrdiff_t i = 0; i < n; i++) { o[i].k = X[i * stride + d - 1]; o[i].i = i; }
    moo_sort_key(o, n);
    for (ptrdiff_t i = 0; i < n; i++) memcpy(Y + i * d, X + o[i].i * stride, (size_t)d * sizeof(double));
    double v = hv_wfg_sorted(Y, n, d, ref, path, rec);
    if (!small) { free(o); free(Y); }
    return v;
}

/* ------------------------------------------------------------------------------------------------ */
/* inclusion-exclusion                                                                              */
/* ------------------------------------------------------------------------------------------------ */
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

/* X: n rows with stride `stride`, d objectives, each row strictly dominating ref: the volume by inclusion-exclusion
 * over all 2^n - 1 subsets (those of zero volume pruned). */
static double hv_ie(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref) {
    double lo[64];
    for (int j = 0; j < d; j++) lo[j] = -INFINITY;
    return hv_ie_rec(X, n, d, stride, ref, 0, lo, 1.0);
}

#endif
