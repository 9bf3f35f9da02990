/* Exact hypervolume for d = 5 (minimisation), hv5d; depends on moo_common.h only.
 *
 * Sweep over the 5th objective v: HV5 = sum_k excl4(p_k | p_0..p_{k-1}) * (ref_v - v_k), the points taken by
 * ascending v. Each point's exclusive 4-D volume is its box minus the 4-D hypervolume of the earlier points
 * clipped to it (WFG's limit set); that hypervolume is hv4_sweep (moo_common.h), a w-sweep (4th objective)
 * keeping the 3-D front (HV4D+-style, as moocore's onec4dplusU). What makes it fast:
 *   - the earlier points live in a structure-of-arrays kept in w order (contiguous, with p inserted by memmove
 *     after its step; the scalar reference keeps a static w order with an "active" bitset), so the limit set
 *     comes out of the scan already in w order (no per-point sort);
 *   - the scan is AVX2, four points a step with no gaps: it finds a point that dominates p (p adds nothing), the
 *     "caps" (the best point worse than p in one objective only, which cuts p's box down) and the survivors
 *     (worse in two or more objectives and inside the cut box), which it clips and packs;
 *   - points strictly worse than p in all four objectives leave the active set for good (p covers them from
 *     here on), and so does nothing else;
 *   - the scan stops at the first point whose w reaches the cut box's w bound (nothing past it matters);
 *   - the survivors not worse than p in w enter the w-sweep at once (hv4_sweep's first run): one z-sweep over a
 *     2-D staircase gives their 3-D volume and the z-sorted 3-D front, so only the others pay a 3-D contribution;
 *   - the 3-D sweep axis is the one (of x, y, z) where the fewest survivors sit on p's value.
 * The dispatcher (hv.h) takes QHV-II (hv_qhv.h) for d = 5 and hv5d for QHV-II's boxes past its depth guard: on
 * fronts never seen before QHV-II is faster at every size. Tried here and slower (judged, before the benchmarks
 * took new fronts, on fronts the branch predictors had learnt):
 *   - choosing the 4-D sweep axis per point (the one where most survivors sit on p's value): the group entering
 *     at once grows, but so does the 3-D front it leaves, and the later walks shrink by less than the reordering
 *     costs;
 *   - a counting (rank) sort of the first group instead of the insertion sort; branch-free 3-D contributions
 *     on small fronts; the first group's insertion sort on z alone (ties in any order): no faster;
 *   - dropping the survivors that a survivor worse than p in two objectives only dominates (clipped, it equals p
 *     elsewhere): on the sphere at N = 100 they are 10 of 25 survivors, but the sweeps got only ~10 % faster (a
 *     dominated point costs the sweep one probe) and the filter, O(survivors x such points), cost more;
 *   - skipping in the w-sweep the points at or past a survivor that sits on p's value in two of x, y, z (it
 *     dominates every later point not better in its third coordinate; a running cap per axis): 6.6 of the 9
 *     dominated sweep points per point skipped, no faster (a dominated point costs one short probe);
 *   - the scan and update on AVX-512 (eight lanes, mask registers, packing by compress): within 2 %;
 *   - one fused probe and base pass for fronts of up to 8 points (two blocks of AVX2, or one of AVX-512 with
 *     mask registers; the caps' minimum then the base's candidates): slower than the count, probe and base pass
 *     hv4_sweep runs; the probe over the whole small front, counting the points below p as it goes: ~10 % slower
 *     (likely waiting on the blocks the last lift has just written);
 *   - the first group's rank sort with AVX2 compares (up to 16 points, ties in index order): no faster;
 *   - the 3-D sweep axis where the most survivors sit on p's value: 15 % more instructions (a fixed axis: 5 %).
 * On the sphere at N = 100 a limit set has 29 survivors, 11 in the first group (6 left in its front), and 9 of the
 * other 18 are dominated; the fronts hold 6 points: the time is per-point overhead in the sweep, not its size, and
 * most of it goes to the ~15 survivors per point that are not dominated (first group and w-sweep together).
 */
