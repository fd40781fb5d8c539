// Embedding: word + position (+ token type) gathers, each requantized into
// FX(F_RES) and summed, saturated to int32 (golden ops/embed.py).
//   w8[C::OFF_WORD] int8 [VOCAB, H]; w8[C::OFF_POS] int8 [NPOS, H];
//   w8[C::OFF_TYPE] int8 [NTYPE, H] (when C::HAS_TYPE).
// Positions: t + POSITION_OFFSET, or RoBERTa's cumsum(ids != PAD) * (ids != PAD) + PAD.
// Indices are clamped into their table so a bad id cannot read outside it
// (the host validates ids before a run). One row of H per token, II=1 per element.
#ifndef SPARSEHLS_EMBED_H
#define SPARSEHLS_EMBED_H

#include <stdint.h>

#include "sparsehls_prims.h"

namespace sparsehls {

static inline int32_t clamp_index(int64_t i, int n) {
#pragma HLS INLINE
    return (int32_t)(i < 0 ? 0 : (i >= n ? n - 1 : i));
}

template <class C>
void embed(const int32_t ids[C::MAX_ROWS], const int32_t types[C::MAX_ROWS], int32_t y[C::MAX_ROWS * C::H],
           int rows, const int8_t* w8) {
    int64_t run = 0;  // RoBERTa position counter
EMB_TOK:
    for (int t = 0; t < rows; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = C::MAX_ROWS
        const int32_t id = ids[t];
        int64_t pos;
        if (C::ROBERTA) {
            const int64_t real = id != C::PADDING_IDX ? 1 : 0;
            run += real;
            pos = run * real + C::PADDING_IDX;
        } else {
            pos = t + C::POSITION_OFFSET;
        }
        const int32_t wi = clamp_index(id, C::VOCAB);
        const int32_t pi = clamp_index(pos, C::NPOS);
        const int32_t ti = C::HAS_TYPE ? clamp_index(types[t], C::NTYPE) : 0;
    EMB_COL:
        for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
            int64_t r = requant(w8[C::OFF_WORD + wi * C::H + c], C::WORD_MULT, C::WORD_SHIFT);
            r += requant(w8[C::OFF_POS + pi * C::H + c], C::POS_MULT, C::POS_SHIFT);
            if (C::HAS_TYPE) r += requant(w8[C::OFF_TYPE + ti * C::H + c], C::TYPE_MULT, C::TYPE_SHIFT);
            y[t * C::H + c] = sat32(r);
        }
    }
}

}  // namespace sparsehls

#endif
