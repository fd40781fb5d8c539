// int_isqrt: sequential floor square root of a 64-bit unsigned value (digit by
// digit, one result bit per cycle, 32 cycles): the largest s with s*s <= v
// (intops.isqrt; unique, so any exact algorithm agrees).
`default_nettype none

module int_isqrt (
    input  wire         clk,
    input  wire         rst_n,
    input  wire         start,
    input  wire  [63:0] v,
    output logic        done,
    output logic [31:0] root
);
  logic [63:0] val;
  logic [63:0] rem;  // <= 2*root < 2^33
  logic [65:0] trial, rem_sh;
  logic [5:0] cnt;
  logic busy;

  assign rem_sh = {rem, val[63:62]};
  assign trial = {32'd0, root, 2'b01};  // 4*root + 1

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      cnt <= '0;
      rem <= '0;
      val <= '0;
      root <= '0;
    end else begin
      done <= 1'b0;
      if (start) begin
        busy <= 1'b1;
        cnt <= 6'd32;
        rem <= '0;
        val <= v;
        root <= '0;
      end else if (busy) begin
        val <= {val[61:0], 2'b00};
        if (rem_sh >= trial) begin
          rem <= 64'(rem_sh - trial);
          root <= {root[30:0], 1'b1};
        end else begin
          rem <= rem_sh[63:0];
          root <= {root[30:0], 1'b0};
        end
        cnt <= cnt - 6'd1;
        if (cnt == 6'd1) begin
          busy <= 1'b0;
          done <= 1'b1;
        end
      end
    end
  end
endmodule

`default_nettype wire
