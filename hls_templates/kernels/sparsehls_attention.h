// Multi-head self-attention on projected q, k, v (golden ops/attention.py).
//
// Per head h and query row i: scores[j] = q_h[i] . k_h[j] (int32, HD-wide dot
// product unrolled, II=1 per key), integer softmax over the valid keys (uint8
// probabilities), acc[d] = sum_j p[j] * v_h[j][d] (unrolled over d, II=1 per
// key), out = sat8(requant(acc, OUT_MULT, OUT_SHIFT)).
//
// C::LANES lanes (scheduled) take C::LANES query rows of a head at a time:
// each lane has its own QK dot product, softmax_row instance and PV MACs; the
// key row k_h[j] and value row v_h[j] are read once per cycle and broadcast
// to every lane, so q/k/v keep their HD-wide partitioning. Each lane's
// softmax reads its own copy of the mask.
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
    const int L = C::LANES;
    static_assert(C::HD * 128 * 128 < (1 << 30), "q.k must fit int32");
    static_assert(C::LANES >= 1 && C::LANES <= C::MAX_ROWS, "1 <= LANES <= MAX_ROWS");
    int32_t scores[L][C::MAX_ROWS];
    uint8_t p[L][C::MAX_ROWS];
    int32_t valid[L][C::MAX_ROWS];
    int8_t qrow[L][C::HD];
    int32_t acc[L][C::HD];
#pragma HLS ARRAY_PARTITION variable = scores complete dim = 1
#pragma HLS ARRAY_PARTITION variable = p complete dim = 1
#pragma HLS ARRAY_PARTITION variable = valid complete dim = 1
#pragma HLS ARRAY_PARTITION variable = qrow complete dim = 0
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
ATT_MASK:
    for (int j = 0; j < rows; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
        for (int l = 0; l < L; ++l) valid[l][j] = mask[j];
    }
ATT_HEAD:
    for (int h = 0; h < C::HEADS; ++h) {
    ATT_QUERY:
        for (int i0 = 0; i0 < rows; i0 += L) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (C::MAX_ROWS + C::LANES - 1) / C::LANES
        ATT_QROW:  // one query row per cycle (HD-wide read)
            for (int l = 0; l < L; ++l) {
#pragma HLS PIPELINE II = 1
                for (int d = 0; d < C::HD; ++d) {
                    qrow[l][d] = i0 + l < rows ? q[(i0 + l) * H + h * C::HD + d] : (int8_t)0;
                }
            }
        ATT_QK:
            for (int j = 0; j < rows; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
                int8_t krow[C::HD];
#pragma HLS ARRAY_PARTITION variable = krow complete
                for (int d = 0; d < C::HD; ++d) krow[d] = k[j * H + h * C::HD + d];
            ATT_QK_LANE:
                for (int l = 0; l < L; ++l) {
#pragma HLS UNROLL
                    int32_t s = 0;
                    for (int d = 0; d < C::HD; ++d) {
#pragma HLS UNROLL
                        s += (int32_t)qrow[l][d] * (int32_t)krow[d];
                    }
                    scores[l][j] = s;
                }
            }
        ATT_SOFTMAX:  // LANES softmax_row instances (a lane past the last row works on zeros)
            for (int l = 0; l < L; ++l) {
#pragma HLS UNROLL
                softmax_row<C::MAX_ROWS>(scores[l], valid[l], rows, C::SM_MULT, C::SM_SHIFT, p[l]);
            }
            for (int l = 0; l < L; ++l) {
#pragma HLS UNROLL
                for (int d = 0; d < C::HD; ++d) {
#pragma HLS UNROLL
                    acc[l][d] = 0;
                }
            }
        ATT_AV:
            for (int j = 0; j < rows; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
                int8_t vrow[C::HD];
#pragma HLS ARRAY_PARTITION variable = vrow complete
                for (int d = 0; d < C::HD; ++d) vrow[d] = v[j * H + h * C::HD + d];
            ATT_AV_LANE:
                for (int l = 0; l < L; ++l) {
#pragma HLS UNROLL
                    for (int d = 0; d < C::HD; ++d) {
#pragma HLS UNROLL
                        acc[l][d] += (int32_t)p[l][j] * (int32_t)vrow[d];
                    }
                }
            }
        ATT_OUT:  // one output row per cycle (HD-wide write)
            for (int l = 0; l < L; ++l) {
#pragma HLS PIPELINE II = 1
                if (i0 + l < rows) {
                    for (int d = 0; d < C::HD; ++d) {
                        out[(i0 + l) * H + h * C::HD + d] = sat8(requant(acc[l][d], C::OUT_MULT, C::OUT_SHIFT));
                    }
                }
            }
        }
    }
}

}  // namespace sparsehls

#endif
