/* Gaussian-kernel sums on a lattice: when every feature takes a few integer values, the correlation with
 * centre i factorises over groups of features,
 *     exp(-theta |D (q - c_i)|^2) = prod_g T[g][k_g(q)][i],
 * where k_g(q) is the joint index of q's values on group g and T holds the precomputed group factors. One
 * query against one centre then costs G multiplies (G ~ d / 3 for ternary genes) instead of d multiply-adds,
 * an exp and the cancellation of the |q|^2 + |c|^2 - 2 q.c expansion.
 *
 * Layout: the centres are padded to a multiple of NV2_LAT_W and cut into blocks of ``bw`` centres; the table is
 * T[block][row][bw] with group g's joint values at rows gbase[g] .. gbase[g] + K_g - 1, so one block's rows
 * stay in L1 while all queries of a batch pass over it. Subnormal products are flushed to zero (their true value is below 1e-307).
 */
#ifndef NSGANETV2_LATTICE_H
#define NSGANETV2_LATTICE_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif
#include "surrogate/_radial.h"

#define NV2_LAT_W 8 /* centre padding: two 4-wide vectors */

typedef double nv2_v4d __attribute__((vector_size(32)));
typedef long long nv2_v4l __attribute__((vector_size(32)));
typedef int32_t nv2_v4i __attribute__((vector_size(16)));

/* unaligned 4-wide load (a macro: an inline function returning a vector would trip GCC's AVX ABI note) */
#define NV2_LD4(p) ({ nv2_v4d v_; memcpy(&v_, (p), sizeof v_); v_; })

/* Row offsets of each query's group factors, off[q * G + g] = (gbase[g] + k_g(q)) * bw with
 * k_g(q) = sum over the group's features j = gstart[g] .. gstart[g + 1] - 1 of mult[j] * (q_j - lo_j). A query
 * with a value that is not an integer inside [lo_j, lo_j + card_j) gets ok[q] = 0 and harmless offsets.
 * ``tmp`` holds d doubles. Returns the number of such rows. */
NV2_CLONES static long nv2_lattice_offsets(const double* restrict Q, long m, long d, const double* restrict lo,
                                           const double* restrict card, const int32_t* restrict gstart,
                                           const double* restrict mult, const int32_t* restrict gbase, long G,
                                           long bw, double* restrict tmp, int32_t* restrict off,
                                           uint8_t* restrict ok) {
    long bad = 0;
    for (long q = 0; q < m; q++) {
        const double* x = Q + q * d;
        int32_t* o = off + q * G;
        nv2_v4l missv = {0, 0, 0, 0};
        long miss = 0, j = 0;
        for (; j + 4 <= d; j += 4) { /* 4 features at a time, branch-free */
            nv2_v4d v = NV2_LD4(x + j) - NV2_LD4(lo + j);
            nv2_v4l in = (v >= 0.0) & (v < NV2_LD4(card + j));
            nv2_v4d half = {0.5, 0.5, 0.5, 0.5}; /* 0.5 fails the integer test below */
            nv2_v4d c = (nv2_v4d)(((nv2_v4l)v & in) | ((nv2_v4l)half & ~in));
            nv2_v4d t = __builtin_convertvector(__builtin_convertvector(c, nv2_v4i), nv2_v4d);
            missv |= (t != c);
            t *= NV2_LD4(mult + j);
            memcpy(tmp + j, &t, sizeof t);
        }
        miss = (missv[0] | missv[1]) | (missv[2] | missv[3]);
        for (; j < d; j++) {
            double v = x[j] - lo[j];
            double c = ((v >= 0.0) & (v < card[j])) ? v : 0.5;
            double t = (double)(int32_t)c;
            miss |= (t != c);
            tmp[j] = mult[j] * t;
        }
        for (long g = 0; g < G; g++) {
            double k = 0.0;
            for (long j = gstart[g]; j < gstart[g + 1]; j++) k += tmp[j];
            o[g] = (int32_t)(((long)gbase[g] + (miss ? 0 : (long)k)) * bw);
        }
        ok[q] = (uint8_t)(miss == 0);
        bad += (miss != 0);
    }
    return bad;
}

