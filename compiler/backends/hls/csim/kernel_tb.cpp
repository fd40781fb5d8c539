// Unit-test driver for the sparsehls kernel library (tests/test_hls_kernels.py).
//
//   kernel_tb <case_id> <in.txt> <out.txt>
//
// in.txt holds whitespace-separated integers; their order per op is the
// contract with the Python test. The kernel configurations (template
// parameters) come from the generated header kernel_cases.h, which defines
// SPARSEHLS_CASES(X) as a list of X(id, op, cfg) entries.
#include <stdint.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "sparsehls.h"

namespace {

struct Reader {
    std::vector<int64_t> v;
    size_t pos = 0;
    int64_t next() {
        if (pos >= v.size()) {
            std::fprintf(stderr, "kernel_tb: input too short\n");
            std::exit(3);
        }
        return v[pos++];
    }
    template <class T>
    void fill(T* dst, size_t n) {
        for (size_t i = 0; i < n; ++i) dst[i] = (T)next();
    }
};

typedef std::vector<int64_t> Out;

// prim: fn n, then n argument tuples.
void run_prim(Reader& in, Out& out) {
    using namespace sparsehls;
    const int fn = (int)in.next();
    const int64_t n = in.next();
    for (int64_t i = 0; i < n; ++i) {
        const int64_t a = in.next();
        switch (fn) {
            case 0: out.push_back(sat8(a)); break;
            case 1: out.push_back(sat32(a)); break;
            case 2: out.push_back(rshift_round(a, (int)in.next())); break;
            case 3: {
                const int64_t m = in.next();
                out.push_back(requant(a, m, (int)in.next()));
                break;
            }
            case 4: out.push_back(floor_div(a, in.next())); break;
            case 5: out.push_back(isqrt(a)); break;
            case 6: out.push_back(iexp(a)); break;
            case 7: out.push_back(igelu(a)); break;
            case 8: out.push_back(itanh(a)); break;
            default: std::fprintf(stderr, "kernel_tb: bad prim %d\n", fn); std::exit(3);
        }
    }
}

// softmax: rows n mult shift, scores[rows*n], valid[rows*n].
void run_softmax(Reader& in, Out& out) {
    const int SMAX = 256;
    const int rows = (int)in.next(), n = (int)in.next();
    const int64_t mult = in.next();
    const int shift = (int)in.next();
    std::vector<int32_t> s((size_t)rows * SMAX), valid((size_t)rows * SMAX);
    for (int r = 0; r < rows; ++r) in.fill(&s[(size_t)r * SMAX], (size_t)n);
    for (int r = 0; r < rows; ++r) in.fill(&valid[(size_t)r * SMAX], (size_t)n);
    uint8_t p[SMAX];
    for (int r = 0; r < rows; ++r) {
        sparsehls::softmax_row<SMAX>(&s[(size_t)r * SMAX], &valid[(size_t)r * SMAX], n, mult, shift, p);
        for (int j = 0; j < n; ++j) out.push_back(p[j]);
    }
}

// linear: rows, x[rows*K], indptr[NRB+1], nnzb, indices[nnzb], blocks[nnzb*BM*BN], bias[N], mult[N], shift[N].
// w32 layout of the test: indptr | bias | mult | shift | indices.
template <class C>
void run_linear(Reader& in, Out& out) {
    const int NRB = C::N / C::BM;
    const int rows = (int)in.next();
    static int8_t x[C::MAX_ROWS * C::K];
    static typename C::out_t y[C::MAX_ROWS * C::N];
    in.fill(x, (size_t)rows * C::K);
    std::vector<int32_t> w32(C::IDX_INDICES + NRB * (C::K / C::BN) + 1);
    in.fill(&w32[C::IDX_INDPTR], NRB + 1);
    const int64_t nnzb = in.next();
    in.fill(&w32[C::IDX_INDICES], (size_t)nnzb);
    std::vector<int8_t> w8((size_t)(nnzb + 1) * C::BM * C::BN);
    in.fill(&w8[0], (size_t)nnzb * C::BM * C::BN);
    in.fill(&w32[C::IDX_BIAS], C::N);
    in.fill(&w32[C::IDX_MULT], C::N);
    in.fill(&w32[C::IDX_SHIFT], C::N);
    sparsehls::bsr_linear<C>(x, y, rows, &w8[0], &w32[0]);
    for (int i = 0; i < rows * C::N; ++i) out.push_back(y[i]);
}

// attention: rows, q, k, v [rows*H each], mask[rows].
template <class C>
void run_attention(Reader& in, Out& out) {
    const int H = C::HEADS * C::HD;
    const int rows = (int)in.next();
    static int8_t q[C::MAX_ROWS * H], k[C::MAX_ROWS * H], v[C::MAX_ROWS * H], o[C::MAX_ROWS * H];
    static int32_t mask[C::MAX_ROWS];
    in.fill(q, (size_t)rows * H);
    in.fill(k, (size_t)rows * H);
    in.fill(v, (size_t)rows * H);
    in.fill(mask, (size_t)rows);
    sparsehls::attention<C>(q, k, v, mask, o, rows);
    for (int i = 0; i < rows * H; ++i) out.push_back(o[i]);
}

// gelu / tanh: rows, x[rows*COLS].
template <class C, bool TANH>
void run_unary(Reader& in, Out& out) {
    const int rows = (int)in.next();
    static typename C::in_t x[C::MAX_ROWS * C::COLS];
    static int8_t y[C::MAX_ROWS * C::COLS];
    in.fill(x, (size_t)rows * C::COLS);
    if (TANH)
        sparsehls::tanh_op<C>(x, y, rows);
    else
        sparsehls::gelu<C>(x, y, rows);
    for (int i = 0; i < rows * C::COLS; ++i) out.push_back(y[i]);
}

// add: rows, a[rows*COLS], (b[rows*COLS] if HAS_B), (const[COLS] if HAS_CONST),
// (a_mult[COLS], a_shift[COLS] if A_PER_CH), (b_mult[COLS], b_shift[COLS] if B_PER_CH).
// w32 layout of the test: const | a_mult | a_shift | b_mult | b_shift, COLS each.
template <class C>
void run_add(Reader& in, Out& out) {
    const int rows = (int)in.next();
    static typename C::a_t a[C::MAX_ROWS * C::COLS];
    static typename C::b_t b[C::MAX_ROWS * C::COLS];
    static int32_t y[C::MAX_ROWS * C::COLS];
    std::vector<int32_t> w32(5 * C::COLS);
    in.fill(a, (size_t)rows * C::COLS);
    if (C::HAS_B) in.fill(b, (size_t)rows * C::COLS);
    if (C::HAS_CONST) in.fill(&w32[C::IDX_CONST], C::COLS);
    if (C::A_PER_CH) {
        in.fill(&w32[C::IDX_A_MULT], C::COLS);
        in.fill(&w32[C::IDX_A_SHIFT], C::COLS);
    }
    if (C::B_PER_CH) {
        in.fill(&w32[C::IDX_B_MULT], C::COLS);
        in.fill(&w32[C::IDX_B_SHIFT], C::COLS);
    }
    if (C::FABRIC)
        sparsehls::add_fabric<C>(a, b, y, rows, &w32[0]);
    else
        sparsehls::add<C>(a, b, y, rows, &w32[0]);
    for (int i = 0; i < rows * C::COLS; ++i) out.push_back(y[i]);
}

// layernorm: rows, x[rows*H], gamma[H], beta[H] (int64; packed into word pairs here),
// (mult[H], shift[H] if PER_CH). w32 layout: gamma | beta pairs | mult | shift.
template <class C>
void run_layernorm(Reader& in, Out& out) {
    const int rows = (int)in.next();
    static int32_t x[C::MAX_ROWS * C::H];
    static int8_t y[C::MAX_ROWS * C::H];
    std::vector<int32_t> w32(5 * C::H);
    in.fill(x, (size_t)rows * C::H);
    in.fill(&w32[C::IDX_GAMMA], C::H);
    for (int c = 0; c < C::H; ++c) {
        const uint64_t b = (uint64_t)in.next();
        w32[C::IDX_BETA + 2 * c] = (int32_t)(uint32_t)(b & 0xffffffffu);
        w32[C::IDX_BETA + 2 * c + 1] = (int32_t)(uint32_t)(b >> 32);
    }
    if (C::PER_CH) {
        in.fill(&w32[C::IDX_MULT], C::H);
        in.fill(&w32[C::IDX_SHIFT], C::H);
    }
    sparsehls::layernorm<C>(x, y, rows, &w32[0]);
    for (int i = 0; i < rows * C::H; ++i) out.push_back(y[i]);
}

// embed: rows, ids[rows], types[rows], w8 length, w8 (word | pos | type tables at the cfg offsets).
template <class C>
void run_embed(Reader& in, Out& out) {
    const int rows = (int)in.next();
    static int32_t ids[C::MAX_ROWS], types[C::MAX_ROWS], y[C::MAX_ROWS * C::H];
    in.fill(ids, (size_t)rows);
    in.fill(types, (size_t)rows);
    std::vector<int8_t> w8((size_t)in.next());
    in.fill(&w8[0], w8.size());
    std::vector<uint64_t> words(w8.size() / 8 + 8, 0);  // whole beats: the 512-bit port's view
    std::memcpy(&words[0], &w8[0], w8.size());
    sparsehls::embed<C>(ids, types, y, rows, reinterpret_cast<const sparsehls::beat_t*>(&words[0]));
    for (int i = 0; i < rows * C::H; ++i) out.push_back(y[i]);
}

}  // namespace

#include "kernel_cases.h"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: kernel_tb <case_id> <in.txt> <out.txt>\n");
        return 2;
    }
    const int id = std::atoi(argv[1]);
    Reader in;
    {
        std::ifstream f(argv[2]);
        long long x;
        while (f >> x) in.v.push_back((int64_t)x);
    }
    Out out;
    switch (id) {
#define SPARSEHLS_CASE(ID, FN) \
    case ID:                   \
        FN(in, out);           \
        break;
        SPARSEHLS_CASES(SPARSEHLS_CASE)
#undef SPARSEHLS_CASE
        default: std::fprintf(stderr, "kernel_tb: unknown case %d\n", id); return 2;
    }
    std::FILE* f = std::fopen(argv[3], "w");
    if (!f) return 3;
    for (size_t i = 0; i < out.size(); ++i) std::fprintf(f, "%lld\n", (long long)out[i]);
    std::fclose(f);
    return 0;
}
