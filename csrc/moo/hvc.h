/* Exact hypervolume contributions (minimisation): out[i] = HV(X) - HV(X without row i). Depends on moo_common.h
 * only; the hypervolume of sub-problems and the first front come in as function pointers (hv_rec_fn, hvc_front_fn),
 * so that this header need not include the dispatcher hv.h or nds.h.
 *
 * Rows that do not strictly dominate ref get 0 and play no part. Of the others, the first front is split into its
 * distinct points U (a point with copies gets 0: removing one copy changes nothing, but it still bounds the
 * others). Contributions over U (mutually non-dominated, distinct):
 *   d = 1  the single point: its box
 *   d = 2  sort by x: (x_next - x) * (y_prev - y), O(n log n)
 *   d = 3  z-sweep over the 2-D staircase (a hierarchical bitset over the x order), each point's exclusive area
 *          integrated over z: inserting a point changes only its two staircase neighbours' areas and ends the
 *          areas of the points it covers, which then bound its own area (HVC3D-style, O(n log n) on fronts)
 * For d = 2, 3 the sorts find dominated rows and copies on the way (hvc2_fast, hvc3_fast); the first front and the
 * grouping of copies below run only for d >= 4, or when dominated rows must count (exact mode).
 *   d >= 4 box minus the hypervolume of the others clipped to the box, filtered to their first front
 * Dominated rows (exact mode, ignore_dominated = 0): a row dominated by exactly one point p of U, and by no copy of
 * it, lies in p's exclusive region; each such p is recomputed as its box minus the hypervolume of the others
 * clipped to it together with those rows (d = 2: its exclusive box minus their 2-D hypervolume). With
 * ignore_dominated = 1 dominated rows are dropped (moocore's default).
 */
#ifndef NSGANETV2_HVC_H
#define NSGANETV2_HVC_H

#include "moo_common.h"

/* The first front of n rows (nds.h's moo_nds with first_only = 1): out8[i] = 1 for members; < 0 on failure. */
typedef int64_t (*hvc_front_fn)(const double *F, int32_t n, int m, int64_t *out64, uint8_t *out8, int first_only,
                                 int algo);

static inline double hvc_box(const double *p, int d, const double *ref) {
    double v = 1.0;
    for (int j = 0; j < d; j++) v *= ref[j] - p[j];
    return v;
}

/* d = 2 over U (u distinct non-dominated points): c[g] per point. order: scratch of u moo_p2i, left sorted by x. */
static void hvc2_front(const double *U, ptrdiff_t u, const double *ref, double *c, moo_p2i *order) {
    for (ptrdiff_t g = 0; g < u; g++) { order[g].x = U[2 * g]; order[g].y = U[2 * g + 1]; order[g].i = g; }
    moo_sort_p2i(order, u);
    for (ptrdiff_t t = 0; t < u; t++) {
        const double xn = t + 1 < u ? order[t + 1].x : ref[0];
        const double yp = t > 0 ? order[t - 1].y : ref[1];
        c[order[t].i] = (xn - order[t].x) * (yp - order[t].y);
    }
}

/* Sort P (k points) by (x, y): from MOO_KEY_BUCKET_MIN points by (x, index) keys with moo_sort_key (bucket or radix
 * sort: few branches depend on the values, where a sort by comparisons mispredicts most of them on a new input;
 * tmp, Q: scratch of k each), runs of equal x then by y. */
static void hvc_sort_xy(moo_p2i *P, ptrdiff_t k, moo_key *tmp, moo_p2i *Q) {
    if (k < MOO_KEY_BUCKET_MIN || !tmp || !Q) { moo_sort_p2i(P, k); return; }
    for (ptrdiff_t i = 0; i < k; i++) { tmp[i].k = P[i].x; tmp[i].i = i; }
    moo_sort_key(tmp, k);
    for (ptrdiff_t i = 0; i < k; i++) Q[i] = P[tmp[i].i];
    moo_sort_p2i_runs(Q, k);
    memcpy(P, Q, (size_t)k * sizeof(moo_p2i));
}

typedef struct { double z; ptrdiff_t r; } hvc_zr;
#define HVC_ZR_LESS(a, b) ((a).z < (b).z || ((a).z == (b).z && (a).r < (b).r))
MOO_DEFINE_SORT(hvc_sort_zr, hvc_zr, HVC_ZR_LESS)

