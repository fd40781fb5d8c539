"""What a pruning method hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class PruneResult:
    masks: dict[str, torch.Tensor]  # target name -> bool keep mask (weight shape)
    settings: dict[str, Any] = field(default_factory=dict)  # the knobs actually used
    info: dict[str, Any] = field(default_factory=dict)  # method-specific facts for the report
    dropped_layers: list[int] = field(default_factory=list)
