// encoder_layer_lib: the glue of a generated encoder-layer top (encoder_layer.sv.j2):
// activation RAMs and the small stream adapters between a RAM and a unit's
// AXI-Stream port.  No numerics here: the adapters move, select and
// sign-extend lanes; every arithmetic operation is in the unit modules.
//
// Layout of an activation RAM (written by compiler/backends/rtl/layer.py's plan):
//   words of WL lanes of LB bits (WL a power of two), token-major, RW words per
//   token row: element c of token t is lane c % WL of word t*RW + c / WL.
// A stream port of P lanes per beat (P a power of two dividing WL) reads or
// writes lanes lane0 + b*P .. lane0 + b*P + P - 1 of a row for beat b, so a
// beat never straddles two words.
//
// Several adapters share one RAM port: an adapter drives its address, write
// enables and write data only while it moves a beat (all zeros otherwise) and
// the top ORs them; the sequencer runs at most one reader and one writer of a
// RAM at a time.
`default_nettype none
/* verilator lint_off DECLFILENAME */

// Simple dual-port RAM: lane write enables, registered read (one cycle).
// URAM = 1 asks for UltraRAM (ram_style "ultra"): the generator sets it on RAMs
// deeper than 1,024 words (layer.URAM_MIN_LINES, as for the weight tables),
// where a RAMB36 column would be mostly address depth (docs/rtl.md, "Resources").
module el_ram #(
    parameter int WL = 4,  // lanes per word
    parameter int LB = 8,  // bits per lane
    parameter int AW = 4,  // address bits (2**AW words)
    parameter int NR = 1,  // read ports (readers of one stage that run at once: a copy each on chip)
    parameter int URAM = 0  // 1: UltraRAM
) (
    input  wire                 clk,
    input  wire  [      WL-1:0] we,
    input  wire  [      AW-1:0] waddr,
    input  wire  [   WL*LB-1:0] wdata,
    input  wire  [   NR*AW-1:0] raddr,
    output logic [NR*WL*LB-1:0] rdata
);
  if (URAM != 0) begin : g_uram
    (* ram_style = "ultra" *) logic [WL*LB-1:0] mem[2**AW];
    always_ff @(posedge clk) begin
      for (int l = 0; l < WL; l++) if (we[l]) mem[waddr][l*LB+:LB] <= wdata[l*LB+:LB];
      for (int r = 0; r < NR; r++) rdata[r*WL*LB+:WL*LB] <= mem[raddr[r*AW+:AW]];
    end
  end else begin : g_bram
    logic [WL*LB-1:0] mem[2**AW];
    always_ff @(posedge clk) begin
      for (int l = 0; l < WL; l++) if (we[l]) mem[waddr][l*LB+:LB] <= wdata[l*LB+:LB];
      for (int r = 0; r < NR; r++) rdata[r*WL*LB+:WL*LB] <= mem[raddr[r*AW+:AW]];
    end
  end
endmodule

// RAM -> AXI-Stream reader: n_tok rows of n_beats beats of R lanes, lane
// offset lane0 + b*R in each row, lanes sign-extended from LB to OLB bits.
// A 4-entry FIFO behind the one-cycle RAM read keeps TVALID up at one beat
// per cycle whatever the consumer does: the first beat is valid 3 cycles
// after `go` (go, read, FIFO write), then one per cycle while TREADY is high.
// `ttok` is the token (row) of the beat on TDATA.
module el_rd #(
    parameter int WL  = 4,
    parameter int LB  = 8,
    parameter int R   = 4,  // lanes per beat (power of two, divides WL)
    parameter int OLB = 8,  // output bits per lane (>= LB)
    parameter int AW  = 4,
    parameter int RW  = 1,  // RAM words per token row
    parameter int TW  = 8,  // token counter bits
    parameter int GATE = 0  // 1: read row t only once t < avail (the rows its producer has written)
) (
    input  wire               clk,
    input  wire               rst_n,
    input  wire               go,       // pulse: start a pass (n_tok, n_beats, lane0 sampled)
    input  wire  [    TW-1:0] n_tok,    // >= 1
    input  wire  [      15:0] n_beats,  // >= 1
    input  wire  [      15:0] lane0,    // a multiple of R
    input  wire  [      TW:0] avail,    // GATE = 1: rows complete in the RAM (a writer's `rows`)
    output logic [    AW-1:0] raddr,
    input  wire  [ WL*LB-1:0] rdata,
    output logic [R*OLB-1:0] tdata,
    output logic [    TW-1:0] ttok,
    output logic              tvalid,
    input  wire               tready
);
  localparam int FD = 4;
  localparam int DW = R * OLB + TW;

  logic act, iss, v1, pop;
  logic [TW-1:0] t, nt_r, t1;
  logic [15:0] b, nb_r, l0_r, off, off1;
  logic [AW-1:0] base;
  logic [DW-1:0] fifo[FD];
  logic [1:0] wp, rp;
  logic [2:0] cnt;
  logic [R*LB-1:0] slice;
  logic [R*OLB-1:0] ext;

  assign iss = act && (cnt + 3'(v1) < 3'(FD)) && (GATE == 0 || {1'b0, t} < avail);
  assign raddr = iss ? base + AW'(off / 16'(WL)) : '0;
  assign pop = tvalid && tready;
  assign tvalid = cnt != 3'd0;
  assign {ttok, tdata} = fifo[rp];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      act <= 1'b0;
      v1 <= 1'b0;
      wp <= '0;
      rp <= '0;
      cnt <= '0;
      t <= '0;
      b <= '0;
      off <= '0;
      base <= '0;
      nt_r <= '0;
      nb_r <= '0;
      l0_r <= '0;
    end else begin
      v1 <= iss;
      if (go) begin
        act <= n_tok != '0 && n_beats != '0;
        nt_r <= n_tok;
        nb_r <= n_beats;
        l0_r <= lane0;
        t <= '0;
        b <= '0;
        off <= lane0;
        base <= '0;
      end else if (iss) begin
        if (b + 16'd1 == nb_r) begin
          b <= '0;
          off <= l0_r;
          base <= base + AW'(RW);
          t <= t + 1'b1;
          if (t + 1'b1 == nt_r) act <= 1'b0;
        end else begin
          b <= b + 16'd1;
          off <= off + 16'(R);
        end
      end
      if (v1) begin
        fifo[wp] <= {t1, ext};
        wp <= wp + 1'b1;
      end
      if (pop) rp <= rp + 1'b1;
      cnt <= cnt + 3'(v1) - 3'(pop);
    end
  end
  always_ff @(posedge clk) begin
    if (iss) begin
      off1 <= off;
      t1 <= t;
    end
  end

  always_comb begin  // the R-lane group of the word that holds the beat (a static mux)
    slice = rdata[R*LB-1:0];
    for (int s = 1; s < WL / R; s++) if (off1 % 16'(WL) == 16'(s * R)) slice = rdata[s*R*LB+:R*LB];
  end
  for (genvar l = 0; l < R; l++) begin : g_ext
    assign ext[l*OLB+:OLB] = OLB'($signed(slice[l*LB+:LB]));
  end
endmodule

// AXI-Stream -> RAM writer: n_tok rows of n_beats beats of P lanes of ILB bits,
// lane offset lane0 + b*P; lanes sign-extended to the RAM's LB bits.  Always
// ready while a pass runs (TREADY = busy); the beat is written in the cycle
// it is taken.
module el_wr #(
    parameter int WL  = 4,
    parameter int LB  = 8,
    parameter int P   = 4,  // lanes per beat (power of two, divides WL)
    parameter int ILB = 8,  // input bits per lane (<= LB)
    parameter int AW  = 4,
    parameter int RW  = 1,
    parameter int TW  = 8
) (
    input  wire               clk,
    input  wire               rst_n,
    input  wire               go,
    input  wire  [    TW-1:0] n_tok,
    input  wire  [      15:0] n_beats,
    input  wire  [      15:0] lane0,
    input  wire  [P*ILB-1:0] tdata,
    input  wire               tvalid,
    output logic              tready,
    output logic [    WL-1:0] we,
    output logic [    AW-1:0] waddr,
    output logic [ WL*LB-1:0] wdata,
    output logic              busy,
    output logic [      TW:0] rows  // rows of this pass fully written (a chained reader's avail)
);
  logic act, fire;
  logic [TW-1:0] t, nt_r;
  logic [15:0] b, nb_r, l0_r, off;
  logic [AW-1:0] base;
  logic [P*LB-1:0] ext;

  assign tready = act;
  assign busy = act;
  assign rows = {1'b0, t};
  assign fire = tvalid && act;
  for (genvar l = 0; l < P; l++) begin : g_ext
    assign ext[l*LB+:LB] = LB'($signed(tdata[l*ILB+:ILB]));
  end
  assign we = fire ? WL'({P{1'b1}}) << (off % 16'(WL)) : '0;
  assign waddr = fire ? base + AW'(off / 16'(WL)) : '0;
  assign wdata = fire ? {(WL / P) {ext}} : '0;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      act <= 1'b0;
      t <= '0;
      b <= '0;
      off <= '0;
      base <= '0;
      nt_r <= '0;
      nb_r <= '0;
      l0_r <= '0;
    end else if (go) begin
      act <= n_tok != '0 && n_beats != '0;
      nt_r <= n_tok;
      nb_r <= n_beats;
      l0_r <= lane0;
      t <= '0;
      b <= '0;
      off <= lane0;
      base <= '0;
    end else if (fire) begin
      if (b + 16'd1 == nb_r) begin
        b <= '0;
        off <= l0_r;
        base <= base + AW'(RW);
        t <= t + 1'b1;
        if (t + 1'b1 == nt_r) act <= 1'b0;
      end else begin
        b <= b + 16'd1;
        off <= off + 16'(P);
      end
    end
  end
endmodule

// One int8 element per beat -> P int8 lanes per beat: n_tok rows of h elements,
// ceil(h / P) beats per row, a row's last beat padded with 0 lanes.  One
// output register; the input is stalled only while it is full and not taken.
module el_pack #(
    parameter int P  = 4,
    parameter int TW = 8,
    parameter int I  = 1   // bytes per input beat (a power of two dividing P and h)
) (
    input  wire              clk,
    input  wire              rst_n,
    input  wire              go,
    input  wire  [   TW-1:0] n_tok,
    input  wire  [     15:0] h,
    input  wire  [    I*8-1:0] in_tdata,
    input  wire              in_tvalid,
    output logic             in_tready,
    output logic [P*8-1:0]  out_tdata,
    output logic             out_tvalid,
    input  wire              out_tready,
    output logic             busy
);
  localparam int LW = (P / I > 1) ? $clog2(P / I) : 1;
  logic act, in_fire, out_fire, emit;
  logic [TW-1:0] t, nt_r;
  logic [15:0] c, h_r;
  logic [LW-1:0] l;
  logic [P*8-1:0] w, w_next;

  assign in_tready = act && (!out_tvalid || out_tready);
  assign in_fire = in_tvalid && in_tready;
  assign out_fire = out_tvalid && out_tready;
  assign busy = act || out_tvalid;
  assign emit = (32'(l) == P / I - 1) || (c + 16'(I) == h_r);
  always_comb begin
    w_next = w;
    w_next[32'(l)*8*I+:8*I] = in_tdata;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      act <= 1'b0;
      out_tvalid <= 1'b0;
      out_tdata <= '0;
      t <= '0;
      c <= '0;
      l <= '0;
      w <= '0;
      nt_r <= '0;
      h_r <= '0;
    end else begin
      if (out_fire) out_tvalid <= 1'b0;
      if (go) begin
        act <= n_tok != '0 && h != '0;
        nt_r <= n_tok;
        h_r <= h;
        t <= '0;
        c <= '0;
        l <= '0;
        w <= '0;
      end else if (in_fire) begin
        if (emit) begin
          out_tdata <= w_next;
          out_tvalid <= 1'b1;
          w <= '0;
          l <= '0;
        end else begin
          w <= w_next;
          l <= l + 1'b1;
        end
        if (c + 16'(I) == h_r) begin
          c <= '0;
          t <= t + 1'b1;
          if (t + 1'b1 == nt_r) act <= 1'b0;
        end else c <= c + 16'(I);
      end
    end
  end
endmodule

/* verilator lint_on DECLFILENAME */
`default_nettype wire
