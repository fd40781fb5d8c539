"""Jinja2 rendering of the project templates (hls_templates/project/*.j2).

Templates only print: every value they need is planned in Python
(:mod:`compiler.backends.hls.plan`).  ``StrictUndefined`` turns a missing
value into an error instead of an empty string.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).resolve().parents[3] / "hls_templates"
PROJECT_TEMPLATES = TEMPLATES / "project"
KERNELS = TEMPLATES / "kernels"


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PROJECT_TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_template(name: str, **values: Any) -> str:
    return _env().get_template(name).render(**values)


def kernel_headers() -> list[Path]:
    """The static kernel library, sorted by name."""
    return sorted(KERNELS.glob("*.h"))
