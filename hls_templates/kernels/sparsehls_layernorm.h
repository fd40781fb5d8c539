// LayerNorm over rows of an FX(F_RES) int32 tensor -> int8 (golden ops/layernorm.py).
//   w32[C::IDX_GAMMA .. +H]   gamma_q int32
//   w32[C::IDX_BETA .. +2H]   beta_q int64 as (low, high) int32 word pairs
//   w32[C::IDX_MULT/IDX_SHIFT .. +H] per-channel output requantization when
//   C::PER_CH, else the scalars C::MULT, C::SHIFT
// Per row: three passes over H (sum, variance, normalise), each II=1, plus a
// 32-step isqrt and two divisions.
#ifndef SPARSEHLS_LAYERNORM_H
#define SPARSEHLS_LAYERNORM_H

#include <stdint.h>

#include "sparsehls_prims.h"

namespace sparsehls {

static inline int64_t join64(int32_t lo, int32_t hi) {
#pragma HLS INLINE
    return (int64_t)(((uint64_t)(uint32_t)hi << 32) | (uint64_t)(uint32_t)lo);
}

template <class C>
void layernorm(const int32_t x[C::MAX_ROWS * C::H], int8_t y[C::MAX_ROWS * C::H], int rows,
               const int32_t* w32) {
    int32_t gamma[C::H];
    int64_t beta[C::H];
    int32_t mult[C::H], shift[C::H];
LN_PARAMS:
    for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
        gamma[c] = w32[C::IDX_GAMMA + c];
        mult[c] = C::PER_CH ? w32[C::IDX_MULT + c] : (int32_t)C::MULT;
        shift[c] = C::PER_CH ? w32[C::IDX_SHIFT + c] : (int32_t)C::SHIFT;
        beta[c] = join64(w32[C::IDX_BETA + 2 * c], w32[C::IDX_BETA + 2 * c + 1]);
    }
    int32_t r[C::H];
    int8_t o[C::H];
LN_ROWS:
    for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
        for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
            r[c] = x[t * C::H + c];
        }
        layernorm_row<C::H>(r, gamma, beta, C::EPS_Q, mult, shift, o);
        for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
            y[t * C::H + c] = o[c];
        }
    }
}

}  // namespace sparsehls

#endif
