"""The hardware contract: what the generators build and the estimate assumes.

* :mod:`compiler.hw.boards`: the Alveo cards (part, platform, resources, memory);
* :mod:`compiler.hw.builds`: one frozen dataclass per unit build (engine, LayerNorm, adder, ...),
  written by the scheduler and read by the cost model, the RTL and HLS generators, the
  simulator and the bench;
* :mod:`compiler.hw.timing`: the exact cycle formulas of the RTL units (checked against RTL
  simulation);
* :mod:`compiler.hw.costs`: each unit's resources (Yosys numbers shipped as package data in
  ``compiler/hw/data/``, formulas where a size was not synthesized).
"""
