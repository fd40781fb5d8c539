// Embedding: word + position (+ token type) gathers, each requantized into
// FX(F_RES) and summed, saturated to int32 (golden ops/embed.py).
//   int8 [VOCAB, H] at byte C::OFF_WORD of weights.bin, int8 [NPOS, H] at C::OFF_POS,
//   int8 [NTYPE, H] at C::OFF_TYPE (when C::HAS_TYPE): absolute offsets, read straight
//   from the 512-bit weight port (the tables are too large to copy on chip per call).
// Positions: t + POSITION_OFFSET, or RoBERTa's cumsum(ids != PAD) * (ids != PAD) + PAD.
// Indices are clamped into their table so a bad id cannot read outside it
// (the host validates ids before a run). One row of H per token, II=1 per element.
#ifndef SPARSEHLS_EMBED_H
#define SPARSEHLS_EMBED_H

#include <stdint.h>

#include "sparsehls_prims.h"
#include "sparsehls_weights.h"

namespace sparsehls {

static inline int32_t clamp_index(int64_t i, int n) {
#pragma HLS INLINE
    return (int32_t)(i < 0 ? 0 : (i >= n ? n - 1 : i));
}

// Row `row` of an int8 [*, H] table at byte `off` of weights.bin into r[H]: the beats that
// hold it, one per cycle (a burst of ceil(H / 64) or one more beat when the row is not aligned).
template <int H>
void embed_row(const beat_t* w, int64_t off, int32_t row, int8_t r[H]) {
    const int64_t first = off + (int64_t)row * H;
    const int64_t b0 = first >> 6;
    const int nb = (int)(((first + H - 1) >> 6) - b0 + 1);
EMB_ROW_BEAT:
    for (int j = 0; j < nb; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = H / 64 + 2
#pragma HLS PIPELINE II = 1
        const beat_t& b = w[b0 + j];
        for (int l = 0; l < BEAT_BYTES; ++l) {
#pragma HLS UNROLL
            const int64_t c = (b0 + j) * BEAT_BYTES + l - first;
            if (c >= 0 && c < H) r[c] = beat_byte(b, l);
        }
    }
}

template <class C>
void embed(const int32_t ids[C::MAX_ROWS], const int32_t types[C::MAX_ROWS], int32_t y[C::MAX_ROWS * C::H],
           int rows, const beat_t* w) {
    int64_t run = 0;  // RoBERTa position counter
    int8_t rw[C::H], rp[C::H], rt[C::H];
#pragma HLS ARRAY_PARTITION variable = rw cyclic factor = 64
#pragma HLS ARRAY_PARTITION variable = rp cyclic factor = 64
#pragma HLS ARRAY_PARTITION variable = rt cyclic factor = 64
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
        embed_row<C::H>(w, C::OFF_WORD, clamp_index(id, C::VOCAB), rw);
        embed_row<C::H>(w, C::OFF_POS, clamp_index(pos, C::NPOS), rp);
        if (C::HAS_TYPE) embed_row<C::H>(w, C::OFF_TYPE, clamp_index(types[t], C::NTYPE), rt);
    EMB_COL:
        for (int c = 0; c < C::H; ++c) {
#pragma HLS PIPELINE II = 1
            int64_t r = requant(rw[c], C::WORD_MULT, C::WORD_SHIFT);
            r += requant(rp[c], C::POS_MULT, C::POS_SHIFT);
            if (C::HAS_TYPE) r += requant(rt[c], C::TYPE_MULT, C::TYPE_SHIFT);
            y[t * C::H + c] = sat32(r);
        }
    }
}

}  // namespace sparsehls

#endif