/* Area of the union of the 2-D boxes of the staircase cov[lo:hi) (x ascending, y descending) inside [., X) x [., Y). */
static inline double hvc3_cov_area(const int32_t *cov, int32_t lo, int32_t hi, const double *px, const double *py,
                                   double X, double Y) {
    double a = 0.0;
    for (int32_t t = lo; t < hi; t++) {
        const int32_t c = cov[t];
        const double xn = t + 1 < hi ? px[cov[t + 1]] : X;
        a += (xn - px[c]) * (Y - py[c]);
    }
    return a;
}

/* d = 2 and 3 straight from the k rows of Y (all inside ref; orig: their rows in out). Dominated rows are found
 * on the way: with exact = 1 the first one returns 1 (the caller takes the general path), else they are skipped.
 * 0 when done, -1 when out of memory. */
static int hvc2_fast(const double *Y, ptrdiff_t k, const double *ref, int exact, const int32_t *orig, double *out) {
    /* one scratch block (slot 2, kept between calls): P, Q (k moo_p2i), tmp (k moo_key), st (k), mult (k) */
    const size_t sp = MOO_ALIGN((size_t)k * sizeof(moo_p2i)), sk = MOO_ALIGN((size_t)k * sizeof(moo_key));
    const size_t ss = MOO_ALIGN((size_t)k * sizeof(ptrdiff_t));
    unsigned char *blk = (unsigned char *)moo_scratch_get(2, 2 * sp + sk + ss + (size_t)k * sizeof(int32_t));
    if (!blk) return -1;
    moo_p2i *P = (moo_p2i *)blk, *Q = (moo_p2i *)(blk + sp);
    moo_key *tmp = (moo_key *)(blk + 2 * sp);
    ptrdiff_t *st = (ptrdiff_t *)(blk + 2 * sp + sk);
    int32_t *mult = (int32_t *)(blk + 2 * sp + sk + ss);
    int status = -1;
    for (ptrdiff_t i = 0; i < k; i++) { P[i].x = Y[2 * i]; P[i].y = Y[2 * i + 1]; P[i].i = i; }
    hvc_sort_xy(P, k, tmp, Q);
    ptrdiff_t u = 0;
    double ymin = INFINITY;
    for (ptrdiff_t t = 0; t < k; t++) {
        if (P[t].y < ymin) { st[u] = t; mult[u++] = 1; ymin = P[t].y; continue; }
        if (P[t].x == P[st[u - 1]].x && P[t].y == ymin) { mult[u - 1]++; continue; }
        if (exact) { status = 1; goto done; }
    }
    for (ptrdiff_t g = 0; g < u; g++) {
        if (mult[g] > 1) continue;
        const moo_p2i *p = P + st[g];
        const double xn = g + 1 < u ? P[st[g + 1]].x : ref[0], yp = g > 0 ? P[st[g - 1]].y : ref[1];
        out[orig[p->i]] = (xn - p->x) * (yp - p->y);
    }
    status = 0;
done:
    moo_scratch_release(2);
    return status;
}

/* d = 3: z-sweep (z, then x order) over the 2-D staircase (a hierarchical bitset over the (x, y) order). A point's
 * exclusive area at height z is its staircase box [x, x_next) x [y, y_prev) minus the boxes of the points it
 * covered when it came in (a run cov[lo:hi) of the staircase, itself a staircase): a later neighbour on the right
 * ends the run's tail (x >= its x), one on the left its head (y >= its y), and what they cut off is covered by
 * them for good. A row whose (x, y) predecessor on the staircase is <= it in x and y is dominated (or a copy). */