/* S[q] (4 partial sums per query) += sum over centres of w[i] prod_g T[row off[q, g]][i], over nb blocks of bw
 * centres (bw a multiple of NV2_LAT_W; w padded with zeros); out[q] = the sum of S[q]. Queries go four at a
 * time for independent multiply chains; each query's arithmetic is the same whichever way it is grouped. */
#define NV2_LAT_CHAIN(a, b, o)                                                                          \
    nv2_v4d a = NV2_LD4(base + o[0]), b = NV2_LD4(base + o[0] + 4)
#define NV2_LAT_MUL(a, b, o, g)                                                                         \
    a *= NV2_LD4(base + o[g]); b *= NV2_LD4(base + o[g] + 4)

NV2_CLONES static void nv2_lattice_sum(const double* restrict T, long G, long rows, long bw, long nb,
                                       const double* restrict w, const int32_t* restrict off, long m,
                                       double* restrict S, double* restrict out) {
#if defined(__SSE2__)
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040); /* flush-to-zero and denormals-are-zero */
#endif
    memset(S, 0, (size_t)m * 4 * sizeof(double));
    for (long b = 0; b < nb; b++) {
        const double* Tb = T + b * rows * bw;
        const double* wb = w + b * bw;
        long q = 0;
        for (; q + 4 <= m; q += 4) {
            const int32_t *o0 = off + q * G, *o1 = o0 + G, *o2 = o1 + G, *o3 = o2 + G;
            nv2_v4d s0 = NV2_LD4(S + 4 * q), s1 = NV2_LD4(S + 4 * q + 4);
            nv2_v4d s2 = NV2_LD4(S + 4 * q + 8), s3 = NV2_LD4(S + 4 * q + 12);
            for (long c = 0; c < bw; c += NV2_LAT_W) {
                const double* base = Tb + c;
                NV2_LAT_CHAIN(a0, b0, o0); NV2_LAT_CHAIN(a1, b1, o1);
                NV2_LAT_CHAIN(a2, b2, o2); NV2_LAT_CHAIN(a3, b3, o3);
                for (long g = 1; g < G; g++) {
                    NV2_LAT_MUL(a0, b0, o0, g); NV2_LAT_MUL(a1, b1, o1, g);
                    NV2_LAT_MUL(a2, b2, o2, g); NV2_LAT_MUL(a3, b3, o3, g);
                }
                nv2_v4d w0 = NV2_LD4(wb + c), w1 = NV2_LD4(wb + c + 4);
                s0 += a0 * w0 + b0 * w1; s1 += a1 * w0 + b1 * w1;
                s2 += a2 * w0 + b2 * w1; s3 += a3 * w0 + b3 * w1;
            }
            memcpy(S + 4 * q, &s0, 32); memcpy(S + 4 * q + 4, &s1, 32);
            memcpy(S + 4 * q + 8, &s2, 32); memcpy(S + 4 * q + 12, &s3, 32);
        }
        for (; q < m; q++) {
            const int32_t* o0 = off + q * G;
            nv2_v4d s0 = NV2_LD4(S + 4 * q);
            for (long c = 0; c < bw; c += NV2_LAT_W) {
                const double* base = Tb + c;
                NV2_LAT_CHAIN(a0, b0, o0);
                for (long g = 1; g < G; g++) {
                    NV2_LAT_MUL(a0, b0, o0, g);
                }
                nv2_v4d w0 = NV2_LD4(wb + c), w1 = NV2_LD4(wb + c + 4);
                s0 += a0 * w0 + b0 * w1;
            }
            memcpy(S + 4 * q, &s0, 32);
        }
    }
    for (long q = 0; q < m; q++) out[q] = (S[4 * q] + S[4 * q + 1]) + (S[4 * q + 2] + S[4 * q + 3]);
#if defined(__SSE2__)
    _mm_setcsr(csr);
#endif
}

#endif