#ifndef NSGANETV2_HV5_H
#define NSGANETV2_HV5_H

#include "moo_common.h"

/* The earlier points, by w rank r: coordinates Q[j][r] (j = 0..3), active while act bit r is set. */
typedef struct {
    const double *Q[4];
    uint64_t *act, *kill; /* kill: scratch, one word per act word */
    ptrdiff_t wlo, whi; /* words [wlo, whi) may hold active bits */
} hv5_set;

/* Scan of the active points for p (scalar). Returns -1 when one weakly dominates p in the 4 objectives.
 * Otherwise: cap[i] = min(ref[i], best q[i] over the q worse than p in objective i only); the survivors (worse
 * in two or more objectives, every q[i] < cap[i]) are written clipped to p, max(q, p), in w order to
 * (cx, cy, cz, cw) and their number returned; the points worse than p in all four leave the active set.
 * fl[i] (i < 3) counts the survivors not worse than p in objective i (which axis the inner sweep takes). */
static ptrdiff_t hv5_scan(hv5_set *S, const double *p, double *cap, double *cx, double *cy, double *cz,
                          double *cw, ptrdiff_t *fl) {
    const double *Q0 = S->Q[0], *Q1 = S->Q[1], *Q2 = S->Q[2], *Q3 = S->Q[3];
    for (ptrdiff_t wi = S->wlo; wi < S->whi; wi++) {
        uint64_t word = S->act[wi];
        while (word) {
            const int b = __builtin_ctzll(word);
            word &= word - 1;
            const ptrdiff_t r = (wi << 6) | b;
            const unsigned m = (unsigned)(Q0[r] > p[0]) | (unsigned)(Q1[r] > p[1]) << 1 |
                               (unsigned)(Q2[r] > p[2]) << 2 | (unsigned)(Q3[r] > p[3]) << 3;
            if (m == 0) return -1;
            if ((m & (m - 1)) == 0) {
                const int i = __builtin_ctz(m);
                const double v = S->Q[i][r];
                if (v < cap[i]) cap[i] = v;
            }
        }
    }
    ptrdiff_t nc = 0;
    for (ptrdiff_t wi = S->wlo; wi < S->whi; wi++) {
        uint64_t word = S->act[wi], kill = 0;
        while (word) {
            const int b = __builtin_ctzll(word);
            word &= word - 1;
            const ptrdiff_t r = (wi << 6) | b;
            const double q0 = Q0[r], q1 = Q1[r], q2 = Q2[r], q3 = Q3[r];
            const unsigned m = (unsigned)(q0 > p[0]) | (unsigned)(q1 > p[1]) << 1 | (unsigned)(q2 > p[2]) << 2 |
                               (unsigned)(q3 > p[3]) << 3;
            if ((m & (m - 1)) == 0) continue;
            if (m == 15u) kill |= 1ULL << b;
            if ((q0 >= cap[0]) | (q1 >= cap[1]) | (q2 >= cap[2]) | (q3 >= cap[3])) continue;
            cx[nc] = q0 > p[0] ? q0 : p[0];
            cy[nc] = q1 > p[1] ? q1 : p[1];
            cz[nc] = q2 > p[2] ? q2 : p[2];
            cw[nc] = q3 > p[3] ? q3 : p[3];
            fl[0] += !(m & 1u);
            fl[1] += !(m & 2u);
            fl[2] += !(m & 4u);
            nc++;
        }
        S->act[wi] &= ~kill;
    }
    return nc;
}