static int hvc3_fast(const double *Y, ptrdiff_t k, const double *ref, int exact, const int32_t *orig, double *out) {
    const double rx = ref[0], ry = ref[1], rz = ref[2];
    moo_bits L;
    moo_bits_layout(&L, k);
    /* one scratch block (slot 2, kept between calls): the arrays below, then tmp and Q for the sorts, then the bits */
    const size_t main_b = MOO_ALIGN((size_t)k * (sizeof(hvc_zr) + sizeof(moo_p2i) + sizeof(ptrdiff_t) +
                                                 6 * sizeof(double) + 4 * sizeof(int32_t)));
    const size_t tmp_b = MOO_ALIGN((size_t)k * sizeof(moo_key)), q_b = MOO_ALIGN((size_t)k * sizeof(moo_p2i));
    char *mem = (char *)moo_scratch_get(2, main_b + tmp_b + q_b + (size_t)L.W * sizeof(uint64_t));
    if (!mem) return -1;
    moo_key *tmp = (moo_key *)(mem + main_b);
    moo_p2i *Q = (moo_p2i *)(mem + main_b + tmp_b);
    uint64_t *bits = (uint64_t *)(mem + main_b + tmp_b + q_b);
    memset(bits, 0, (size_t)L.W * sizeof(uint64_t));
    int status = -1;
    hvc_zr *zo = (hvc_zr *)mem;
    moo_p2i *xo = (moo_p2i *)(zo + k);
    ptrdiff_t *xi = (ptrdiff_t *)(xo + k);
    double *px = (double *)(xi + k), *py = px + k, *pz = py + k, *area = pz + k, *last = area + k, *acc = last + k;
    int32_t *cov = (int32_t *)(acc + k), *lo = cov + k, *hi = lo + k, *mult = hi + k;
    int32_t ncov = 0;
    for (ptrdiff_t i = 0; i < k; i++) { xo[i].x = Y[3 * i]; xo[i].y = Y[3 * i + 1]; xo[i].i = i; }
    hvc_sort_xy(xo, k, tmp, Q);
    for (ptrdiff_t j = 0; j < k; j++) {
        px[j] = xo[j].x; py[j] = xo[j].y; pz[j] = Y[3 * xo[j].i + 2]; xi[j] = xo[j].i;
        acc[j] = 0.0; mult[j] = 0;
        zo[j].z = pz[j]; zo[j].r = j;
    }
    if (k >= MOO_KEY_BUCKET_MIN) { /* (z, x rank) order: the x-ordered rows by z keys with moo_sort_key */
        for (ptrdiff_t j = 0; j < k; j++) { tmp[j].k = pz[j]; tmp[j].i = j; }
        moo_sort_key(tmp, k);
        for (ptrdiff_t j = 0; j < k; j++) { zo[j].z = tmp[j].k; zo[j].r = tmp[j].i; }
        /* its introsort (1025..2047 keys, crowded buckets, no memory for the radix sort) leaves ties in any order:
         * runs of equal z back in x order */
        for (ptrdiff_t j = 1; j < k; j++) {
            const hvc_zr v = zo[j];
            ptrdiff_t i = j;
            while (i > 0 && zo[i - 1].z == v.z && zo[i - 1].r > v.r) { zo[i] = zo[i - 1]; i--; }
            zo[i] = v;
        }
    } else {
        hvc_sort_zr(zo, k);
    }
    for (ptrdiff_t t = 0; t < k; t++) {
        const ptrdiff_t r = zo[t].r;
        const double x = px[r], y = py[r], z = zo[t].z;
        ptrdiff_t l = moo_bits_pred(bits, &L, r - 1);
        if (l >= 0 && py[l] <= y) { /* dominated, or a copy of l */
            if (px[l] == x && py[l] == y && pz[l] == z) { mult[l]++; continue; }
            if (exact) { status = 1; goto done; }
            continue;
        }
        ptrdiff_t s = moo_bits_succ(bits, &L, r + 1);
        if (s >= 0 && px[s] == x && py[s] == y) { /* the same (x, y), earlier in z (ties in x order any way) */
            if (pz[s] == z) { mult[s]++; continue; }
            if (exact) { status = 1; goto done; }
            continue;
        }
        mult[r] = 1;
        /* points it covers in (x, y) leave the staircase (their areas end here) and become its run */
        lo[r] = ncov;
        while (s >= 0 && py[s] >= y) {
            acc[s] += area[s] * (z - last[s]);
            moo_bits_clear(bits, &L, s);
            cov[ncov++] = (int32_t)s;
            s = moo_bits_succ(bits, &L, s + 1);
        }
        hi[r] = ncov;
        const double xr = s >= 0 ? px[s] : rx, yl = l >= 0 ? py[l] : ry;
        if (l >= 0) { /* its next point becomes (x, y) */
            const ptrdiff_t ll = moo_bits_pred(bits, &L, l - 1);
            const double yp = ll >= 0 ? py[ll] : ry;
            acc[l] += area[l] * (z - last[l]);
            last[l] = z;
            while (hi[l] > lo[l] && px[cov[hi[l] - 1]] >= x) hi[l]--;
            area[l] = (x - px[l]) * (yp - py[l]) - hvc3_cov_area(cov, lo[l], hi[l], px, py, x, yp);
        }
        if (s >= 0) { /* its previous point becomes (x, y) */
            const ptrdiff_t ss = moo_bits_succ(bits, &L, s + 1);
            const double xn = ss >= 0 ? px[ss] : rx;
            acc[s] += area[s] * (z - last[s]);
            last[s] = z;
            while (lo[s] < hi[s] && py[cov[lo[s]]] >= y) lo[s]++;
            area[s] = (xn - px[s]) * (y - py[s]) - hvc3_cov_area(cov, lo[s], hi[s], px, py, xn, y);
        }
        area[r] = (xr - x) * (yl - y) - hvc3_cov_area(cov, lo[r], hi[r], px, py, xr, yl);
        last[r] = z;
        moo_bits_set(bits, &L, r);
    }
    for (ptrdiff_t r = moo_bits_succ(bits, &L, 0); r >= 0; r = moo_bits_succ(bits, &L, r + 1))
        acc[r] += area[r] * (rz - last[r]);
    for (ptrdiff_t j = 0; j < k; j++)
        if (mult[j] == 1) out[orig[xi[j]]] = acc[j];
    status = 0;
done:
    moo_scratch_release(2);
    return status;
}

