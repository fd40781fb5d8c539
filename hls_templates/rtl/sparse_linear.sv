// sparse_linear: block-sparse int8 linear layer, y = sat8|sat32(requant(x @ W.T + b)).
//
// Numerics: compiler/golden/intops.py (requant = round-half-up arithmetic
// shift, sat8) and compiler/golden/ops/linear.py run_int, bit for bit.
//
// Interface (what Vitis HLS emits for
//   void top(hls::stream<ap_int<XW*BN*8>> &x_in, hls::stream<ap_int<BM*8>> &y_out, int n_tokens)
// with axis streams and ap_ctrl_hs; OB = 32 gives ap_int<BM*32> outputs for
// linears whose int32 result feeds GELU or a residual add, out_bits = 32):
//   ap_clk, ap_rst_n (sync, active low), ap_start/ap_done/ap_idle/ap_ready,
//   n_tokens (sampled at ap_start),
//   x_in  : one beat = XW words of BN int8 of one token, token-major, KBX =
//           ceil(KB / XW) beats per token: beat b carries words j = b*XW + w
//           in lane group w (bits [w*BN*8 +: BN*8]), lane l of word j =
//           x[t][j*BN+l].  XW = 1 (default): one word, KB beats per token.
//           When KB % XW != 0 the last beat of a token is padded: its words
//           j >= KB are written to the buffer but never read (the packer,
//           compiler/backends/rtl/linear.py pack_input, sends zeros);
//   y_out : one beat = BM int8 of one token (lane r = y[t][i*BM+r]), token-major,
//           NB beats per token.
// Weights, BSR index, bias, requant parameters live in tables: ROMs read by
// $readmemh (files written by compiler/backends/rtl/linear.py) when
// LOADABLE = 0, or RAMs written through the tbl_* port (no file) when
// LOADABLE = 1, the build of the whole accelerator, which fills them from
// device memory at start-up.  LAYERS > 1 holds that many matrices of one
// shape (the same role in every encoder layer), re-targeted by the `layer`
// port sampled at ap_start: the block tables hold the layers' blocks one
// after another, indptr holds NB + 1 cumulative pointers per layer (layer l
// starts at indptr[l*(NB+1)]), the row tables NBP rows per layer.
//   tbl_we, tbl_sel (0 indptr, 1 indices, 2 weights, 3 bias, 4 mult, 5 shift,
//   6 yconst), tbl_addr, tbl_wdata (low bits): one table line per write.
// The block-weight table (the bulk of the bytes) is a sparse_wmem (below):
// inside the engine when WEXT = 0; outside when WEXT = 1, where the engine
// reads it through w_re / w_addr / w_q (w_q one cycle after w_re, held
// otherwise) and tbl_sel 2 writes nothing here: the accelerator gives two
// token lanes' engines of a role one sparse_wmem with two read ports, so the
// weights are held once per lane pair (docs/rtl.md, "Weight tables").
//
// Micro-architecture (docs/rtl.md has the picture and the cycle model):
//   LOAD    : x_in beats -> X tile buffer (2 tile banks of TT tokens x KB
//             words), one beat (XW words) per cycle: TT*KBX cycles a tile.
//             The buffer is XW column memories (XW = 1: one): word (column) c
//             lives in memory c % XW at row (tile bank, token, c / XW), so a
//             beat writes its XW words in one cycle and COMPUTE reads one
//             word per cycle from memory h_col % XW.
//   WALK    : walks indptr/indices -> block descriptors (FIFO, runs ahead).
//   COMPUTE : weight-stationary; each nonzero block (BM x BN MACs) is applied
//             to the TT tokens of the tile, one token per cycle:
//             S1 x/w fetch, S2 products, S3 adder tree + accumulate (init with
//             bias on a row's first block), on a row's last block S4..S6
//             requant + sat8 -> Y tile buffer (2 banks).  The requant drain
//             is in-line: no separate pass over the accumulators.
//   STORE   : Y tile buffer -> y_out, token-major; empty block rows come from
//             a constant ROM (sat8(requant(bias))) and cost no compute cycle.
// The three stages overlap across token tiles (double buffering).
//
// DSP options (docs/rtl.md, "DSP packing and shared requant"):
//   PACK = 2      : two int8 MACs per multiplier (Xilinx WP486): the weights of
//                   block rows 2q and 2q+1 that meet the same x[c] form one
//                   27-bit operand (w_2q << 18) + w_2q+1; one 27x8 multiply
//                   (one DSP48E2) gives both products, split exactly
//                   (low = sext(p[17:0]), high = (p - low) >>> 18 = p[34:18] + p[17]).
//                   The weight ROM holds the operands pre-added (17 bits per
//                   pair, see below).  Needs BM even (the generator refuses BM = 1).
//   REQ_LANES < BM: a row's last-block results (BM lanes per token) queue in a
//                   2*TT-deep job FIFO and pass through REQ_LANES requant lanes,
//                   BM/REQ_LANES cycles per row-token; the issue stage stalls
//                   on a last-block token when 2*TT jobs are outstanding.
//                   REQ_LANES = BM (default) is the in-line drain above.
`default_nettype none

module sparse_linear #(
    parameter int BM = 4,  // block rows (output features per block)
    parameter int BN = 4,  // block cols (input features per block)
    parameter int NB = 4,  // block rows of W  (N padded to BM)
    parameter int KB = 4,  // block cols of W  (K padded to BN)
    parameter int NNZB_CAP = 16,  // depth of the block ROMs (>= number of nonzero blocks, >= 1)
    parameter int TT = 8,  // token tile, power of two >= 2
    parameter int OB = 8,  // output bits per lane: 8 (sat8) or 32 (sat32, wide output)
    parameter int PACK = 1,  // int8 MACs per multiplier: 1, or 2 (BM even)
    parameter int REQ_LANES = BM,  // requant pipelines, a power of two dividing BM
    parameter int XW = 1,  // BN-words per x_in beat: 1, 2 or 4 (X buffer in XW column memories)
    parameter int RQ_FABRIC = 0,  // requant products: 0 on DSPs (4 a lane); 1 in LUTs (USE_DSP = "no"); 2 split (2 DSPs + LUT adds)
    parameter int LAYERS = 1,  // matrices of this shape held (re-targeted by `layer`)
    parameter int LOADABLE = 0,  // 0: ROMs from the *_MEM files; 1: RAMs written through tbl_*
    parameter int TBLW = 64,  // width of tbl_wdata (>= the widest table line when LOADABLE = 1)
    parameter int WEXT = 0,  // 1: the block-weight table is outside (w_re / w_addr / w_q)
    parameter INDPTR_MEM = "indptr.mem",
    parameter INDICES_MEM = "indices.mem",
    parameter WEIGHTS_MEM = "weights.mem",
    parameter BIAS_MEM = "bias.mem",
    parameter MULT_MEM = "mult.mem",
    parameter SHIFT_MEM = "shift.mem",
    parameter YCONST_MEM = "yconst.mem"
) (
    input  wire                ap_clk,
    input  wire                ap_rst_n,
    input  wire                ap_start,
    output logic               ap_done,
    output logic               ap_idle,
    output logic               ap_ready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire  [       31:0] n_tokens,  // bits above 15 are ignored (n_tokens < 65536)
    /* verilator lint_off UNUSEDSIGNAL */  // unused when LAYERS = 1 / LOADABLE = 0
    input  wire  [        7:0] layer,  // 0..LAYERS-1, sampled at ap_start
    input  wire                tbl_we,
    input  wire  [        2:0] tbl_sel,
    input  wire  [       31:0] tbl_addr,
    input  wire  [   TBLW-1:0] tbl_wdata,
    input  wire  [((PACK == 2) ? BM / 2 * BN * 17 : BM * BN * 8)-1:0] w_q,  // WEXT = 1 only
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_on UNUSEDSIGNAL */
    output logic               w_re,  // block-weight read: w_q <= table[w_addr] on the next edge
    output logic [$clog2(NNZB_CAP)-1:0] w_addr,
    input  wire  [XW*BN*8-1:0] x_in_TDATA,
    input  wire                x_in_TVALID,
    output logic               x_in_TREADY,
    output logic [BM*OB-1:0]   y_out_TDATA,
    output logic               y_out_TVALID,
    input  wire                y_out_TREADY
);
  // ---------------------------------------------------------------- sizes
  localparam int TW = $clog2(TT);  // token-in-tile index bits
  localparam int KW = (KB > 1) ? $clog2(KB) : 1;
  localparam int NBP = (NB > 1) ? NB : 2;  // per-row ROM depth (>= 2 keeps index widths legal)
  localparam int NW = $clog2(NBP);  // block-row index bits
  localparam int IW = $clog2(NB + 1);  // indptr index bits (within a layer)
  localparam int LIW = $clog2(LAYERS * (NB + 1));  // indptr address bits (all layers)
  localparam int LRW = $clog2(LAYERS * NBP);  // row-table address bits (all layers)
  localparam int AW = $clog2(NNZB_CAP);  // block ROM address bits (NNZB_CAP >= 2)
  localparam int PW = $clog2(NNZB_CAP + 1);  // block pointer 0..NNZB
  localparam int KBX = (KB + XW - 1) / XW;  // x_in beats per token
  localparam int KXW = (KBX > 1) ? $clog2(KBX) : 1;  // beat-in-token index bits
  localparam int XLG = $clog2(XW);  // column -> (column memory c % XW, row c / XW)
  localparam int XD = 2 * TT * KBX;  // depth of one column memory
  localparam int YD = 2 * TT * NB;
  localparam int XA = $clog2(XD);
  localparam int YA = $clog2(YD);
  // weight ROM word: BM x BN int8 (PACK = 1) or BM/2 x BN packed pairs of 17 bits (PACK = 2)
  localparam int WW = (PACK == 2) ? BM / 2 * BN * 17 : BM * BN * 8;
  localparam int FD = 4;  // descriptor FIFO depth
  localparam int OD = 4;  // output FIFO depth
  localparam int DW = AW + NW + KW + 3;  // descriptor: p, row, col, first, last, end
  localparam int NTW = 16;  // token counter width (n_tokens < 65536)
  localparam int FCW = $clog2(FD + 1);
  localparam int OCW = $clog2(OD + 1);
  localparam logic signed [63:0] YMAX = (64'sd1 <<< (OB - 1)) - 64'sd1;  // saturation bounds
  localparam logic signed [63:0] YMIN = -(64'sd1 <<< (OB - 1));

  // ---------------------------------------------------------------- tables
  logic [PW-1:0] indptr_rom[0:LAYERS*(NB+1)-1];
  logic [KW-1:0] indices_rom[0:NNZB_CAP-1];
  logic [BM*32-1:0] bias_rom[0:LAYERS*NBP-1];
  logic [BM*31-1:0] mult_rom[0:LAYERS*NBP-1];  // 31-bit unsigned multipliers
  logic [BM*6-1:0] shift_rom[0:LAYERS*NBP-1];  // shifts 1..62
  logic [BM*OB:0] yconst_rom[0:LAYERS*NBP-1];  // {row_is_empty, BM x output}
  if (LOADABLE == 0) begin : g_rom
    initial begin
      $readmemh(INDPTR_MEM, indptr_rom);
      $readmemh(INDICES_MEM, indices_rom);
      $readmemh(BIAS_MEM, bias_rom);
      $readmemh(MULT_MEM, mult_rom);
      $readmemh(SHIFT_MEM, shift_rom);
      $readmemh(YCONST_MEM, yconst_rom);
    end
  end else begin : g_ram
    always_ff @(posedge ap_clk) begin
      if (tbl_we) begin
        case (tbl_sel)
          3'd0: indptr_rom[LIW'(tbl_addr)] <= tbl_wdata[PW-1:0];
          3'd1: indices_rom[AW'(tbl_addr)] <= tbl_wdata[KW-1:0];
          3'd2: ;  // the block weights: sparse_wmem below
          3'd3: bias_rom[LRW'(tbl_addr)] <= tbl_wdata[BM*32-1:0];
          3'd4: mult_rom[LRW'(tbl_addr)] <= tbl_wdata[BM*31-1:0];
          3'd5: shift_rom[LRW'(tbl_addr)] <= tbl_wdata[BM*6-1:0];
          default: yconst_rom[LRW'(tbl_addr)] <= tbl_wdata[BM*OB:0];
        endcase
      end
    end
  end

  // block weights: S1 reads one line a block (on its first token), held for the tile
  logic [WW-1:0] w_rq;
  if (WEXT == 0) begin : g_wown
    sparse_wmem #(
        .WW(WW), .DEPTH(NNZB_CAP), .NR(1), .LOADABLE(LOADABLE), .MEM(WEIGHTS_MEM)
    ) u_w (
        .ap_clk(ap_clk), .we(LOADABLE != 0 && tbl_we && tbl_sel == 3'd2), .waddr(AW'(tbl_addr)),
        .wdata(WW'(tbl_wdata)), .re(w_re), .raddr(w_addr), .q(w_rq)
    );
  end else begin : g_wext
    assign w_rq = w_q;
  end

  // ---------------------------------------------------------------- buffers
  // X: XW column memories (one when XW = 1), in the LOAD section below
  logic [BM*OB-1:0] ybuf[0:YD-1];
  logic [BM*32-1:0] acc_mem[0:TT-1];

  // ---------------------------------------------------------------- control
  logic running;
  logic [NTW-1:0] ntiles;
  logic [TW:0] tail_tt;  // tokens in the last tile, 1..TT
  logic [31:0] out_left;
  logic [PW-1:0] nnz;
  logic y_fire, last_beat;
  logic start_fire;

  sparsehls_ap_ctrl u_ctrl (
      .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle),
      .ap_ready(ap_ready), .empty(n_tokens[NTW-1:0] == '0), .finish(last_beat), .start_fire(start_fire),
      .running(running)
  );
  // the layer's tables: indptr from ibase (its first block p0, one past its last p_end), rows from rbase
  /* verilator lint_off UNUSEDSIGNAL */
  logic [7:0] lyr;  // unused when LAYERS = 1
  /* verilator lint_on UNUSEDSIGNAL */
  logic [LIW-1:0] ibase, ibase_in;
  logic [LRW-1:0] rbase;
  logic [PW-1:0] p0, p_end;
  always_ff @(posedge ap_clk) if (start_fire) lyr <= layer;
  if (LAYERS == 1) begin : g_one_layer
    assign ibase = '0;
    assign ibase_in = '0;
    assign rbase = '0;
  end else begin : g_layers
    assign ibase = LIW'(lyr) * LIW'(NB + 1);
    assign ibase_in = LIW'(layer) * LIW'(NB + 1);
    assign rbase = LRW'(lyr) * LRW'(NBP);
  end
  assign p0 = indptr_rom[ibase];
  assign p_end = indptr_rom[LIW'(ibase+LIW'(NB))];
  assign nnz = p_end - p0;
  assign y_fire = y_out_TVALID && y_out_TREADY;
  assign last_beat = running && y_fire && (out_left == 32'd1);

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      ntiles <= '0;
      tail_tt <= '0;
      out_left <= '0;
    end else begin
      if (start_fire) begin
        ntiles <= NTW'((n_tokens[NTW-1:0] + NTW'(TT - 1)) >> TW);
        tail_tt <= (n_tokens[TW-1:0] == '0) ? (TW + 1)'(TT) : {1'b0, n_tokens[TW-1:0]};
        out_left <= 32'(n_tokens[NTW-1:0]) * 32'(NB);
      end
      if (running && y_fire) out_left <= out_left - 32'd1;
    end
  end

  // Bank ownership flags (one writer per vector: set/clear pulses below).
  logic [1:0] xfull, yown, ydone;
  logic [1:0] xset, xclr, yown_set, yown_clr, ydone_set, ydone_clr;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) begin
      xfull <= '0;
      yown  <= '0;
      ydone <= '0;
    end else begin
      xfull <= (xfull | xset) & ~xclr;
      yown  <= (yown | yown_set) & ~yown_clr;
      ydone <= (ydone | ydone_set) & ~ydone_clr;
    end
  end

  function automatic logic [TW:0] tile_tokens(input logic [NTW-1:0] tile);
    tile_tokens = (tile == ntiles - 1'b1) ? tail_tt : (TW + 1)'(TT);
  endfunction

  // ================================================================ LOAD
  logic [NTW-1:0] ld_tile;
  logic ld_bank;
  logic [TW-1:0] ld_t;
  logic [KXW-1:0] ld_c;  // beat in token
  logic ld_fire, ld_tile_end;
  assign x_in_TREADY = running && (ld_tile < ntiles) && !xfull[ld_bank];
  assign ld_fire = x_in_TREADY && x_in_TVALID;
  assign ld_tile_end = ld_fire && (ld_c == KXW'(KBX - 1)) && ({1'b0, ld_t} == tile_tokens(ld_tile) - 1'b1);
  assign xset = ld_tile_end ? (2'b01 << ld_bank) : 2'b00;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) begin
      ld_tile <= '0;
      ld_bank <= 1'b0;
      ld_t <= '0;
      ld_c <= '0;
    end else if (ld_fire) begin
      if (ld_c == KXW'(KBX - 1)) begin
        ld_c <= '0;
        if (ld_tile_end) begin
          ld_t <= '0;
          ld_tile <= ld_tile + 1'b1;
          ld_bank <= ~ld_bank;
        end else ld_t <= ld_t + 1'b1;
      end else ld_c <= ld_c + 1'b1;
    end
  end
  // X write row (tile bank, token, beat): beat word w goes to column memory w (S1, below)
  logic [XA-1:0] x_wa;
  assign x_wa = XA'(ld_bank) * XA'(TT * KBX) + XA'(ld_t) * XA'(KBX) + XA'(ld_c);

  // ================================================================ WALK
  // Walks the BSR index: row wi, block pointer wp; an empty row costs one
  // walker cycle (hidden by the FIFO), the walk wraps after the last block.
  logic [IW-1:0] wi;
  logic [PW-1:0] wp, row_end;
  logic wfirst, w_go, w_emit, w_last, w_end;
  logic d_v;
  logic [AW-1:0] d_p;
  logic [NW-1:0] d_row;
  logic d_first, d_last, d_end;
  logic [KW-1:0] d_col;
  logic [FCW-1:0] fcount;
  logic pop;

  assign row_end = indptr_rom[LIW'(ibase+LIW'(wi))];  // wi holds (row + 1): see reset value
  assign w_go = running && (nnz != '0) && (32'(fcount) + 32'(d_v) < FD);
  assign w_emit = w_go && (wp < row_end);
  assign w_last = (wp == row_end - 1'b1);
  assign w_end = (wp == p_end - 1'b1);

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) begin
      wi <= IW'(1);
      wp <= indptr_rom[ibase_in];
      wfirst <= 1'b1;
      d_v <= 1'b0;
    end else begin
      d_v <= w_emit;
      if (w_emit) begin
        d_p <= wp[AW-1:0];
        d_row <= NW'(wi - 1'b1);
        d_first <= wfirst;
        d_last <= w_last;
        d_end <= w_end;
        wfirst <= w_last;
        if (w_end) begin
          wp <= p0;
          wi <= IW'(1);
        end else begin
          wp <= wp + 1'b1;
          if (w_last) wi <= wi + 1'b1;
        end
      end else if (w_go) begin  // empty row
        wi <= wi + 1'b1;
        wfirst <= 1'b1;
      end
    end
  end
  always_ff @(posedge ap_clk) if (w_emit) d_col <= indices_rom[wp[AW-1:0]];

  // descriptor FIFO
  logic [DW-1:0] fifo[0:FD-1];
  logic [$clog2(FD)-1:0] f_wr, f_rd;
  logic [DW-1:0] head;
  assign head = fifo[f_rd];
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) begin
      f_wr <= '0;
      f_rd <= '0;
      fcount <= '0;
    end else begin
      if (d_v) begin
        fifo[f_wr] <= {d_p, d_row, d_col, d_first, d_last, d_end};
        f_wr <= f_wr + 1'b1;
      end
      if (pop) f_rd <= f_rd + 1'b1;
      fcount <= fcount + FCW'(d_v) - FCW'(pop);
    end
  end
  logic [AW-1:0] h_p;
  logic [NW-1:0] h_row;
  logic [KW-1:0] h_col;
  logic h_first, h_last, h_end;
  assign {h_p, h_row, h_col, h_first, h_last, h_end} = head;

  // ================================================================ COMPUTE
  logic [NTW-1:0] c_tile;
  logic c_bank, c_run, c_can_start, c_active, c_fire, c_blk_end, c_tile_end;
  logic [TW-1:0] c_t;
  logic [TW:0] c_tt, c_tte;
  assign c_tt = tile_tokens(c_tile);
  assign c_tte = (c_tt < 2) ? (TW + 1)'(2) : c_tt;  // >= 2 keeps the accumulator RMW hazard-free
  assign c_can_start = running && !c_run && (c_tile < ntiles) && xfull[c_bank] && !yown[c_bank];
  assign c_active = c_run || (c_can_start && nnz != '0);
  logic rq_ok;  // requant backlog has room (always 1 when REQ_LANES = BM)
  assign c_fire = c_active && (fcount != '0) && rq_ok;
  assign c_blk_end = c_fire && ({1'b0, c_t} == c_tte - 1'b1);
  assign c_tile_end = c_blk_end && h_end;
  assign pop = c_blk_end;
  assign w_re = c_fire && c_t == '0;  // a block's weights, read on its first token
  assign w_addr = h_p;

  logic [1:0] ydone_set_pipe;
  assign xclr = (c_tile_end || (c_can_start && nnz == '0)) ? (2'b01 << c_bank) : 2'b00;
  assign yown_set = c_can_start ? (2'b01 << c_bank) : 2'b00;
  assign ydone_set = ydone_set_pipe | ((c_can_start && nnz == '0) ? (2'b01 << c_bank) : 2'b00);

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) begin
      c_tile <= '0;
      c_bank <= 1'b0;
      c_run <= 1'b0;
      c_t <= '0;
    end else if (c_can_start && nnz == '0) begin
      c_tile <= c_tile + 1'b1;
      c_bank <= ~c_bank;
    end else begin
      if (c_can_start) c_run <= 1'b1;
      if (c_fire) begin
        if (c_blk_end) begin
          c_t <= '0;
          if (h_end) begin
            c_run <= 1'b0;
            c_tile <= c_tile + 1'b1;
            c_bank <= ~c_bank;
          end
        end else c_t <= c_t + 1'b1;
      end
    end
  end

  // ---- S1: fetch x word and (at a block's first token) the weight block
  logic v1, first1, last1, tend1, bank1, dum1;
  logic [TW-1:0] t1;
  logic [NW-1:0] row1;
  logic [BN*8-1:0] x1;
  // X column memories: S1 reads row (c_bank, c_t, h_col / XW) of each, x1 is
  // memory h_col % XW's word (the select is registered with the read).
  logic [XA-1:0] x_ra;
  logic [XW*BN*8-1:0] x_rd;
  assign x_ra = XA'(c_bank) * XA'(TT * KBX) + XA'(c_t) * XA'(KBX) + XA'(h_col >> XLG);
  for (genvar w = 0; w < XW; w++) begin : g_xmem
    logic [BN*8-1:0] xbuf[0:XD-1];
    logic [BN*8-1:0] xq;
    always_ff @(posedge ap_clk) begin
      if (ld_fire) xbuf[x_wa] <= x_in_TDATA[w*BN*8+:BN*8];
    end
    always_ff @(posedge ap_clk) begin
      if (c_fire) xq <= xbuf[x_ra];
    end
    assign x_rd[w*BN*8+:BN*8] = xq;
  end
  if (XW == 1) begin : g_x1
    assign x1 = x_rd;
  end else begin : g_xsel
    logic [XLG-1:0] xsel1;  // column memory of the word read in S1
    always_ff @(posedge ap_clk) if (c_fire) xsel1 <= XLG'(h_col);
    assign x1 = x_rd[xsel1*BN*8+:BN*8];
  end
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) v1 <= 1'b0;
    else v1 <= c_fire;
    if (c_fire) begin
      t1 <= c_t;
      row1 <= h_row;
      first1 <= h_first;
      last1 <= h_last;
      tend1 <= c_tile_end;
      bank1 <= c_bank;
      dum1 <= ({1'b0, c_t} >= c_tt);
    end
  end

  // ---- S2: BM x BN int8 products (S1 also fetches the weight block), S3: adder tree
  logic v2, first2, last2, tend2, bank2, dum2;
  logic [TW-1:0] t2;
  logic [NW-1:0] row2;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) v2 <= 1'b0;
    else v2 <= v1;
    {t2, row2, first2, last2, tend2, bank2, dum2} <= {t1, row1, first1, last1, tend1, bank1, dum1};
  end
  logic signed [31:0] s3[0:BM-1];
  if (PACK == 1) begin : g_mac1
    logic [WW-1:0] w1;
    logic signed [15:0] p2[0:BM*BN-1];
    assign w1 = w_rq;
    for (genvar r = 0; r < BM; r++) begin : g_mr
      for (genvar c = 0; c < BN; c++) begin : g_mc
        always_ff @(posedge ap_clk)
          p2[r*BN+c] <= $signed(x1[c*8+:8]) * $signed(w1[(r*BN+c)*8+:8]);
      end
      logic signed [31:0] tree;
      always_comb begin
        tree = '0;
        for (int c = 0; c < BN; c++) tree = tree + 32'(p2[r*BN+c]);
      end
      always_ff @(posedge ap_clk) s3[r] <= tree;
    end
  end else begin : g_mac2
    // ROM lane (q, c), 17 bits: {hi9, lo8} with lo8 = w[2q+1][c] and hi9 =
    // w[2q][c] - (lo8 < 0) (written by the generator), so that
    // {hi9, sext18(lo8)} = (w[2q][c] << 18) + w[2q+1][c]: no pre-adder needed.
    localparam int NQ = BM / 2;
    logic [WW-1:0] wk1;
    logic signed [34:0] pp2[0:NQ*BN-1];
    assign wk1 = w_rq;
    for (genvar q = 0; q < NQ; q++) begin : g_pq
      for (genvar c = 0; c < BN; c++) begin : g_pc
        logic signed [26:0] opa;
        assign opa = {wk1[(q*BN+c)*17+8+:9], {10{wk1[(q*BN+c)*17+7]}}, wk1[(q*BN+c)*17+:8]};
        always_ff @(posedge ap_clk) pp2[q*BN+c] <= opa * $signed(x1[c*8+:8]);
      end
      // high product = p[34:18] + p[17] (the low product's borrow), low = sext(p[17:0])
      logic signed [31:0] thi, tlo;
      always_comb begin
        thi = '0;
        tlo = '0;
        for (int c = 0; c < BN; c++) begin
          thi = thi + 32'($signed(pp2[q*BN+c][34:18])) + {31'd0, pp2[q*BN+c][17]};
          tlo = tlo + 32'($signed(pp2[q*BN+c][17:0]));
        end
      end
      always_ff @(posedge ap_clk) begin
        s3[2*q] <= thi;
        s3[2*q+1] <= tlo;
      end
    end
  end

  // ---- S3: accumulator / bias read
  logic v3, first3, last3, tend3, bank3, dum3;
  logic [TW-1:0] t3;
  logic [NW-1:0] row3;
  logic [BM*32-1:0] acc_rd3, bias3;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) v3 <= 1'b0;
    else v3 <= v2;
    {t3, row3, first3, last3, tend3, bank3, dum3} <= {t2, row2, first2, last2, tend2, bank2, dum2};
    acc_rd3 <= acc_mem[t2];
    bias3 <= bias_rom[rbase+LRW'(row2)];
  end

  // ---- S3 -> accumulate; a row's last block goes on to requant
  logic [BM*32-1:0] accsum3;
  for (genvar r = 0; r < BM; r++) begin : g_acc
    assign accsum3[r*32+:32] = (first3 ? bias3[r*32+:32] : acc_rd3[r*32+:32]) + s3[r];
  end
  always_ff @(posedge ap_clk) begin
    if (v3 && !last3) acc_mem[t3] <= accsum3;
  end

  // ---- requant: S4 multiply, S5 round + shift + saturate, S6 write Y
  function automatic logic [OB-1:0] requant_sat(input logic signed [63:0] prod, input logic [5:0] sh);
    logic signed [63:0] shifted;
    shifted = sparsehls_pkg::rshift_round(prod, sh);
    requant_sat = (shifted > YMAX) ? YMAX[OB-1:0] : (shifted < YMIN) ? YMIN[OB-1:0] : shifted[OB-1:0];
  endfunction

  if (REQ_LANES == BM) begin : g_rq_inline
    // one requant pipeline per output lane, fed straight from S3
    assign rq_ok = 1'b1;
    logic v4, tend4, bank4, dum4, v5, tend5, bank5, dum5, v6, tend6, bank6, dum6;
    logic [TW-1:0] t4, t5, t6;
    logic [NW-1:0] row4, row5, row6;
    logic [BM*32-1:0] rq4;
    logic [BM*31-1:0] mult4;
    logic [BM*6-1:0] shift4, shift5;
    logic [BM*OB-1:0] y6;
    logic signed [63:0] prod5[0:BM-1];
    always_ff @(posedge ap_clk) begin
      if (!ap_rst_n || start_fire) begin
        v4 <= 1'b0;
        v5 <= 1'b0;
        v6 <= 1'b0;
      end else begin
        v4 <= v3 && last3;
        v5 <= v4;
        v6 <= v5;
      end
      {t4, row4, tend4, bank4, dum4} <= {t3, row3, tend3, bank3, dum3};
      rq4 <= accsum3;
      mult4 <= mult_rom[rbase+LRW'(row3)];
      shift4 <= shift_rom[rbase+LRW'(row3)];
      {t5, row5, tend5, bank5, dum5, shift5} <= {t4, row4, tend4, bank4, dum4, shift4};
      {t6, row6, tend6, bank6, dum6} <= {t5, row5, tend5, bank5, dum5};
    end
    for (genvar r = 0; r < BM; r++) begin : g_rq
      always_ff @(posedge ap_clk) begin
        y6[r*OB+:OB] <= requant_sat(prod5[r], shift5[r*6+:6]);
      end
      sparse_linear_rq_mul #(.FABRIC(RQ_FABRIC)) u_mul (
          .clk(ap_clk), .acc(rq4[r*32+:32]), .mult(mult4[r*31+:31]), .prod(prod5[r])
      );
    end
    assign ydone_set_pipe = (v6 && tend6) ? (2'b01 << bank6) : 2'b00;
    always_ff @(posedge ap_clk) begin
      if (v6 && !dum6) ybuf[YA'(bank6)*YA'(TT*NB)+YA'(t6)*YA'(NB)+YA'(row6)] <= y6;
    end
  end else begin : g_rq_shared
    // A job = one row-token's BM accumulator results.  Jobs wait in a QD-deep
    // FIFO; the serializer sends REQ_LANES lanes (one chunk) per cycle through
    // the requant pipelines, NCH chunks per job, and the last chunk writes the
    // gathered BM-lane word to the Y buffer.  Credits: a last-block token is
    // issued only while fewer than QD jobs are issued and not yet popped, so
    // the FIFO never overflows.
    localparam int RL = REQ_LANES;
    localparam int NCH = BM / REQ_LANES;  // chunks per job (>= 2 here)
    localparam int CW = $clog2(NCH);
    // job FIFO depth = credits: 2*TT, so that rows of >= NCH kept blocks never stall
    localparam int QD = 2 * TT;
    localparam int QW = TW + 1;
    localparam int QCW = TW + 2;
    localparam int JW = BM * 32 + NW + TW + 3;
    logic [QCW-1:0] jout, jcount;  // issued and not popped / in the FIFO
    logic [JW-1:0] jfifo[0:QD-1];
    logic [QW-1:0] j_wr, j_rd;
    logic [CW-1:0] ch;
    logic jpush, jpop, jsel;
    logic [BM*32-1:0] j_acc;
    logic [NW-1:0] j_row;
    logic [TW-1:0] j_t;
    logic j_tend, j_bank, j_dum;
    assign rq_ok = !h_last || (jout != QCW'(QD));
    assign jpush = v3 && last3;
    assign jsel = (jcount != '0);
    assign jpop = jsel && (ch == CW'(NCH - 1));
    assign {j_acc, j_row, j_t, j_tend, j_bank, j_dum} = jfifo[j_rd];
    always_ff @(posedge ap_clk) begin
      if (!ap_rst_n || start_fire) begin
        jout <= '0;
        jcount <= '0;
        j_wr <= '0;
        j_rd <= '0;
        ch <= '0;
      end else begin
        jout <= jout + QCW'(c_fire && h_last) - QCW'(jpop);
        jcount <= jcount + QCW'(jpush) - QCW'(jpop);
        if (jpush) j_wr <= j_wr + 1'b1;
        if (jpop) j_rd <= j_rd + 1'b1;
        if (jsel) ch <= ch + 1'b1;  // NCH is a power of two: wraps to 0 after the last chunk
      end
    end
    always_ff @(posedge ap_clk) begin
      if (jpush) jfifo[j_wr] <= {accsum3, row3, t3, tend3, bank3, dum3};
    end

    logic v4, last4, tend4, bank4, dum4, v5, last5, tend5, bank5, dum5, v6, last6, tend6, bank6, dum6;
    logic [CW-1:0] ch4, ch5, ch6;
    logic [TW-1:0] t4, t5, t6;
    logic [NW-1:0] row4, row5, row6;
    logic [RL*32-1:0] rq4;
    logic [RL*31-1:0] mult4;
    logic [RL*6-1:0] shift4, shift5;
    logic [RL*OB-1:0] y6;
    logic [(NCH-1)*RL*OB-1:0] ygat;  // chunks 0..NCH-2 of the job being written
    logic signed [63:0] prod5[0:RL-1];
    logic [BM*31-1:0] j_mult;
    logic [BM*6-1:0] j_shift;
    assign j_mult = mult_rom[rbase+LRW'(j_row)];
    assign j_shift = shift_rom[rbase+LRW'(j_row)];
    always_ff @(posedge ap_clk) begin
      if (!ap_rst_n || start_fire) begin
        v4 <= 1'b0;
        v5 <= 1'b0;
        v6 <= 1'b0;
      end else begin
        v4 <= jsel;
        v5 <= v4;
        v6 <= v5;
      end
      {ch4, last4, t4, row4, tend4, bank4, dum4} <= {ch, jpop, j_t, j_row, j_tend, j_bank, j_dum};
      rq4 <= j_acc[ch*(RL*32)+:RL*32];
      mult4 <= j_mult[ch*(RL*31)+:RL*31];
      shift4 <= j_shift[ch*(RL*6)+:RL*6];
      {ch5, last5, t5, row5, tend5, bank5, dum5, shift5} <= {ch4, last4, t4, row4, tend4, bank4, dum4, shift4};
      {ch6, last6, t6, row6, tend6, bank6, dum6} <= {ch5, last5, t5, row5, tend5, bank5, dum5};
      if (v6 && !last6) ygat[ch6*(RL*OB)+:RL*OB] <= y6;
    end
    for (genvar r = 0; r < RL; r++) begin : g_rq
      always_ff @(posedge ap_clk) begin
        y6[r*OB+:OB] <= requant_sat(prod5[r], shift5[r*6+:6]);
      end
      sparse_linear_rq_mul #(.FABRIC(RQ_FABRIC)) u_mul (
          .clk(ap_clk), .acc(rq4[r*32+:32]), .mult(mult4[r*31+:31]), .prod(prod5[r])
      );
    end
    assign ydone_set_pipe = (v6 && last6 && tend6) ? (2'b01 << bank6) : 2'b00;
    always_ff @(posedge ap_clk) begin
      if (v6 && last6 && !dum6) ybuf[YA'(bank6)*YA'(TT*NB)+YA'(t6)*YA'(NB)+YA'(row6)] <= {y6, ygat};
    end
  end

  // ================================================================ STORE
  logic [NTW-1:0] st_tile;
  logic st_bank, st_rd, st_tile_end, rd_v;
  logic [TW-1:0] st_t;
  logic [NW-1:0] st_r;
  logic [BM*OB-1:0] rd_y;
  logic [BM*OB:0] rd_c;
  logic [BM*OB-1:0] ofifo[0:OD-1];
  logic [$clog2(OD)-1:0] o_wr, o_rd;
  logic [OCW-1:0] ocount;
  assign st_rd = running && (st_tile < ntiles) && ydone[st_bank] && (32'(ocount) + 32'(rd_v) < OD - 1);
  assign st_tile_end = st_rd && (st_r == NW'(NB - 1)) && ({1'b0, st_t} == tile_tokens(st_tile) - 1'b1);
  assign ydone_clr = st_tile_end ? (2'b01 << st_bank) : 2'b00;
  assign yown_clr = ydone_clr;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) begin
      st_tile <= '0;
      st_bank <= 1'b0;
      st_t <= '0;
      st_r <= '0;
      rd_v <= 1'b0;
    end else begin
      rd_v <= st_rd;
      if (st_rd) begin
        if (st_r == NW'(NB - 1)) begin
          st_r <= '0;
          if (st_tile_end) begin
            st_t <= '0;
            st_tile <= st_tile + 1'b1;
            st_bank <= ~st_bank;
          end else st_t <= st_t + 1'b1;
        end else st_r <= st_r + 1'b1;
      end
    end
  end
  always_ff @(posedge ap_clk) begin
    if (st_rd) begin
      rd_y <= ybuf[YA'(st_bank)*YA'(TT*NB)+YA'(st_t)*YA'(NB)+YA'(st_r)];
      rd_c <= yconst_rom[rbase+LRW'(st_r)];
    end
  end

  // output FIFO (absorbs the buffer read latency under backpressure)
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n || start_fire) begin
      o_wr <= '0;
      o_rd <= '0;
      ocount <= '0;
    end else begin
      if (rd_v) begin
        ofifo[o_wr] <= rd_c[BM*OB] ? rd_c[BM*OB-1:0] : rd_y;
        o_wr <= o_wr + 1'b1;
      end
      if (y_fire) o_rd <= o_rd + 1'b1;
      ocount <= ocount + OCW'(rd_v) - OCW'(y_fire);
    end
  end
  assign y_out_TVALID = (ocount != '0);
  assign y_out_TDATA = ofifo[o_rd];

endmodule

// sparse_linear_rq_mul: one requant lane's product, registered (stage S5):
//   prod = acc * mult, acc a signed int32 accumulator, mult the unsigned 31-bit multiplier.
// FABRIC = 0: inferred on DSP48E2s (4 for 32 x 31 bits); FABRIC = 1: USE_DSP = "no", a LUT and
// carry-chain multiplier; FABRIC = 2: split, two DSP48E2s for mult's low 26 bits and shifted
// adds in LUTs for its top 5 (Yosys cost: bench/rtl_synth_units.py "rq_mul", "rq_mul_fabric",
// "rq_mul_split").
// The same product either way: the build only moves the multiplier.
`default_nettype none

