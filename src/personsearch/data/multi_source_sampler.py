"""Batches that mix pre-training sources by task: each batch holds detection samples and
re-ID samples in a fixed share (the paper samples x^D and x^R together), every source of a
task drawn in proportion to its size.

The order depends only on (seed, epoch): a resumed run repeats the uninterrupted one. Under
torch.distributed each of `num_replicas` processes takes its own `batch_size` slice of every
global batch.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from personsearch.data.unify import TASKS


class MultiSourceBatchSampler(Sampler[list[int]]):
    def __init__(
        self,
        *,
        tasks: Sequence[str],
        batch_size: int,
        detection_fraction: float = 0.5,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        batches_per_epoch: int | None = None,
    ) -> None:
        """`batches_per_epoch` None: one pass over the samples' count; a number makes epochs (and so
        checkpoints) that long whatever the data size, pools being drawn on across the epoch."""
        unknown = sorted(set(tasks) - set(TASKS))
        if unknown:
            raise ValueError(f"unknown tasks {unknown}; valid: {', '.join(TASKS)}")
        if batch_size < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"need batch_size >= 1 and 0 <= rank < num_replicas; got {batch_size}, {rank}, {num_replicas}")
        if not 0.0 <= detection_fraction <= 1.0:
            raise ValueError(f"detection_fraction must be in [0, 1]; got {detection_fraction}")
        self.pools = {task: [i for i, t in enumerate(tasks) if t == task] for task in TASKS}
        self.batch_size, self.seed, self.num_replicas, self.rank = batch_size, seed, num_replicas, rank
        self.epoch = 0
        global_batch = batch_size * num_replicas
        if self.pools["detection"] and self.pools["reid"]:
            # every process gets round(batch_size * fraction) detection samples, at least one of each task when it can
            per_process = min(max(round(batch_size * detection_fraction), 1 if batch_size > 1 else 0), batch_size)
            self.detection_per_batch = per_process
        else:
            self.detection_per_batch = batch_size if self.pools["detection"] else 0
        self.num_batches = len(tasks) // global_batch if batches_per_epoch is None else int(batches_per_epoch)
        if self.num_batches == 0:
            raise ValueError(f"{len(tasks)} samples give no full batch of {batch_size} x {num_replicas} processes")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def _stream(self, pool: list[int], generator: torch.Generator) -> Iterator[int]:
        while True:  # a pool shorter than the epoch's demand is reshuffled and drawn again
            for position in torch.randperm(len(pool), generator=generator).tolist():
                yield pool[position]

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator()
        generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        streams = {task: self._stream(pool, generator) for task, pool in self.pools.items() if pool}
        counts = {"detection": self.detection_per_batch, "reid": self.batch_size - self.detection_per_batch}
        for _ in range(self.num_batches):
            for replica in range(self.num_replicas):
                batch = [next(streams[task]) for task in TASKS for _ in range(counts[task])]
                if replica == self.rank:
                    yield batch
