// int_divu: sequential unsigned restoring divider, one quotient bit per cycle.
//   quotient = floor(dividend / divisor) for dividend < 2^n_iter, divisor >= 1,
//   after n_iter cycles (done pulses one cycle; quotient holds until the next start).
// Used once per row by int_layernorm (mean, variance, 2^31/std) and int_softmax (2^32/sum).
`default_nettype none

module int_divu #(
    parameter int W = 64
) (
    input  wire                   clk,
    input  wire                   rst_n,
    input  wire                   start,
    input  wire  [           6:0] n_iter,    // 1..W: bits of the dividend
    input  wire  [         W-1:0] dividend,
    input  wire  [         W-1:0] divisor,
    output logic                  done,
    output logic [         W-1:0] quotient
);
  logic [W-1:0] rem;  // < divisor
  logic [W:0] rem_sh;
  logic [W-1:0] d;
  logic [6:0] cnt;
  logic busy;

  assign rem_sh = {rem, quotient[W-1]};

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      cnt <= '0;
      rem <= '0;
      d <= '0;
      quotient <= '0;
    end else begin
      done <= 1'b0;
      if (start) begin
        busy <= 1'b1;
        cnt <= n_iter;
        rem <= '0;
        d <= divisor;
        quotient <= dividend << (7'(W) - n_iter);
      end else if (busy) begin
        if (rem_sh >= {1'b0, d}) begin
          rem <= W'(rem_sh - {1'b0, d});
          quotient <= {quotient[W-2:0], 1'b1};
        end else begin
          rem <= rem_sh[W-1:0];
          quotient <= {quotient[W-2:0], 1'b0};
        end
        cnt <= cnt - 7'd1;
        if (cnt == 7'd1) begin
          busy <= 1'b0;
          done <= 1'b1;
        end
      end
    end
  end
endmodule

`default_nettype wire
