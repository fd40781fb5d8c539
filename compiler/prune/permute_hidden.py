"""One permutation of the hidden (residual) dimension, applied to the whole model.

With P a permutation of the H hidden units, every hidden state h becomes h[P] if

* every embedding table's columns are permuted (word, position, token type),
* every LayerNorm over H has its weight and bias permuted (LayerNorm is
  permutation-equivariant: its mean and variance do not depend on the order),
* every linear that *reads* the hidden state has its input columns permuted
  (query, key, value, FFN in; the pooler / pre-classifier / RoBERTa head's dense),
* every linear that *writes* to the residual stream has its output rows and bias
  permuted (attention output, FFN out).

Attention scores, the FFN inner activations, the pooler output and classifier logits are
unchanged; the encoder's hidden states (and the mean-pooled sentence embedding) come out
permuted by P.  Sentence-to-sentence cosines, and anything linear fitted on the
embeddings (the probe), are unchanged.  Comparing with an unpermuted model's embeddings
needs ``h[..., argsort(P)]``: the prune report records P.
"""

from __future__ import annotations

from typing import Any

import torch

from compiler.prune.targets import Target

READS = ("q", "k", "v", "ffn_in")
WRITES = ("o", "ffn_out")
# linears outside the encoder layers that read the hidden state (the rest read their outputs)
HEAD_READERS = ("pooler.dense", "pre_classifier", "classifier.dense")


@torch.no_grad()
def permute_hidden(model: Any, targets: list[Target], perm: torch.Tensor) -> None:
    """Apply hidden permutation ``perm`` in place (see the module docstring)."""
    hidden = targets[0].shape[1]
    if sorted(perm.tolist()) != list(range(hidden)):
        raise ValueError(f"not a permutation of {hidden} hidden units")
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Embedding) and mod.weight.shape[1] == hidden:
            mod.weight.copy_(mod.weight[:, perm])
        elif isinstance(mod, torch.nn.LayerNorm) and tuple(mod.normalized_shape) == (hidden,):
            mod.weight.copy_(mod.weight[perm])
            mod.bias.copy_(mod.bias[perm])
        elif isinstance(mod, torch.nn.Linear) and name.endswith(HEAD_READERS):
            mod.weight.copy_(mod.weight[:, perm])
    for t in targets:
        w = t.module.weight
        if t.kind in READS:
            w.copy_(w[:, perm])
        else:
            w.copy_(w[perm])
            if t.module.bias is not None:
                t.module.bias.copy_(t.module.bias[perm])


def permute_saliency(s: dict[str, torch.Tensor], targets: list[Target], perm: torch.Tensor) -> None:
    """Permute per-weight saliencies exactly like :func:`permute_hidden` permutes the weights."""
    for t in targets:
        s[t.name] = s[t.name][:, perm] if t.kind in READS else s[t.name][perm]


def hidden_profile(s: dict[str, torch.Tensor], targets: list[Target], bm: int, bn: int) -> torch.Tensor:
    """Saliency of each hidden unit per block of every matrix it touches: ``[H, blocks]``.

    A hidden unit is a column of the reading matrices (blocked by ``bm`` rows) and a row of
    the writing ones (blocked by ``bn`` columns); grouping units with similar profiles makes
    salient weights share blocks along the hidden axis.  Each matrix's part is scaled to
    sum 1, so no matrix kind dominates.
    """
    from compiler.prune.blocks import block_sum

    parts = []
    for t in targets:
        m = s[t.name].T if t.kind in READS else s[t.name]  # [H, other]
        p = block_sum(m, 1, bm if t.kind in READS else bn)
        parts.append(p / p.sum().clamp(min=1e-30))
    return torch.cat(parts, 1)
