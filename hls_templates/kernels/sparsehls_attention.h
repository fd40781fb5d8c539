// Multi-head self-attention on projected q, k, v (golden ops/attention.py).
//
// Per head h and query row i: scores[j] = q_h[i] . k_h[j] (int32, HD-wide dot
// product unrolled, II=1 per key), integer softmax over the valid keys (uint8
// probabilities), acc[d] = sum_j p[j] * v_h[j][d] (unrolled over d, II=1 per
// key), out = sat8(requant(acc, OUT_MULT, OUT_SHIFT)).
//
// Buffers q, k, v, out are [rows, H] with H = HEADS * HD; the planner
// partitions them cyclically by HD so one row of a head is read in one cycle.
#ifndef SPARSEHLS_ATTENTION_H
#define SPARSEHLS_ATTENTION_H

#include <stdint.h>

#include "sparsehls_prims.h"

namespace sparsehls {

template <class C>
void attention(const int8_t q[C::MAX_ROWS * C::HEADS * C::HD], const int8_t k[C::MAX_ROWS * C::HEADS * C::HD],
               const int8_t v[C::MAX_ROWS * C::HEADS * C::HD], const int32_t mask[C::MAX_ROWS],
               int8_t out[C::MAX_ROWS * C::HEADS * C::HD], int rows) {
    const int H = C::HEADS * C::HD;
    static_assert(C::HD * 128 * 128 < (1 << 30), "q.k must fit int32");
    int32_t scores[C::MAX_ROWS];
    uint8_t p[C::MAX_ROWS];
    int8_t qrow[C::HD];
#pragma HLS ARRAY_PARTITION variable = qrow complete
ATT_HEAD:
    for (int h = 0; h < C::HEADS; ++h) {
    ATT_QUERY:
        for (int i = 0; i < rows; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
        ATT_QROW:
            for (int d = 0; d < C::HD; ++d) {
#pragma HLS UNROLL
                qrow[d] = q[i * H + h * C::HD + d];
            }
        ATT_QK:
            for (int j = 0; j < rows; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
                int32_t s = 0;
                for (int d = 0; d < C::HD; ++d) {
#pragma HLS UNROLL
                    s += (int32_t)qrow[d] * (int32_t)k[j * H + h * C::HD + d];
                }
                scores[j] = s;
            }
            softmax_row<C::MAX_ROWS>(scores, mask, rows, C::SM_MULT, C::SM_SHIFT, p);
            int32_t acc[C::HD];
#pragma HLS ARRAY_PARTITION variable = acc complete
            for (int d = 0; d < C::HD; ++d) {
#pragma HLS UNROLL
                acc[d] = 0;
            }
        ATT_AV:
            for (int j = 0; j < rows; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
                for (int d = 0; d < C::HD; ++d) {
#pragma HLS UNROLL
                    acc[d] += (int32_t)p[j] * (int32_t)v[j * H + h * C::HD + d];
                }
            }
        ATT_OUT:
            for (int d = 0; d < C::HD; ++d) {
#pragma HLS UNROLL
                out[i * H + h * C::HD + d] = sat8(requant(acc[d], C::OUT_MULT, C::OUT_SHIFT));
            }
        }
    }
}

}  // namespace sparsehls

#endif
