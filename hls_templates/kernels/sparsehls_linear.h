// Block-sparse linear layer: y = sat(requant(x @ W.T + bias, mult[n], shift[n])).
// The output is int8 (C::OUT_BITS == 8) or wide FX int32 (C::OUT_BITS == 32,
// feeding GELU or a residual add); C::out_t is its C type.
//
// W [N, K] is stored as BSR with C::BM x C::BN blocks in the op's weight image, which
// the top has burst-read into on-chip memory (sparsehls_weights.h: w8 / w32 are the int8
// and int32 views of it; offsets are relative to the image, see compiler/backends/hls/pack.py):
//   w32[C::IDX_INDPTR .. +NRB]   int32 row-block pointers (NRB = N / BM)
//   w32[C::IDX_INDICES .. +NNZB] int32 block-column index of each block
//   w8 [C::OFF_BLOCKS .. ]       int8 blocks, row-major BM x BN each
//   w32[C::IDX_BIAS/MULT/SHIFT]  int32 per output row
//
// Parallelism (chosen by the scheduler, planned in compiler/backends/hls/plan.py):
//   C::ROW_GROUPS = R engine groups take block rows rb = rr * R + g in rounds rr;
//   C::TOKEN_GROUPS = TG engines per group split the tokens (token t -> engine t % TG,
//   slot t / TG). That is R * TG BM x BN MAC arrays (<= C::ENGINES, the scheduled count).
// Weight-stationary over the tokens: each kept block is read from the on-chip image once
// per call (64 bytes per cycle) and applied to every token by the TG engines of its group at once.
// Three processes run as a DATAFLOW pipeline: load blocks (one bundle of up to R
// blocks per step) -> MAC (R x TG x BM x BN unrolled, II=1 per token slot) ->
// requantize + store (R x BM outputs per token).
#ifndef SPARSEHLS_LINEAR_H
#define SPARSEHLS_LINEAR_H

#include <stdint.h>

#include "hls_stream.h"
#include "sparsehls_prims.h"

namespace sparsehls {

template <int R>
struct RoundCounts {
    int32_t n[R];  // kept blocks of each group's block row in this round (0 past NRB)
};

template <int R, int BM, int BN>
struct WBundle {
    int8_t w[R][BM][BN];
    int32_t col[R];  // block column
};

template <int R, int BM>
struct AccBundle {
    int32_t v[R][BM];
};

template <class C>
struct LinearShape {
    static const int NRB = C::N / C::BM;
    static const int R = C::ROW_GROUPS;
    static const int TG = C::TOKEN_GROUPS;
    static const int ROUNDS = (NRB + R - 1) / R;
    static const int TPE = (C::MAX_ROWS + TG - 1) / TG;  // token slots per engine
    static const int PAR = R * TG;
    // engines read their own copy of the input (R copies, TG token banks) only when PAR > 1
    static const int XR = PAR > 1 ? R : 1;
    static const int XT = PAR > 1 ? TG : 1;
    static const int XS = PAR > 1 ? TPE : 1;
    static const int XK = PAR > 1 ? C::K : 1;
};

template <class C>
void linear_load(const int8_t* w8, const int32_t* w32, hls::stream<RoundCounts<C::ROW_GROUPS> >& counts,
                 hls::stream<WBundle<C::ROW_GROUPS, C::BM, C::BN> >& blocks) {
    typedef LinearShape<C> S;
LIN_LOAD_ROUND:
    for (int rr = 0; rr < S::ROUNDS; ++rr) {
        RoundCounts<S::R> cnt;
#pragma HLS ARRAY_PARTITION variable = cnt.n complete
        int32_t first[S::R];
#pragma HLS ARRAY_PARTITION variable = first complete
        int32_t most = 0;
    LIN_LOAD_PTR:
        for (int g = 0; g < S::R; ++g) {
#pragma HLS PIPELINE II = 2
            const int rb = rr * S::R + g;
            first[g] = rb < S::NRB ? w32[C::IDX_INDPTR + rb] : 0;
            cnt.n[g] = rb < S::NRB ? w32[C::IDX_INDPTR + rb + 1] - first[g] : 0;
            if (cnt.n[g] > most) most = cnt.n[g];
        }
        counts.write(cnt);
    LIN_LOAD_STEP:
        for (int b = 0; b < most; ++b) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = C::K / C::BN
            WBundle<S::R, C::BM, C::BN> blk;
#pragma HLS ARRAY_PARTITION variable = blk.w complete dim = 0
#pragma HLS ARRAY_PARTITION variable = blk.col complete
        LIN_LOAD_GROUP:
            for (int g = 0; g < S::R; ++g) {
                blk.col[g] = 0;
                for (int e = 0; e < C::BM * C::BN; ++e) {
#pragma HLS UNROLL
                    blk.w[g][e / C::BN][e % C::BN] = 0;
                }
                if (b < cnt.n[g]) {
                    const int32_t bi = first[g] + b;
                    blk.col[g] = w32[C::IDX_INDICES + bi];
                    const int base = C::OFF_BLOCKS + bi * (C::BM * C::BN);
                LIN_LOAD_W:  // 64 bytes per cycle: w8 is the on-chip image, partitioned by 64
                    for (int e0 = 0; e0 < C::BM * C::BN; e0 += 64) {
#pragma HLS PIPELINE II = 1
                        for (int l = 0; l < 64; ++l) {
#pragma HLS UNROLL
                            const int e = e0 + l;
                            if (e < C::BM * C::BN) blk.w[g][e / C::BN][e % C::BN] = w8[base + e];
                        }
                    }
                }
            }
            blocks.write(blk);
        }
    }
}

