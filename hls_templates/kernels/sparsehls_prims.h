// sparsehls integer primitives: a line-by-line mirror of compiler/golden/intops.py.
//
// The numerics contract lives in Python; this file must agree bit for bit.
// The constants come from the generated header sparsehls_consts.h (rendered
// from intops.py by compiler/backends/hls/consts.py), so they cannot drift.
//
// Conventions, as in intops.py:
//  * all intermediate arithmetic is int64_t;
//  * `>>` on a signed value is an arithmetic shift (floor). C++14 leaves this
//    implementation-defined; g++ and Vitis HLS both shift arithmetically
//    (C++20 makes it the rule);
//  * rounding is round-half-up: (x + (1 << (s-1))) >> s;
//  * division appears only on non-negative operands, or via floor_div.
#ifndef SPARSEHLS_PRIMS_H
#define SPARSEHLS_PRIMS_H

#include <stdint.h>

#include "sparsehls_consts.h"

namespace sparsehls {

static inline int64_t sat(int64_t x, int64_t lo, int64_t hi) {
#pragma HLS INLINE
    return x < lo ? lo : (x > hi ? hi : x);
}

static inline int8_t sat8(int64_t x) {
#pragma HLS INLINE
    return (int8_t)sat(x, INT8_MIN_V, INT8_MAX_V);
}

static inline int32_t sat32(int64_t x) {
#pragma HLS INLINE
    return (int32_t)sat(x, INT32_MIN_V, INT32_MAX_V);
}

// Round-half-up arithmetic right shift by s >= 1.
static inline int64_t rshift_round(int64_t x, int s) {
#pragma HLS INLINE
    return (x + ((int64_t)1 << (s - 1))) >> s;
}

// round_half_up(x * mult / 2**shift); |x| < 2**31, 0 <= mult < 2**31. No saturation.
static inline int64_t requant(int64_t x, int64_t mult, int shift) {
#pragma HLS INLINE
    return rshift_round(x * mult, shift);
}

// Floor division (towards minus infinity), b > 0.
static inline int64_t floor_div(int64_t a, int64_t b) {
#pragma HLS INLINE
    int64_t q = a / b;  // C truncates towards zero
    if ((a % b) != 0 && a < 0) q -= 1;
    return q;
}

// Floor square root of 0 <= v < 2**62, bit by bit (31 iterations, no multiplier).
static inline int64_t isqrt(int64_t v) {
    uint64_t rem = (uint64_t)v;
    uint64_t root = 0;
    uint64_t bit = (uint64_t)1 << 62;
ISQRT_ALIGN:
    for (int i = 0; i < 32; ++i) {
#pragma HLS UNROLL
        if (bit > rem) bit >>= 2;
    }
ISQRT_STEP:
    for (int i = 0; i < 32; ++i) {
#pragma HLS PIPELINE II = 1
        if (bit != 0) {
            if (rem >= root + bit) {
                rem -= root + bit;
                root = (root >> 1) + bit;
            } else {
                root >>= 1;
            }
            bit >>= 2;
        }
    }
    return (int64_t)root;
}

// exp(d) for d <= 0 in FX(F_EXP); result in FX(F_EXP) (I-BERT i-exp).
static inline int64_t iexp(int64_t d) {
#pragma HLS INLINE
    if (d < EXP_CLAMP) d = EXP_CLAMP;
    const int64_t q = floor_div(-d, EXP_LN2);
    const int64_t r = d + q * EXP_LN2;
    const int64_t t = r + EXP_QB;
    const int64_t e = (EXP_QA * t * t + EXP_QC) >> (2 * F_EXP);
    return e >> q;
}

static inline int64_t sign64(int64_t x) {
#pragma HLS INLINE
    return (x > 0) - (x < 0);
}

static inline int64_t abs64(int64_t x) {
#pragma HLS INLINE
    return x < 0 ? -x : x;
}

// GELU(x) for x in FX(F_GELU) (|x| < 2**20); result in FX(F_GELU) (I-BERT i-GELU).
static inline int64_t igelu(int64_t x) {
#pragma HLS INLINE
    const int64_t xs = (x * GELU_INV_SQRT2) >> 15;
    int64_t a = abs64(xs);
    if (a > GELU_QB) a = GELU_QB;
    const int64_t t = a - GELU_QB;
    const int64_t ell = ((GELU_QA * t * t) >> (2 * F_GELU)) + GELU_ONE;
    const int64_t erf = sign64(xs) * ell;
    return (x * (GELU_ONE + erf)) >> (F_GELU + 1);
}

// tanh(x) for x in FX(F_TANH); result in FX(F_TANH).
static inline int64_t itanh(int64_t x) {
#pragma HLS INLINE
    const int64_t e = iexp(-2 * abs64(x));
    // iexp(0) is slightly above 1.0 (A*B^2 + C > 1), so the numerator can be negative: floor it.
    const int64_t t = floor_div((TANH_ONE - e) * ((int64_t)1 << F_TANH), TANH_ONE + e);
    return sign64(x) * t;
}

// Integer softmax over one row of n <= SMAX scores (intops.softmax_rows).
// valid[j] != 0 marks keys that take part; masked keys get probability 0.
// With no valid key at all the row is all zeros (NumPy: 2**32 // 0 == 0).
template <int SMAX>
void softmax_row(const int32_t scores[SMAX], const int32_t valid[SMAX], int n, int64_t mult, int shift,
                 uint8_t p[SMAX]) {
    int64_t e[SMAX];
    int64_t smax = -((int64_t)1 << 40);
SM_MAX:
    for (int j = 0; j < n; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = SMAX
#pragma HLS PIPELINE II = 1
        if (valid[j] != 0 && scores[j] > smax) smax = scores[j];
    }
    int64_t total = 0;
SM_EXP:
    for (int j = 0; j < n; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = SMAX
#pragma HLS PIPELINE II = 1
        const int64_t d = requant((int64_t)scores[j] - smax, mult, shift);
        const int64_t ej = valid[j] != 0 ? iexp(d) : 0;
        e[j] = ej;
        total += ej;
    }
    const int64_t recip = total > 0 ? (((int64_t)1 << 32) / total) : 0;
SM_NORM:
    for (int j = 0; j < n; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = SMAX
#pragma HLS PIPELINE II = 1
        p[j] = (uint8_t)sat(rshift_round(e[j] * recip, 32 - SOFTMAX_OUT_BITS), 0, UINT8_MAX_V);
    }
}

// Integer LayerNorm of one row (intops.layernorm_rows); returns int8.
// The output requantization is per channel: mult[c], shift[c].
template <int H>
void layernorm_row(const int32_t r[H], const int32_t gamma[H], const int64_t beta[H], int64_t eps_q,
                   const int32_t mult[H], const int32_t shift[H], int8_t out[H]) {
    int64_t sum = 0;
LN_SUM:
    for (int c = 0; c < H; ++c) {
#pragma HLS PIPELINE II = 1
        sum += r[c];
    }
    const int64_t mean = floor_div(sum, H);
    int64_t ss = 0;
LN_VAR:
    for (int c = 0; c < H; ++c) {
#pragma HLS PIPELINE II = 1
        const int64_t d = (int64_t)r[c] - mean;
        ss += d * d;
    }
    const int64_t var = ss / H;  // ss >= 0
    int64_t std = isqrt(var + eps_q);
    if (std < 1) std = 1;
    const int64_t inv = ((int64_t)1 << 31) / std;
LN_OUT:
    for (int c = 0; c < H; ++c) {
#pragma HLS PIPELINE II = 1
        const int64_t d = (int64_t)r[c] - mean;
        const int64_t y = rshift_round(d * inv, 31 - F_LN);
        const int64_t z = rshift_round(y * gamma[c] + beta[c], F_GAMMA);
        out[c] = sat8(requant(z, mult[c], shift[c]));
    }
}

}  // namespace sparsehls

#endif
