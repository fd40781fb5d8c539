// int_attention_head: one attention head, bit-exact with compiler/golden/ops/attention.py
// run_int for one (sequence, head):
//   S = Q_h K_h^T (int32, exact); P = softmax_rows(S, mask, sm_mult, sm_shift) (uint8)
//   out = sat8(requant(P V_h, out_mult, out_shift))
// Built around int_softmax (scores and probabilities pass through its AXI streams).
//
// Interface (axis + ap_ctrl_hs, scalars sampled at ap_start), D = head_dim lanes:
//   k_in  : seq_len beats, TDATA[D*8-1:0] = k_j lanes (int8), TDATA[D*8] = mask_j (1 = real key);
//   v_in  : seq_len beats of v_j lanes (int8);
//   q_in  : seq_len beats of q_i lanes (int8), read after K and V are in;
//   o_out : seq_len beats of out_i lanes (int8).
// QK: one score per cycle (D multipliers + adder tree, K row buffer); PV: one
// probability per cycle (D MACs into D accumulators, V row buffer).
// Widths: an accumulator holds sum_j p_j v_j with p uint8 (the softmax saturates to 255), v int8
// (the port) and seq_len <= SMAX keys: |acc| <= SMAX * 255 * 128 < 2^(AW+15), ACCW = AW + 16
// bits (the golden's int64 value: nothing wraps).  The requant acc * out_mult (< 2^(AW+47),
// no wrap) is two 27x18 DSPs a lane: acc * out_mult[16:0] and acc * out_mult[31:17].
// PV: one DSP for two lanes: p * (v_b * 2^18 + v_a) = p*v_b * 2^18 + p*v_a with
// |p*v| <= 255*128 < 2^17, so p*v_a is the product's low 18 bits (signed) and p*v_b the rest.
// hw_tests/test_unit_ranges.py checks this arithmetic against ops/attention.py run_int.
`default_nettype none

module int_attention_head #(
    parameter int D    = 8,   // head_dim
    parameter int SMAX = 128  // most tokens (seq_len <= SMAX)
) (
    input  wire              ap_clk,
    input  wire              ap_rst_n,
    input  wire              ap_start,
    output logic             ap_done,
    output logic             ap_idle,
    output logic             ap_ready,
    input  wire  [     31:0] seq_len,
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

  logic [D*8-1:0] kbuf[SMAX];
  logic kval[SMAX];
  logic [D*8-1:0] vbuf[SMAX];
  logic unused_pad;  // k_in byte padding; the inner softmax's handshake (it ends with o_out)
  assign unused_pad = ^{k_in_TDATA[D*8+7:D*8+1], sm_done, sm_idle, sm_ready};

  logic running, done_r, start_fire, sm_start, sm_done, sm_idle, sm_ready;
  logic [31:0] len_r, kcnt, vcnt, qrows, orows;
  logic [31:0] om_r;
  logic [5:0] os_r;
  logic kv_in;
  assign kv_in = kcnt == len_r && vcnt == len_r;

  assign start_fire = ap_start && !running && !done_r;
  assign ap_idle = !running;
  assign ap_done = done_r;
  assign ap_ready = done_r;
  assign k_in_TREADY = running && kcnt != len_r;
  assign v_in_TREADY = running && vcnt != len_r;

  // ---------------- QK: scores of the current query row ----------------
  logic [D*8-1:0] qreg;
  logic have_q;
  logic [31:0] j;
  logic [39:0] sc_TDATA;
  logic sc_TVALID, sc_TREADY;
  logic signed [31:0] score;
  always_comb begin
    score = '0;
    for (int l = 0; l < D; l++)
      score += 32'($signed(qreg[l*8+:8])) * 32'($signed(kbuf[j[AW-1:0]][l*8+:8]));
  end
  assign sc_TDATA = {7'd0, kval[j[AW-1:0]], score};
  assign sc_TVALID = have_q;
  assign q_in_TREADY = running && kv_in && !have_q && qrows != len_r;

  // ---------------- softmax ----------------
  logic [7:0] p_TDATA;
  logic p_TVALID, p_TREADY;
  int_softmax #(.LMAX(SMAX)) u_sm (
      .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .ap_start(sm_start), .ap_done(sm_done),
      .ap_idle(sm_idle), .ap_ready(sm_ready), .n_rows(len_r), .row_len(len_r),
      .sm_mult(sm_mult_r), .sm_shift(sm_shift_r),
      .x_in_TDATA(sc_TDATA), .x_in_TVALID(sc_TVALID), .x_in_TREADY(sc_TREADY),
      .y_out_TDATA(p_TDATA), .y_out_TVALID(p_TVALID), .y_out_TREADY(p_TREADY)
  );
  logic [31:0] sm_mult_r;
  logic [5:0] sm_shift_r;

  // ---------------- PV ----------------
  logic signed [ACCW-1:0] acc[D];
  logic [31:0] jj;
  logic out_pending;
  assign p_TREADY = running && !out_pending;
  assign o_out_TVALID = out_pending;
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

  always_comb begin
    for (int l = 0; l < D; l++) begin
      logic signed [RLW-1:0] r_lo;
      logic signed [RHW-1:0] r_hi;
      logic signed [63:0] r;
      r_lo = RLW'(acc[l]) * RLW'($signed({1'b0, om_r[16:0]}));
      r_hi = RHW'(acc[l]) * RHW'($signed({1'b0, om_r[31:17]}));
      r = (64'(r_lo) + (64'(r_hi) <<< 17) + (64'sd1 <<< (os_r - 6'd1))) >>> os_r;
      o_out_TDATA[l*8+:8] = r > 64'sd127 ? 8'h7f : (r < -64'sd128 ? 8'h80 : r[7:0]);
    end
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      running <= 1'b0;
      done_r <= 1'b0;
      sm_start <= 1'b0;
      len_r <= 32'd1;
      kcnt <= '0;
      vcnt <= '0;
      qrows <= '0;
      orows <= '0;
      have_q <= 1'b0;
      j <= '0;
      jj <= '0;
      out_pending <= 1'b0;
      om_r <= '0;
      os_r <= 6'd1;
      sm_mult_r <= '0;
      sm_shift_r <= 6'd1;
      qreg <= '0;
      for (int l = 0; l < D; l++) acc[l] <= '0;
    end else begin
      done_r <= 1'b0;
      sm_start <= 1'b0;
      if (start_fire) begin
        len_r <= seq_len;
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
        if (seq_len == 0) done_r <= 1'b1;
        else begin
          running <= 1'b1;
          sm_start <= 1'b1;
        end
      end
      if (k_in_TVALID && k_in_TREADY) kcnt <= kcnt + 32'd1;
      if (v_in_TVALID && v_in_TREADY) vcnt <= vcnt + 32'd1;
      if (q_in_TVALID && q_in_TREADY) begin
        qreg <= q_in_TDATA;
        have_q <= 1'b1;
        j <= '0;
        qrows <= qrows + 32'd1;
      end
      if (sc_TVALID && sc_TREADY) begin
        j <= j + 32'd1;
        if (j + 32'd1 == len_r) have_q <= 1'b0;
      end
      if (p_TVALID && p_TREADY) begin
        for (int l = 0; l < D; l++)
          acc[l] <= acc[l] + ACCW'(pv_w[l]);
        jj <= jj + 32'd1;
        if (jj + 32'd1 == len_r) out_pending <= 1'b1;
      end
      if (o_out_TVALID && o_out_TREADY) begin
        out_pending <= 1'b0;
        jj <= '0;
        for (int l = 0; l < D; l++) acc[l] <= '0;
        orows <= orows + 32'd1;
        if (orows + 32'd1 == len_r) begin
          running <= 1'b0;
          done_r <= 1'b1;
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
