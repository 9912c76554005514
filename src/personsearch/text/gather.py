"""Rows of every process for the contrastive loss under torchrun.

`gather_rows` concatenates a (B, ...) tensor over all processes in rank order. The local rows
are the caller's own tensor, so they keep their gradient; the other processes' rows are
constants. Each process then computes the same loss L over the global batch, but its backward
reaches L only through its own rows; DistributedDataParallel averages the gradients over the W
processes, so the local rows' gradient is scaled by W here and the averaged update is exactly
the gradient of L (the loss of one big batch), not L / W.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from personsearch.engine import distributed as du


class _ScaleGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, factor: float) -> torch.Tensor:
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad * ctx.factor, None


def gather_rows(x: torch.Tensor, *, with_grad: bool) -> torch.Tensor:
    """(B, ...) on each process -> (W*B, ...) in rank order; every process must pass the same B."""
    world = du.get_world_size()
    if world == 1:
        return x
    sizes = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([x.shape[0]], device=x.device))
    if any(int(s) != x.shape[0] for s in sizes):
        raise ValueError(f"processes hold different batch sizes {[int(s) for s in sizes]}; "
                         "the contrastive loss over the global batch needs train.drop_last=true")
    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.detach().contiguous())
    parts[du.get_rank()] = _ScaleGrad.apply(x, float(world)) if with_grad else x
    return torch.cat(parts)
