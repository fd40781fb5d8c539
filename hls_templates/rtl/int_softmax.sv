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
// Per row (one row buffer, no overlap between rows):
//   LOAD  row_len beats in (running max)
//   EXP   pass 1 over the buffer, 10-stage pipeline: e -> buffer, sum
//   RECIP divider 2^32 / sum, 33 cycles
//   OUT   pass 2 over the buffer, 4-stage pipeline with one global stall, II = 1.
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
  logic signed [31:0] s_buf[LMAX];
  logic v_buf[LMAX];
  logic [15:0] e_buf[LMAX];  // e <= iexp(0) = 16389 < 2^15

  typedef enum logic [2:0] {IDLE, LOAD, EXPP, RECIP, RECIP_W, OUT} state_t;
  state_t st;

  logic done_r, start_fire, in_fire, out_fire, adv, issue;
  logic [31:0] rows_r, row, len_r;
  logic [31:0] mult_r;  // the port's full range: the product below wraps like int64
  logic signed [32:0] smax;  // NEG or an int32 score
  logic [SW-1:0] sum;
  logic [17:0] recip;  // 2^32 / sum <= 262069 < 2^18: sum >= iexp(0) = 16389 (the max key has d = 0)
  logic [5:0] shift_r;
  logic [AW:0] idx, issued, outs;
  logic [EP-1:0] ev;
  logic [OP-1:0] ov;

  logic div_start, div_done;
  logic [DW-1:0] div_q;
  logic unused_q;  // quotient bits above 2^18: only a row without valid keys (sum 0) has them, and its e are 0
  assign unused_q = ^div_q[DW-1:18];
  int_divu #(.W(DW)) u_div (
      .clk(ap_clk), .rst_n(ap_rst_n), .start(div_start), .n_iter(7'd33),
      .dividend(DW'(1) << 32), .divisor(DW'(sum)), .done(div_done), .quotient(div_q)
  );

  assign start_fire = ap_start && st == IDLE && !done_r;
  assign ap_idle = st == IDLE;
  assign ap_done = done_r;
  assign ap_ready = done_r;
  assign x_in_TREADY = st == LOAD;
  assign in_fire = x_in_TVALID && x_in_TREADY;
  assign adv = !ov[OP-1] || y_out_TREADY;
  assign issue = st == OUT && adv && 32'(issued) != len_r;
  assign out_fire = y_out_TVALID && y_out_TREADY;
  assign y_out_TVALID = ov[OP-1];

  // EXP pass datapath (free-running pipeline; no stall: nothing leaves the unit).
  // Ranges are those of a valid key (a masked key's e is forced to 0 at stage 10).
  logic signed [31:0] e_s;  // the int32 score
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
  logic [AW-1:0] e_i[EP];
  logic [15:0] e_out;
  logic [4:0] q_w;
  logic [17:0] qln2_w;  // q*LN2 <= 16*LN2 = 181712 < 2^18: a 17-entry table (no DSP)
  logic [38:0] qa_lo_w;  // QA*tt[25:0] < 5874 * 2^26 < 2^39 (one DSP)
  logic [15:0] qa_hi_w;  // QA*tt[28:26] <= 7*5874 < 2^16: an 8-entry table
  logic [42:0] ex_w;  // QA*tt + QC < 2^42
  always_comb begin
    q_w = '0;
    for (int k = 1; k <= 16; k++) if (-e_dd >= 19'(k * int'(LN2))) q_w = 5'(k);
    qln2_w = '0;
    for (int k = 1; k <= 16; k++) if (e_q == 5'(k)) qln2_w = 18'(k * int'(LN2));
    qa_lo_w = 39'(e_tt[25:0]) * 39'(QA);
    qa_hi_w = '0;
    for (int k = 1; k < 8; k++) if (e_tt[28:26] == 3'(k)) qa_hi_w = 16'(k * int'(QA));
    ex_w = 43'(qa_lo_w) + {1'b0, qa_hi_w, 26'd0} + 43'(QC);
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      st <= IDLE;
      done_r <= 1'b0;
      rows_r <= '0;
      row <= '0;
      len_r <= 32'd1;
      mult_r <= '0;
      shift_r <= 6'd1;
      smax <= NEG;
      sum <= '0;
      recip <= '0;
      idx <= '0;
      issued <= '0;
      outs <= '0;
      div_start <= 1'b0;
    end else begin
      done_r <= 1'b0;
      div_start <= 1'b0;
      case (st)
        IDLE:
        if (start_fire) begin
          rows_r <= n_rows;
          len_r <= row_len;
          mult_r <= sm_mult;
          shift_r <= sm_shift;
          row <= '0;
          idx <= '0;
          smax <= NEG;
          if (n_rows == 0) done_r <= 1'b1;
          else st <= LOAD;
        end
        LOAD:
        if (in_fire) begin
          if (x_in_TDATA[32] && 33'($signed(x_in_TDATA[31:0])) > smax) smax <= 33'($signed(x_in_TDATA[31:0]));
          idx <= idx + 1'b1;
          if (32'(idx) + 32'd1 == len_r) begin
            st <= EXPP;
            idx <= '0;
            sum <= '0;
          end
        end
        EXPP: begin
          if (32'(idx) != len_r) idx <= idx + 1'b1;
          if (ev[EP-1]) sum <= sum + SW'(e_out);
          if (32'(idx) == len_r && ev == '0) st <= RECIP;
        end
        RECIP: begin
          div_start <= 1'b1;
          st <= RECIP_W;
        end
        RECIP_W:
        if (div_done) begin
          recip <= div_q[17:0];
          issued <= '0;
          outs <= '0;
          st <= OUT;
        end
        OUT: begin
          if (issue) issued <= issued + 1'b1;
          if (out_fire) begin
            outs <= outs + 1'b1;
            if (32'(outs) + 32'd1 == len_r) begin
              row <= row + 32'd1;
              idx <= '0;
              smax <= NEG;
              if (row + 32'd1 == rows_r) begin
                st <= IDLE;
                done_r <= 1'b1;
              end else st <= LOAD;
            end
          end
        end
        default: st <= IDLE;
      endcase
    end
  end

  always_ff @(posedge ap_clk) begin
    if (in_fire) begin
      s_buf[idx[AW-1:0]] <= $signed(x_in_TDATA[31:0]);
      v_buf[idx[AW-1:0]] <= x_in_TDATA[32];
    end
    if (ev[EP-1]) e_buf[e_i[EP-1]] <= e_out;
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) ev <= '0;
    else ev <= {ev[EP-2:0], st == EXPP && 32'(idx) != len_r};
    e_i[0] <= idx[AW-1:0];
    for (int k = 1; k < EP; k++) e_i[k] <= e_i[k-1];
    e_vk <= {e_vk[EP-3:0], v_buf[idx[AW-1:0]]};
    e_s <= s_buf[idx[AW-1:0]];                                       // 1
    e_diff <= 33'(e_s) - smax;                                       // 2
    e_p <= 64'(e_diff) * 64'($signed({1'b0, mult_r}));              // 3
    e_d <= (e_p + (64'sd1 <<< (shift_r - 6'd1))) >>> shift_r;        // 4
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

  // OUT pass: p = min(255, (e * recip + 2^23) >> 24)
  logic [15:0] o_e;  // e <= 16389
  logic [32:0] o_p;  // e * recip <= sum * (2^32 / sum) <= 2^32
  logic [8:0] o_r;  // (o_p + 2^23) >> 24 <= 256
  logic [7:0] o_out;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) ov <= '0;
    else if (adv) ov <= {ov[OP-2:0], issue};
  end
  always_ff @(posedge ap_clk) begin
    if (adv) begin
      o_e <= e_buf[issued[AW-1:0]];
      o_p <= 33'(o_e) * 33'(recip);
      o_r <= 9'((34'(o_p) + 34'd8388608) >> 24);
      o_out <= o_r > 9'd255 ? 8'hff : o_r[7:0];
    end
  end
  assign y_out_TDATA = o_out;
endmodule

`default_nettype wire