/* Box of p minus the hypervolume of the rows of C (k rows, each >= p, < ref) that are on their first front.
 * mask: scratch of k bytes; C is compacted in place. NaN on failure. */
static double hvc_box_minus(const double *p, double *C, ptrdiff_t k, int d, const double *ref, uint8_t *mask,
                            hv_rec_fn hv, hvc_front_fn front) {
    if (k == 0) return hvc_box(p, d, ref);
    if (d >= 4 && k > 1) {
        if (front(C, (int32_t)k, d, NULL, mask, 1, 0) < 0) return NAN;
        ptrdiff_t o = 0;
        for (ptrdiff_t i = 0; i < k; i++) {
            if (mask[i]) {
                if (o != i) memcpy(C + o * d, C + i * d, (size_t)d * sizeof(double));
                o++;
            }
        }
        k = o;
    }
    return hvc_box(p, d, ref) - hv(C, k, d, d, ref, 0);
}

/* Rows of U but g clipped to U[g] into C, followed by the `extra` rows E (already >= U[g]); returns the count. */
static ptrdiff_t hvc_clip(const double *U, ptrdiff_t u, int d, ptrdiff_t g, const double *E, const int32_t *ex,
                          ptrdiff_t extra, double *C) {
    const double *p = U + g * d;
    ptrdiff_t k = 0;
    for (ptrdiff_t h = 0; h < u; h++) {
        if (h == g) continue;
        const double *q = U + h * d;
        double *o = C + k * d;
        for (int j = 0; j < d; j++) o[j] = q[j] > p[j] ? q[j] : p[j];
        k++;
    }
    for (ptrdiff_t e = 0; e < extra; e++) memcpy(C + (k + e) * d, E + (ptrdiff_t)ex[e] * d, (size_t)d * sizeof(double));
    return k + extra;
}

