// Element-wise ops: GELU, tanh, residual add, take_first (golden ops/gelu.py,
// tanh.py, add.py, take_first.py). Each is one loop over the elements,
// pipelined at II=1. GELU and tanh run C::LANES copies of their unit: LANES
// consecutive elements per cycle (the planner partitions x and y cyclically
// by LANES so those elements sit in different banks).
#ifndef SPARSEHLS_ELEMENTWISE_H
#define SPARSEHLS_ELEMENTWISE_H

#include <stdint.h>

#include "sparsehls_prims.h"

namespace sparsehls {

// y = sat8(requant(igelu(requant(x, IN_MULT, IN_SHIFT)) + OUT_OFFSET, OUT_MULT, OUT_SHIFT) + OUT_ZERO);
// x, y: [rows, COLS]. OUT_OFFSET/OUT_ZERO shift GELU's [-0.17, max] range onto all 256 codes.
// x is int8 or, straight from a wide linear, FX(F_GELU) int32 (C::in_t).
template <class C>
void gelu(const typename C::in_t x[C::MAX_ROWS * C::COLS], int8_t y[C::MAX_ROWS * C::COLS], int rows) {
    static_assert(C::LANES >= 1, "at least one lane");
    const int n = rows * C::COLS;
    const int steps = (n + C::LANES - 1) / C::LANES;
GELU_LOOP:
    for (int s = 0; s < steps; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (C::MAX_ROWS * C::COLS + C::LANES - 1) / C::LANES
#pragma HLS PIPELINE II = 1
    GELU_LANE:
        for (int l = 0; l < C::LANES; ++l) {
#pragma HLS UNROLL
            const int e = s * C::LANES + l;
            if (e < n) {
                const int64_t xf = requant(x[e], C::IN_MULT, C::IN_SHIFT);
                y[e] = sat8(requant(igelu(xf) + C::OUT_OFFSET, C::OUT_MULT, C::OUT_SHIFT) + C::OUT_ZERO);
            }
        }
    }
}

// y = sat8(requant(itanh(requant(x, IN_MULT, IN_SHIFT)), OUT_MULT, OUT_SHIFT)).
template <class C>
void tanh_op(const typename C::in_t x[C::MAX_ROWS * C::COLS], int8_t y[C::MAX_ROWS * C::COLS], int rows) {
    static_assert(C::LANES >= 1, "at least one lane");
    const int n = rows * C::COLS;
    const int steps = (n + C::LANES - 1) / C::LANES;
TANH_LOOP:
    for (int s = 0; s < steps; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (C::MAX_ROWS * C::COLS + C::LANES - 1) / C::LANES
#pragma HLS PIPELINE II = 1
    TANH_LANE:
        for (int l = 0; l < C::LANES; ++l) {
#pragma HLS UNROLL
            const int e = s * C::LANES + l;
            if (e < n) {
                const int64_t xf = requant(x[e], C::IN_MULT, C::IN_SHIFT);
                y[e] = sat8(requant(itanh(xf), C::OUT_MULT, C::OUT_SHIFT));
            }
        }
    }
}

// Residual add into FX(F_RES): y = sat32(requant(a) [+ requant(b)] [+ const_q[col]]).
// a, b are int8 or FX int32 (C::a_t, C::b_t). b is read only when C::HAS_B;
// w32 is the op's on-chip weight image (the int32 view the top burst-read from the
// 512-bit port, sparsehls_weights.h; offsets relative to it).
// const_q (int32 [COLS] at w32[C::IDX_CONST]) only when C::HAS_CONST. The
// multipliers are per channel (int32 [COLS] at w32[C::IDX_A_MULT] ...) when
// C::A_PER_CH / C::B_PER_CH, else the scalars C::A_MULT ...
template <class C>
void add_params(const int32_t* w32, int32_t cq[C::COLS], int32_t am[C::COLS], int32_t as[C::COLS],
                int32_t bm[C::COLS], int32_t bs[C::COLS]) {
ADD_PARAMS:
    for (int c = 0; c < C::COLS; ++c) {
#pragma HLS PIPELINE II = 1
        cq[c] = C::HAS_CONST ? w32[C::IDX_CONST + c] : 0;
        am[c] = C::A_PER_CH ? w32[C::IDX_A_MULT + c] : (int32_t)C::A_MULT;
        as[c] = C::A_PER_CH ? w32[C::IDX_A_SHIFT + c] : (int32_t)C::A_SHIFT;
        bm[c] = C::B_PER_CH ? w32[C::IDX_B_MULT + c] : (int32_t)C::B_MULT;
        bs[c] = C::B_PER_CH ? w32[C::IDX_B_SHIFT + c] : (int32_t)C::B_SHIFT;
    }
}

template <class C>
void add(const typename C::a_t a[C::MAX_ROWS * C::COLS], const typename C::b_t b[C::MAX_ROWS * C::COLS],
         int32_t y[C::MAX_ROWS * C::COLS], int rows, const int32_t* w32) {
    int32_t cq[C::COLS], am[C::COLS], as[C::COLS], bm[C::COLS], bs[C::COLS];
    add_params<C>(w32, cq, am, as, bm, bs);
ADD_ROW:
    for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
    ADD_COL:
        for (int c = 0; c < C::COLS; ++c) {
#pragma HLS PIPELINE II = 1
            const int e = t * C::COLS + c;
            int64_t r = requant(a[e], am[c], as[c]);
            if (C::HAS_B) r += requant(b[e], bm[c], bs[c]);
            r += cq[c];
            y[e] = sat32(r);
        }
    }
}

// The same add with its two requant multiplies bound to LUTs (the schedule's
// "fabric" adders, RTL int_add FABRIC = 1): the DSPs go to the MAC arrays.
// Same arithmetic as add(): requant(x, m, s) = rshift_round(x * m, s).
template <class C>
void add_fabric(const typename C::a_t a[C::MAX_ROWS * C::COLS],
                const typename C::b_t b[C::MAX_ROWS * C::COLS], int32_t y[C::MAX_ROWS * C::COLS],
                int rows, const int32_t* w32) {
    int32_t cq[C::COLS], am[C::COLS], as[C::COLS], bm[C::COLS], bs[C::COLS];
    add_params<C>(w32, cq, am, as, bm, bs);
ADD_ROW:
    for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
    ADD_COL:
        for (int c = 0; c < C::COLS; ++c) {
#pragma HLS PIPELINE II = 1
            const int e = t * C::COLS + c;
            const int64_t pa = (int64_t)a[e] * am[c];
#pragma HLS BIND_OP variable = pa op = mul impl = fabric
            const int64_t pb = C::HAS_B ? (int64_t)b[e] * bm[c] : 0;
#pragma HLS BIND_OP variable = pb op = mul impl = fabric
            int64_t r = rshift_round(pa, as[c]);
            if (C::HAS_B) r += rshift_round(pb, bs[c]);
            r += cq[c];
            y[e] = sat32(r);
        }
    }
}

// y[0, :] = x[0, :] (the first token, pooler input).
template <class T, int MAX_ROWS, int COLS>
void take_first(const T x[MAX_ROWS * COLS], T y[COLS]) {
TAKE_FIRST:
    for (int c = 0; c < COLS; ++c) {
#pragma HLS PIPELINE II = 1
        y[c] = x[c];
    }
}

}  // namespace sparsehls

#endif