#ifdef MOO_X86
/* the 32-bit permutation that packs the selected double lanes (a 4-bit mask) to the front */
static const int32_t hv5_pack_lut[16][8] __attribute__((aligned(32))) = {
    {0, 1, 0, 1, 0, 1, 0, 1}, {0, 1, 0, 1, 0, 1, 0, 1}, {2, 3, 0, 1, 0, 1, 0, 1}, {0, 1, 2, 3, 0, 1, 0, 1},
    {4, 5, 0, 1, 0, 1, 0, 1}, {0, 1, 4, 5, 0, 1, 0, 1}, {2, 3, 4, 5, 0, 1, 0, 1}, {0, 1, 2, 3, 4, 5, 0, 1},
    {6, 7, 0, 1, 0, 1, 0, 1}, {0, 1, 6, 7, 0, 1, 0, 1}, {2, 3, 6, 7, 0, 1, 0, 1}, {0, 1, 2, 3, 6, 7, 0, 1},
    {4, 5, 6, 7, 0, 1, 0, 1}, {0, 1, 4, 5, 6, 7, 0, 1}, {2, 3, 4, 5, 6, 7, 0, 1}, {0, 1, 2, 3, 4, 5, 6, 7}};

/* hv5_scan, four points a step, over a contiguous active set (A0..A3)[0..na) in ascending A3, padded with four
 * lanes (+inf, -inf, -inf, -inf) (worse in objective 0 only, at +inf: no effect). The points worse than p in two
 * or more objectives are clipped and packed as they come, and dropped afterwards (in place) when outside the cut
 * box (a clipped coordinate is below cap[i] exactly when the point's is, since cap[i] > p[i]); the survivor arrays
 * need 4 doubles of slack past the last candidate; fl counts over the candidates, before the cut. The scan stops
 * at the first block whose w reaches cap[3] so far. kn[b]: kill nibble of block b (the points worse than p in all
 * four), for hv5_update_avx2; *kend: blocks scanned. Returns -1 when a point weakly dominates p. */