template <class C>
void linear_mac(const int8_t x[C::MAX_ROWS * C::K], int rows, hls::stream<RoundCounts<C::ROW_GROUPS> >& counts,
                hls::stream<WBundle<C::ROW_GROUPS, C::BM, C::BN> >& blocks,
                hls::stream<AccBundle<C::ROW_GROUPS, C::BM> >& accs) {
    typedef LinearShape<C> S;
    int32_t acc[S::R][S::TG][S::TPE][C::BM];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 1
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 2
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 4
    // With several engines, each group and token bank reads its own copy of x
    // (x itself is partitioned by BN only: one token's BN inputs per cycle).
    int8_t xl[S::XR][S::XT][S::XS][S::XK];
#pragma HLS ARRAY_PARTITION variable = xl complete dim = 1
#pragma HLS ARRAY_PARTITION variable = xl complete dim = 2
#pragma HLS ARRAY_PARTITION variable = xl cyclic factor = C::BN dim = 4
    if (S::PAR > 1) {
    LIN_X_TOK:
        for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
        LIN_X_COL:
            for (int kc = 0; kc < C::K / C::BN; ++kc) {
#pragma HLS PIPELINE II = 1
                for (int g = 0; g < S::XR; ++g) {
#pragma HLS UNROLL
                    for (int j = 0; j < C::BN; ++j) {
#pragma HLS UNROLL
                        xl[g][t % S::XT][t / S::XT][kc * C::BN + j] = x[t * C::K + kc * C::BN + j];
                    }
                }
            }
        }
    }
    const int slots = (rows + S::TG - 1) / S::TG;
LIN_MAC_ROUND:
    for (int rr = 0; rr < S::ROUNDS; ++rr) {
    LIN_MAC_CLR:  // fixed bound: TPE cycles, and every element provably initialised
        for (int s = 0; s < S::TPE; ++s) {
#pragma HLS PIPELINE II = 1
            for (int g = 0; g < S::R; ++g)
                for (int e = 0; e < S::TG; ++e)
                    for (int i = 0; i < C::BM; ++i) acc[g][e][s][i] = 0;
        }
        const RoundCounts<S::R> cnt = counts.read();
        int32_t most = 0;
        for (int g = 0; g < S::R; ++g) {
#pragma HLS UNROLL
            if (cnt.n[g] > most) most = cnt.n[g];
        }
    LIN_MAC_STEP:
        for (int b = 0; b < most; ++b) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = C::K / C::BN
            const WBundle<S::R, C::BM, C::BN> blk = blocks.read();
        LIN_MAC_SLOT:
            for (int s = 0; s < slots; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = S::TPE
#pragma HLS PIPELINE II = 1
            LIN_MAC_GROUP:
                for (int g = 0; g < S::R; ++g) {
#pragma HLS UNROLL
                LIN_MAC_ENGINE:
                    for (int e = 0; e < S::TG; ++e) {
#pragma HLS UNROLL
                        const int t = s * S::TG + e;
                        if (b < cnt.n[g] && t < rows) {
                            const int c0 = blk.col[g] * C::BN;
                            for (int i = 0; i < C::BM; ++i) {
#pragma HLS UNROLL
                                int32_t sum = acc[g][e][s][i];
                                for (int j = 0; j < C::BN; ++j) {
#pragma HLS UNROLL
                                    const int8_t xv =
                                        S::PAR > 1 ? xl[g][e][s][c0 + j] : x[t * C::K + c0 + j];
                                    sum += (int32_t)blk.w[g][i][j] * (int32_t)xv;
                                }
                                acc[g][e][s][i] = sum;
                            }
                        }
                    }
                }
            }
        }
    LIN_MAC_OUT:
        for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
            AccBundle<S::R, C::BM> r;
            for (int g = 0; g < S::R; ++g)
                for (int i = 0; i < C::BM; ++i) r.v[g][i] = acc[g][t % S::TG][t / S::TG][i];
            accs.write(r);
        }
    }
}

