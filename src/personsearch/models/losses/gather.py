"""Gather tensors of different lengths from every rank, in rank order (identity without a process group)."""

from __future__ import annotations

import torch
import torch.distributed as dist


def all_gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate `tensor` (N_rank, ...) over ranks along dim 0; N may differ between ranks."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    world = dist.get_world_size()
    count = torch.tensor([tensor.shape[0]], device=tensor.device, dtype=torch.long)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    sizes = [int(c.item()) for c in counts]
    padded = tensor.new_zeros((max(sizes), *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    gathered = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded.contiguous())
    return torch.cat([part[:size] for part, size in zip(gathered, sizes)], dim=0)
