"""Training and test DataLoaders that behave the same in one process or many.

Training always goes through a `DistributedSampler` (with one replica when not
distributed): its order depends only on (seed, epoch), which is what makes resumed
runs repeat the uninterrupted run batch for batch.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, SequentialSampler

from personsearch.engine import distributed as du
from personsearch.engine.rng import seed_worker


def build_train_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    collate_fn: Callable,
    seed: int = 0,
    num_workers: int = 0,
    drop_last: bool = True,
    shuffle: bool = True,
    batch_sampler: Sampler[list[int]] | None = None,
) -> DataLoader:
    """`batch_size` is per process. `batch_sampler` (with `set_epoch(epoch)`, its order a function of
    seed and epoch, one process's share of each batch) replaces the shuffled per-process sampler."""
    if batch_sampler is not None:
        return DataLoader(dataset, batch_sampler=batch_sampler, num_workers=num_workers, collate_fn=collate_fn,
                          worker_init_fn=seed_worker, pin_memory=torch.cuda.is_available())
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    sampler = DistributedSampler(
        dataset,
        num_replicas=du.get_world_size(),
        rank=du.get_rank(),
        shuffle=shuffle,
        seed=seed,
        drop_last=False,
    )
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_fn,
        drop_last=drop_last,
        worker_init_fn=seed_worker,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
    )
    if len(loader) == 0:
        raise ValueError(
            f"{len(dataset)} training images give no full batch of {batch_size} per process "
            f"({du.get_world_size()} processes); lower train.batch_size or set train.drop_last=false"
        )
    return loader


def build_test_loader(dataset: Dataset, *, batch_size: int, collate_fn: Callable, num_workers: int = 0) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=SequentialSampler(dataset),
        num_workers=num_workers,
        collate_fn=collate_fn,
        worker_init_fn=seed_worker,
    )
