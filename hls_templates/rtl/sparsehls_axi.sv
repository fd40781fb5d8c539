// sparsehls_axi: the AXI shell pieces of a whole-accelerator top.
//
//   sparsehls_axil_ctrl  AXI4-Lite slave s_axi_control_*: the Vitis ap_ctrl_hs register map
//                        (control, GIE, IER, ISR) + NARGS 64-bit argument registers
//   sparsehls_axi_rd     AXI4 read master: command (addr, beats) -> INCR bursts -> out_T* stream
//   sparsehls_axi_wr     AXI4 write master: command (addr, beats) + in_T* stream -> INCR bursts
//   sparsehls_fifo       first-word-fall-through FIFO (registered RAM read, BRAM/LUTRAM friendly)
//   sparsehls_unpack     one IW-bit beat -> IW/OW beats of OW bits (lane 0 = low bits first)
//   sparsehls_pack       the reverse: OW/IW beats of IW bits -> one OW-bit beat
//
// Port names.  The AXI4 masters name their ports m_axi_<CHANNEL><SIGNAL> (m_axi_ARADDR,
// m_axi_RDATA, ...): a top connects them to its Vitis-style m_axi_gmem_* ports one to one
// (.m_axi_ARADDR(m_axi_gmem_ARADDR)); the read master has the AR and R channels, the write
// master AW, W and B, so one read and one write master make one full m_axi_gmem port.  The
// control slave's ports are already the top's: s_axi_control_*, ap_start/ap_done/ap_idle/ap_ready
// (the kernel's ap_ctrl_hs, seen from the other side), interrupt.  Streams are AXI-Stream
// (TDATA, TVALID, TREADY); every module runs on ap_clk with the synchronous active-low ap_rst_n.
//
// AXI4 masters (Vitis m_axi defaults): ID width 1 (ID 0), ARSIZE/AWSIZE = log2(DW/8) (full-width
// beats), INCR bursts, normal access (LOCK 0), CACHE 4'b0011, PROT 0, QOS 0, REGION 0.  Byte
// addresses must be DW/8-aligned (the low bits are not looked at).  A burst is at most MAXBURST
// beats (a power of two, 1..256) and never crosses a 4 KB boundary.  RRESP / BRESP are not looked
// at (an error response is not reported).
//
// Yosys (0.70) reads this file: no `parameter string`, no multi-dimensional packed arrays.
`default_nettype none
/* verilator lint_off DECLFILENAME */

// ---------------------------------------------------------------------------------------------
// AXI4-Lite control slave, Vitis ap_ctrl_hs register map (12-bit byte addresses, 32-bit data):
//   0x00 control: bit0 ap_start (W1 starts; reads 1 until the kernel's ap_ready),
//                 bit1 ap_done (set at ap_done, cleared when 0x00 is read),
//                 bit2 ap_idle (the kernel's ap_idle, registered),
//                 bit3 ap_ready (set at ap_ready, cleared when 0x00 is read; read-only),
//                 bit7 auto_restart (R/W; as in Vitis, ap_ready re-arms ap_start while it is 1,
//                      so the kernel restarts until the host writes 0 there)
//   0x04 GIE (bit0)      0x08 IER (bit0 ap_done, bit1 ap_ready)
//   0x0C ISR (bit0 ap_done, bit1 ap_ready): set on the event while its IER bit is 1,
//        a write toggles the bits written as 1;  interrupt = GIE & (ISR[0] | ISR[1])
//   0x10 + 8*i / 0x14 + 8*i: argument i, low / high word (R/W, byte strobes), on args[64*i +: 64]
// Reads of other addresses return 0, writes to them are ignored; the two low address bits are
// ignored.  A write is taken when AWVALID and WVALID are both high (AWREADY = WREADY = that,
// while no B response is pending), one write and one read at a time; BRESP = RRESP = OKAY.
// The ap_start write wins over an ap_ready in the same cycle (as in Vitis).
module sparsehls_axil_ctrl #(
    parameter int NARGS = 4  // 64-bit argument registers, 1..510
) (
    input  wire                ap_clk,
    input  wire                ap_rst_n,               // synchronous, active low
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire  [       11:0] s_axi_control_AWADDR,   // bits 1:0 ignored
    input  wire                s_axi_control_AWVALID,
    output logic               s_axi_control_AWREADY,
    input  wire  [       31:0] s_axi_control_WDATA,
    input  wire  [        3:0] s_axi_control_WSTRB,
    input  wire                s_axi_control_WVALID,
    output logic               s_axi_control_WREADY,
    output logic [        1:0] s_axi_control_BRESP,
    output logic               s_axi_control_BVALID,
    input  wire                s_axi_control_BREADY,
    input  wire  [       11:0] s_axi_control_ARADDR,   // bits 1:0 ignored
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                s_axi_control_ARVALID,
    output logic               s_axi_control_ARREADY,
    output logic [       31:0] s_axi_control_RDATA,
    output logic [        1:0] s_axi_control_RRESP,
    output logic               s_axi_control_RVALID,
    input  wire                s_axi_control_RREADY,
    /* verilator lint_off SYMRSVDWORD */
    output logic               interrupt,              // the Vitis name
    /* verilator lint_on SYMRSVDWORD */
    output logic               ap_start,               // to the kernel
    input  wire                ap_done,                // from the kernel
    input  wire                ap_idle,
    input  wire                ap_ready,
    output logic [NARGS*64-1:0] args                   // argument i on [64*i +: 64]
);
  localparam logic [11:0] A_CTRL = 12'h000, A_GIE = 12'h004, A_IER = 12'h008, A_ISR = 12'h00c;

  logic done_r, idle_r, ready_r, auto_r, gie;
  logic [1:0] ier, isr;
  logic [31:0] rmux;

  wire w_hs = s_axi_control_AWVALID && s_axi_control_WVALID && !s_axi_control_BVALID;
  wire r_hs = s_axi_control_ARVALID && !s_axi_control_RVALID;
  wire [11:0] wa = {s_axi_control_AWADDR[11:2], 2'b00};
  wire [11:0] ra = {s_axi_control_ARADDR[11:2], 2'b00};
  wire [31:0] wd = s_axi_control_WDATA;
  wire w_lo = w_hs && s_axi_control_WSTRB[0];  // a write of byte 0 (the control bits)
  wire r_ctrl = r_hs && ra == A_CTRL;

  assign s_axi_control_AWREADY = w_hs;
  assign s_axi_control_WREADY = w_hs;
  assign s_axi_control_ARREADY = !s_axi_control_RVALID;
  assign s_axi_control_BRESP = 2'b00;
  assign s_axi_control_RRESP = 2'b00;
  assign interrupt = gie && |isr;

  always_comb begin
    rmux = 32'd0;
    case (ra)
      A_CTRL: rmux = {24'd0, auto_r, 3'd0, ready_r, idle_r, done_r, ap_start};
      A_GIE: rmux = {31'd0, gie};
      A_IER: rmux = {30'd0, ier};
      A_ISR: rmux = {30'd0, isr};
      default: ;
    endcase
    for (int i = 0; i < NARGS; i++) begin
      if (ra == 12'(16 + 8 * i)) rmux = args[i*64+:32];
      if (ra == 12'(20 + 8 * i)) rmux = args[i*64+32+:32];
    end
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      ap_start <= 1'b0;
      done_r <= 1'b0;
      idle_r <= 1'b0;
      ready_r <= 1'b0;
      auto_r <= 1'b0;
      gie <= 1'b0;
      ier <= 2'b00;
      isr <= 2'b00;
      args <= '0;
      s_axi_control_BVALID <= 1'b0;
      s_axi_control_RVALID <= 1'b0;
      s_axi_control_RDATA <= 32'd0;
    end else begin
      idle_r <= ap_idle;
      if (w_lo && wa == A_CTRL && wd[0]) ap_start <= 1'b1;
      else if (ap_ready) ap_start <= auto_r;
      if (ap_done) done_r <= 1'b1;
      else if (r_ctrl) done_r <= 1'b0;
      if (ap_ready) ready_r <= 1'b1;
      else if (r_ctrl) ready_r <= 1'b0;
      if (w_lo && wa == A_CTRL) auto_r <= wd[7];
      if (w_lo && wa == A_GIE) gie <= wd[0];
      if (w_lo && wa == A_IER) ier <= wd[1:0];
      if (ier[0] && ap_done) isr[0] <= 1'b1;
      else if (w_lo && wa == A_ISR) isr[0] <= isr[0] ^ wd[0];
      if (ier[1] && ap_ready) isr[1] <= 1'b1;
      else if (w_lo && wa == A_ISR) isr[1] <= isr[1] ^ wd[1];
      for (int i = 0; i < NARGS; i++) begin
        for (int h = 0; h < 2; h++) begin
          if (w_hs && wa == 12'(16 + 8 * i + 4 * h)) begin
            for (int b = 0; b < 4; b++) begin
              if (s_axi_control_WSTRB[b]) args[i*64+h*32+b*8+:8] <= wd[b*8+:8];
            end
          end
        end
      end
      if (w_hs) s_axi_control_BVALID <= 1'b1;
      else if (s_axi_control_BREADY) s_axi_control_BVALID <= 1'b0;
      if (r_hs) begin
        s_axi_control_RVALID <= 1'b1;
        s_axi_control_RDATA <= rmux;
      end else if (s_axi_control_RREADY) s_axi_control_RVALID <= 1'b0;
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------
// First-word-fall-through FIFO: DEPTH entries in a RAM with a registered read, plus the output
// register (DEPTH + 1 words in all).  One word in and one out per cycle; a word written is on
// out_data two cycles later.  in_ready = the RAM is not full.
module sparsehls_fifo #(
    parameter int W = 512,
    parameter int DEPTH = 128  // a power of two, >= 2
) (
    input  wire          clk,
    input  wire          rst_n,      // synchronous, active low
    input  wire  [W-1:0] in_data,
    input  wire          in_valid,
    output logic         in_ready,
    output logic [W-1:0] out_data,
    output logic         out_valid,
    input  wire          out_ready
);
  localparam int PW = $clog2(DEPTH);
  logic [W-1:0] mem[DEPTH];
  logic [PW-1:0] wp, rp;
  logic [PW:0] n;  // words in the RAM
  wire push = in_valid && in_ready;
  wire load = n != '0 && (!out_valid || out_ready);
  assign in_ready = n != (PW + 1)'(DEPTH);

  always_ff @(posedge clk) begin
    if (push) mem[wp] <= in_data;
    if (load) out_data <= mem[rp];
  end
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wp <= '0;
      rp <= '0;
      n <= '0;
      out_valid <= 1'b0;
    end else begin
      if (push) wp <= wp + 1'b1;
      if (load) rp <= rp + 1'b1;
      n <= n + (PW + 1)'(push) - (PW + 1)'(load);
      if (load) out_valid <= 1'b1;
      else if (out_ready) out_valid <= 1'b0;
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------
// The beats of the next burst at byte address `addr` with `left` beats to go:
// min(left, MAXBURST, beats to the next 4 KB boundary).
module sparsehls_axi_blen #(
    parameter int DW = 512,
    parameter int MAXBURST = 64
) (
    input  wire  [11:0] addr,  // the address's offset in its 4 KB page
    input  wire  [31:0] left,
    output logic [ 8:0] blen   // 1..MAXBURST when left != 0
);
  localparam int SZ = $clog2(DW / 8);
  logic [12:0] to_page;
  always_comb begin
    to_page = 13'(4096 >> SZ) - 13'(addr >> SZ);
    blen = 9'(MAXBURST);
    if (to_page < 13'(blen)) blen = to_page[8:0];
    if (left < 32'(blen)) blen = left[8:0];
  end
endmodule

// ---------------------------------------------------------------------------------------------
// AXI4 read master.  A command (cmd_valid && cmd_ready: cmd_addr, cmd_beats; cmd_ready = !busy)
// reads cmd_beats DW-bit beats from cmd_addr on, in INCR bursts of at most MAXBURST beats that
// never cross 4 KB, and presents them in order on out_T*.  The beats go through a DEPTH-word FIFO,
// and an AR is issued only when the FIFO has room for all of its beats next to every beat already
// asked for and not yet out (a credit count), so RREADY never drops and backpressure on out_T*
// never stalls the R channel; with DEPTH = 2 * MAXBURST, two bursts are outstanding at full rate
// and a read latency of up to about MAXBURST cycles is hidden (one beat a cycle).  busy: from
// the command to done; done: a one-cycle pulse the cycle after the last beat left on out_T*
// (the cycle after the command for cmd_beats = 0).
module sparsehls_axi_rd #(
    parameter int DW = 512,  // data bits, 8..4096, a power of two
    parameter int AW = 64,  // address bits, >= 13
    parameter int MAXBURST = 64,  // beats, a power of two, 1..256
    parameter int DEPTH = 2 * MAXBURST  // FIFO words, a power of two, >= MAXBURST
) (
    input  wire           ap_clk,
    input  wire           ap_rst_n,        // synchronous, active low
    input  wire           cmd_valid,
    output logic          cmd_ready,
    input  wire  [AW-1:0] cmd_addr,        // byte address, DW/8-aligned
    input  wire  [  31:0] cmd_beats,
    output logic          busy,
    output logic          done,
    output logic [DW-1:0] out_TDATA,
    output logic          out_TVALID,
    input  wire           out_TREADY,
    output logic [   0:0] m_axi_ARID,
    output logic [AW-1:0] m_axi_ARADDR,
    output logic [   7:0] m_axi_ARLEN,
    output logic [   2:0] m_axi_ARSIZE,
    output logic [   1:0] m_axi_ARBURST,
    output logic          m_axi_ARLOCK,
    output logic [   3:0] m_axi_ARCACHE,
    output logic [   2:0] m_axi_ARPROT,
    output logic [   3:0] m_axi_ARQOS,
    output logic [   3:0] m_axi_ARREGION,
    output logic          m_axi_ARVALID,
    input  wire           m_axi_ARREADY,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire  [   0:0] m_axi_RID,
    input  wire  [   1:0] m_axi_RRESP,
    input  wire           m_axi_RLAST,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire  [DW-1:0] m_axi_RDATA,
    input  wire           m_axi_RVALID,
    output logic          m_axi_RREADY
);
  localparam int SZ = $clog2(DW / 8);
  localparam int CW = $clog2(DEPTH + MAXBURST + 1);

  logic [AW-1:0] addr;  // the next burst's address
  logic [31:0] ar_left;  // beats not yet asked for
  logic [31:0] out_left;  // beats not yet out
  logic [CW-1:0] held;  // beats asked for and not yet out (in flight or in the FIFO)
  logic [8:0] blen;

  sparsehls_axi_blen #(
      .DW(DW),
      .MAXBURST(MAXBURST)
  ) u_blen (
      .addr(addr[11:0]),
      .left(ar_left),
      .blen(blen)
  );

  wire ar_free = !m_axi_ARVALID || m_axi_ARREADY;
  wire ar_go = ar_free && busy && ar_left != 0 && held + CW'(blen) <= CW'(DEPTH);
  wire out_fire = out_TVALID && out_TREADY;

  assign cmd_ready = !busy;
  assign m_axi_ARID = 1'b0;
  assign m_axi_ARSIZE = 3'(SZ);
  assign m_axi_ARBURST = 2'b01;
  assign m_axi_ARLOCK = 1'b0;
  assign m_axi_ARCACHE = 4'b0011;
  assign m_axi_ARPROT = 3'b000;
  assign m_axi_ARQOS = 4'd0;
  assign m_axi_ARREGION = 4'd0;

  sparsehls_fifo #(
      .W(DW),
      .DEPTH(DEPTH)
  ) u_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .in_data(m_axi_RDATA),
      .in_valid(m_axi_RVALID),
      .in_ready(m_axi_RREADY),
      .out_data(out_TDATA),
      .out_valid(out_TVALID),
      .out_ready(out_TREADY)
  );

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      addr <= '0;
      ar_left <= 32'd0;
      out_left <= 32'd0;
      held <= '0;
      m_axi_ARVALID <= 1'b0;
      m_axi_ARADDR <= '0;
      m_axi_ARLEN <= 8'd0;
    end else begin
      done <= 1'b0;
      if (cmd_valid && cmd_ready) begin
        busy <= 1'b1;
        addr <= cmd_addr;
        ar_left <= cmd_beats;
        out_left <= cmd_beats;
      end
      if (ar_free) m_axi_ARVALID <= ar_go;
      if (ar_go) begin
        m_axi_ARADDR <= addr;
        m_axi_ARLEN <= 8'(blen - 9'd1);
        addr <= addr + (AW'(blen) << SZ);
        ar_left <= ar_left - 32'(blen);
      end
      held <= held + (ar_go ? CW'(blen) : CW'(0)) - CW'(out_fire);
      if (out_fire) out_left <= out_left - 32'd1;
      if (busy && (out_left == 32'd0 || (out_left == 32'd1 && out_fire))) begin
        busy <= 1'b0;
        done <= 1'b1;
      end
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------
// AXI4 write master.  A command (cmd_valid && cmd_ready: cmd_addr, cmd_beats; cmd_ready = !busy)
// writes the next cmd_beats beats of in_T* (in_TREADY stays low for any beat past them) from
// cmd_addr on, in INCR bursts of at most MAXBURST beats that never cross 4 KB, WSTRB all ones.
// The beats go through a DEPTH-word FIFO; the AW of a burst is issued only once all of its beats
// are in the FIFO, so W runs at one beat a cycle whatever the producer does.  At most 4 bursts
// have their AW out and their W not yet sent, at most 16 wait for their B.  busy: from the command
// to done; done: a one-cycle pulse once every B response came back (the cycle after the command
// for cmd_beats = 0).
module sparsehls_axi_wr #(
    parameter int DW = 512,  // data bits, 8..4096, a power of two
    parameter int AW = 64,  // address bits, >= 13
    parameter int MAXBURST = 64,  // beats, a power of two, 1..256
    parameter int DEPTH = 2 * MAXBURST  // FIFO words, a power of two, >= MAXBURST
) (
    input  wire             ap_clk,
    input  wire             ap_rst_n,        // synchronous, active low
    input  wire             cmd_valid,
    output logic            cmd_ready,
    input  wire  [  AW-1:0] cmd_addr,        // byte address, DW/8-aligned
    input  wire  [    31:0] cmd_beats,
    output logic            busy,
    output logic            done,
    input  wire  [  DW-1:0] in_TDATA,
    input  wire             in_TVALID,
    output logic            in_TREADY,
    output logic [     0:0] m_axi_AWID,
    output logic [  AW-1:0] m_axi_AWADDR,
    output logic [     7:0] m_axi_AWLEN,
    output logic [     2:0] m_axi_AWSIZE,
    output logic [     1:0] m_axi_AWBURST,
    output logic            m_axi_AWLOCK,
    output logic [     3:0] m_axi_AWCACHE,
    output logic [     2:0] m_axi_AWPROT,
    output logic [     3:0] m_axi_AWQOS,
    output logic [     3:0] m_axi_AWREGION,
    output logic            m_axi_AWVALID,
    input  wire             m_axi_AWREADY,
    output logic [  DW-1:0] m_axi_WDATA,
    output logic [DW/8-1:0] m_axi_WSTRB,
    output logic            m_axi_WLAST,
    output logic            m_axi_WVALID,
    input  wire             m_axi_WREADY,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire  [     0:0] m_axi_BID,
    input  wire  [     1:0] m_axi_BRESP,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire             m_axi_BVALID,
    output logic            m_axi_BREADY
);
  localparam int SZ = $clog2(DW / 8);
  localparam int CW = $clog2(DEPTH + MAXBURST + 2);

  logic [AW-1:0] addr;  // the next burst's address
  logic [31:0] aw_left;  // beats without an AW yet
  logic [31:0] in_left;  // beats not yet taken from in_T*
  logic [CW-1:0] avail;  // beats in the FIFO without an AW yet
  logic [8:0] blen;
  logic [8:0] lq[4];  // the lengths of the bursts whose AW is out and W is not yet sent
  logic [1:0] lq_wp, lq_rp;
  logic [2:0] lq_n;
  logic [8:0] w_cnt;  // beats sent of the W burst lq[lq_rp]
  logic [4:0] b_wait;  // AWs without their B yet
  logic fifo_in_ready, fifo_valid;

  sparsehls_axi_blen #(
      .DW(DW),
      .MAXBURST(MAXBURST)
  ) u_blen (
      .addr(addr[11:0]),
      .left(aw_left),
      .blen(blen)
  );

  wire aw_free = !m_axi_AWVALID || m_axi_AWREADY;
  wire aw_go = aw_free && busy && aw_left != 0 && avail >= CW'(blen) && lq_n != 3'd4 && b_wait != 5'd16;
  wire in_fire = in_TVALID && in_TREADY;
  wire w_fire = m_axi_WVALID && m_axi_WREADY;
  wire b_fire = m_axi_BVALID && m_axi_BREADY;

  assign cmd_ready = !busy;
  assign in_TREADY = busy && in_left != 32'd0 && fifo_in_ready;
  assign m_axi_AWID = 1'b0;
  assign m_axi_AWSIZE = 3'(SZ);
  assign m_axi_AWBURST = 2'b01;
  assign m_axi_AWLOCK = 1'b0;
  assign m_axi_AWCACHE = 4'b0011;
  assign m_axi_AWPROT = 3'b000;
  assign m_axi_AWQOS = 4'd0;
  assign m_axi_AWREGION = 4'd0;
  assign m_axi_WSTRB = '1;
  assign m_axi_WVALID = lq_n != 3'd0 && fifo_valid;
  assign m_axi_WLAST = w_cnt == lq[lq_rp] - 9'd1;
  assign m_axi_BREADY = 1'b1;

  sparsehls_fifo #(
      .W(DW),
      .DEPTH(DEPTH)
  ) u_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .in_data(in_TDATA),
      .in_valid(in_TVALID && in_TREADY),
      .in_ready(fifo_in_ready),
      .out_data(m_axi_WDATA),
      .out_valid(fifo_valid),
      .out_ready(lq_n != 3'd0 && m_axi_WREADY)
  );

  always_ff @(posedge ap_clk) begin
    if (aw_go) lq[lq_wp] <= blen;
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      addr <= '0;
      aw_left <= 32'd0;
      in_left <= 32'd0;
      avail <= '0;
      lq_wp <= 2'd0;
      lq_rp <= 2'd0;
      lq_n <= 3'd0;
      w_cnt <= 9'd0;
      b_wait <= 5'd0;
      m_axi_AWVALID <= 1'b0;
      m_axi_AWADDR <= '0;
      m_axi_AWLEN <= 8'd0;
    end else begin
      done <= 1'b0;
      if (cmd_valid && cmd_ready) begin
        busy <= 1'b1;
        addr <= cmd_addr;
        aw_left <= cmd_beats;
        in_left <= cmd_beats;
      end
      if (in_fire) in_left <= in_left - 32'd1;
      if (aw_free) m_axi_AWVALID <= aw_go;
      if (aw_go) begin
        m_axi_AWADDR <= addr;
        m_axi_AWLEN <= 8'(blen - 9'd1);
        addr <= addr + (AW'(blen) << SZ);
        aw_left <= aw_left - 32'(blen);
        lq_wp <= lq_wp + 2'd1;
      end
      avail <= avail + CW'(in_fire) - (aw_go ? CW'(blen) : CW'(0));
      if (w_fire) begin
        if (m_axi_WLAST) begin
          w_cnt <= 9'd0;
          lq_rp <= lq_rp + 2'd1;
        end else begin
          w_cnt <= w_cnt + 9'd1;
        end
      end
      lq_n <= lq_n + 3'(aw_go) - 3'(w_fire && m_axi_WLAST);
      b_wait <= b_wait + 5'(aw_go) - 5'(b_fire);
      if (busy && aw_left == 32'd0 && lq_n == 3'd0 && b_wait == 5'd0) begin
        busy <= 1'b0;
        done <= 1'b1;
      end
    end
  end
endmodule

// ---------------------------------------------------------------------------------------------
// Width converters, one beat a cycle on the narrow side (II = 1).
// sparsehls_unpack: each IW-bit in_T* beat leaves as IW/OW beats of OW bits, bits [OW-1:0] first.
module sparsehls_unpack #(
    parameter int IW = 512,
    parameter int OW = 128  // divides IW
) (
    input  wire           ap_clk,
    input  wire           ap_rst_n,    // synchronous, active low
    input  wire  [IW-1:0] in_TDATA,
    input  wire           in_TVALID,
    output logic          in_TREADY,
    output logic [OW-1:0] out_TDATA,
    output logic          out_TVALID,
    input  wire           out_TREADY
);
  localparam int N = IW / OW;
  localparam int NW = $clog2(N + 1);
  logic [IW-1:0] hold;
  logic [NW-1:0] left;  // narrow beats of `hold` still to go
  assign out_TVALID = left != '0;
  assign out_TDATA = hold[OW-1:0];
  assign in_TREADY = left == '0 || (left == NW'(1) && out_TREADY);
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      left <= '0;
      hold <= '0;
    end else if (in_TVALID && in_TREADY) begin
      hold <= in_TDATA;
      left <= NW'(N);
    end else if (out_TVALID && out_TREADY) begin
      hold <= IW'(hold >> OW);
      left <= left - NW'(1);
    end
  end
endmodule

// sparsehls_pack: IW-bit in_T* beats, OW/IW of them make one OW-bit out_T* beat (the first in
// bits [IW-1:0]).  A call whose beat count is not a multiple of OW/IW leaves its tail in the
// packer (no flush): pad the input to whole output beats.
module sparsehls_pack #(
    parameter int IW = 128,
    parameter int OW = 512  // a multiple of IW
) (
    input  wire           ap_clk,
    input  wire           ap_rst_n,    // synchronous, active low
    input  wire  [IW-1:0] in_TDATA,
    input  wire           in_TVALID,
    output logic          in_TREADY,
    output logic [OW-1:0] out_TDATA,
    output logic          out_TVALID,
    input  wire           out_TREADY
);
  localparam int N = OW / IW;
  localparam int NW = $clog2(N + 1);
  logic [OW-1:0] acc;  // the words so far, the latest in the top IW bits
  logic [NW-1:0] k;  // words in acc
  wire in_fire = in_TVALID && in_TREADY;
  wire [OW+IW-1:0] shifted = {in_TDATA, acc};
  wire [OW-1:0] next = OW'(shifted >> IW);
  assign in_TREADY = !out_TVALID || out_TREADY;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      k <= '0;
      acc <= '0;
      out_TVALID <= 1'b0;
      out_TDATA <= '0;
    end else begin
      if (out_TREADY) out_TVALID <= 1'b0;
      if (in_fire) begin
        acc <= next;
        if (k == NW'(N - 1)) begin
          k <= '0;
          out_TDATA <= next;
          out_TVALID <= 1'b1;
        end else begin
          k <= k + NW'(1);
        end
      end
    end
  end
endmodule

/* verilator lint_on DECLFILENAME */
`default_nettype wire
