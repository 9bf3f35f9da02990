/* Radial-basis row sums for RBF / Kriging prediction: sum_j w[j] * phi(max(q + xn[j] - 2 g[j], 0)).
 * Written so GCC vectorises them at -O3 with the project's flags (no -ffast-math): 4 independent partial
 * sums, a branch-free clamp, and a branch-free exp for the Gaussian. */
#ifndef NSGANETV2_RADIAL_H
#define NSGANETV2_RADIAL_H
#include <math.h>
#include <stdint.h>
#include <string.h>

/* On x86-64 with GCC, each row kernel is also compiled for AVX2 and picked at load time (ifunc); other
 * targets get the baseline build. No FMA contraction either way (-ffp-contract=off), and the four partial
 * sums are the same, so the results are identical across the clones. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NV2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NV2_CLONES
#endif

static inline double nv2_clamp0(double d) { return 0.5 * (d + fabs(d)); }

/* exp(x) for x <= 0, relative error ~1e-15; inputs below -708 give exp(-708). */
static inline double nv2_exp_neg(double x) {
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    double t, k, r, p, scale;
    int64_t bits, mbits;
    x = x < -708.0 ? -708.0 : x;
    t = x * 1.4426950408889634 + magic;
    k = t - magic;
    memcpy(&bits, &t, 8);
    memcpy(&mbits, &magic, 8);
    bits = (bits - mbits + 1023) << 52;
    memcpy(&scale, &bits, 8);
    r = x - k * 0.6931471803691238;
    r = r - k * 1.9082149292705877e-10;
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.6666666666666666e-01 + r * (4.1666666666666664e-02 + r * (
        8.3333333333333332e-03 + r * (1.3888888888888889e-03 + r * (1.9841269841269841e-04 + r * (
        2.4801587301587302e-05 + r * (2.7557319223985893e-06 + r * (2.7557319223985888e-07 + r * (
        2.5052108385441720e-08 + r * (2.0876756987868100e-09 + r * 1.6059043836821613e-10))))))))))));
    return p * scale;
}

#define NV2_ROW(NAME, GTYPE, PHI)                                                                      \
NV2_CLONES static double NAME(const GTYPE* restrict g, double q, const double* restrict xn,               \
                          const double* restrict w, long n, double param) {                            \
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, d;                                                  \
    long j = 0;                                                                                        \
    (void)param;                                                                                       \
    for (; j + 4 <= n; j += 4) {                                                                       \
        d = nv2_clamp0(q + xn[j] - 2.0 * (double)g[j]);         a0 += w[j] * (PHI);                    \
        d = nv2_clamp0(q + xn[j + 1] - 2.0 * (double)g[j + 1]); a1 += w[j + 1] * (PHI);                \
        d = nv2_clamp0(q + xn[j + 2] - 2.0 * (double)g[j + 2]); a2 += w[j + 2] * (PHI);                \
        d = nv2_clamp0(q + xn[j + 3] - 2.0 * (double)g[j + 3]); a3 += w[j + 3] * (PHI);                \
    }                                                                                                  \
    for (; j < n; j++) {                                                                               \
        d = nv2_clamp0(q + xn[j] - 2.0 * (double)g[j]); a0 += w[j] * (PHI);                            \
    }                                                                                                  \
    return (a0 + a1) + (a2 + a3);                                                                      \
}

NV2_ROW(nv2_row_cubic_d, double, d * sqrt(d))
NV2_ROW(nv2_row_cubic_f, float, d * sqrt(d))
NV2_ROW(nv2_row_gauss_d, double, nv2_exp_neg(-param * d))
NV2_ROW(nv2_row_gauss_f, float, nv2_exp_neg(-param * d))
NV2_ROW(nv2_row_tps_d, double, (d > 0.0 ? 0.5 * d * log(d) : 0.0))
NV2_ROW(nv2_row_tps_f, float, (d > 0.0 ? 0.5 * d * log(d) : 0.0))

#endif