/* Contributions of the n rows of X (row-major, d columns) into out. 0, or -1 when out of memory. */
static int hvc_compute(const double *X, ptrdiff_t n, int d, const double *ref, int ignore_dominated, double *out,
                       hv_rec_fn hv, hvc_front_fn front) {
    int status = -1;
    for (ptrdiff_t i = 0; i < n; i++) out[i] = 0.0;
    /* rows strictly inside the reference box */
    ptrdiff_t k = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        int ok = 1;
        for (int j = 0; j < d; j++) ok &= X[i * d + j] < ref[j];
        k += ok;
    }
    if (k == 0) return 0;
    if (k > INT32_MAX - 2) return -1;
    const size_t rowb = (size_t)d * sizeof(double);
    double *Y = NULL, *U = NULL, *C = NULL, *cu = NULL;
    const double *Yc = Y; /* the rows inside: Y, or X itself when all are */
    int32_t *orig = (int32_t *)malloc((size_t)k * sizeof(int32_t)), *idx = NULL, *grp = NULL, *mult = NULL;
    int32_t *own = NULL, *ostart = NULL, *olist = NULL;
    uint8_t *mask = (uint8_t *)malloc((size_t)k);
    moo_p2i *order = NULL;
    ptrdiff_t *pos = NULL;
    if (!orig || !mask) goto done;
    if (k == n) { /* all inside (the usual case): no copy */
        Yc = X;
        for (ptrdiff_t i = 0; i < n; i++) orig[i] = (int32_t)i;
    } else {
        Y = (double *)malloc((size_t)k * rowb);
        if (!Y) goto done;
        Yc = Y;
        k = 0;
        for (ptrdiff_t i = 0; i < n; i++) {
            int ok = 1;
            for (int j = 0; j < d; j++) ok &= X[i * d + j] < ref[j];
            if (ok) {
                for (int j = 0; j < d; j++) Y[k * d + j] = X[i * d + j];
                orig[k++] = (int32_t)i;
            }
        }
    }
    if (k == 1) { out[orig[0]] = hvc_box(Yc, d, ref); status = 0; goto done; }
    if (d == 2 || d == 3) {
        status = d == 2 ? hvc2_fast(Yc, k, ref, !ignore_dominated, orig, out)
                        : hvc3_fast(Yc, k, ref, !ignore_dominated, orig, out);
        if (status != 1) goto done;
        status = -1; /* dominated rows in exact mode: the general path */
        for (ptrdiff_t i = 0; i < n; i++) out[i] = 0.0;
    }
    if (front(Yc, (int32_t)k, d, NULL, mask, 1, 0) < 0) goto done;
    /* the first front's rows in lexicographic order, copies grouped: U holds one row per group */
    idx = (int32_t *)malloc((size_t)k * sizeof(int32_t));
    grp = (int32_t *)malloc((size_t)k * sizeof(int32_t));
    U = (double *)malloc((size_t)k * rowb);
    if (!idx || !grp || !U) goto done;
    ptrdiff_t nf = 0;
    for (ptrdiff_t i = 0; i < k; i++) {
        if (mask[i]) { memcpy(U + nf * d, Yc + i * d, rowb); grp[nf++] = (int32_t)i; } /* grp: front row -> Y row */
    }
    if (moo_lexsort_rows(U, (int32_t)nf, d, idx)) goto done;
    mult = (int32_t *)malloc((size_t)nf * sizeof(int32_t));
    own = (int32_t *)malloc((size_t)k * sizeof(int32_t)); /* Y row -> its group (first front), -1 otherwise */
    if (!mult || !own) goto done;
    for (ptrdiff_t i = 0; i < k; i++) own[i] = -1;
    ptrdiff_t u = 0;
    for (ptrdiff_t s = 0; s < nf; s++) {
        const double *row = Yc + (ptrdiff_t)grp[idx[s]] * d;
        int same = s > 0;
        for (int j = 0; j < d && same; j++) same = row[j] == U[(u - 1) * d + j]; /* -0.0 == 0.0 */
        if (same) {
            mult[u - 1]++;
        } else {
            memmove(U + u * d, row, rowb); /* row lives in Y; U[u] was read already (u <= s) */
            mult[u++] = 1;
        }
        own[grp[idx[s]]] = (int32_t)(u - 1);
    }
    cu = (double *)malloc((size_t)u * sizeof(double));
    if (!cu) goto done;
    if (d == 1) {
        cu[0] = ref[0] - U[0];
    } else if (d == 2) {
        order = (moo_p2i *)malloc((size_t)u * sizeof(moo_p2i));
        if (!order) goto done;
        hvc2_front(U, u, ref, cu, order);
    } else if (d == 3) {
        int32_t *seq = (int32_t *)malloc((size_t)u * sizeof(int32_t));
        if (!seq) goto done;
        for (ptrdiff_t g = 0; g < u; g++) seq[g] = (int32_t)g;
        int st3 = hvc3_fast(U, u, ref, 0, seq, cu);
        free(seq);
        if (st3) goto done;
    } else {
        C = (double *)malloc((size_t)k * rowb);
        if (!C) goto done;
        for (ptrdiff_t g = 0; g < u; g++) {
            if (mult[g] > 1) { cu[g] = 0.0; continue; }
            ptrdiff_t m = hvc_clip(U, u, d, g, NULL, NULL, 0, C);
            cu[g] = hvc_box_minus(U + g * d, C, m, d, ref, mask, hv, front);
            if (cu[g] != cu[g]) goto done;
        }
    }
    if (!ignore_dominated && nf < k) {
        /* dominated rows owned by exactly one point of U with a single copy: olist grouped by owner */
        ptrdiff_t nd = 0;
        for (ptrdiff_t i = 0; i < k; i++) {
            if (own[i] >= 0) continue;
            const double *q = Yc + i * d;
            int32_t who = -1, cnt = 0;
            if (d == 2) { /* order: U by x ascending, y descending; dominators: x <= qx (prefix) and y <= qy */
                ptrdiff_t lo = 0, hi = u; /* a = #x <= qx */
                while (lo < hi) { ptrdiff_t mid = (lo + hi) >> 1; if (order[mid].x <= q[0]) lo = mid + 1; else hi = mid; }
                const ptrdiff_t a = lo;
                lo = 0; hi = a; /* b = #y > qy within the prefix */
                while (lo < hi) { ptrdiff_t mid = (lo + hi) >> 1; if (order[mid].y > q[1]) lo = mid + 1; else hi = mid; }
                cnt = (int32_t)(a - lo);
                if (cnt == 1) { who = (int32_t)order[lo].i; cnt = mult[who]; }
            } else {
                for (ptrdiff_t g = 0; g < u && cnt < 2; g++) {
                    const double *p = U + g * d;
                    int le = 1;
                    for (int j = 0; j < d; j++) le &= p[j] <= q[j];
                    if (le) { cnt += mult[g]; who = (int32_t)g; }
                }
            }
            if (cnt == 1) { own[i] = -2 - who; nd++; }
        }
        if (nd > 0) {
            ostart = (int32_t *)calloc((size_t)u + 1, sizeof(int32_t));
            olist = (int32_t *)malloc((size_t)nd * sizeof(int32_t));
            if (!ostart || !olist) goto done;
            for (ptrdiff_t i = 0; i < k; i++) if (own[i] <= -2) ostart[-2 - own[i] + 1]++;
            for (ptrdiff_t g = 0; g < u; g++) ostart[g + 1] += ostart[g];
            for (ptrdiff_t i = 0; i < k; i++) if (own[i] <= -2) olist[ostart[-2 - own[i]]++] = (int32_t)i;
            for (ptrdiff_t g = u; g > 0; g--) ostart[g] = ostart[g - 1];
            ostart[0] = 0;
            if (!C && d != 2) { C = (double *)malloc((size_t)k * rowb); if (!C) goto done; }
            if (d == 2) {
                pos = (ptrdiff_t *)malloc((size_t)u * sizeof(ptrdiff_t));
                if (!pos) goto done;
                for (ptrdiff_t t = 0; t < u; t++) pos[order[t].i] = t;
            }
            for (ptrdiff_t g = 0; g < u; g++) {
                const ptrdiff_t e0 = ostart[g], ne = ostart[g + 1] - e0;
                if (ne == 0) continue;
                if (d == 2) { /* exclusive box [x, x_next) x [y, y_prev) minus the owned rows' 2-D hypervolume */
                    const ptrdiff_t t = pos[g];
                    const double xn = t + 1 < u ? order[t + 1].x : ref[0], yp = t > 0 ? order[t - 1].y : ref[1];
                    moo_p2i *P = (moo_p2i *)malloc((size_t)ne * sizeof(moo_p2i));
                    if (!P) goto done;
                    for (ptrdiff_t e = 0; e < ne; e++) {
                        P[e].x = Yc[(ptrdiff_t)olist[e0 + e] * 2]; P[e].y = Yc[(ptrdiff_t)olist[e0 + e] * 2 + 1]; P[e].i = e;
                    }
                    moo_sort_p2i(P, ne);
                    double a = 0.0, ymin = yp;
                    for (ptrdiff_t e = 0; e < ne; e++) {
                        if (P[e].y < ymin) { a += (xn - P[e].x) * (ymin - P[e].y); ymin = P[e].y; }
                    }
                    free(P);
                    cu[g] = (xn - order[t].x) * (yp - order[t].y) - a;
                } else {
                    ptrdiff_t m = hvc_clip(U, u, d, g, Yc, olist + e0, ne, C);
                    cu[g] = hvc_box_minus(U + g * d, C, m, d, ref, mask, hv, front);
                    if (cu[g] != cu[g]) goto done;
                }
            }
        }
    }
    for (ptrdiff_t i = 0; i < k; i++) {
        const int32_t g = own[i];
        if (g >= 0 && mult[g] == 1) out[orig[i]] = cu[g];
    }
    status = 0;
done:
    free(Y); free(U); free(C); free(cu); free(orig); free(idx); free(grp); free(mult); free(own); free(ostart);
    free(olist); free(mask); free(order); free(pos);
    return status;
}

#endif