template <class C>
void linear_requant(const int32_t* w32, int rows, hls::stream<AccBundle<C::ROW_GROUPS, C::BM> >& accs,
                    typename C::out_t y[C::MAX_ROWS * C::N]) {
    typedef LinearShape<C> S;
    int32_t bias[S::R][C::BM], mult[S::R][C::BM], shift[S::R][C::BM];
#pragma HLS ARRAY_PARTITION variable = bias complete dim = 0
#pragma HLS ARRAY_PARTITION variable = mult complete dim = 0
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 0
LIN_RQ_ROUND:
    for (int rr = 0; rr < S::ROUNDS; ++rr) {
    LIN_RQ_PAR:
        for (int e = 0; e < S::R * C::BM; ++e) {
#pragma HLS PIPELINE II = 1
            const int g = e / C::BM, i = e % C::BM;
            const int n = (rr * S::R + g) * C::BM + i;
            bias[g][i] = n < C::N ? w32[C::IDX_BIAS + n] : 0;
            mult[g][i] = n < C::N ? w32[C::IDX_MULT + n] : 0;
            shift[g][i] = n < C::N ? w32[C::IDX_SHIFT + n] : 1;
        }
    LIN_RQ_TOK:
        for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
#pragma HLS PIPELINE II = 1
            const AccBundle<S::R, C::BM> r = accs.read();
            for (int g = 0; g < S::R; ++g) {
#pragma HLS UNROLL
                const int rb = rr * S::R + g;
                if (rb < S::NRB) {
                    for (int i = 0; i < C::BM; ++i) {
#pragma HLS UNROLL
                        const int64_t a = (int64_t)r.v[g][i] + bias[g][i];
                        const int64_t q = requant(a, mult[g][i], shift[g][i]);
                        y[t * C::N + rb * C::BM + i] =
                            (typename C::out_t)(C::OUT_BITS == 32 ? (int64_t)sat32(q) : (int64_t)sat8(q));
                    }
                }
            }
        }
    }
}

// x: [rows, K] int8 (row stride K, buffer partitioned cyclically by BN);
// y: [rows, N] C::out_t (row stride N, partitioned cyclically by ROW_GROUPS * BM).
template <class C>
void bsr_linear(const int8_t x[C::MAX_ROWS * C::K], typename C::out_t y[C::MAX_ROWS * C::N], int rows,
                const int8_t* w8, const int32_t* w32) {
    static_assert(C::N % C::BM == 0, "N must be a multiple of the block height");
    static_assert(C::K % C::BN == 0, "K must be a multiple of the block width");
    static_assert(C::OUT_BITS == 8 || C::OUT_BITS == 32, "output is int8 or int32");
    static_assert(C::ROW_GROUPS >= 1 && C::TOKEN_GROUPS >= 1, "at least one engine");
    static_assert(C::ROW_GROUPS * C::TOKEN_GROUPS <= C::ENGINES, "more MAC arrays than scheduled engines");
    static_assert(C::TOKEN_GROUPS <= C::MAX_ROWS, "an engine without tokens");
#pragma HLS DATAFLOW
    hls::stream<RoundCounts<C::ROW_GROUPS> > counts("lin_counts");
    hls::stream<WBundle<C::ROW_GROUPS, C::BM, C::BN> > blocks("lin_blocks");
    hls::stream<AccBundle<C::ROW_GROUPS, C::BM> > accs("lin_accs");
#pragma HLS STREAM variable = counts depth = 4
#pragma HLS STREAM variable = blocks depth = 4
#pragma HLS STREAM variable = accs depth = C::MAX_ROWS
    linear_load<C>(w8, w32, counts, blocks);
    linear_mac<C>(x, rows, counts, blocks, accs);
    linear_requant<C>(w32, rows, accs, y);
}

}  // namespace sparsehls

#endif
