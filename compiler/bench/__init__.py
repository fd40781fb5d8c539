"""`sparsehls bench` / `sparsehls report`: measure CPU backends, estimate FPGA boards, render reports."""