__attribute__((target("avx2,popcnt"))) static ptrdiff_t hv5_scan_avx2(const double *const *A, ptrdiff_t na,
                                                                       const double *p, double *cap, double *cx,
                                                                       double *cy, double *cz, double *cw,
                                                                       unsigned char *kn, ptrdiff_t *kend,
                                                                       ptrdiff_t *fl) {
    const double *Q0 = A[0], *Q1 = A[1], *Q2 = A[2], *Q3 = A[3];
    const __m256d p0 = _mm256_set1_pd(p[0]), p1 = _mm256_set1_pd(p[1]), p2 = _mm256_set1_pd(p[2]),
                  p3 = _mm256_set1_pd(p[3]), inf = _mm256_set1_pd(INFINITY);
    __m256d c0 = _mm256_set1_pd(cap[0]), c1 = _mm256_set1_pd(cap[1]), c2 = _mm256_set1_pd(cap[2]),
            c3 = _mm256_set1_pd(cap[3]);
    ptrdiff_t nc = 0, r = 0;
    for (; r < na; r += 4) {
        /* the rest: w >= cap[3] > p[3]; compared with every lane of c3, so that the running cap needs no
         * horizontal minimum in the loop */
        if (_mm256_movemask_pd(_mm256_cmp_pd(c3, _mm256_set1_pd(Q3[r]), _CMP_LE_OQ))) break;
        const __m256d q0 = _mm256_loadu_pd(Q0 + r), q1 = _mm256_loadu_pd(Q1 + r), q2 = _mm256_loadu_pd(Q2 + r),
                      q3 = _mm256_loadu_pd(Q3 + r);
        const __m256d g0 = _mm256_cmp_pd(q0, p0, _CMP_GT_OQ), g1 = _mm256_cmp_pd(q1, p1, _CMP_GT_OQ),
                      g2 = _mm256_cmp_pd(q2, p2, _CMP_GT_OQ), g3 = _mm256_cmp_pd(q3, p3, _CMP_GT_OQ);
        const __m256d o01 = _mm256_or_pd(g0, g1), o23 = _mm256_or_pd(g2, g3);
        const __m256d any = _mm256_or_pd(o01, o23);
        if (_mm256_movemask_pd(any) != 15) return -1;
        const __m256d s0 = _mm256_andnot_pd(_mm256_or_pd(g1, o23), g0);
        const __m256d s1 = _mm256_andnot_pd(_mm256_or_pd(g0, o23), g1);
        const __m256d s2 = _mm256_andnot_pd(_mm256_or_pd(o01, g3), g2);
        const __m256d s3 = _mm256_andnot_pd(_mm256_or_pd(o01, g2), g3);
        c0 = _mm256_min_pd(c0, _mm256_blendv_pd(inf, q0, s0));
        c1 = _mm256_min_pd(c1, _mm256_blendv_pd(inf, q1, s1));
        c2 = _mm256_min_pd(c2, _mm256_blendv_pd(inf, q2, s2));
        c3 = _mm256_min_pd(c3, _mm256_blendv_pd(inf, q3, s3));
        const __m256d a01 = _mm256_and_pd(g0, g1), a23 = _mm256_and_pd(g2, g3);
        const __m256d two = _mm256_or_pd(_mm256_or_pd(a01, a23), _mm256_and_pd(o01, o23));
        kn[r >> 2] = (unsigned char)_mm256_movemask_pd(_mm256_and_pd(a01, a23));
        int sm = _mm256_movemask_pd(two);
        const __m256i perm = _mm256_load_si256((const __m256i *)hv5_pack_lut[sm]);
#define HV5_PACK(v, out) \
    _mm256_storeu_pd((out) + nc, _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(v), perm)))
        HV5_PACK(_mm256_max_pd(q0, p0), cx);
        HV5_PACK(_mm256_max_pd(q1, p1), cy);
        HV5_PACK(_mm256_max_pd(q2, p2), cz);
        HV5_PACK(_mm256_max_pd(q3, p3), cw);
        nc += __builtin_popcount((unsigned)sm);
        fl[0] += __builtin_popcount((unsigned)sm & ~(unsigned)_mm256_movemask_pd(g0));
        fl[1] += __builtin_popcount((unsigned)sm & ~(unsigned)_mm256_movemask_pd(g1));
        fl[2] += __builtin_popcount((unsigned)sm & ~(unsigned)_mm256_movemask_pd(g2));
    }
    *kend = r >> 2;
    {
        double t[4] __attribute__((aligned(32)));
        double m;
        _mm256_store_pd(t, c0); m = t[0]; for (int l = 1; l < 4; l++) if (t[l] < m) m = t[l]; cap[0] = m;
        _mm256_store_pd(t, c1); m = t[0]; for (int l = 1; l < 4; l++) if (t[l] < m) m = t[l]; cap[1] = m;
        _mm256_store_pd(t, c2); m = t[0]; for (int l = 1; l < 4; l++) if (t[l] < m) m = t[l]; cap[2] = m;
        _mm256_store_pd(t, c3); m = t[0]; for (int l = 1; l < 4; l++) if (t[l] < m) m = t[l]; cap[3] = m;
    }
    c0 = _mm256_set1_pd(cap[0]); c1 = _mm256_set1_pd(cap[1]); c2 = _mm256_set1_pd(cap[2]); c3 = _mm256_set1_pd(cap[3]);
    ptrdiff_t w = 0;
    for (ptrdiff_t t = 0; t < nc; t += 4) {
        const __m256d x = _mm256_loadu_pd(cx + t), y = _mm256_loadu_pd(cy + t), z = _mm256_loadu_pd(cz + t),
                      v = _mm256_loadu_pd(cw + t);
        const __m256d in = _mm256_and_pd(_mm256_and_pd(_mm256_cmp_pd(x, c0, _CMP_LT_OQ), _mm256_cmp_pd(y, c1, _CMP_LT_OQ)),
                                         _mm256_and_pd(_mm256_cmp_pd(z, c2, _CMP_LT_OQ), _mm256_cmp_pd(v, c3, _CMP_LT_OQ)));
        int sm = _mm256_movemask_pd(in);
        if (nc - t < 4) sm &= (1 << (nc - t)) - 1;
        const __m256i perm = _mm256_load_si256((const __m256i *)hv5_pack_lut[sm]);
        const ptrdiff_t nc0 = nc;
        nc = w;
        HV5_PACK(x, cx);
        HV5_PACK(y, cy);
        HV5_PACK(z, cz);
        HV5_PACK(v, cw);
        nc = nc0;
        w += __builtin_popcount((unsigned)sm);
    }
#undef HV5_PACK
    return w;
}

