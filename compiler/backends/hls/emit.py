"""Write the HLS project of a planned design: one small render function per file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from compiler.backends.hls.consts import consts_header
from compiler.backends.hls.plan import (
    BEAT_BYTES,
    MAX_BATCH_DEPTH,
    MAX_BURST_BEATS,
    READ_OUTSTANDING,
    WEIGHT_PORT,
    DesignPlan,
)
from compiler.backends.hls.render import kernel_headers, render_template
from compiler.outputs import write_json


def _sources(plan: DesignPlan) -> list[str]:
    return ["sparsehls_top.cpp"]


def render_top_cpp(plan: DesignPlan) -> str:
    depth = {}
    for p in plan.inputs:
        depth[p.name] = MAX_BATCH_DEPTH * plan.max_seq
    for p in plan.outputs:
        depth[p.name] = MAX_BATCH_DEPTH * (plan.max_seq if p.rows == "seq" else 1) * p.cols
    return render_template(
        "sparsehls_top.cpp.j2",
        plan=plan,
        depth=depth,
        weight_beats=len(plan.image.tobytes()) // BEAT_BYTES,
        wbuf_beats=plan.wbuf_beats,
        burst=MAX_BURST_BEATS,
        outstanding=READ_OUTSTANDING,
        max_batch=MAX_BATCH_DEPTH,
        onchip_kib=round(plan.onchip_bytes / 1024),
    )


def render_top_h(plan: DesignPlan) -> str:
    return render_template("sparsehls_top.h.j2", plan=plan, weight_bytes=len(plan.image.tobytes()))


def render_configs(plan: DesignPlan) -> dict[str, str]:
    out = {}
    for header in plan.headers:
        ops = [op for op in plan.ops if op.header == header]
        title = header.removesuffix(".h").replace("config_", "")
        guard = "SPARSEHLS_" + header.upper().replace(".", "_")
        out[header] = render_template("config.h.j2", ops=ops, title=title, guard=guard)
    return out


def render_tb(plan: DesignPlan) -> str:
    return render_template("sparsehls_tb.cpp.j2", plan=plan)


def render_tcl(plan: DesignPlan) -> str:
    return render_template(
        "run_hls.tcl.j2", plan=plan, sources=_sources(plan), clock_ns=round(1000 / plan.board.clock_mhz, 3)
    )


def render_makefile(plan: DesignPlan) -> str:
    return render_template("Makefile.j2", plan=plan, sources=_sources(plan))


def connectivity_banks(plan: DesignPlan) -> list[tuple[str, str]]:
    """Weights on channel 0, activations I/O on channel 1."""
    banks = [(p.name, p.bank) for p in plan.inputs + plan.outputs]
    banks += [(WEIGHT_PORT, plan.board.bank(0))]
    return banks


def render_connectivity(plan: DesignPlan) -> str:
    slr = "SLR0" if plan.board.memory == "HBM" else ""  # HBM sits next to SLR0
    return render_template("connectivity.cfg.j2", plan=plan, banks=connectivity_banks(plan), slr=slr)


def render_interface_txt(plan: DesignPlan) -> str:
    """The argument list for the native XRT host (runtime/host): one argument per line."""
    lines = [f"# {plan.top} max_seq={plan.max_seq}", "# name kind dir ctype rows cols"]
    for a in plan.interface()["args"]:
        lines.append(" ".join(str(a.get(k, "-")) for k in ("name", "kind", "dir", "ctype", "rows", "cols")))
    return "\n".join(lines) + "\n"


def write_project(plan: DesignPlan, hls_dir: Path) -> dict[str, Any]:
    """Write every file under ``hls_dir`` (which must exist and be empty)."""
    src = hls_dir / "src"
    (src).mkdir(parents=True)
    (hls_dir / "tb").mkdir()
    files: dict[str, str | bytes] = {
        "src/sparsehls_top.cpp": render_top_cpp(plan),
        "src/sparsehls_top.h": render_top_h(plan),
        "src/sparsehls_consts.h": consts_header(),
        "tb/sparsehls_tb.cpp": render_tb(plan),
        "run_hls.tcl": render_tcl(plan),
        "Makefile": render_makefile(plan),
        "connectivity.cfg": render_connectivity(plan),
        "weights.bin": plan.image.tobytes(),
    }
    for name, text in render_configs(plan).items():
        files[f"src/{name}"] = text
    for h in kernel_headers():
        files[f"src/{h.name}"] = h.read_text()
    for rel, data in sorted(files.items()):
        path = hls_dir / rel
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
    write_json(hls_dir / "weights.json", plan.image.manifest())
    write_json(hls_dir / "interface.json", plan.interface())
    (hls_dir / "interface.txt").write_text(render_interface_txt(plan))
    names = sorted([*files, "weights.json", "interface.json", "interface.txt"])
    digest = hashlib.sha256()
    for rel in names:
        digest.update(rel.encode())
        digest.update((hls_dir / rel).read_bytes())
    return {"files": names, "sha256": digest.hexdigest()}
