// int_softmax: row-streaming integer softmax, bit-exact with
// compiler/golden/intops.py softmax_rows (the softmax of ops/attention.py run_int):
//   m = max over valid keys (-2^40 if none); d = requant(s - m, sm_mult, sm_shift)
//   e = valid ? iexp(d) : 0; sum = sum(e); r = floor(2^32 / sum)
//   p = min(255, rshift_round(e * r, 24))            (uint8, scale 1/256)
// iexp: dd = max(d, -16*LN2); q = floor(-dd / LN2) (a comparator chain, q <= 16);
//   t = dd + q*LN2 + QB; e = ((QA*t*t + QC) >> 28) >> q.
// Numerics: signed 64-bit with two's-complement wrap (NumPy int64).
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
  localparam logic signed [63:0] LN2 = 64'sd11357;  // round(ln 2 * 2^14)
  localparam logic signed [63:0] QB = 64'sd22168;  // round(1.353 * 2^14)
  localparam logic signed [63:0] QA = 64'sd5874;  // round(0.3585 * 2^14)
  localparam logic signed [63:0] QC = 64'sd1512927999820;  // round(0.344 * 2^42)
  localparam logic signed [63:0] CLAMP = -64'sd181712;  // -16 * LN2
  localparam logic signed [63:0] NEG = -64'sd1099511627776;  // -2^40

  logic unused_pad;  // TDATA[39:33]: byte padding of the {valid, score} beat
  assign unused_pad = ^x_in_TDATA[39:33];
  logic signed [31:0] s_buf[LMAX];
  logic v_buf[LMAX];
  logic [15:0] e_buf[LMAX];  // e <= iexp(0) = 16389 < 2^15

  typedef enum logic [2:0] {IDLE, LOAD, EXPP, RECIP, RECIP_W, OUT} state_t;
  state_t st;

  logic done_r, start_fire, in_fire, out_fire, adv, issue;
  logic [31:0] rows_r, row, len_r;
  logic signed [63:0] mult_r, smax, sum, recip;
  logic [5:0] shift_r;
  logic [AW:0] idx, issued, outs;
  logic [EP-1:0] ev;
  logic [OP-1:0] ov;

  logic div_start, div_done;
  logic [63:0] div_q;
  int_divu #(.W(64)) u_div (
      .clk(ap_clk), .rst_n(ap_rst_n), .start(div_start), .n_iter(7'd33),
      .dividend(64'd1 << 32), .divisor(sum), .done(div_done), .quotient(div_q)
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

  // EXP pass datapath (free-running pipeline; no stall: nothing leaves the unit)
  logic signed [63:0] e_s, e_diff, e_p, e_d, e_dd, e_r, e_t, e_tt, e_e;
  logic [4:0] e_q, e_q2, e_q3, e_q4;
  logic [EP-2:0] e_vk;  // valid-key flag, stages 1..EP-1
  logic [AW-1:0] e_i[EP];
  logic [15:0] e_out;
  logic [4:0] q_w;
  always_comb begin
    q_w = '0;
    for (int k = 1; k <= 16; k++) if (-e_dd >= 64'(k) * LN2) q_w = 5'(k);
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
          mult_r <= {32'd0, sm_mult};
          shift_r <= sm_shift;
          row <= '0;
          idx <= '0;
          smax <= NEG;
          if (n_rows == 0) done_r <= 1'b1;
          else st <= LOAD;
        end
        LOAD:
        if (in_fire) begin
          if (x_in_TDATA[32] && 64'($signed(x_in_TDATA[31:0])) > smax) smax <= 64'($signed(x_in_TDATA[31:0]));
          idx <= idx + 1'b1;
          if (32'(idx) + 32'd1 == len_r) begin
            st <= EXPP;
            idx <= '0;
            sum <= '0;
          end
        end
        EXPP: begin
          if (32'(idx) != len_r) idx <= idx + 1'b1;
          if (ev[EP-1]) sum <= sum + 64'(e_out);
          if (32'(idx) == len_r && ev == '0) st <= RECIP;
        end
        RECIP: begin
          div_start <= 1'b1;
          st <= RECIP_W;
        end
        RECIP_W:
        if (div_done) begin
          recip <= $signed(div_q);
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
    e_s <= 64'(s_buf[idx[AW-1:0]]);                                  // 1
    e_diff <= e_s - smax;                                            // 2
    e_p <= e_diff * mult_r;                                          // 3
    e_d <= (e_p + (64'sd1 <<< (shift_r - 6'd1))) >>> shift_r;        // 4
    e_dd <= e_d < CLAMP ? CLAMP : e_d;                               // 5
    e_q <= q_w;                                                      // 6
    e_r <= e_dd;
    e_t <= e_r + 64'(e_q) * LN2 + QB;                                // 7
    e_q2 <= e_q;
    e_tt <= e_t * e_t;                                               // 8
    e_q3 <= e_q2;
    e_e <= (QA * e_tt + QC) >>> 28;                                  // 9
    e_q4 <= e_q3;
    e_out <= e_vk[EP-2] ? 16'(e_e >>> e_q4) : 16'd0;                 // 10 -> buffer, sum
  end

  // OUT pass: p = min(255, (e * recip + 2^23) >> 24)
  logic [15:0] o_e;
  logic signed [63:0] o_p, o_r;
  logic [7:0] o_out;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) ov <= '0;
    else if (adv) ov <= {ov[OP-2:0], issue};
  end
  always_ff @(posedge ap_clk) begin
    if (adv) begin
      o_e <= e_buf[issued[AW-1:0]];
      o_p <= 64'(o_e) * recip;
      o_r <= (o_p + 64'sd8388608) >>> 24;
      o_out <= o_r > 64'sd255 ? 8'hff : (o_r < 0 ? 8'h00 : o_r[7:0]);
    end
  end
  assign y_out_TDATA = o_out;
endmodule

`default_nettype wire