/* verilator lint_off DECLFILENAME */
module sparse_linear_rq_mul #(
    parameter int FABRIC = 0
) (
    input  wire                clk,
    input  wire         [31:0] acc,
    input  wire         [30:0] mult,
    output logic signed [63:0] prod
);
  if (FABRIC == 1) begin : g_lut
    (* use_dsp = "no" *) logic signed [63:0] p;
    always_ff @(posedge clk) p <= 64'($signed(acc)) * $signed({33'd0, mult});
    assign prod = p;
  end else if (FABRIC == 2) begin : g_split
    // acc = a1*2^17 + a0 (a0 = acc[16:0] unsigned, a1 = acc[31:17] signed), mult = m1*2^26 + m0
    // (m0 = mult[25:0], m1 = mult[30:26]): a0*m0 and a1*m0 are one 18 x 27-bit signed DSP48E2
    // product each; acc*m1 is five shifted adds of acc in LUTs.  Exact: the three terms, sign
    // extended and shifted, sum to acc*mult (|acc*mult| < 2^62, no wrap).
    logic signed [44:0] p0_w;  // a0*m0 in [0, 2^43)
    logic signed [41:0] p1_w;  // a1*m0: |.| <= 2^14 * (2^26 - 1) < 2^40
    logic signed [36:0] p2_w;  // acc*m1: |.| <= 2^31 * 31 < 2^36
    logic signed [63:0] p;
    always_comb begin
      p0_w = $signed({1'b0, acc[16:0]}) * $signed({1'b0, mult[25:0]});
      p1_w = 42'($signed(acc[31:17])) * 42'($signed({1'b0, mult[25:0]}));
      p2_w = '0;
      for (int i = 0; i < 5; i++) if (mult[26+i]) p2_w = p2_w + (37'($signed(acc)) <<< i);
    end
    always_ff @(posedge clk) p <= 64'(p0_w) + (64'(p1_w) <<< 17) + (64'(p2_w) <<< 26);
    assign prod = p;
  end else begin : g_dsp
    logic signed [63:0] p;
    always_ff @(posedge clk) p <= 64'($signed(acc)) * $signed({33'd0, mult});
    assign prod = p;
  end
endmodule

/* verilator lint_on DECLFILENAME */

`default_nettype wire

// sparse_wmem: an engine's block-weight table, one line (a BM x BN block) per
// nonzero block, every layer's blocks one after another.  One write port (the
// start-up load, or $readmemh when LOADABLE = 0) and NR = 1 or 2 read ports,
// each registered with an enable (q[i] <= mem[raddr[i]] when re[i], held
// otherwise).  Port 0 shares its address with the write port (the load and
// the reads never overlap), so the table maps onto the two ports of one block
// RAM or UltraRAM whether one engine reads it or two lanes' engines do.
// URAM = 1 asks for UltraRAM (ram_style "ultra"; loadable builds only: a
// URAM288 has no initial contents).
`default_nettype none

/* verilator lint_off DECLFILENAME */
module sparse_wmem #(
    parameter int WW = 8,  // bits per line
    parameter int DEPTH = 2,  // lines (>= 2)
    parameter int NR = 1,  // read ports: 1 or 2
    parameter int URAM = 0,  // 1: UltraRAM
    parameter int LOADABLE = 1,  // 0: contents from MEM ($readmemh)
    parameter MEM = "weights.mem"
) (
    input  wire                          ap_clk,
    input  wire                          we,
    input  wire  [  $clog2(DEPTH)-1:0]   waddr,
    input  wire  [             WW-1:0]   wdata,
    input  wire  [             NR-1:0]   re,
    input  wire  [NR*$clog2(DEPTH)-1:0] raddr,
    output logic [          NR*WW-1:0]   q
);
  /* verilator lint_on DECLFILENAME */
  localparam int AW = $clog2(DEPTH);
  logic [AW-1:0] a0;
  assign a0 = we ? waddr : raddr[AW-1:0];
  logic [WW-1:0] q_r[NR];
  for (genvar i = 0; i < NR; i++) begin : g_q
    assign q[i*WW+:WW] = q_r[i];
  end
  if (URAM != 0) begin : g_uram
    (* ram_style = "ultra" *) logic [WW-1:0] mem[0:DEPTH-1];
    always_ff @(posedge ap_clk)
      if (we) mem[a0] <= wdata;
      else if (re[0]) q_r[0] <= mem[a0];
    for (genvar i = 1; i < NR; i++) begin : g_rd
      always_ff @(posedge ap_clk) if (re[i]) q_r[i] <= mem[raddr[i*AW+:AW]];
    end
  end else begin : g_bram
    logic [WW-1:0] mem[0:DEPTH-1];
    if (LOADABLE == 0) begin : g_rom
      initial $readmemh(MEM, mem);
    end
    always_ff @(posedge ap_clk)
      if (we) mem[a0] <= wdata;
      else if (re[0]) q_r[0] <= mem[a0];
    for (genvar i = 1; i < NR; i++) begin : g_rd
      always_ff @(posedge ap_clk) if (re[i]) q_r[i] <= mem[raddr[i*AW+:AW]];
    end
  end
endmodule

`default_nettype wire
