"""The accelerator's kernel interface, described once: its control registers and AXI ports.

``sparsehls_accel`` is a Vitis RTL kernel with the ``ap_ctrl_hs`` protocol.  This
table is what every consumer reads:

* the RTL template (``accel.sv.j2``) decodes each argument from ``args[64*i +: 64]``
  of ``sparsehls_axil_ctrl``, whose argument ``i`` sits at ``0x10 + 8*i``;
* the cocotb testbench (``accel_tb.py``) writes the arguments at these offsets;
* the Vitis package (:mod:`compiler.backends.rtl.xo`): ``kernel.xml`` and the
  connectivity files;
* the XRT host (``runtime/host/sparsehls_accel_host.cpp``) passes them in this order.

Every argument has a 64-bit register slot (low word first).  Pointers fill it; the
scalars are 32-bit arguments (``unsigned int``, as in AMD's RTL-kernel examples):
the host writes the low word only, the high word stays 0 from reset, and the RTL
reads the low 32 bits of ``n_tokens`` and bit 0 of ``mode``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Vitis ap_ctrl_hs registers below the arguments (control, GIE, IER, ISR)
CTRL, GIE, IER, ISR = 0x00, 0x04, 0x08, 0x0C
ARG_BASE, ARG_STRIDE = 0x10, 8  # sparsehls_axil_ctrl: argument i at 0x10 + 8*i
CONTROL_PORT = "s_axi_control"
CONTROL_ADDR_BITS, CONTROL_DATA_BITS = 12, 32  # the AXI4-Lite port (range 0x1000)
MAXI_BUNDLE = "gmem"
MAXI_PORT = f"m_axi_{MAXI_BUNDLE}"
MAXI_DATA_BITS, MAXI_ADDR_BITS = 512, 64


@dataclass(frozen=True)
class KernelArg:
    """One argument of the kernel call, in call order."""

    name: str
    pointer: bool  # a device buffer on MAXI_PORT (else a scalar)
    ctype: str  # its C type on the host (kernel.xml's ``type``)
    doc: str

    @property
    def bytes(self) -> int:
        """Bytes the host writes (kernel.xml's ``size``): 8 for a pointer, 4 for a scalar."""
        return 8 if self.pointer else 4

    @property
    def port(self) -> str:
        return MAXI_PORT if self.pointer else CONTROL_PORT


#: the kernel's arguments in call order (argument i at ARG_BASE + ARG_STRIDE * i)
ARGS: tuple[KernelArg, ...] = (
    KernelArg("weights", True, "void*", "the weight image (weights.bin), read by a load call"),
    KernelArg("input", True, "void*", "the mask bytes, then the int32 embedding sums of each token"),
    KernelArg("output", True, "void*", "int8 last hidden state, one row of whole beats per token"),
    KernelArg("n_tokens", False, "unsigned int", "tokens of this call (1..the built maximum)"),
    KernelArg("mode", False, "unsigned int", "1: load the weight image into the tables; 0: run one sequence"),
)


def offset(index: int) -> int:
    return ARG_BASE + ARG_STRIDE * index


#: argument name -> register offset (the low word; the high word at +4)
REGISTERS: dict[str, int] = {a.name: offset(i) for i, a in enumerate(ARGS)}
