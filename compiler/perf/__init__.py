"""Performance models (analytical cycle counts), shared by the RTL backend and the FPGA model."""