/* Removes the killed points (kn[0..kend)) from the active set (p covers them from here on), then inserts p in A3
 * order and renews the padding; returns the new na. */
__attribute__((target("avx2,popcnt"))) static ptrdiff_t hv5_update_avx2(double *const *A, ptrdiff_t na,
                                                                         const double *p,
                                                                         const unsigned char *kn, ptrdiff_t kend) {
    ptrdiff_t b0 = 0;
    while (b0 < kend && !kn[b0]) b0++;
    if (b0 < kend) {
        ptrdiff_t w = b0 << 2;
        for (ptrdiff_t r = b0 << 2; r < na; r += 4) {
            unsigned keep = r < (kend << 2) ? ~(unsigned)kn[r >> 2] & 15u : 15u;
            if (na - r < 4) keep &= (1u << (na - r)) - 1u;
            const __m256i perm = _mm256_load_si256((const __m256i *)hv5_pack_lut[keep]);
            for (int j = 0; j < 4; j++)
                _mm256_storeu_pd(A[j] + w, _mm256_castps_pd(_mm256_permutevar8x32_ps(
                                               _mm256_castpd_ps(_mm256_loadu_pd(A[j] + r)), perm)));
            w += __builtin_popcount(keep);
        }
        na = w;
    }
    const ptrdiff_t pos = na > 0 ? moo_lower_bound(A[3], na, p[3]) : 0; /* the points with A3 < p[3] */
    for (int j = 0; j < 4; j++) {
        memmove(A[j] + pos + 1, A[j] + pos, (size_t)(na - pos) * sizeof(double));
        A[j][pos] = p[j];
    }
    na++;
    A[0][na] = A[0][na + 1] = A[0][na + 2] = A[0][na + 3] = INFINITY;
    for (int j = 1; j < 4; j++) A[j][na] = A[j][na + 1] = A[j][na + 2] = A[j][na + 3] = -INFINITY;
    return na;
}
#endif

/* Scratch of the per-point step: survivors (cx..cw, n + 4 each) and hv4_sweep's work space for n points. */
typedef struct {
    double *cx, *cy, *cz, *cw;
    hv4_work w4;
} hv5_work;

/* p's share of the 5-D volume: its box cut down by cap, minus the 4-D volume of its nc survivors, times the depth
 * ref[4] - p[4]. The 3-D sweep inside runs along the objective (of the first three) where the fewest survivors sit
 * on p's value (fl): the ones that do sit at the bottom, where every later point's base walk meets them. */
static double hv5_share(const hv5_work *W, const double *p, const double *cap, ptrdiff_t nc, const ptrdiff_t *fl,
                        const double *ref) {
    const double box = (cap[0] - p[0]) * (cap[1] - p[1]) * (cap[2] - p[2]) * (cap[3] - p[3]);
    double *src[3] = {W->cx, W->cy, W->cz};
    int zi = 2;
    for (int i = 0; i < 2; i++) if (fl[i] < fl[zi]) zi = i;
    const int xi = zi == 0 ? 1 : 0, yi = zi == 2 ? 1 : 2;
    const double capp[4] = {cap[xi], cap[yi], cap[zi], cap[3]};
    double excl = box - (nc ? hv4_sweep(src[xi], src[yi], src[zi], W->cw, nc, capp, &W->w4) : 0.0);
    if (excl < 0.0) excl = 0.0; /* rounding only */
    return excl * (ref[4] - p[4]);
}

/* X: n >= 1 rows with stride `stride`, objectives in columns 0..4, each row strictly dominating ref.
 * scalar: 1 forces the scalar scan (tests). Returns NaN when out of memory. */
