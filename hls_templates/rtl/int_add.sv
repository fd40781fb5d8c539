// int_add: residual add, bit-exact with compiler/golden/ops/add.py run_int:
//   r = sat32(requant(a, a_mult[c], a_shift[c]) [+ requant(b, b_mult[c], b_shift[c])] [+ const_q[c]])
// c = element index mod n_ch (the hidden channel of a token-major stream).
// Per-tensor multipliers are the same value in every channel of the ROM;
// a missing const_q is 0; an int32 FX input uses the identity (2^30, 30).
//
// Numerics: signed 64-bit with two's-complement wrap = NumPy int64 of the golden.
//
// Interface (axis + ap_ctrl_hs, scalars sampled at ap_start):
//   a_in, b_in : one int32 element per beat (int8 producers sign-extend); b_in is
//                ignored (TREADY low) when use_b = 0;
//   r_out      : one int32 element per beat;
//   per-channel parameters: ROM of HMAX words read by $readmemh from
//   {MEM_PREFIX, "add_params.mem"}: word = {const_q[63:0], b_shift[5:0], b_mult[31:0],
//   a_shift[5:0], a_mult[31:0]} (140 bits, channel 0 first).
//   LOADABLE = 1: a RAM written through tbl_we/tbl_addr/tbl_wdata instead (no file);
//   LAYERS > 1: HMAX words per layer, layer l at l*HMAX, chosen by `layer` at ap_start.
// Pipeline of 5 stages, one global stall, II = 1: cycles = n_elems + 6 at full rate.
//
// FABRIC = 1 builds the two requant multipliers (stage 1) in LUTs: their product
// registers carry USE_DSP = "no" (Vivado, UG901), so the unit takes no DSP48E2 and
// the DSPs go to the MAC arrays.  Same function, same cycles (one RTL, two builds;
// Yosys counts of both: bench/rtl_synth_units.py add / add_fabric, the latter with
// synth_xilinx -nodsp, which maps the same multipliers to LUTs).
`default_nettype none

module int_add #(
    parameter int    HMAX       = 1024,  // most channels (n_ch <= HMAX)
    parameter int    FABRIC     = 0,     // 1: requant multipliers in LUTs (USE_DSP = "no")
    parameter        MEM_PREFIX = "",  // a string (untyped: Yosys reads no `string` parameters)
    parameter int    LAYERS     = 1,   // parameter sets held (one per encoder layer)
    parameter int    LOADABLE   = 0    // 1: parameters written through tbl_* (no $readmemh)
) (
    input  wire         ap_clk,
    input  wire         ap_rst_n,
    input  wire         ap_start,
    output logic        ap_done,
    output logic        ap_idle,
    output logic        ap_ready,
    input  wire  [31:0] n_elems,
    input  wire  [31:0] n_ch,
    input  wire         use_b,
    /* verilator lint_off UNUSEDSIGNAL */  // unused when LAYERS = 1 / LOADABLE = 0
    input  wire  [ 7:0] layer,  // 0..LAYERS-1, sampled at ap_start
    input  wire         tbl_we,
    input  wire  [31:0] tbl_addr,
    input  wire [139:0] tbl_wdata,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire  [31:0] a_in_TDATA,
    input  wire         a_in_TVALID,
    output logic        a_in_TREADY,
    input  wire  [31:0] b_in_TDATA,
    input  wire         b_in_TVALID,
    output logic        b_in_TREADY,
    output logic [31:0] r_out_TDATA,
    output logic        r_out_TVALID,
    input  wire         r_out_TREADY
);
  localparam int PIPE = 5;
  localparam int PW = 140;
  localparam int AW = $clog2(HMAX);

  localparam int LAW = $clog2(LAYERS * HMAX);

  logic running, start_fire, finish, in_fire, out_fire, adv, want, both;
  logic use_b_r;
  logic [31:0] n_r, in_cnt, out_cnt;
  logic [AW-1:0] ch;
  logic [31:0] nch_r;
  logic [PIPE-1:0] v;

  sparsehls_ap_ctrl u_ctrl (
      .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle),
      .ap_ready(ap_ready), .empty(n_elems == 0), .finish(finish), .start_fire(start_fire), .running(running)
  );
  logic [LAW-1:0] base;  // the layer's first word
  if (LAYERS == 1) begin : g_one_layer
    assign base = '0;
  end else begin : g_layers
    always_ff @(posedge ap_clk) if (start_fire) base <= LAW'(layer) * LAW'(HMAX);
  end
  assign finish = out_fire && out_cnt + 1 == n_r;
  assign adv = !v[PIPE-1] || r_out_TREADY;
  assign want = running && (in_cnt != n_r) && adv;
  assign both = a_in_TVALID && (b_in_TVALID || !use_b_r);
  assign a_in_TREADY = want && (b_in_TVALID || !use_b_r);
  assign b_in_TREADY = want && use_b_r && a_in_TVALID;
  assign in_fire = want && both;
  assign out_fire = r_out_TVALID && r_out_TREADY;
  assign r_out_TVALID = v[PIPE-1];

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      n_r <= '0;
      in_cnt <= '0;
      out_cnt <= '0;
      ch <= '0;
      nch_r <= 32'd1;
      use_b_r <= 1'b0;
    end else begin
      if (start_fire) begin
        n_r <= n_elems;
        in_cnt <= '0;
        out_cnt <= '0;
        ch <= '0;
        nch_r <= n_ch;
        use_b_r <= use_b;
      end
      if (in_fire) begin
        in_cnt <= in_cnt + 1;
        ch <= (32'(ch) + 32'd1 == nch_r) ? '0 : ch + AW'(1);
      end
      if (out_fire) out_cnt <= out_cnt + 1;
    end
  end

  logic signed [63:0] s0_a, s0_b, s1_pa, s1_pb, s2_ra, s2_rb, s3_r;
  logic signed [63:0] s1_c, s2_c;
  logic [5:0] s1_sa, s1_sb;
  logic [PW-1:0] s0_p;
  logic [31:0] s4_out;

  // the parameter table (every layer's channels): a ROM ($readmemh), or a RAM written by the
  // start-up load, in UltraRAM when deeper than 1,024 words (the generator's rule for tables)
  if (LOADABLE == 0) begin : g_rom
    logic [PW-1:0] rom[LAYERS*HMAX];
    initial $readmemh({MEM_PREFIX, "add_params.mem"}, rom);
    always_ff @(posedge ap_clk) if (adv) s0_p <= rom[base+LAW'(ch)];
  end else if (LAYERS * HMAX > 1024) begin : g_uram
    (* ram_style = "ultra" *) logic [PW-1:0] rom[LAYERS*HMAX];
    always_ff @(posedge ap_clk) if (tbl_we) rom[LAW'(tbl_addr)] <= tbl_wdata;
    always_ff @(posedge ap_clk) if (adv) s0_p <= rom[base+LAW'(ch)];
  end else begin : g_ram
    logic [PW-1:0] rom[LAYERS*HMAX];
    always_ff @(posedge ap_clk) if (tbl_we) rom[LAW'(tbl_addr)] <= tbl_wdata;
    always_ff @(posedge ap_clk) if (adv) s0_p <= rom[base+LAW'(ch)];
  end

  sparsehls_valid_pipe #(.N(PIPE)) u_valid (.clk(ap_clk), .rst_n(ap_rst_n), .en(adv), .in(in_fire), .v(v));

  always_ff @(posedge ap_clk) begin
    if (adv) begin
      s0_a <= 64'($signed(a_in_TDATA));
      s0_b <= use_b_r ? 64'($signed(b_in_TDATA)) : 64'sd0;
      s1_sa <= s0_p[37:32];
      s1_sb <= s0_p[75:70];
      s1_c <= $signed(s0_p[139:76]);
      s2_ra <= sparsehls_pkg::rshift_round(s1_pa, s1_sa);
      s2_rb <= use_b_r ? sparsehls_pkg::rshift_round(s1_pb, s1_sb) : 64'sd0;
      s2_c <= s1_c;
      s3_r <= s2_ra + s2_rb + s2_c;
      s4_out <= sparsehls_pkg::sat32(s3_r);
    end
  end
  assign r_out_TDATA = s4_out;

  // stage 1 products: on DSPs (FABRIC = 0) or in LUTs (FABRIC = 1)
  generate
    if (FABRIC != 0) begin : g_mul
      (* use_dsp = "no" *) logic signed [63:0] pa, pb;
      always_ff @(posedge ap_clk) begin
        if (adv) begin
          pa <= s0_a * $signed({32'd0, s0_p[31:0]});
          pb <= s0_b * $signed({32'd0, s0_p[69:38]});
        end
      end
      assign s1_pa = pa;
      assign s1_pb = pb;
    end else begin : g_mul
      logic signed [63:0] pa, pb;
      always_ff @(posedge ap_clk) begin
        if (adv) begin
          pa <= s0_a * $signed({32'd0, s0_p[31:0]});
          pb <= s0_b * $signed({32'd0, s0_p[69:38]});
        end
      end
      assign s1_pa = pa;
      assign s1_pb = pb;
    end
  endgenerate
endmodule

`default_nettype wire
