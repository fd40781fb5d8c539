// sparsehls_pkg: what every RTL unit shares.
//
// Numerics (compiler/golden/intops.py, bit for bit):
//   rshift_round(x, s) = (x + 2^(s-1)) >> s, arithmetic (round half up), for s in 1..63
//   sat8 / sat32       = clamp to int8 / int32
// Control:
//   sparsehls_ap_ctrl    the Vitis ap_ctrl_hs block protocol (ap_start, ap_done, ap_idle, ap_ready)
//   sparsehls_valid_pipe the valid bits of a pipeline that advances on an enable
//
// The functions are called by their package name (sparsehls_pkg::rshift_round): Yosys reads
// neither an import in a module header nor a `return`.  This file comes first in every source
// list (Verilator, Yosys).

`default_nettype none

package sparsehls_pkg;
  // 2^(s-1), the rounding constant of rshift_round (for a unit that adds it a stage earlier)
  function automatic logic signed [63:0] round_half(input logic [5:0] s);
    round_half = 64'sd1 <<< (s - 6'd1);
  endfunction

  // intops.rshift_round on int64: (x + 2^(s-1)) >>> s
  function automatic logic signed [63:0] rshift_round(input logic signed [63:0] x, input logic [5:0] s);
    rshift_round = (x + round_half(s)) >>> s;
  endfunction

  function automatic logic [7:0] sat8(input logic signed [63:0] x);
    sat8 = x > 64'sd127 ? 8'h7f : (x < -64'sd128 ? 8'h80 : x[7:0]);
  endfunction

  function automatic logic [31:0] sat32(input logic signed [63:0] x);
    sat32 = x > 64'sd2147483647 ? 32'h7fffffff : (x < -64'sd2147483648 ? 32'h80000000 : x[31:0]);
  endfunction
endpackage

/* verilator lint_off DECLFILENAME */

// ap_ctrl_hs: a call starts on ap_start while idle (start_fire); with no work (empty) ap_done
// pulses on the next cycle, else the unit runs until it raises finish, and ap_done / ap_ready
// pulse one cycle after that.  ap_start is not taken again in the ap_done cycle.
module sparsehls_ap_ctrl (
    input  wire  ap_clk,
    input  wire  ap_rst_n,  // synchronous, active low
    input  wire  ap_start,
    output logic ap_done,
    output logic ap_idle,
    output logic ap_ready,
    input  wire  empty,      // sampled with start_fire: the call has nothing to do
    input  wire  finish,     // the last cycle of a running call
    output logic start_fire,
    output logic running
);
  logic done_r;
  assign start_fire = ap_start && !running && !done_r;
  assign ap_idle = !running;
  assign ap_done = done_r;
  assign ap_ready = done_r;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      running <= 1'b0;
      done_r <= 1'b0;
    end else begin
      done_r <= 1'b0;
      if (start_fire) begin
        if (empty) done_r <= 1'b1;
        else running <= 1'b1;
      end
      if (finish) begin
        running <= 1'b0;
        done_r <= 1'b1;
      end
    end
  end
endmodule

// v[k]: stage k holds an item; on en every bit moves one stage on and `in` enters stage 0
module sparsehls_valid_pipe #(
    parameter int N = 2
) (
    input  wire          clk,
    input  wire          rst_n,  // synchronous, active low
    input  wire          en,
    input  wire          in,
    output logic [N-1:0] v
);
  always_ff @(posedge clk) begin
    if (!rst_n) v <= '0;
    else if (en) v <= {v[N-2:0], in};
  end
endmodule

/* verilator lint_on DECLFILENAME */

`default_nettype wire
