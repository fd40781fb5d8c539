// int_softmax: row-streaming integer softmax, bit-exact with
// compiler/golden/intops.py softmax_rows (the softmax of ops/attention.py run_int):
//   m = max over valid keys (-2^40 if none); d = requant(s - m, sm_mult, sm_shift)
//   e = valid ? iexp(d) : 0; sum = sum(e); r = floor(2^32 / sum)
//   p = min(255, rshift_round(e * r, 24))            (uint8, scale 1/256)
// iexp: dd = max(d, -16*LN2); q = floor(-dd / LN2) (a comparator chain, q <= 16);
//   t = dd + q*LN2 + QB; e = ((QA*t*t + QC) >> 28) >> q.
// Numerics: every value a valid key's output depends on equals the golden's NumPy int64
// value (with its wrap) for any score and any port value; registers are only as wide as
// their range (the comment next to each says why).  hw_tests/test_unit_ranges.py checks
// this arithmetic against intops.softmax_rows / iexp (every d in the clamp range, int32
// score edges, 10^6 random scores, multiplier/shift extremes).  DSPs: (s-m)*M 33x33 bits
// (4), t*t (1), QA*tt (1, its top 3 bits of tt in LUTs), e*r (1).
//
// Interface (axis + ap_ctrl_hs, scalars sampled at ap_start):
//   x_in  : one key per beat, TDATA[31:0] = int32 score, TDATA[32] = valid
//           (attention mask), n_rows rows of row_len beats (row_len <= LMAX);
//   y_out : one uint8 probability per beat, same order.
// Rows overlap: NBUF = 4 row buffers, each row in buffer row % NBUF, four stages working on
// different rows at once (rows pass every stage in order):
//   LOAD  row_len beats in (running max), while fewer than NBUF rows are in the unit
//   EXP   pass 1 over a loaded row, 10-stage pipeline: e -> buffer, sum (rows back to back)
//   RECIP divider 2^32 / sum, 33 iterations, one row at a time (sums wait per buffer)
//   OUT   pass 2 over a row whose reciprocal is known, 4-stage pipeline with one global
//         stall, II = 1; a row's last beat out frees its buffer.
// In steady state a row is taken every row_len cycles (x_in never waits for rows_len >= 40 or
// so); the first row's latency is that of a row alone (load, exp pass, divider, output pass).
`default_nettype none

module int_softmax #(
    parameter int LMAX = 512
) (
    input  wire         ap_clk,
    input  wire         ap_rst_n,
    input  wire         ap_start,
    output logic        ap_done,
    output logic        ap_idle,
    output logic        ap_ready,
    input  wire  [31:0] n_rows,
    input  wire  [31:0] row_len,   // 1..LMAX
    input  wire  [31:0] sm_mult,   // 0 <= M < 2^31
    input  wire  [ 5:0] sm_shift,  // 1..62
    input  wire  [39:0] x_in_TDATA,
    input  wire         x_in_TVALID,
    output logic        x_in_TREADY,
    output logic [ 7:0] y_out_TDATA,
    output logic        y_out_TVALID,
    input  wire         y_out_TREADY
);
  localparam int AW = $clog2(LMAX);
  localparam int NBUF = 4;  // row buffers
  localparam int BW = 2;  // log2(NBUF)
  localparam int EP = 10;  // EXP pipeline stages
  localparam int OP = 4;  // OUT pipeline stages
  localparam int SW = AW + 15;  // sum of <= LMAX exponents e <= iexp(0) = 16389 < 2^15
  localparam int DW = SW > 33 ? SW : 33;  // divider width: dividend 2^32
  localparam logic [13:0] LN2 = 14'd11357;  // round(ln 2 * 2^14)
  localparam logic [14:0] QB = 15'd22168;  // round(1.353 * 2^14)
  localparam logic [12:0] QA = 13'd5874;  // round(0.3585 * 2^14)
  localparam logic [40:0] QC = 41'd1512927999820;  // round(0.344 * 2^42)
  localparam logic signed [18:0] CLAMP = -19'sd181712;  // -16 * LN2
  // the golden's max of a row without valid keys is -2^40; any value below every int32 gives
  // the same max over valid keys (and a row without valid keys outputs 0 whatever its max)
  localparam logic signed [32:0] NEG = -33'sd4294967296;  // -2^32

  logic unused_pad;  // TDATA[39:33]: byte padding of the {valid, score} beat
  assign unused_pad = ^x_in_TDATA[39:33];
  logic signed [31:0] s_buf[NBUF*LMAX];
  logic v_buf[NBUF*LMAX];
  logic [15:0] e_buf[NBUF*LMAX];  // e <= iexp(0) = 16389 < 2^15
  logic signed [32:0] smax_q[NBUF];  // a loaded row's max
  logic [SW-1:0] sum_q[NBUF];  // an exp-passed row's sum
  logic [17:0] recip_q[NBUF];  // 2^32 / sum <= 262069 < 2^18: sum >= iexp(0) = 16389 (the max key has d = 0)

  logic running, start_fire, finish, in_fire, out_fire, adv, issue, ex_go;
  logic [31:0] rows_r, len_r;
  logic [31:0] mult_r;  // the port's full range: the product below wraps like int64
  logic [5:0] shift_r;
  // rows, counted from the call's start: loaded, exp-issued, summed, with a reciprocal,
  // output-issued, out (a row's buffer is free again once it is out)
  logic [31:0] ld_row, ex_row, sm_row, rc_row, oi_row, out_row;
  logic [AW:0] ld_idx, ex_idx, issued, outs;
  logic signed [32:0] cur_max;  // NEG or an int32 score
  logic [SW-1:0] sum;
  logic [EP-1:0] ev;
  logic [OP-1:0] ov;

  logic div_start, div_busy, div_done;
  logic [DW-1:0] div_q;
  logic unused_q;  // quotient bits above 2^18: only a row without valid keys (sum 0) has them, and its e are 0
  assign unused_q = ^div_q[DW-1:18];
  int_divu #(.W(DW)) u_div (
      .clk(ap_clk), .rst_n(ap_rst_n), .start(div_start), .n_iter(7'd33),
      .dividend(DW'(1) << 32), .divisor(DW'(sum_q[rc_row[BW-1:0]])), .done(div_done), .quotient(div_q)
  );

  logic signed [32:0] in_s;
  logic [31:0] in_rows;  // rows in the unit (loaded or loading, not yet out)
  assign in_s = 33'($signed(x_in_TDATA[31:0]));
  assign in_rows = ld_row - out_row;
  sparsehls_ap_ctrl u_ctrl (
      .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle),
      .ap_ready(ap_ready), .empty(n_rows == 0), .finish(finish), .start_fire(start_fire), .running(running)
  );
  // the last output of the last row
  assign finish = out_fire && 32'(outs) + 32'd1 == len_r && out_row + 32'd1 == rows_r;
  assign x_in_TREADY = running && ld_row != rows_r && in_rows < 32'(NBUF);
  assign in_fire = x_in_TVALID && x_in_TREADY;
  assign ex_go = running && ex_row != ld_row;  // the row is loaded
  assign adv = !ov[OP-1] || y_out_TREADY;
  assign issue = running && oi_row != rc_row && adv;  // the row has its reciprocal
  assign out_fire = y_out_TVALID && y_out_TREADY;
  assign y_out_TVALID = ov[OP-1];

  // EXP pass datapath (free-running pipeline; no stall: nothing leaves the unit).
  // Ranges are those of a valid key (a masked key's e is forced to 0 at stage 10).
  logic signed [31:0] e_s;  // the int32 score
  logic signed [32:0] e_m;  // its row's max
  logic signed [32:0] e_diff;  // s - max in [-(2^32-1), 0]
  logic signed [63:0] e_p, e_d;  // (s-max)*M mod 2^64 and d = requant: any int64, as the golden's
  // dd = max(d, CLAMP) in [CLAMP, 0] (the golden's clamp).  d > 0 needs M >= 2^31 (the quantizer's
  // M < 2^31 never does it); the golden's iexp(d > 0) is 0 (e >> q with q < 0 is 0 in NumPy), and
  // so is iexp(CLAMP) = 16389 >> 16: d > 0 maps to CLAMP.
  logic signed [18:0] e_dd, e_r;
  logic [14:0] e_t;  // t = r + QB in [QB - LN2 + 1, QB] = [10812, 22168], r = dd + q*LN2 in (-LN2, 0]
  logic [28:0] e_tt;  // t*t <= 22168^2 < 2^29
  logic [14:0] e_e;  // (QA*tt + QC) >> 28 <= iexp(0) = 16389 < 2^15
  logic [4:0] e_q, e_q2, e_q3, e_q4;
  logic [EP-2:0] e_vk;  // valid-key flag, stages 1..EP-1
  logic [AW+BW-1:0] e_i[EP];  // {buffer, index}
  logic [EP-1:0] e_first, e_last;  // the row's first / last key
  logic [15:0] e_out;
  logic [4:0] q_w;
  logic [17:0] qln2_w;  // q*LN2 <= 16*LN2 = 181712 < 2^18: a 17-entry table (no DSP)
  logic [38:0] qa_lo_w;  // QA*tt[25:0] < 5874 * 2^26 < 2^39 (one DSP)
  logic [15:0] qa_hi_w;  // QA*tt[28:26] <= 7*5874 < 2^16: an 8-entry table
  logic [42:0] ex_w;  // QA*tt + QC < 2^42
  logic [SW-1:0] sum_w;  // the row's sum including the key at stage 10
  always_comb begin
    q_w = '0;
    for (int k = 1; k <= 16; k++) if (-e_dd >= 19'(k * int'(LN2))) q_w = 5'(k);
    qln2_w = '0;
    for (int k = 1; k <= 16; k++) if (e_q == 5'(k)) qln2_w = 18'(k * int'(LN2));
    qa_lo_w = 39'(e_tt[25:0]) * 39'(QA);
    qa_hi_w = '0;
    for (int k = 1; k < 8; k++) if (e_tt[28:26] == 3'(k)) qa_hi_w = 16'(k * int'(QA));
    ex_w = 43'(qa_lo_w) + {1'b0, qa_hi_w, 26'd0} + 43'(QC);
    sum_w = (e_first[EP-1] ? '0 : sum) + SW'(e_out);
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      rows_r <= '0;
      len_r <= 32'd1;
      mult_r <= '0;
      shift_r <= 6'd1;
      ld_row <= '0;
      ex_row <= '0;
      sm_row <= '0;
      rc_row <= '0;
      oi_row <= '0;
      out_row <= '0;
      ld_idx <= '0;
      ex_idx <= '0;
      issued <= '0;
      outs <= '0;
      cur_max <= NEG;
      sum <= '0;
      div_start <= 1'b0;
      div_busy <= 1'b0;
    end else begin
      div_start <= 1'b0;
      if (start_fire) begin
        rows_r <= n_rows;
        len_r <= row_len;
        mult_r <= sm_mult;
        shift_r <= sm_shift;
        ld_row <= '0;
        ex_row <= '0;
        sm_row <= '0;
        rc_row <= '0;
        oi_row <= '0;
        out_row <= '0;
        ld_idx <= '0;
        ex_idx <= '0;
        issued <= '0;
        outs <= '0;
        cur_max <= NEG;
      end
      // LOAD: a row's scores into its buffer, its max into smax_q at its last key
      if (in_fire) begin
        ld_idx <= ld_idx + 1'b1;
        if (x_in_TDATA[32] && in_s > cur_max) cur_max <= in_s;
        if (32'(ld_idx) + 32'd1 == len_r) begin
          smax_q[ld_row[BW-1:0]] <= x_in_TDATA[32] && in_s > cur_max ? in_s : cur_max;
          cur_max <= NEG;
          ld_idx <= '0;
          ld_row <= ld_row + 32'd1;
        end
      end
      // EXP issue: one key of a loaded row per cycle, rows back to back
      if (ex_go) begin
        ex_idx <= ex_idx + 1'b1;
        if (32'(ex_idx) + 32'd1 == len_r) begin
          ex_idx <= '0;
          ex_row <= ex_row + 32'd1;
        end
      end
      // stage 10: the row's sum; at its last key, into sum_q (the divider takes rows in order)
      if (ev[EP-1]) begin
        sum <= sum_w;
        if (e_last[EP-1]) begin
          sum_q[sm_row[BW-1:0]] <= sum_w;
          sm_row <= sm_row + 32'd1;
        end
      end
      // RECIP: 2^32 / sum, one row at a time
      if (!div_busy && rc_row != sm_row && running) begin
        div_start <= 1'b1;
        div_busy <= 1'b1;
      end
      if (div_done) begin
        recip_q[rc_row[BW-1:0]] <= div_q[17:0];
        rc_row <= rc_row + 32'd1;
        div_busy <= 1'b0;
      end
      // OUT issue / out
      if (issue) begin
        issued <= issued + 1'b1;
        if (32'(issued) + 32'd1 == len_r) begin
          issued <= '0;
          oi_row <= oi_row + 32'd1;
        end
      end
      if (out_fire) begin
        outs <= outs + 1'b1;
        if (32'(outs) + 32'd1 == len_r) begin
          outs <= '0;
          out_row <= out_row + 32'd1;
        end
      end
    end
  end

  always_ff @(posedge ap_clk) begin
    if (in_fire) begin
      s_buf[{ld_row[BW-1:0], ld_idx[AW-1:0]}] <= $signed(x_in_TDATA[31:0]);
      v_buf[{ld_row[BW-1:0], ld_idx[AW-1:0]}] <= x_in_TDATA[32];
    end
    if (ev[EP-1]) e_buf[e_i[EP-1]] <= e_out;
  end

  sparsehls_valid_pipe #(.N(EP)) u_ev (.clk(ap_clk), .rst_n(ap_rst_n), .en(1'b1), .in(ex_go), .v(ev));
  always_ff @(posedge ap_clk) begin
    e_i[0] <= {ex_row[BW-1:0], ex_idx[AW-1:0]};
    for (int k = 1; k < EP; k++) e_i[k] <= e_i[k-1];
    e_first <= {e_first[EP-2:0], ex_idx == '0};
    e_last <= {e_last[EP-2:0], 32'(ex_idx) + 32'd1 == len_r};
    e_vk <= {e_vk[EP-3:0], v_buf[{ex_row[BW-1:0], ex_idx[AW-1:0]}]};
    e_s <= s_buf[{ex_row[BW-1:0], ex_idx[AW-1:0]}];                  // 1
    e_m <= smax_q[ex_row[BW-1:0]];
    e_diff <= 33'(e_s) - e_m;                                        // 2
    e_p <= 64'(e_diff) * 64'($signed({1'b0, mult_r}));              // 3
    e_d <= sparsehls_pkg::rshift_round(e_p, shift_r);                // 4
    e_dd <= e_d < 64'(CLAMP) || e_d > 64'sd0 ? CLAMP : 19'(e_d);     // 5
    e_q <= q_w;                                                      // 6
    e_r <= e_dd;
    e_t <= 15'(e_r + $signed({1'b0, qln2_w}) + $signed({1'b0, QB})); // 7
    e_q2 <= e_q;
    e_tt <= 29'(e_t) * 29'(e_t);                                     // 8
    e_q3 <= e_q2;
    e_e <= 15'(ex_w >> 28);                                          // 9
    e_q4 <= e_q3;
    e_out <= e_vk[EP-2] ? 16'(e_e >> e_q4) : 16'd0;                  // 10 -> buffer, sum
  end

  // OUT pass: p = min(255, (e * recip + 2^23) >> 24), the row's recip carried with each key
  logic [15:0] o_e;  // e <= 16389
  logic [17:0] o_rc;
  logic [32:0] o_p;  // e * recip <= sum * (2^32 / sum) <= 2^32
  logic [8:0] o_r;  // (o_p + 2^23) >> 24 <= 256
  logic [7:0] o_out;
  sparsehls_valid_pipe #(.N(OP)) u_ov (.clk(ap_clk), .rst_n(ap_rst_n), .en(adv), .in(issue), .v(ov));
  always_ff @(posedge ap_clk) begin
    if (adv) begin
      o_e <= e_buf[{oi_row[BW-1:0], issued[AW-1:0]}];
      o_rc <= recip_q[oi_row[BW-1:0]];
      o_p <= 33'(o_e) * 33'(o_rc);
      o_r <= 9'(sparsehls_pkg::rshift_round(64'(o_p), 6'd24));
      o_out <= o_r > 9'd255 ? 8'hff : o_r[7:0];
    end
  end
  assign y_out_TDATA = o_out;
endmodule

`default_nettype wire
