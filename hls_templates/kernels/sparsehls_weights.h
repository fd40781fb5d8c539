// The weight path: one 512-bit m_axi port over weights.bin (64 bytes per beat).
//
// weights.bin is a sequence of 64-byte-aligned sections (compiler/backends/hls/pack.py);
// the sections of one op (a linear's BSR image: row pointers, block columns, blocks, bias,
// multipliers, shifts; an add's or a LayerNorm's parameters) lie next to each other, so
// one op's image is one run of whole beats. Before an op runs, the top burst-reads its
// image (load_weights: one beat per cycle, II=1, bursts of up to 64 beats) into two
// on-chip views of the same bytes, wb8 (int8) and wb32 (int32); the kernel then reads
// its constants there, at offsets relative to the start of its image (C::IDX_* / C::OFF_*).
// The embedding tables are too large for that and are read from the port by the kernel
// itself, one beat per 64 elements (sparsehls_embed.h).
#ifndef SPARSEHLS_WEIGHTS_H
#define SPARSEHLS_WEIGHTS_H

#include <stdint.h>

#include "ap_int.h"

namespace sparsehls {

typedef ap_uint<512> beat_t;
static const int BEAT_BYTES = 64;
static const int BEAT_WORDS = 16;
static const int MAX_BURST_BEATS = 64;  // max_read_burst_length of the weight port
#ifndef __SYNTHESIS__
// C simulation hands the kernel the bytes of weights.bin as beats (csim.py, the testbench)
static_assert(sizeof(beat_t) == BEAT_BYTES, "ap_uint<512> must be 64 bytes of data");
#endif

// byte l (0..63) of a beat, as int8
static inline int8_t beat_byte(const beat_t& b, int l) {
#pragma HLS INLINE
    return (int8_t)(uint8_t)b.range(8 * l + 7, 8 * l).to_uint();
}

// int32 word m (0..15) of a beat (little endian, as the host wrote it)
static inline int32_t beat_word(const beat_t& b, int m) {
#pragma HLS INLINE
    return (int32_t)(uint32_t)b.range(32 * m + 31, 32 * m).to_uint();
}

// Copy beats [beat0, beat0 + n) of the weight port into wb8 / wb32 (both views of the
// image). One beat per cycle: the pipelined loop over consecutive addresses is what
// Vitis HLS turns into AXI bursts (max_read_burst_length = 64 on the port). wb8 is
// partitioned cyclically by 64 and wb32 by 16 (in the top), so a beat is stored in one cycle.
template <int MAXBEATS>
void load_weights(const beat_t* w, int beat0, int n, int8_t wb8[MAXBEATS * BEAT_BYTES],
                  int32_t wb32[MAXBEATS * BEAT_WORDS]) {
WLOAD_BEAT:
    for (int j = 0; j < n; ++j) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAXBEATS
#pragma HLS PIPELINE II = 1
        const beat_t& b = w[beat0 + j];
        for (int l = 0; l < BEAT_BYTES; ++l) {
#pragma HLS UNROLL
            wb8[j * BEAT_BYTES + l] = beat_byte(b, l);
        }
        for (int m = 0; m < BEAT_WORDS; ++m) {
#pragma HLS UNROLL
            wb32[j * BEAT_WORDS + m] = beat_word(b, m);
        }
    }
}

}  // namespace sparsehls

#endif