static double hv5d(const double *X, ptrdiff_t n, ptrdiff_t stride, const double *ref, int scalar) {
    const ptrdiff_t nw = (n + 63) >> 6, npad = nw * 64 + 8;
    size_t bytes = (size_t)n * (3 * sizeof(moo_key) + sizeof(ptrdiff_t)) + 2 * (size_t)nw * sizeof(uint64_t) +
                   (4 * (size_t)npad + 4 * ((size_t)n + 4) + HV4_WORK_DOUBLES(n)) * sizeof(double) + 64;
    char *mem = (char *)malloc(bytes);
    if (!mem) return NAN;
#ifdef MOO_X86
    const int avx2 = !scalar && moo_have_avx2();
#else
    const int avx2 = 0;
    (void)scalar;
#endif
    double *Q = (double *)(((uintptr_t)mem + 31) & ~(uintptr_t)31);
    hv5_work W;
    W.cx = Q + 4 * npad; W.cy = W.cx + (n + 4); W.cz = W.cy + (n + 4); W.cw = W.cz + (n + 4);
    uint64_t *act = (uint64_t *)(W.cw + (n + 4) + HV4_WORK_DOUBLES(n));
    moo_key *wo = (moo_key *)(act + 2 * nw), *vo = wo + n;
    hv4_work_init(&W.w4, W.cw + (n + 4), vo + n, n, avx2);
    ptrdiff_t *wrank = (ptrdiff_t *)(vo + 2 * n);
    for (ptrdiff_t i = 0; i < n; i++) { vo[i].k = X[i * stride + 4]; vo[i].i = i; }
    moo_sort_key(vo, n);
    double total = 0.0;
#ifdef MOO_X86
    if (avx2) { /* the active set kept contiguous, in objective-3 order (see hv5_scan_avx2) */
        double *A[4] = {Q, Q + npad, Q + 2 * npad, Q + 3 * npad};
        unsigned char *kn = (unsigned char *)wrank; /* (n + 3) / 4 kill nibbles */
        ptrdiff_t na = 0;
        for (int l = 0; l < 4; l++) { A[0][l] = INFINITY; A[1][l] = A[2][l] = A[3][l] = -INFINITY; }
        for (ptrdiff_t k = 0; k < n; k++) {
            const double *p = X + vo[k].i * stride;
            double cap[4] = {ref[0], ref[1], ref[2], ref[3]};
            ptrdiff_t kend, fl[3] = {0, 0, 0};
            const ptrdiff_t nc = hv5_scan_avx2((const double *const *)A, na, p, cap, W.cx, W.cy, W.cz, W.cw, kn,
                                               &kend, fl);
            if (nc < 0) continue; /* weakly dominated in the first four objectives by an earlier point */
            total += hv5_share(&W, p, cap, nc, fl, ref);
            na = hv5_update_avx2(A, na, p, kn, kend);
        }
        free(mem);
        return total;
    }
#endif
    /* scalar: the earlier points in a static objective-3 order with an active bitset */
    memset(act, 0, (size_t)nw * sizeof(uint64_t));
    for (ptrdiff_t i = 0; i < n; i++) { wo[i].k = X[i * stride + 3]; wo[i].i = i; }
    moo_sort_key(wo, n);
    for (ptrdiff_t r = 0; r < n; r++) {
        const double *x = X + wo[r].i * stride;
        wrank[wo[r].i] = r;
        for (int j = 0; j < 4; j++) Q[j * npad + r] = x[j];
    }
    hv5_set S;
    for (int j = 0; j < 4; j++) S.Q[j] = Q + j * npad;
    S.act = act;
    S.kill = act + nw;
    S.wlo = nw;
    S.whi = 0;
    for (ptrdiff_t k = 0; k < n; k++) {
        const double *p = X + vo[k].i * stride;
        const ptrdiff_t r = wrank[vo[k].i];
        double cap[4] = {ref[0], ref[1], ref[2], ref[3]};
        ptrdiff_t fl[3] = {0, 0, 0};
        const ptrdiff_t nc = hv5_scan(&S, p, cap, W.cx, W.cy, W.cz, W.cw, fl);
        if (nc < 0) continue;
        total += hv5_share(&W, p, cap, nc, fl, ref);
        act[r >> 6] |= 1ULL << (r & 63);
        if ((r >> 6) < S.wlo) S.wlo = r >> 6;
        if ((r >> 6) + 1 > S.whi) S.whi = (r >> 6) + 1;
    }
    free(mem);
    return total;
}

#endif
