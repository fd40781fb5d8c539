// int_attention_head: one attention head, bit-exact with compiler/golden/ops/attention.py
// run_int for one (sequence, head):
//   S = Q_h K_h^T (int32, exact); P = softmax_rows(S, mask, sm_mult, sm_shift) (uint8)
//   out = sat8(requant(P V_h, out_mult, out_shift))
// Built around int_softmax (scores and probabilities pass through its AXI streams).
//
// Interface (axis + ap_ctrl_hs, scalars sampled at ap_start), D = head_dim lanes:
//   k_in  : seq_len beats, TDATA[D*8-1:0] = k_j lanes (int8), TDATA[D*8] = mask_j (1 = real key);
//   v_in  : seq_len beats of v_j lanes (int8);
//   q_in  : n_q beats of q_i lanes (int8), read once K is in (V may still be arriving: PV takes
//           probability j only when V row j is in, so V can stream in behind K);
//   o_out : n_q beats of out_i lanes (int8).
//   n_q   : query rows (1..seq_len; a head of a token lane takes its own queries against all
//           seq_len keys); n_q = 0 or seq_len = 0: nothing to do (ap_done at once).
// QK: one score per cycle (D/2 packed multipliers, a key pair in two cycles, K row buffer);
// PV: one probability per cycle (D MACs into D accumulators, V row buffer); at a row's last
// probability the accumulators move to a hold register (and clear) and a shared requant,
// OUT_LANES lanes per cycle, fills the o_out beat while the next row accumulates.
// Widths: an accumulator holds sum_j p_j v_j with p uint8 (the softmax saturates to 255), v int8
// (the port) and seq_len <= SMAX keys: |acc| <= SMAX * 255 * 128 < 2^(AW+15), ACCW = AW + 16
// bits (the golden's int64 value: nothing wraps).  The requant acc * out_mult (< 2^(AW+47),
// no wrap) is two 27x18 DSPs per requant lane: acc * out_mult[16:0] and acc * out_mult[31:17].
// PV: one DSP for two lanes: p * (v_b * 2^18 + v_a) = p*v_b * 2^18 + p*v_a with
// |p*v| <= 255*128 < 2^17, so p*v_a is the product's low 18 bits (signed) and p*v_b the rest.
// hw_tests/test_unit_ranges.py checks this arithmetic against ops/attention.py run_int.
`default_nettype none

module int_attention_head #(
    parameter int D    = 8,   // head_dim
    parameter int SMAX = 128,  // most tokens (seq_len <= SMAX)
    parameter int OUT_LANES = 1  // output requant lanes per cycle (a power of two dividing D)
) (
    input  wire              ap_clk,
    input  wire              ap_rst_n,
    input  wire              ap_start,
    output logic             ap_done,
    output logic             ap_idle,
    output logic             ap_ready,
    input  wire  [     31:0] seq_len,
    input  wire  [     31:0] n_q,
    input  wire  [     31:0] sm_mult,
    input  wire  [      5:0] sm_shift,
    input  wire  [     31:0] out_mult,
    input  wire  [      5:0] out_shift,
    input  wire  [  D*8+7:0] k_in_TDATA,
    input  wire              k_in_TVALID,
    output logic             k_in_TREADY,
    input  wire  [  D*8-1:0] v_in_TDATA,
    input  wire              v_in_TVALID,
    output logic             v_in_TREADY,
    input  wire  [  D*8-1:0] q_in_TDATA,
    input  wire              q_in_TVALID,
    output logic             q_in_TREADY,
    output logic [  D*8-1:0] o_out_TDATA,
    output logic             o_out_TVALID,
    input  wire              o_out_TREADY
);
  localparam int AW = $clog2(SMAX);
  localparam int ACCW = AW + 16;  // |acc| < 2^(AW+15) (see above)
  localparam int RLW = ACCW + 18;  // acc * out_mult[16:0]
  localparam int RHW = ACCW + 16;  // acc * out_mult[31:17]
  localparam int NB = D / OUT_LANES;  // requant issues per row
  localparam int NBW = NB > 1 ? $clog2(NB) : 1;

  logic [D*8-1:0] kbuf[SMAX];
  logic kval[SMAX];
  logic [D*8-1:0] vbuf[SMAX];
  logic unused_pad;  // k_in byte padding; the inner softmax's handshake (it ends with o_out)
  assign unused_pad = ^{k_in_TDATA[D*8+7:D*8+1], sm_done, sm_idle, sm_ready};

  logic running, start_fire, finish, sm_start, sm_done, sm_idle, sm_ready;
  logic [31:0] len_r, nq_r, kcnt, vcnt, qrows, orows;
  logic [31:0] om_r;
  logic [5:0] os_r;
  logic k_in_all;
  assign k_in_all = kcnt == len_r;

  sparsehls_ap_ctrl u_ctrl (
      .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle),
      .ap_ready(ap_ready), .empty(seq_len == 0 || n_q == 0), .finish(finish), .start_fire(start_fire), .running(running)
  );
  assign finish = o_out_TVALID && o_out_TREADY && orows + 32'd1 == nq_r;  // the last output row
  assign k_in_TREADY = running && kcnt != len_r;
  assign v_in_TREADY = running && vcnt != len_r;

  // ---------------- QK: two keys per packed multiplier ----------------
  // A key pair (j, j+1) takes two cycles on H = ceil(D/2) multipliers: lanes m, then H + m, each
  // q_l * (k_{j+1,l} * 2^18 + k_{j,l}) = q*k_{j+1} * 2^18 + q*k_j with |q*k| <= 2^14 < 2^17, so
  // q*k_j is the product's low 18 bits (signed) and q*k_{j+1} the rest.  Per pair:
  //   A  read key j (row buffer) -> kprev
  //   B  read key j+1; operands of lanes 0..H-1 (q, k_j, k_{j+1}) -> op; k_{j+1} lanes H.. -> hk1
  //   C  operands of lanes H..2H-1 -> op (kprev is rewritten only at the end of C, by the next A)
  //   +1 products (DSP)  +2 4-lane group sums  +3 sums: scores of j and j+1 -> pair FIFO
  // The FIFO (FP pairs) hands one score per cycle to the softmax (an odd row's last key is a
  // pair of one); a pair starts only if the FIFO has room for it (resp: pairs in the FIFO or
  // in flight), so the pipeline never stalls.  Scores: |s| <= D * 2^14 (SCW bits).
  localparam int H = (D + 1) / 2;
  localparam int NG = (H + 3) / 4;
  localparam int SCW = 16 + $clog2(D);
  localparam int FP = 8;
  localparam int FW = $clog2(FP);
  localparam int CW = FW + 1;
  localparam int PW = 2 * H * 8;
  logic [D*8-1:0] qreg;
  logic have_q, go, rd_b, ld1, last_c, ma, op_v, op_ph, p_v, p_ph, g_v, g_ph;
  logic [31:0] kp;
  logic [PW-1:0] qpad, kprev, krow;  // D lanes, zero-padded to 2H
  logic [H*8-1:0] hk1;  // key j+1, lanes H..: the row buffer's output moves on (kprev stays to C)
  logic [7:0] op_q[H];
  logic [7:0] op_k0[H];
  logic [7:0] op_k1[H];
  logic [2:0] op_meta, p_meta, g_meta;  // {key j+1 exists, mask_{j+1}, mask_j}
  logic signed [33:0] prod[H];  // |q*k_{j+1} * 2^18 + q*k_j| <= 2^32 + 2^14
  logic signed [17:0] ga[NG];  // 4-lane sums: |.| <= 2^16
  logic signed [17:0] gb[NG];
  logic signed [SCW-1:0] sa, sb, ta, tb;
  logic [2*SCW+2:0] fifo[FP];  // {has_b, mask_b, s_b, mask_a, s_a}
  logic [FW-1:0] wr, rd;
  logic [FW:0] cnt, resp;
  logic sel, pop;
  logic [2*SCW+2:0] head;
  logic [39:0] sc_TDATA;
  logic sc_TVALID, sc_TREADY;
  assign qpad = PW'(qreg);
  assign krow = PW'(kbuf[kp[AW-1:0]]);
  assign go = have_q && !rd_b && kp != len_r && resp != CW'(FP);
  assign q_in_TREADY = running && k_in_all && !have_q && qrows != nq_r;
  assign head = fifo[rd];
  assign sc_TVALID = cnt != '0;
  assign sc_TDATA = sel ? {7'd0, head[2*SCW+1], 32'($signed(head[2*SCW:SCW+1]))}
                        : {7'd0, head[SCW], 32'($signed(head[SCW-1:0]))};
  assign pop = sc_TVALID && sc_TREADY && (sel || !head[2*SCW+2]);
  logic signed [26:0] op_pk[H];  // k_{j+1} * 2^18 + k_j (the DSP's 27-bit port)
  always_comb
    for (int m = 0; m < H; m++) op_pk[m] = (27'($signed(op_k1[m])) <<< 18) + 27'($signed(op_k0[m]));
  always_comb begin
    ta = '0;
    tb = '0;
    for (int g = 0; g < NG; g++) begin
      ta += SCW'(ga[g]);
      tb += SCW'(gb[g]);
    end
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      have_q <= 1'b0;
      kp <= '0;
      rd_b <= 1'b0;
      ld1 <= 1'b0;
      op_v <= 1'b0;
      p_v <= 1'b0;
      g_v <= 1'b0;
      wr <= '0;
      rd <= '0;
      cnt <= '0;
      resp <= '0;
      sel <= 1'b0;
    end else begin
      rd_b <= go;
      ld1 <= rd_b;
      op_v <= rd_b || ld1;
      p_v <= op_v;
      g_v <= p_v;
      if (q_in_TVALID && q_in_TREADY) begin
        have_q <= 1'b1;
        kp <= '0;
      end
      if (go) kp <= kp + 32'd1;
      if (rd_b && kp != len_r) kp <= kp + 32'd1;
      if (ld1 && last_c) have_q <= 1'b0;
      if (sc_TVALID && sc_TREADY) sel <= !sel && head[2*SCW+2];
      if (g_v && g_ph) wr <= wr + 1'b1;
      if (pop) rd <= rd + 1'b1;
      cnt <= cnt + CW'(g_v && g_ph) - CW'(pop);
      resp <= resp + CW'(go) - CW'(pop);
    end
  end

  always_ff @(posedge ap_clk) begin
    if (q_in_TVALID && q_in_TREADY) qreg <= q_in_TDATA;
    if (go) begin  // A
      kprev <= krow;
      ma <= kval[kp[AW-1:0]];
    end
    if (rd_b) begin  // B: lanes 0..H-1
      for (int m = 0; m < H; m++) begin
        op_q[m] <= qpad[m*8+:8];
        op_k0[m] <= kprev[m*8+:8];
        op_k1[m] <= kp != len_r ? krow[m*8+:8] : 8'd0;
      end
      hk1 <= kp != len_r ? krow[PW-1:H*8] : '0;
      op_meta <= {kp != len_r, kp != len_r && kval[kp[AW-1:0]], ma};
      op_ph <= 1'b0;
      last_c <= kp == len_r || kp + 32'd1 == len_r;
    end
    if (ld1) begin  // C: lanes H..2H-1
      for (int m = 0; m < H; m++) begin
        op_q[m] <= qpad[(H+m)*8+:8];
        op_k0[m] <= kprev[(H+m)*8+:8];
        op_k1[m] <= hk1[m*8+:8];
      end
      op_ph <= 1'b1;
    end
    for (int m = 0; m < H; m++) prod[m] <= 34'($signed(op_q[m])) * 34'(op_pk[m]);  // +1: DSP
    p_ph <= op_ph;
    p_meta <= op_meta;
    for (int g = 0; g < NG; g++) begin  // +2: unpack, 4-lane sums
      logic signed [17:0] lo, sum_a, sum_b;
      sum_a = '0;
      sum_b = '0;
      for (int m = 4 * g; m < 4 * g + 4 && m < H; m++) begin
        lo = prod[m][17:0];
        sum_a += lo;
        sum_b += 18'((prod[m] - 34'(lo)) >>> 18);
      end
      ga[g] <= sum_a;
      gb[g] <= sum_b;
    end
    g_ph <= p_ph;
    g_meta <= p_meta;
    if (g_v && !g_ph) begin  // +3: phase 0 partial scores
      sa <= ta;
      sb <= tb;
    end
    if (g_v && g_ph) fifo[wr] <= {g_meta[2:1], sb + tb, g_meta[0], sa + ta};
  end

  // ---------------- softmax ----------------
  logic [7:0] p_TDATA;
  logic p_TVALID, p_TREADY;
  int_softmax #(.LMAX(SMAX)) u_sm (
      .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .ap_start(sm_start), .ap_done(sm_done),
      .ap_idle(sm_idle), .ap_ready(sm_ready), .n_rows(nq_r), .row_len(len_r),
      .sm_mult(sm_mult_r), .sm_shift(sm_shift_r),
      .x_in_TDATA(sc_TDATA), .x_in_TVALID(sc_TVALID), .x_in_TREADY(sc_TREADY),
      .y_out_TDATA(p_TDATA), .y_out_TVALID(p_TVALID), .y_out_TREADY(p_TREADY)
  );
  logic [31:0] sm_mult_r;
  logic [5:0] sm_shift_r;

  // ---------------- PV ----------------
  logic signed [ACCW-1:0] acc[D];
  logic signed [ACCW-1:0] hold[D];
  logic hold_full, out_valid, adv, issue;
  logic [31:0] jj;
  logic last_p;  // the row's last probability: acc + p*v goes to the hold register, acc clears
  assign last_p = jj + 32'd1 == len_r;
  // stall PV at a row's last probability while the hold register still has lanes to requant,
  // and at probability j until V row j is in (V streams in behind K)
  assign p_TREADY = running && !(hold_full && last_p) && vcnt > jj;
  logic [D*8-1:0] vrow_w;
  logic signed [15:0] pv_w[D];  // p * v_l in [-32640, 32385]
  always_comb begin
    vrow_w = vbuf[jj[AW-1:0]];
    for (int l = 0; l + 1 < D; l += 2) begin
      logic signed [7:0] va, vb;
      logic signed [26:0] pk;
      logic signed [35:0] pp;
      logic signed [17:0] lo;
      va = vrow_w[l*8+:8];
      vb = vrow_w[(l+1)*8+:8];
      pk = (27'(vb) <<< 18) + 27'(va);
      pp = 36'(pk) * 36'($signed({1'b0, p_TDATA}));
      lo = pp[17:0];
      pv_w[l] = 16'(lo);
      pv_w[l+1] = 16'((pp - 36'(lo)) >>> 18);
    end
    if (D % 2 == 1) pv_w[D-1] = 16'($signed(vrow_w[(D-1)*8+:8])) * 16'($signed({1'b0, p_TDATA}));
  end

  // ---------------- shared output requant ----------------
  // hold: the finished row's D accumulators, shifted down OUT_LANES lanes per issue; a
  // 3-stage pipeline (two 27x18 products, sum + round, shift) then sat8 into out_reg, which
  // shifts in OUT_LANES lanes per landing (after NB landings lane 0 is at the bottom).
  // One global stall: everything waits while o_out holds a beat nobody takes.
  logic [NBW-1:0] rq_cnt, land_cnt;
  logic v1, v2, v3;
  logic signed [RLW-1:0] rq_lo[OUT_LANES];
  logic signed [RHW-1:0] rq_hi[OUT_LANES];
  logic signed [63:0] rq_sum[OUT_LANES];  // acc * out_mult + 2^(os-1): no int64 wrap (see above)
  logic signed [63:0] rq_sh[OUT_LANES];
  logic [OUT_LANES*8-1:0] rq_sat;
  logic [D*8-1:0] out_reg;
  assign adv = !out_valid || o_out_TREADY;
  assign issue = hold_full && adv;
  assign o_out_TVALID = out_valid;
  assign o_out_TDATA = out_reg;
  always_comb
    for (int k = 0; k < OUT_LANES; k++)
      rq_sat[k*8+:8] = sparsehls_pkg::sat8(rq_sh[k]);
  always_ff @(posedge ap_clk) begin
    if (adv) begin
      for (int k = 0; k < OUT_LANES; k++) begin
        rq_lo[k] <= RLW'(hold[k]) * RLW'($signed({1'b0, om_r[16:0]}));  // 1
        rq_hi[k] <= RHW'(hold[k]) * RHW'($signed({1'b0, om_r[31:17]}));
        rq_sum[k] <= 64'(rq_lo[k]) + (64'(rq_hi[k]) <<< 17) + sparsehls_pkg::round_half(os_r);  // 2
        rq_sh[k] <= rq_sum[k] >>> os_r;  // 3
      end
    end
    if (p_TVALID && p_TREADY && last_p) begin
      for (int l = 0; l < D; l++) hold[l] <= acc[l] + ACCW'(pv_w[l]);
    end else if (issue) begin
      for (int l = 0; l + OUT_LANES < D; l++) hold[l] <= hold[l+OUT_LANES];
    end
  end
  generate
    if (NB == 1) begin : g_out_par
      always_ff @(posedge ap_clk) if (adv && v3) out_reg <= rq_sat;
    end else begin : g_out_shift
      always_ff @(posedge ap_clk) if (adv && v3) out_reg <= {rq_sat, out_reg[D*8-1:OUT_LANES*8]};
    end
  endgenerate

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      sm_start <= 1'b0;
      len_r <= 32'd1;
      nq_r <= 32'd1;
      kcnt <= '0;
      vcnt <= '0;
      qrows <= '0;
      orows <= '0;
      jj <= '0;
      hold_full <= 1'b0;
      out_valid <= 1'b0;
      rq_cnt <= '0;
      land_cnt <= '0;
      v1 <= 1'b0;
      v2 <= 1'b0;
      v3 <= 1'b0;
      om_r <= '0;
      os_r <= 6'd1;
      sm_mult_r <= '0;
      sm_shift_r <= 6'd1;
      for (int l = 0; l < D; l++) acc[l] <= '0;
    end else begin
      sm_start <= 1'b0;
      if (start_fire) begin
        len_r <= seq_len;
        nq_r <= n_q;
        kcnt <= '0;
        vcnt <= '0;
        qrows <= '0;
        orows <= '0;
        jj <= '0;
        om_r <= out_mult;
        os_r <= out_shift;
        sm_mult_r <= sm_mult;
        sm_shift_r <= sm_shift;
        for (int l = 0; l < D; l++) acc[l] <= '0;
        if (seq_len != 0 && n_q != 0) sm_start <= 1'b1;
      end
      if (k_in_TVALID && k_in_TREADY) kcnt <= kcnt + 32'd1;
      if (v_in_TVALID && v_in_TREADY) vcnt <= vcnt + 32'd1;
      if (q_in_TVALID && q_in_TREADY) qrows <= qrows + 32'd1;
      if (p_TVALID && p_TREADY) begin
        jj <= jj + 32'd1;
        for (int l = 0; l < D; l++) acc[l] <= acc[l] + ACCW'(pv_w[l]);
        if (last_p) begin
          jj <= '0;
          for (int l = 0; l < D; l++) acc[l] <= '0;
          hold_full <= 1'b1;
        end
      end
      if (issue) begin
        rq_cnt <= rq_cnt + 1'b1;
        if (32'(rq_cnt) == NB - 1) begin
          rq_cnt <= '0;
          hold_full <= 1'b0;
        end
      end
      if (adv) begin
        v1 <= issue;
        v2 <= v1;
        v3 <= v2;
      end
      if (o_out_TVALID && o_out_TREADY) begin
        out_valid <= 1'b0;
        orows <= orows + 32'd1;
      end
      if (adv && v3) begin
        land_cnt <= land_cnt + 1'b1;
        if (32'(land_cnt) == NB - 1) begin
          land_cnt <= '0;
          out_valid <= 1'b1;
        end
      end
    end
  end

  always_ff @(posedge ap_clk) begin
    if (k_in_TVALID && k_in_TREADY) begin
      kbuf[kcnt[AW-1:0]] <= k_in_TDATA[D*8-1:0];
      kval[kcnt[AW-1:0]] <= k_in_TDATA[D*8];
    end
    if (v_in_TVALID && v_in_TREADY) vbuf[vcnt[AW-1:0]] <= v_in_TDATA;
  end
endmodule

`default_nettype wire
