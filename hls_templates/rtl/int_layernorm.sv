// int_layernorm: row-streaming integer LayerNorm, W elements per beat, bit-exact with
// compiler/golden/intops.py layernorm_rows (= ops/layernorm.py run_int):
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
// Per row (one row buffer, no overlap between rows), B = ceil(h / W) beats,
// L = log2(W) adder-tree levels (one register each):
//   LOAD  B beats in (sum over an adder tree of W lanes) -> (L cycles drain)
//   MEAN  divider, 42 cycles
//   VAR   pass 1 over the buffer (W squares, adder tree) -> VDIV divider, 64 cycles
//   SQRT  bit-serial, 32 cycles      -> RECIP divider, 32 cycles
//   OUT   pass 2 over the buffer, W lanes of a 9-stage pipeline with one global stall, II = 1.
// Full-rate cycles per call: n_rows * (3B + 195 + 2L) + 1 (cycle_model.unit_cycles).
`default_nettype none

module int_layernorm #(
    parameter int    HMAX       = 1024,
    parameter        MEM_PREFIX = "",  // a string (untyped: Yosys reads no `string` parameters)
    parameter int    W          = 1    // elements per beat: a power of two, HMAX / W >= 2
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
    input  wire  [W*32-1:0] x_in_TDATA,
    input  wire             x_in_TVALID,
    output logic            x_in_TREADY,
    output logic [ W*8-1:0] y_out_TDATA,
    output logic            y_out_TVALID,
    input  wire             y_out_TREADY
);
  localparam int DEPTH = HMAX / W;  // row buffer / ROM words, one per beat
  localparam int AW = $clog2(DEPTH);
  localparam int LW = $clog2(W);  // adder-tree levels
  localparam int PW = 134;
  localparam int OP = 9;  // OUT pipeline stages
  localparam int VP = 3 + LW;  // VAR pipeline stages (read, d, d*d, tree)

  if (W < 1 || (W & (W - 1)) != 0 || HMAX % W != 0 || DEPTH < 2) begin : g_bad_w
    $error("int_layernorm: W must be a power of two that divides HMAX, with HMAX / W >= 2");
  end

  logic [W*PW-1:0] rom[DEPTH];
  initial $readmemh({MEM_PREFIX, "ln_params.mem"}, rom);
  logic [W*32-1:0] buf_r[DEPTH];

  typedef enum logic [3:0] {
    IDLE, LOAD, MEAN, MEAN_W, VAR, VDIV, VDIV_W, SQRT, SQRT_W, RECIP, RECIP_W, OUT, LDRAIN
  } state_t;
  state_t st;

  logic done_r, start_fire, in_fire, out_fire, adv, row_last;
  logic [31:0] rows_r, row, h_r, nb_r;  // nb_r: beats per row
  logic [W-1:0] last_mask_r;  // real lanes of a row's last beat
  logic [63:0] eps_r;
  logic [AW:0] idx, issued, outs;
  logic [4:0] drain;
  logic signed [63:0] sum, acc;
  logic signed [31:0] mean;  // floor mean of int32 values: in int32
  logic [31:0] inv;  // 2^31 / std <= 2^31
  logic [63:0] var_q;

  // beats per row and the lane mask of the last one, from the h port at ap_start
  logic [31:0] nb_w, last_n;
  logic [W-1:0] last_mask_w, idx_lanes, out_lanes;
  always_comb begin
    nb_w = 32'((33'(h) + 33'(W - 1)) >> LW);
    last_n = h - ((nb_w - 32'd1) << LW);
    for (int l = 0; l < W; l++) last_mask_w[l] = 32'(l) < last_n;
  end
  assign idx_lanes = 32'(idx) + 32'd1 == nb_r ? last_mask_r : '1;
  assign out_lanes = 32'(issued) + 32'd1 == nb_r ? last_mask_r : '1;

  // shared divider and square root
  logic div_start, div_done, sq_start, sq_done;
  logic [6:0] div_iter;
  logic [63:0] div_a, div_b, div_q;
  logic [31:0] sq_root;
  int_divu #(.W(64)) u_div (
      .clk(ap_clk), .rst_n(ap_rst_n), .start(div_start), .n_iter(div_iter),
      .dividend(div_a), .divisor(div_b), .done(div_done), .quotient(div_q)
  );
  int_isqrt u_sqrt (
      .clk(ap_clk), .rst_n(ap_rst_n), .start(sq_start), .v(var_q + eps_r),
      .done(sq_done), .root(sq_root)
  );

  assign start_fire = ap_start && st == IDLE && !done_r;
  assign ap_idle = st == IDLE;
  assign ap_done = done_r;
  assign ap_ready = done_r;
  assign x_in_TREADY = st == LOAD;
  assign in_fire = x_in_TVALID && x_in_TREADY;
  assign row_last = row + 32'd1 == rows_r;

  // ---------------- adder trees: 0 = LOAD sum, 1 = VAR sum of squares ----------------
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

  // ---------------- control ----------------
  logic [VP-1:0] vv;
  logic [OP-1:0] ov;
  logic issue;
  assign adv = !ov[OP-1] || y_out_TREADY;
  assign issue = st == OUT && adv && 32'(issued) != nb_r;
  assign out_fire = y_out_TVALID && y_out_TREADY;
  assign y_out_TVALID = ov[OP-1];

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      st <= IDLE;
      done_r <= 1'b0;
      rows_r <= '0;
      row <= '0;
      h_r <= 32'd1;
      nb_r <= 32'd1;
      last_mask_r <= '1;
      eps_r <= '0;
      idx <= '0;
      issued <= '0;
      outs <= '0;
      drain <= '0;
      sum <= '0;
      mean <= '0;
      acc <= '0;
      inv <= '0;
      var_q <= '0;
      div_start <= 1'b0;
      sq_start <= 1'b0;
      div_iter <= 7'd64;
      div_a <= '0;
      div_b <= 64'd1;
    end else begin
      done_r <= 1'b0;
      div_start <= 1'b0;
      sq_start <= 1'b0;
      sum <= sum + $signed(root[0]);
      acc <= acc + $signed(root[1]);
      case (st)
        IDLE:
        if (start_fire) begin
          rows_r <= n_rows;
          h_r <= h;
          nb_r <= nb_w;
          last_mask_r <= last_mask_w;
          eps_r <= {32'd0, eps_q};
          row <= '0;
          idx <= '0;
          sum <= '0;
          if (n_rows == 0) done_r <= 1'b1;
          else st <= LOAD;
        end
        LOAD:
        if (in_fire) begin
          idx <= idx + 1'b1;
          if (32'(idx) + 32'd1 == nb_r) begin
            drain <= 5'(LW);
            st <= LW == 0 ? MEAN : LDRAIN;
          end
        end
        LDRAIN: begin  // the last beat's lanes reach `sum` through the tree
          drain <= drain - 5'd1;
          if (drain == 5'd1) st <= MEAN;
        end
        MEAN: begin  // floor(sum / h) = -ceil(|sum| / h) for a negative sum
          div_a <= sum[63] ? 64'(-sum) + 64'(h_r) - 64'd1 : sum;
          div_b <= 64'(h_r);
          div_iter <= 7'd42;  // |sum| + h - 1 < 2^42 for h <= 1024
          div_start <= 1'b1;
          st <= MEAN_W;
        end
        MEAN_W:
        if (div_done) begin
          mean <= sum[63] ? -$signed(div_q[31:0]) : $signed(div_q[31:0]);
          idx <= '0;
          acc <= '0;
          st <= VAR;
        end
        VAR: begin
          if (32'(idx) != nb_r) idx <= idx + 1'b1;
          if (32'(idx) == nb_r && vv == '0) st <= VDIV;
        end
        VDIV: begin
          div_a <= acc;
          div_b <= 64'(h_r);
          div_iter <= 7'd64;
          div_start <= 1'b1;
          st <= VDIV_W;
        end
        VDIV_W:
        if (div_done) begin
          var_q <= div_q;
          st <= SQRT;
        end
        SQRT: begin
          sq_start <= 1'b1;
          st <= SQRT_W;
        end
        SQRT_W:
        if (sq_done) st <= RECIP;
        RECIP: begin
          div_a <= 64'd1 << 31;
          div_b <= sq_root == 0 ? 64'd1 : {32'd0, sq_root};
          div_iter <= 7'd32;
          div_start <= 1'b1;
          st <= RECIP_W;
        end
        RECIP_W:
        if (div_done) begin
          inv <= div_q[31:0];
          issued <= '0;
          outs <= '0;
          st <= OUT;
        end
        OUT: begin
          if (issue) issued <= issued + 1'b1;
          if (out_fire) begin
            outs <= outs + 1'b1;
            if (32'(outs) + 32'd1 == nb_r) begin
              row <= row + 32'd1;
              idx <= '0;
              sum <= '0;
              if (row_last) begin
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
    if (in_fire) buf_r[idx[AW-1:0]] <= x_in_TDATA;
  end

  // one buffer read port: the VAR pass reads every cycle, the OUT pass when it advances
  logic [W*32-1:0] rd_x;
  always_ff @(posedge ap_clk) begin
    if (st != OUT || adv) rd_x <= buf_r[st == OUT ? issued[AW-1:0] : idx[AW-1:0]];
  end

  // ---------------- VAR pass: acc += sum over lanes of (buf[i] - mean)^2 ----------------
  logic [W-1:0] v_m1;  // lanes of the beat read into rd_x (0: bubble or pad lane)
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) vv <= '0;
    else vv <= {vv[VP-2:0], st == VAR && 32'(idx) != nb_r};
    v_m1 <= st == VAR && 32'(idx) != nb_r ? idx_lanes : '0;
  end

  // ---------------- OUT pass ----------------
  logic [W*PW-1:0] o_w0;
  logic [OP-2:0][W-1:0] om;  // lane masks of OUT stages 1..OP-1
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) ov <= '0;
    else if (adv) ov <= {ov[OP-2:0], issue};
  end
  always_ff @(posedge ap_clk) begin
    if (adv) begin
      o_w0 <= rom[issued[AW-1:0]];
      om <= {om[OP-3:0], out_lanes};
    end
  end

  logic signed [32:0] inv_s, mean_s;
  assign inv_s = $signed({1'b0, inv});
  assign mean_s = 33'(mean);

  for (genvar l = 0; l < W; l++) begin : g_lane
    // LOAD: pad lanes of a row's last beat add nothing
    assign leaf[0][l] = in_fire && idx_lanes[l] ? 64'($signed(x_in_TDATA[32*l+:32])) : '0;

    // VAR: read (rd_x), d, d*d -> tree 1
    logic signed [32:0] v_d;
    logic signed [63:0] v_dd;
    always_ff @(posedge ap_clk) begin
      v_d <= v_m1[l] ? 33'($signed(rd_x[32*l+:32])) - mean_s : '0;
      v_dd <= 64'(v_d * v_d);
    end
    assign leaf[1][l] = v_dd;

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
        o_d <= 33'($signed(rd_x[32*l+:32])) - mean_s;
        o_w1 <= o_w0[PW*l+:PW];
        o_p <= 64'(o_d * inv_s);
        o_w2 <= o_w1;
        o_y <= 45'((o_p + 64'sd262144) >>> 19);
        o_w3 <= o_w2;
        o_yg <= 64'(o_y * o_gamma);
        o_w4 <= o_w3[PW-1:32];
        o_z <= 52'((o_yg + o_beta + 64'sd2048) >>> 12);
        o_w5 <= o_w4[69:32];
        o_zm <= 64'(o_z * o_mult);
        o_s6 <= o_w5[69:64];
        o_q <= (o_zm + (64'sd1 <<< (o_s6 - 6'd1))) >>> o_s6;
        if (!om[OP-2][l]) o_out <= '0;  // pad lane
        else o_out <= o_q > 64'sd127 ? 8'h7f : (o_q < -64'sd128 ? 8'h80 : o_q[7:0]);
      end
    end
    assign y_out_TDATA[8*l+:8] = o_out;
  end
endmodule

`default_nettype wire
