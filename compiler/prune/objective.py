"""What pruning preserves: the dense model's outputs on calibration text.

``Context`` bundles the student (being pruned), the frozen dense teacher, the
prunable targets and the calibration batches, and offers the building blocks
the methods share: the distillation loss, a masked fine-tune loop, gradient
samples for Fisher estimates, and fidelity on held-out sentences.

Teacher outputs are cached in fp16 up to :data:`TEACHER_CACHE_BYTES`; batches beyond
that are recomputed when they are used (a teacher forward is about a third of a step),
so memory stays bounded whatever the amount of text.  Fine-tuning stops at the time
budget (``deadline``) and, where the masks are fixed, keeps the parameters with the best
loss on a few validation batches that it does not train on.

Loss without labels: per-layer hidden-state MSE (normalised by the teacher's
energy) + (1 - cosine) of mean-pooled sentence embeddings.  With labels and a
classification head: + cross-entropy + KL to the teacher's logits (T = 2).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from compiler.prune.blocks import expand
from compiler.prune.targets import Target

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]
Masks = dict[str, torch.Tensor]  # target name -> bool keep mask, weight shape
StepHook = Callable[[int, int, float], None]  # (step done, steps, loss) for a progress bar

TEACHER_CACHE_BYTES = 1 << 30  # fp16 teacher hidden states kept at most; the rest is recomputed
VAL_BATCHES = 2  # calibration batches held back to choose the best fine-tuned parameters
EVALS_PER_RUN = 8  # validation passes per fine-tune run (best-checkpoint granularity)
LR = 1e-4  # AdamW peak learning rate of the masked distillation (--lr)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


@dataclass
class Outputs:
    hidden: tuple[torch.Tensor, ...]  # per layer, embeddings first
    logits: torch.Tensor | None
    mask: torch.Tensor  # attention mask, float [B, T]

    @property
    def embedding(self) -> torch.Tensor:
        return mean_pool(self.hidden[-1], self.mask)

    def nbytes(self) -> int:
        return sum(h.numel() * h.element_size() for h in self.hidden)

    def cast(self, dtype: torch.dtype) -> Outputs:
        lg = None if self.logits is None else self.logits.to(dtype)
        return Outputs(tuple(h.to(dtype) for h in self.hidden), lg, self.mask)


def mean_pool(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


def run_model(model: Any, batch: Batch) -> Outputs:
    out = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True
    )
    logits = getattr(out, "logits", None)
    return Outputs(tuple(out.hidden_states), logits, batch["attention_mask"].float())


def distill_loss(s: Outputs, t: Outputs, labels: torch.Tensor | None = None) -> torch.Tensor:
    m = t.mask.unsqueeze(-1)
    ntok = t.mask.sum().clamp(min=1.0)
    hid = s.hidden[0].new_zeros(())
    for hs, ht in zip(s.hidden[1:], t.hidden[1:], strict=True):
        energy = ((ht * ht) * m).sum() / ntok
        hid = hid + (((hs - ht) ** 2) * m).sum() / ntok / energy.clamp(min=1e-12)
    loss = hid / max(len(s.hidden) - 1, 1)
    loss = loss + (1.0 - F.cosine_similarity(s.embedding, t.embedding, dim=-1)).mean()
    if s.logits is not None and t.logits is not None:
        tt = 2.0
        loss = (
            loss
            + F.kl_div(F.log_softmax(s.logits / tt, -1), F.softmax(t.logits / tt, -1), reduction="batchmean")
            * tt
            * tt
        )
        if labels is not None:
            loss = loss + F.cross_entropy(s.logits, labels)
    return loss


@dataclass
class Context:
    student: Any
    teacher: Any
    targets: list[Target]
    bm: int
    bn: int
    sparsity: float
    heads: int
    calib: list[Batch]
    seed: int = 0
    steps: int | None = None
    pruning_steps: int | None = None  # gradual methods: selections on the cubic schedule (pgb, obert)
    lr: float = LR
    progress: Callable[[str], None] | None = None
    on_step: StepHook | None = None
    deadline: float | None = None  # time.monotonic() at which fine-tuning stops
    quality: Callable[[Any], float] | None = None  # task score of the student (higher is better)
    cache_bytes: int = TEACHER_CACHE_BYTES
    teacher_cache: dict[int, Outputs] = field(default_factory=dict)
    recovery: dict[str, Any] = field(default_factory=dict)  # what fine-tuning did, for the report

    def __post_init__(self) -> None:
        self.teacher.eval()
        self.student.eval()  # dropout off: short, deterministic distillation
        for n, p in self.student.named_parameters():
            if "embeddings" in n:
                p.requires_grad_(False)  # never trained here; skips a large dense gradient
        n = len(self.calib)
        nval = min(VAL_BATCHES, n // 5)
        self.val = list(range(n - nval, n))  # held back from training when there is enough text
        self.train_idx = list(range(n - nval)) or list(range(n))
        self._cached_bytes = 0
        self.recovery = {"steps_done": 0, "stopped_at_time_budget": False, "validation_batches": nval}

    # -- teacher outputs: fp16 cache, bounded; recomputed beyond the bound ----------
    @torch.no_grad()
    def teacher_outputs(self, i: int) -> Outputs:
        hit = self.teacher_cache.get(i)
        if hit is not None:
            return hit.cast(torch.float32)
        half = run_model(self.teacher, self.calib[i]).cast(torch.float16)  # cached or not: same numbers
        if self._cached_bytes + half.nbytes() <= self.cache_bytes:
            self.teacher_cache[i] = half
            self._cached_bytes += half.nbytes()
        return half.cast(torch.float32)

    def reset_teacher_cache(self) -> None:
        """After the teacher's weights change (a hidden permutation)."""
        self.teacher_cache.clear()
        self._cached_bytes = 0

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    # -- masks -------------------------------------------------------------
    def masks_from_blocks(self, block_keep: dict[str, torch.Tensor]) -> Masks:
        return {t.name: expand(block_keep[t.name], self.bm, self.bn, t.shape) for t in self.targets}

    @torch.no_grad()
    def apply(self, masks: Masks) -> None:
        for t in self.targets:
            t.weight.mul_(masks[t.name].to(t.weight.dtype))

    # -- losses ------------------------------------------------------------
    def batch_loss(self, i: int) -> torch.Tensor:
        b = self.calib[i]
        return distill_loss(run_model(self.student, b), self.teacher_outputs(i), b.get("labels"))

    @torch.no_grad()
    def eval_loss(self, n_batches: int | None = None) -> float:
        idx = range(len(self.calib) if n_batches is None else min(n_batches, len(self.calib)))
        return float(np.mean([float(self.batch_loss(i)) for i in idx]))

    @torch.no_grad()
    def val_loss(self) -> float:
        return float(np.mean([float(self.batch_loss(i)) for i in self.val]))

    def batch_order(self, seed_offset: int = 0) -> Iterator[int]:
        rng = random.Random(self.seed * 1000003 + seed_offset)
        while True:
            order = list(self.train_idx)
            rng.shuffle(order)
            yield from order

    # -- masked fine-tune ----------------------------------------------------
    def finetune(
        self,
        steps: int,
        masks: Masks | None,
        hook: Callable[[int], None] | None = None,
        lr: float | None = None,
        seed_offset: int = 0,
    ) -> list[float]:
        """Distil the student towards the teacher for ``steps`` Adam steps; pruned weights stay zero.

        Stops early at the time budget.  With fixed ``masks`` and validation batches, the
        parameters with the lowest validation loss (checked :data:`EVALS_PER_RUN` times) are kept.
        """
        if steps <= 0 or self.out_of_time():
            self.recovery["stopped_at_time_budget"] |= steps > 0
            return []
        params = [p for p in self.student.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=lr or self.lr, weight_decay=0.0)
        warm = max(1, steps // 10)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: min((k + 1) / warm, max(0.0, (steps - k) / max(1, steps - warm)))
        )
        keep_best = masks is not None and bool(self.val)
        every = max(1, steps // EVALS_PER_RUN)
        best = (self.val_loss(), 0, _snapshot(params)) if keep_best else None
        order = self.batch_order(seed_offset)
        losses: list[float] = []
        for k in range(steps):
            loss = self.batch_loss(next(order))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if masks is not None:
                self.apply(masks)
            if hook is not None:
                hook(k)
            losses.append(float(loss.detach()))
            self._report_step(k, steps, losses[-1])
            stop = self.out_of_time()
            if best is not None and ((k + 1) % every == 0 or k == steps - 1 or stop):
                v = self.val_loss()
                if v < best[0]:
                    best = (v, k + 1, _snapshot(params))
            if stop:
                self.recovery["stopped_at_time_budget"] = True
                log.info("time budget reached after %d of %d fine-tune steps", k + 1, steps)
                break
        self.recovery["steps_done"] += len(losses)
        if best is not None:
            with torch.no_grad():
                for p, b in zip(params, best[2], strict=True):
                    p.copy_(b)
            self.recovery.update(
                best_step=best[1], best_val_loss=float(f"{best[0]:.6g}"), last_steps=len(losses)
            )
        return losses

    def _report_step(self, k: int, steps: int, loss: float) -> None:
        if self.on_step is not None:
            self.on_step(k + 1, steps, loss)
        elif self.progress and (k % 10 == 0 or k == steps - 1):
            self.progress(f"fine-tune step {k + 1}/{steps} loss {loss:.4f}")

    # -- gradient samples (Fisher) --------------------------------------------
    def grad_samples(
        self, n: int, batch_size: int = 8, seed_offset: int = 7
    ) -> Iterator[dict[str, torch.Tensor]]:
        """``n`` gradients g of the prunable weights with E[g g^T] = the Gauss-Newton matrix J^T J.

        At the dense point the distillation loss and its gradient vanish, so the
        Fisher of the output is sampled instead: g = J^T r with r ~ N(0, I) over the
        (normalised) last hidden states of a mini-batch.  With labels and logits the
        empirical Fisher of the task loss is used (g = gradient of cross-entropy).
        """
        gen = torch.Generator().manual_seed(self.seed * 7919 + seed_offset)
        texts_b = [b for b in self.calib]
        rows: list[tuple[int, int]] = [
            (bi, r) for bi, b in enumerate(texts_b) for r in range(b["input_ids"].shape[0])
        ]
        weights = [t.weight for t in self.targets]
        for k in range(n):
            pick = torch.randint(len(rows), (batch_size,), generator=gen).tolist()
            sub = [rows[p] for p in pick]
            batch = _gather(texts_b, sub)
            out = run_model(self.student, batch)
            if out.logits is not None and "labels" in batch:
                obj = F.cross_entropy(out.logits, batch["labels"], reduction="sum")
            else:
                h = out.hidden[-1]
                scale = h.detach().pow(2).mean().sqrt().clamp(min=1e-6)
                r = torch.randn(h.shape, generator=gen) * out.mask.unsqueeze(-1)
                obj = (h * r).sum() / scale
            grads = torch.autograd.grad(obj, weights)
            yield {t.name: g.detach() for t, g in zip(self.targets, grads, strict=True)}
            if self.progress and k % 16 == 0:
                self.progress(f"gradient sample {k + 1}/{n}")


def _snapshot(params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def _gather(batches: list[Batch], sub: list[tuple[int, int]]) -> Batch:
    ids = [batches[b]["input_ids"][r] for b, r in sub]
    att = [batches[b]["attention_mask"][r] for b, r in sub]
    n = max(int(a.sum()) for a in att)

    def fit(x: torch.Tensor) -> torch.Tensor:  # rows come from batches padded to different lengths
        return torch.cat([x[:n], x.new_zeros(max(0, n - len(x)))])

    out: Batch = {
        "input_ids": torch.stack([fit(x) for x in ids]),
        "attention_mask": torch.stack([fit(x) for x in att]),
    }
    if "labels" in batches[0]:
        out["labels"] = torch.stack([batches[b]["labels"][r] for b, r in sub])
    return out


# -- fidelity -------------------------------------------------------------------


def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), 1-based."""
    sorter = np.argsort(x, kind="mergesort")
    inv = np.empty_like(sorter)
    inv[sorter] = np.arange(len(x))
    xs = x[sorter]
    obs = np.r_[True, xs[1:] != xs[:-1]]
    dense = obs.cumsum()[inv]
    count = np.r_[np.nonzero(obs)[0], len(obs)]
    return 0.5 * (count[dense] + count[dense - 1] + 1)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else 0.0


@torch.no_grad()
def embeddings(model: Any, batches: list[Batch]) -> torch.Tensor:
    return torch.cat([run_model(model, b).embedding for b in batches])


@torch.no_grad()
def fidelity(student: Any, teacher: Any, held: list[Batch]) -> dict[str, float]:
    """Mean cosine of sentence embeddings and Spearman of pairwise cosine similarities."""
    es, et = embeddings(student, held), embeddings(teacher, held)
    cos = F.cosine_similarity(es, et, dim=-1)
    ns, nt = F.normalize(es, dim=-1), F.normalize(et, dim=-1)
    iu = torch.triu_indices(len(es), len(es), offset=1)
    ss = (ns @ ns.T)[iu[0], iu[1]].numpy()
    st = (nt @ nt.T)[iu[0], iu[1]].numpy()
    return {
        "mean_cosine": float(cos.mean()),
        "min_cosine": float(cos.min()),
        "spearman": spearman(ss, st) if len(ss) > 1 else 1.0,
        "n_sentences": len(es),
    }
