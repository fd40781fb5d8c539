// LayerNorm over rows of an FX(F_RES) int32 tensor -> int8 (golden ops/layernorm.py).
// Its parameters, in the op's on-chip weight image (w32: the int32 view the top
// burst-read from the 512-bit port, sparsehls_weights.h; offsets relative to it):
//   w32[C::IDX_GAMMA .. +H]   gamma_q int32
//   w32[C::IDX_BETA .. +2H]   beta_q int64 as (low, high) int32 word pairs
//   w32[C::IDX_MULT/IDX_SHIFT .. +H] per-channel output requantization when
//   C::PER_CH, else the scalars C::MULT, C::SHIFT
// Per row: three passes over H (sum, variance, normalise), each II=1, plus a
// 32-step isqrt and two divisions.
//
// C::LANES (scheduled) LayerNorm units take the rows in turn (row t -> lane
// t % LANES). A DATAFLOW region: ln_params loads one copy of the parameters
// per lane, ln_read streams the rows out one element per cycle, the LANES
// ln_lane processes (an unrolled dataflow loop) each normalise their rows,
// ln_write gathers the rows back in order. With one lane it is the same unit,
// overlapped with the read and the write.
#ifndef SPARSEHLS_LAYERNORM_H
#define SPARSEHLS_LAYERNORM_H

#include <stdint.h>

#include "hls_stream.h"
#include "sparsehls_prims.h"

namespace sparsehls {

static inline int64_t join64(int32_t lo, int32_t hi) {
#pragma HLS INLINE
    return (int64_t)(((uint64_t)(uint32_t)hi << 32) | (uint64_t)(uint32_t)lo);
}

template <class C>
void ln_params(const int32_t* w32, int32_t gamma[C::LANES][C::H], int64_t beta[C::LANES][C::H],
               int32_t mult[C::LANES][C::H], int32_t shift[C::LANES][C::H]) {
LN_PARAMS:
    for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
        const int32_t g = w32[C::IDX_GAMMA + c];
        const int32_t m = C::PER_CH ? w32[C::IDX_MULT + c] : (int32_t)C::MULT;
        const int32_t s = C::PER_CH ? w32[C::IDX_SHIFT + c] : (int32_t)C::SHIFT;
        const int64_t b = join64(w32[C::IDX_BETA + 2 * c], w32[C::IDX_BETA + 2 * c + 1]);
        for (int l = 0; l < C::LANES; ++l) {
            gamma[l][c] = g;
            beta[l][c] = b;
            mult[l][c] = m;
            shift[l][c] = s;
        }
    }
}

template <class C>
void ln_read(const int32_t x[C::MAX_ROWS * C::H], int rows, hls::stream<int32_t> lanes_in[C::LANES]) {
LN_READ_ROW:
    for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
    LN_READ_COL:
        for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
            lanes_in[t % C::LANES].write(x[t * C::H + c]);
        }
    }
}

template <class C>
void ln_lane(int lane, int rows, hls::stream<int32_t>& in, const int32_t gamma[C::H], const int64_t beta[C::H],
             const int32_t mult[C::H], const int32_t shift[C::H], hls::stream<int8_t>& out) {
    int32_t r[C::H];
    int8_t o[C::H];
LN_LANE_ROW:
    for (int t = lane; t < rows; t += C::LANES) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = (C::MAX_ROWS + C::LANES - 1) / C::LANES
    LN_LANE_IN:
        for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
            r[c] = in.read();
        }
        layernorm_row<C::H>(r, gamma, beta, C::EPS_Q, mult, shift, o);
    LN_LANE_OUT:
        for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
            out.write(o[c]);
        }
    }
}

template <class C>
void ln_write(int rows, hls::stream<int8_t> lanes_out[C::LANES], int8_t y[C::MAX_ROWS * C::H]) {
LN_WRITE_ROW:
    for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
    LN_WRITE_COL:
        for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
            y[t * C::H + c] = lanes_out[t % C::LANES].read();
        }
    }
}

template <class C>
void layernorm(const int32_t x[C::MAX_ROWS * C::H], int8_t y[C::MAX_ROWS * C::H], int rows,
               const int32_t* w32) {
    static_assert(C::LANES >= 1 && C::LANES <= C::MAX_ROWS, "1 <= LANES <= MAX_ROWS");
#pragma HLS DATAFLOW
    int32_t gamma[C::LANES][C::H];
    int64_t beta[C::LANES][C::H];
    int32_t mult[C::LANES][C::H], shift[C::LANES][C::H];
#pragma HLS ARRAY_PARTITION variable = gamma complete dim = 1
#pragma HLS ARRAY_PARTITION variable = beta complete dim = 1
#pragma HLS ARRAY_PARTITION variable = mult complete dim = 1
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 1
    hls::stream<int32_t> lanes_in[C::LANES];
    hls::stream<int8_t> lanes_out[C::LANES];
#pragma HLS STREAM variable = lanes_in depth = 2
#pragma HLS STREAM variable = lanes_out depth = C::H
    ln_params<C>(w32, gamma, beta, mult, shift);
    ln_read<C>(x, rows, lanes_in);
LN_LANES:
    for (int l = 0; l < C::LANES; ++l) {
#pragma HLS UNROLL
#pragma HLS DATAFLOW
        ln_lane<C>(l, rows, lanes_in[l], gamma[l], beta[l], mult[l], shift[l], lanes_out[l]);
    }
    ln_write<C>(rows, lanes_out, y);
}

}  // namespace sparsehls

#endif
