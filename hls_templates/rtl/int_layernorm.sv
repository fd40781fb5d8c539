// int_layernorm: row-streaming integer LayerNorm, W elements per beat, rows
// overlapped three deep, bit-exact with compiler/golden/intops.py layernorm_rows
// (= ops/layernorm.py run_int):
//   mean = floor(sum(r) / H); d = r - mean; var = floor(sum(d*d) / H)
//   std = max(isqrt(var + eps_q), 1); inv = floor(2^31 / std)
//   y = rshift_round(d * inv, 19); z = rshift_round(y * gamma_q[c] + beta_q[c], 12)
//   out = sat8(requant(z, mult[c], shift[c]))
// Numerics: signed 64-bit with two's-complement wrap (NumPy int64); the
// divisions are on non-negative operands (the mean's floor division of a
// negative sum is done as -ceil(|sum| / H)), as in the contract.  The products
// take only the operand bits their values can have (d: 33 bits, as r is int32
// and mean lies in int32; inv <= 2^31; y: 45 bits; z: 52 bits), which gives
// the same 64-bit wrapped products as int64 for every input on the 32-bit port.
// One pass fewer than the definition: the load sums r (S1) and r*r (S2), and
//   sum(d*d) = S2 - 2*mean*S1 + H*mean^2 = S2 - 2*q*|S1| + H*q^2   (mod 2^64)
// with q = |mean| (mean = q or -q with the sign of S1), an identity of the
// integers, so it holds mod 2^64 and equals the golden's wrapped int64 sum.
// q*|S1| and H*q^2 are built by shift-and-add while the mean division
// produces q one bit per cycle (no multiplier).
//
// Interface (axis + ap_ctrl_hs, scalars sampled at ap_start):
//   x_in  : int32 FX(F_RES) residuals, W lanes per beat (lane l = element j*W + l of
//           the row, lane 0 in the low bits); n_rows rows of ceil(h / W) beats, each
//           row starting on a new beat;
//   y_out : int8 lanes, same order and beat count;
//   a row whose h is not a multiple of W ends in a beat with pad lanes
//   (l >= h - (beats - 1) * W): their input is ignored and their output is 0;
//   per-channel ROM {MEM_PREFIX, "ln_params.mem"} of HMAX / W words, one per beat,
//   lane l in bits [134*l +: 134] = {beta_q[63:0], shift[5:0], mult[31:0], gamma_q[31:0]}
//   of channel j*W + l (W = 1: one 134-bit word per channel).
//   LOADABLE = 1: a RAM written through tbl_we/tbl_addr/tbl_wdata instead (no file);
//   LAYERS > 1: HMAX / W words per layer, layer l at l*HMAX/W, chosen by `layer` at ap_start.
// Structure: three stages in lock-step phases, two row buffers (row j in buffer j % 2).
// In phase k, LOAD takes row k, STATS computes row k-1's mean and 2^31/std, OUT writes
// row k-2; the phase ends one cycle after the last active stage is done.
//   LOAD  B = ceil(h / W) beats into buffer k % 2 (sums over two adder trees of W lanes,
//         log2(W) levels); it reads behind OUT (row k-2 left that buffer): beat i is
//         written one cycle after OUT has read it.
//   STATS takes the sums when row k-1's last beat has left the trees (D = 2 + log2(W)
//         cycles into the phase), then mean division (32 cycles, radix 2, by h),
//         sum(d*d) (1), variance division (32 cycles, radix 4, by h), isqrt (32),
//         2^31 / std (int_divu, 32), state changes: done D + 134 cycles into the phase.
//   OUT   B beats read from buffer k % 2 into W lanes of a 9-stage pipeline (one global
//         stall, II = 1); the row's mean and inv travel with its beats.
// Full-rate phase lengths: the longest active stage of LOAD B + 1 (B + 2 while OUT
// reads ahead of it), STATS D + 135, OUT B + 1; ap_done comes B + 10 cycles after the
// last phase (OUT only) starts.  Steady state: max(B + 2, D + 135) cycles per row;
// cycle_model.unit_cycles("layernorm", ...) is the call's exact full-rate count.
`default_nettype none

module int_layernorm #(
    parameter int    HMAX       = 1024,
    parameter        MEM_PREFIX = "",  // a string (untyped: Yosys reads no `string` parameters)
    parameter int    W          = 1,   // elements per beat: a power of two, HMAX / W >= 2
    parameter int    LAYERS     = 1,   // parameter sets held (one per encoder layer)
    parameter int    LOADABLE   = 0    // 1: parameters written through tbl_* (no $readmemh)
) (
    input  wire             ap_clk,
    input  wire             ap_rst_n,
    input  wire             ap_start,
    output logic            ap_done,
    output logic            ap_idle,
    output logic            ap_ready,
    input  wire  [    31:0] n_rows,
    input  wire  [    31:0] h,            // 1..HMAX
    input  wire  [    31:0] eps_q,
    /* verilator lint_off UNUSEDSIGNAL */  // unused when LAYERS = 1 / LOADABLE = 0
    input  wire  [     7:0] layer,  // 0..LAYERS-1, sampled at ap_start
    input  wire             tbl_we,
    input  wire  [    31:0] tbl_addr,
    input  wire [W*134-1:0] tbl_wdata,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire  [W*32-1:0] x_in_TDATA,
    input  wire             x_in_TVALID,
    output logic            x_in_TREADY,
    output logic [ W*8-1:0] y_out_TDATA,
    output logic            y_out_TVALID,
    input  wire             y_out_TREADY
);
  localparam int DEPTH = HMAX / W;  // ROM words and words per row buffer, one per beat
  localparam int AW = $clog2(DEPTH);
  localparam int LW = $clog2(W);  // adder-tree levels
  localparam int RB = $clog2(HMAX + 1);  // bits of h (the divisions' remainder < h)
  localparam int PW = 134;
  localparam int OP = 9;  // OUT pipeline stages
  localparam int D = 2 + LW;  // a load beat reaches the sums D cycles after it is taken
  localparam int HQW = RB + 32;

  if (W < 1 || (W & (W - 1)) != 0 || HMAX % W != 0 || DEPTH < 2) begin : g_bad_w
    $error("int_layernorm: W must be a power of two that divides HMAX, with HMAX / W >= 2");
  end

  localparam int LAW = $clog2(LAYERS * DEPTH);
  logic [W*32-1:0] buf_r[2**(AW+1)];  // two row buffers: address {buffer, beat}

  logic unused_running, start_fire, finish, in_fire, out_fire, adv, issue;  // the phases (la, sa, oa) run the unit
  logic [31:0] rows_r, orow, nb_r;  // nb_r: beats per row
  logic [31:0] k;  // phase
  logic la, sa, oa;  // stages active in this phase: LOAD row k, STATS row k-1, OUT row k-2
  logic [W-1:0] last_mask_r;  // real lanes of a row's last beat
  logic [63:0] eps_r;
  logic [RB-1:0] h_r;
  logic [AW:0] widx, issued, outs;

  // beats per row and the lane mask of the last one, from the h port at ap_start
  logic [31:0] nb_w, last_n;
  logic [W-1:0] last_mask_w, in_lanes, out_lanes;
  always_comb begin
    nb_w = 32'((33'(h) + 33'(W - 1)) >> LW);
    last_n = h - ((nb_w - 32'd1) << LW);
    for (int l = 0; l < W; l++) last_mask_w[l] = 32'(l) < last_n;
  end
  assign in_lanes = 32'(widx) + 32'd1 == nb_r ? last_mask_r : '1;
  assign out_lanes = 32'(issued) + 32'd1 == nb_r ? last_mask_r : '1;

  sparsehls_ap_ctrl u_ctrl (
      .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle),
      .ap_ready(ap_ready), .empty(n_rows == 0), .finish(finish), .start_fire(start_fire), .running(unused_running)
  );
  logic [LAW-1:0] base;  // the layer's first word
  if (LAYERS == 1) begin : g_one_layer
    assign base = '0;
  end else begin : g_layers
    always_ff @(posedge ap_clk) if (start_fire) base <= LAW'(layer) * LAW'(DEPTH);
  end
  // the last beat of the last row
  assign finish = out_fire && 32'(outs) + 32'd1 == nb_r && orow + 32'd1 == rows_r;
  // LOAD writes beat widx of buffer k % 2 once OUT (row k-2, same buffer) has read it
  assign x_in_TREADY = la && 32'(widx) != nb_r && (!oa || issued > widx);
  assign in_fire = x_in_TVALID && x_in_TREADY;

  // ---------------- adder trees: 0 = sum of r, 1 = sum of r*r ----------------
  // Leaves are 0 when no beat is in flight, so the sums accumulate the roots every cycle.
  logic [1:0][W-1:0][63:0] leaf;
  logic [1:0][63:0] root;
  for (genvar t = 0; t < 2; t++) begin : g_tree
    if (W == 1) begin : g_wire
      assign root[t] = leaf[t][0];
    end else begin : g_regs
      logic [64*W-1:64] nd;  // node i in [64*i +: 64], heap order: node i = node 2i + node 2i+1; leaves W..2W-1
      for (genvar i = 1; i < W; i++) begin : g_node
        logic [63:0] a, b;
        if (2 * i >= W) begin : g_leaves
          assign a = leaf[t][2*i-W];
          assign b = leaf[t][2*i+1-W];
        end else begin : g_inner
          assign a = nd[64*(2*i)+:64];
          assign b = nd[64*(2*i+1)+:64];
        end
        always_ff @(posedge ap_clk) begin
          if (!ap_rst_n) nd[64*i+:64] <= '0;
          else nd[64*i+:64] <= a + b;
        end
      end
      assign root[t] = nd[127:64];
    end
  end

  // ---------------- STATS: mean, sum(d*d), var, isqrt, 2^31/std of one row ----------------
  typedef enum logic [3:0] {
    S_IDLE, S_SNAP, S_MSET, S_MEAN, S_COMB, S_VDIV, S_SQ, S_SQW, S_RC, S_RCW, S_DONE
  } sst_t;
  sst_t sst;
  logic [3:0] scnt;
  logic [5:0] cnt;
  logic signed [63:0] s1, acc1;  // sum of r (|.| < 2^(32 + log2 HMAX))
  logic [63:0] s2, acc2;  // sum of r*r, mod 2^64
  logic snap;  // the row's last beat reaches the sums this cycle
  logic neg;  // s1 < 0: mean = -q
  logic [62:0] a1;  // |s1|
  logic [HQW-1:0] hq;  // h*q < 2^HQW, of the quotient bits so far
  logic [63:0] hq2;  // h*q^2 (mod 2^64)
  logic [62:0] qs;  // q*|s1| (mod 2^63: used doubled)
  logic [RB-1:0] rem;  // divisions by h: remainder < h
  logic [63:0] dq;  // dividend bits leave at the top, quotient bits enter at the bottom
  logic signed [31:0] mean_r;
  logic [31:0] inv_r;

  assign snap = sst == S_SNAP && scnt == 4'(D - 1);

  // the mean's dividend: s1, or |s1| + h - 1 for a negative s1 (floor = -ceil(|s1| / h))
  logic [63:0] m_a;
  assign m_a = s1[63] ? 64'(-s1) + 64'(h_r) - 64'd1 : s1;

  // one and two restoring steps of the division by h
  logic [RB:0] rs1, rs2;
  logic ge1, ge2;
  logic [RB-1:0] rem1, rem2;
  always_comb begin
    rs1 = {rem, dq[63]};
    ge1 = rs1 >= {1'b0, h_r};
    rem1 = RB'(ge1 ? rs1 - {1'b0, h_r} : rs1);
    rs2 = {rem1, dq[62]};
    ge2 = rs2 >= {1'b0, h_r};
    rem2 = RB'(ge2 ? rs2 - {1'b0, h_r} : rs2);
  end

  // isqrt and 2^31/std
  logic sq_done, rc_done;
  logic [31:0] sq_root, rc_q;
  int_isqrt u_sqrt (
      .clk(ap_clk), .rst_n(ap_rst_n), .start(sst == S_SQ), .v(dq + eps_r),
      .done(sq_done), .root(sq_root)
  );
  int_divu #(.W(32)) u_recip (
      .clk(ap_clk), .rst_n(ap_rst_n), .start(sst == S_RC), .n_iter(7'd32),
      .dividend(32'h8000_0000), .divisor(sq_root == 0 ? 32'd1 : sq_root),
      .done(rc_done), .quotient(rc_q)
  );

  // ---------------- phase control ----------------
  logic [OP-1:0] ov;
  logic phase_end;
  assign adv = !ov[OP-1] || y_out_TREADY;
  assign issue = oa && adv && 32'(issued) != nb_r;
  assign out_fire = y_out_TVALID && y_out_TREADY;
  assign y_out_TVALID = ov[OP-1];
  assign phase_end = (la || sa || oa) && (!la || 32'(widx) == nb_r) && (!sa || sst == S_DONE)
      && (!oa || 32'(issued) == nb_r);

  logic signed [31:0] mean_o;  // OUT's row
  logic [31:0] inv_o;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      rows_r <= '0;
      orow <= '0;
      nb_r <= 32'd1;
      k <= '0;
      la <= 1'b0;
      sa <= 1'b0;
      oa <= 1'b0;
      last_mask_r <= '1;
      eps_r <= '0;
      h_r <= RB'(1);
      widx <= '0;
      issued <= '0;
      outs <= '0;
      mean_o <= '0;
      inv_o <= '0;
    end else begin
      if (start_fire) begin
        rows_r <= n_rows;
        h_r <= RB'(h);
        nb_r <= nb_w;
        last_mask_r <= last_mask_w;
        eps_r <= {32'd0, eps_q};
        k <= '0;
        orow <= '0;
        widx <= '0;
        issued <= '0;
        outs <= '0;
        la <= n_rows != 0;
        sa <= 1'b0;
        oa <= 1'b0;
      end else if (phase_end) begin  // next phase k + 1
        k <= k + 32'd1;
        la <= k + 32'd1 < rows_r;
        sa <= k < rows_r;
        oa <= k + 32'd1 >= 32'd2 && k <= rows_r;
        widx <= '0;
        issued <= '0;
        mean_o <= mean_r;
        inv_o <= inv_r;
      end else begin
        if (in_fire) widx <= widx + 1'b1;
        if (issue) issued <= issued + 1'b1;
      end
      if (out_fire) begin
        if (32'(outs) + 32'd1 == nb_r) begin
          outs <= '0;
          orow <= orow + 32'd1;
        end else outs <= outs + 1'b1;
      end
    end
  end

  // STATS sequencer (restarted by every phase end that keeps it active)
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      sst <= S_IDLE;
      scnt <= '0;
      cnt <= '0;
      acc1 <= '0;
      acc2 <= '0;
      s1 <= '0;
      s2 <= '0;
      neg <= 1'b0;
      a1 <= '0;
      hq <= '0;
      hq2 <= '0;
      qs <= '0;
      rem <= '0;
      dq <= '0;
      mean_r <= '0;
      inv_r <= '0;
    end else begin
      // the sums: restart after the snapshot of a row (its last root is in acc + root)
      acc1 <= (snap || start_fire) ? '0 : acc1 + $signed(root[0]);
      acc2 <= (snap || start_fire) ? '0 : acc2 + root[1];
      if (phase_end) begin
        sst <= k < rows_r ? S_SNAP : S_IDLE;  // STATS of row k in phase k + 1
        scnt <= '0;
      end else begin
        case (sst)
          S_SNAP: begin
            scnt <= scnt + 4'd1;
            if (snap) begin
              s1 <= acc1 + $signed(root[0]);
              s2 <= acc2 + root[1];
              sst <= S_MSET;
            end
          end
          S_MSET: begin  // q = floor(a / h), a = s1 or |s1| + h - 1; q < 2^32, so a >> 32 < h
            neg <= s1[63];
            a1 <= 63'(s1[63] ? -s1 : s1);
            rem <= RB'(m_a >> 32);
            dq <= {m_a[31:0], 32'd0};
            hq <= '0;
            hq2 <= '0;
            qs <= '0;
            cnt <= 6'd32;
            sst <= S_MEAN;
          end
          S_MEAN: begin  // one quotient bit b: q' = 2q + b
            rem <= rem1;
            dq <= {dq[62:0], ge1};
            qs <= {qs[61:0], 1'b0} + (ge1 ? a1 : 63'd0);
            hq <= {hq[HQW-2:0], 1'b0} + (ge1 ? HQW'(h_r) : HQW'(0));
            hq2 <= {hq2[61:0], 2'b0} + (ge1 ? 64'({hq, 2'b0}) + 64'(h_r) : 64'd0);
            cnt <= cnt - 6'd1;
            if (cnt == 6'd1) sst <= S_COMB;
          end
          S_COMB: begin
            mean_r <= neg ? -$signed(dq[31:0]) : $signed(dq[31:0]);
            dq <= s2 - {qs, 1'b0} + hq2;  // sum(d*d)
            rem <= '0;
            cnt <= 6'd32;
            sst <= S_VDIV;
          end
          S_VDIV: begin  // var = floor(sum(d*d) / h), two bits per cycle
            rem <= rem2;
            dq <= {dq[61:0], ge1, ge2};
            cnt <= cnt - 6'd1;
            if (cnt == 6'd1) sst <= S_SQ;
          end
          S_SQ: sst <= S_SQW;  // isqrt(var + eps) starts
          S_SQW: if (sq_done) sst <= S_RC;
          S_RC: sst <= S_RCW;  // 2^31 / max(std, 1) starts
          S_RCW:
          if (rc_done) begin
            inv_r <= rc_q;
            sst <= S_DONE;
          end
          default: ;
        endcase
      end
    end
  end

  always_ff @(posedge ap_clk) begin
    if (in_fire) buf_r[{k[0], widx[AW-1:0]}] <= x_in_TDATA;
  end

  // ---------------- OUT pass: stage 1 reads the buffer, the ROM, the row's mean and inv ----------------
  logic [W*32-1:0] rd_x;
  logic [W*PW-1:0] o_w0;
  logic [OP-2:0][W-1:0] om;  // lane masks of OUT stages 1..OP-1
  logic signed [32:0] rd_mean;
  logic [31:0] rd_inv, o_inv;
  sparsehls_valid_pipe #(.N(OP)) u_valid (.clk(ap_clk), .rst_n(ap_rst_n), .en(adv), .in(issue), .v(ov));
  // the parameter table (every layer's beats): a ROM ($readmemh), or a RAM written by the
  // start-up load, in UltraRAM when deeper than 1,024 words (the generator's rule for tables)
  if (LOADABLE == 0) begin : g_rom
    logic [W*PW-1:0] rom[LAYERS*DEPTH];
    initial $readmemh({MEM_PREFIX, "ln_params.mem"}, rom);
    always_ff @(posedge ap_clk) if (adv) o_w0 <= rom[base+LAW'(issued[AW-1:0])];
  end else if (LAYERS * DEPTH > 1024) begin : g_uram
    (* ram_style = "ultra" *) logic [W*PW-1:0] rom[LAYERS*DEPTH];
    always_ff @(posedge ap_clk) if (tbl_we) rom[LAW'(tbl_addr)] <= tbl_wdata;
    always_ff @(posedge ap_clk) if (adv) o_w0 <= rom[base+LAW'(issued[AW-1:0])];
  end else begin : g_ram
    logic [W*PW-1:0] rom[LAYERS*DEPTH];
    always_ff @(posedge ap_clk) if (tbl_we) rom[LAW'(tbl_addr)] <= tbl_wdata;
    always_ff @(posedge ap_clk) if (adv) o_w0 <= rom[base+LAW'(issued[AW-1:0])];
  end
  always_ff @(posedge ap_clk) begin
    if (adv) begin
      rd_x <= buf_r[{k[0], issued[AW-1:0]}];
      om <= {om[OP-3:0], out_lanes};
      rd_mean <= 33'(mean_o);
      rd_inv <= inv_o;
      o_inv <= rd_inv;
    end
  end

  logic signed [32:0] inv_s;
  assign inv_s = $signed({1'b0, o_inv});

  for (genvar l = 0; l < W; l++) begin : g_lane
    // LOAD: r and r*r of the beat's real lanes -> trees 0 and 1 (pad lanes add nothing)
    logic signed [31:0] l_r, l_r1;
    logic signed [63:0] l_sq;
    always_ff @(posedge ap_clk) begin
      l_r <= in_fire && in_lanes[l] ? $signed(x_in_TDATA[32*l+:32]) : '0;
      l_r1 <= l_r;
      l_sq <= 64'(l_r * l_r);
    end
    assign leaf[0][l] = 64'(l_r1);
    assign leaf[1][l] = l_sq;

    // OUT: stage 1 is rd_x / o_w0; stages 2..9 below
    logic signed [32:0] o_d;
    logic signed [63:0] o_p, o_yg, o_zm, o_q;
    logic signed [44:0] o_y;  // (64-bit) >>> 19
    logic signed [51:0] o_z;  // (64-bit) >>> 12
    logic [PW-1:0] o_w1, o_w2, o_w3;
    logic [PW-1:32] o_w4;  // beta, shift, mult
    logic [69:32] o_w5;  // shift, mult
    logic [5:0] o_s6;
    logic [7:0] o_out;
    logic signed [31:0] o_gamma;
    logic signed [32:0] o_mult;
    logic signed [63:0] o_beta;
    always_comb begin
      o_gamma = $signed(o_w3[31:0]);
      o_beta = $signed(o_w4[133:70]);
      o_mult = $signed({1'b0, o_w5[63:32]});
    end
    always_ff @(posedge ap_clk) begin
      if (adv) begin
        o_d <= 33'($signed(rd_x[32*l+:32])) - rd_mean;
        o_w1 <= o_w0[PW*l+:PW];
        o_p <= 64'(o_d * inv_s);
        o_w2 <= o_w1;
        o_y <= 45'(sparsehls_pkg::rshift_round(o_p, 6'd19));
        o_w3 <= o_w2;
        o_yg <= 64'(o_y * o_gamma);
        o_w4 <= o_w3[PW-1:32];
        o_z <= 52'(sparsehls_pkg::rshift_round(o_yg + o_beta, 6'd12));
        o_w5 <= o_w4[69:32];
        o_zm <= 64'(o_z * o_mult);
        o_s6 <= o_w5[69:64];
        o_q <= sparsehls_pkg::rshift_round(o_zm, o_s6);
        if (!om[OP-2][l]) o_out <= '0;  // pad lane
        else o_out <= sparsehls_pkg::sat8(o_q);
      end
    end
    assign y_out_TDATA[8*l+:8] = o_out;
  end
endmodule

`default_nettype wire
