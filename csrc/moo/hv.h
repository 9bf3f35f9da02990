/* Exact hypervolume (minimisation) in plain C, used by nsganetv2.moo._hypervolume: the dispatcher, the only header
 * that includes the algorithm headers and the only place that chooses among them.
 *
 * Entry point: hv_compute_path(X, n, d, ref, path, T) with X an (n x d) row-major array, 1 <= d <= 64, path an
 * hv_path (moo_common.h; HV_PATH_AUTO but in tests) and T threads. Rows that do not strictly dominate ref are
 * ignored. Choice:
 *   n <= HV_IE_MAX, d >= 4   inclusion-exclusion (hv_wfg.h)
 *   d = 1                    minimum
 *   d = 2, 3, 4              sweeps (hv234.h; d = 4 through hv4_sweep, moo_common.h, as are hv5d's and WFG's
 *                            4-D limit sets)
 *   5 <= d <= 8              QHV-II (hv_qhv.h)
 *   d >= 9                   WFG (hv_wfg.h)
 * hv5d (hv5.h), the sweep over d = 5, takes QHV-II's boxes past its depth guard (and runs at every size on the
 * paths the tests force): on fronts never seen before QHV-II is faster at every size (0.4-0.9 of hv5d's time at
 * N = 20-140 on sphere, linear, convex, uniform and grid points); hv5d wins only where the same front comes again
 * and again (the branch predictors learn it), which no caller does.
 * QHV-II and WFG recurse into hv_rec for their sub-problems (boxes past QHV-II's depth guard, WFG's limit sets).
 * Threads: T > 1 runs QHV-II's boxes on T threads when QHV-II takes the whole set (from HV_QHV_THREADS_MIN points;
 * the value is the same, to the bit, for any T); every other path, and every sub-problem, runs on one thread.
 * Nothing here allocates Python objects or takes the GIL. Allocation failure returns NaN.
 *
 * Headers: moo_common.h <- hv234.h, hv5.h, hv_qhv.h, hv_wfg.h <- hv.h (each algorithm header includes only
 * moo_common.h).
 */
#ifndef NSGANETV2_HV_H
#define NSGANETV2_HV_H

#include "moo_common.h"
#include "hv234.h"
#include "hv5.h"
#include "hv_qhv.h"
#include "hv_wfg.h"

#ifndef HV_IE_MAX
#define HV_IE_MAX 4 /* sets of at most this many points (d >= 4): inclusion-exclusion */
#endif

/* 1 when QHV-II takes n points of 5 <= d <= 8 objectives along path. */
static inline int hv_takes_qhv(ptrdiff_t n, int d, int path) {
    return d >= 5 && d <= 8 && n > HV_IE_MAX &&
           (path == HV_PATH_QHV || path == HV_PATH_QHV_SCALAR || path == HV_PATH_QHV_SHALLOW || path == HV_PATH_AUTO);
}

/* QHV-II along path on T threads. */
static double hv_rec(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref, int path);
static inline double hv_qhv_path(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref, int path,
                                 int T) {
    return hv_qhv(X, n, d, stride, ref, path == HV_PATH_QHV_SCALAR,
                  path == HV_PATH_QHV_SHALLOW ? HV_QHV_SHALLOW_DEPTH : HV_QHV_MAX_DEPTH, hv_rec, T);
}

/* General entry on rows that all strictly dominate ref (one thread). */
static double hv_rec(const double *X, ptrdiff_t n, int d, ptrdiff_t stride, const double *ref, int path) {
    if (n == 0) return 0.0;
    if (n == 1) {
        double v = 1.0;
        for (int i = 0; i < d; i++) v *= ref[i] - X[i];
        return v;
    }
    if (n <= HV_IE_MAX && d >= 4) return hv_ie(X, n, d, stride, ref);
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
    if (hv_takes_qhv(n, d, path)) return hv_qhv_path(X, n, d, stride, ref, path, 1);
    if (d == 5 && (path == HV_PATH_HV5_SCALAR || path == HV_PATH_NO_QHV))
        return hv5d(X, n, stride, ref, path == HV_PATH_HV5_SCALAR);
    return hv_wfg(X, n, d, stride, ref, path, hv_rec);
}

/* hv_rec on T threads: QHV-II's boxes run in parallel (the same value for any T); the other paths run on one. */
static double hv_rec_threads(const double *X, ptrdiff_t n, int d, const double *ref, int path, int T) {
    if (T > 1 && hv_takes_qhv(n, d, path)) return hv_qhv_path(X, n, d, d, ref, path, T);
    return hv_rec(X, n, d, d, ref, path);
}

/* Public entry: X (n x d) row-major; only rows with every value < ref count. d <= 64. path: an hv_path
 * (moo_common.h), HV_PATH_AUTO but in tests and benchmarks; T: threads (see hv_rec_threads). */
static double hv_compute_path(const double *X, ptrdiff_t n, int d, const double *ref, int path, int T) {
    ptrdiff_t keep = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        int ok = 1;
        for (int j = 0; j < d; j++) ok &= X[i * d + j] < ref[j];
        keep += ok;
    }
    if (keep == n) return hv_rec_threads(X, n, d, ref, path, T);
    if (keep == 0) return 0.0;
    double *Y = (double *)malloc((size_t)keep * (size_t)d * sizeof(double));
    if (!Y) return NAN;
    ptrdiff_t k = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        int ok = 1;
        for (int j = 0; j < d; j++) ok &= X[i * d + j] < ref[j];
        if (ok) { memcpy(Y + k * d, X + i * d, (size_t)d * sizeof(double)); k++; }
    }
    double v = hv_rec_threads(Y, keep, d, ref, path, T);
    free(Y);
    return v;
}

static inline double hv_compute(const double *X, ptrdiff_t n, int d, const double *ref) {
    return hv_compute_path(X, n, d, ref, HV_PATH_AUTO, 1);
}

#endif
