// Block-sparse linear layer: y = sat(requant(x @ W.T + bias, mult[n], shift[n])).
// The output is int8 (C::OUT_BITS == 8) or wide FX int32 (C::OUT_BITS == 32,
// feeding GELU or a residual add); C::out_t is its C type.
//
// W [N, K] is stored as BSR with C::BM x C::BN blocks in the packed weight
// memory (see compiler/backends/hls/pack.py):
//   w32[C::IDX_INDPTR .. +NRB]   int32 row-block pointers (NRB = N / BM)
//   w32[C::IDX_INDICES .. +NNZB] int32 block-column index of each block
//   w8 [C::OFF_BLOCKS .. ]       int8 blocks, row-major BM x BN each
//   w32[C::IDX_BIAS/MULT/SHIFT]  int32 per output row
//
// Weight-stationary over the token dimension: each nonzero block is read from
// DDR/HBM once per call and applied to every token. Three processes run as a
// DATAFLOW pipeline: load blocks -> MAC (BM x BN fully unrolled, II=1 per
// token) -> requantize + store.
#ifndef SPARSEHLS_LINEAR_H
#define SPARSEHLS_LINEAR_H

#include <stdint.h>

#include "hls_stream.h"
#include "sparsehls_prims.h"

namespace sparsehls {

template <int BM, int BN>
struct WBlock {
    int8_t w[BM][BN];
    int32_t col;  // block column
};

template <int BM>
struct AccRow {
    int32_t v[BM];
};

template <class C>
void linear_load(const int8_t* w8, const int32_t* w32, hls::stream<int32_t>& counts,
                 hls::stream<WBlock<C::BM, C::BN> >& blocks) {
    const int NRB = C::N / C::BM;
LIN_LOAD_RB:
    for (int rb = 0; rb < NRB; ++rb) {
        const int32_t b0 = w32[C::IDX_INDPTR + rb];
        const int32_t b1 = w32[C::IDX_INDPTR + rb + 1];
        counts.write(b1 - b0);
    LIN_LOAD_BLK:
        for (int b = b0; b < b1; ++b) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = C::K / C::BN
            WBlock<C::BM, C::BN> blk;
#pragma HLS ARRAY_PARTITION variable = blk.w complete dim = 0
            blk.col = w32[C::IDX_INDICES + b];
            const int base = C::OFF_BLOCKS + b * (C::BM * C::BN);
        LIN_LOAD_W:
            for (int e = 0; e < C::BM * C::BN; ++e) {
#pragma HLS PIPELINE II = 1
                blk.w[e / C::BN][e % C::BN] = w8[base + e];
            }
            blocks.write(blk);
        }
    }
}

template <class C>
void linear_mac(const int8_t x[C::MAX_ROWS * C::K], int rows, hls::stream<int32_t>& counts,
                hls::stream<WBlock<C::BM, C::BN> >& blocks, hls::stream<AccRow<C::BM> >& accs) {
    const int NRB = C::N / C::BM;
    int32_t acc[C::MAX_ROWS][C::BM];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 2
LIN_MAC_RB:
    for (int rb = 0; rb < NRB; ++rb) {
    LIN_MAC_CLR:  // fixed bound: MAX_ROWS cycles, and every element provably initialised
        for (int t = 0; t < C::MAX_ROWS; ++t) {
#pragma HLS PIPELINE II = 1
            for (int i = 0; i < C::BM; ++i) acc[t][i] = 0;
        }
        const int32_t n = counts.read();
    LIN_MAC_BLK:
        for (int b = 0; b < n; ++b) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = C::K / C::BN
            const WBlock<C::BM, C::BN> blk = blocks.read();
            const int c0 = blk.col * C::BN;
        LIN_MAC_TOK:
            for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
                for (int i = 0; i < C::BM; ++i) {
#pragma HLS UNROLL
                    int32_t s = acc[t][i];
                    for (int j = 0; j < C::BN; ++j) {
#pragma HLS UNROLL
                        s += (int32_t)blk.w[i][j] * (int32_t)x[t * C::K + c0 + j];
                    }
                    acc[t][i] = s;
                }
            }
        }
    LIN_MAC_OUT:
        for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
            AccRow<C::BM> r;
            for (int i = 0; i < C::BM; ++i) r.v[i] = acc[t][i];
            accs.write(r);
        }
    }
}

template <class C>
void linear_requant(const int32_t* w32, int rows, hls::stream<AccRow<C::BM> >& accs,
                    typename C::out_t y[C::MAX_ROWS * C::N]) {
    const int NRB = C::N / C::BM;
    int32_t bias[C::BM], mult[C::BM], shift[C::BM];
#pragma HLS ARRAY_PARTITION variable = bias complete
#pragma HLS ARRAY_PARTITION variable = mult complete
#pragma HLS ARRAY_PARTITION variable = shift complete
LIN_RQ_RB:
    for (int rb = 0; rb < NRB; ++rb) {
    LIN_RQ_PAR:
        for (int i = 0; i < C::BM; ++i) {
#pragma HLS PIPELINE II = 1
            bias[i] = w32[C::IDX_BIAS + rb * C::BM + i];
            mult[i] = w32[C::IDX_MULT + rb * C::BM + i];
            shift[i] = w32[C::IDX_SHIFT + rb * C::BM + i];
        }
    LIN_RQ_TOK:
        for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
            const AccRow<C::BM> r = accs.read();
            for (int i = 0; i < C::BM; ++i) {
#pragma HLS UNROLL
                const int64_t a = (int64_t)r.v[i] + bias[i];
                const int64_t q = requant(a, mult[i], shift[i]);
                y[t * C::N + rb * C::BM + i] = (typename C::out_t)(C::OUT_BITS == 32 ? (int64_t)sat32(q) : (int64_t)sat8(q));
            }
        }
    }
}

// x: [rows, K] int8 (row stride K); y: [rows, N] C::out_t (row stride N).
template <class C>
void bsr_linear(const int8_t x[C::MAX_ROWS * C::K], typename C::out_t y[C::MAX_ROWS * C::N], int rows,
                const int8_t* w8, const int32_t* w32) {
    static_assert(C::N % C::BM == 0, "N must be a multiple of the block height");
    static_assert(C::K % C::BN == 0, "K must be a multiple of the block width");
    static_assert(C::OUT_BITS == 8 || C::OUT_BITS == 32, "output is int8 or int32");
#pragma HLS DATAFLOW
    hls::stream<int32_t> counts("lin_counts");
    hls::stream<WBlock<C::BM, C::BN> > blocks("lin_blocks");
    hls::stream<AccRow<C::BM> > accs("lin_accs");
#pragma HLS STREAM variable = counts depth = 4
#pragma HLS STREAM variable = blocks depth = 4
#pragma HLS STREAM variable = accs depth = C::MAX_ROWS
    linear_load<C>(w8, w32, counts, blocks);
    linear_mac<C>(x, rows, counts, blocks, accs);
    linear_requant<C>(w32, rows, accs, y);
}

}  // namespace sparsehls

#endif
