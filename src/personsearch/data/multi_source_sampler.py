"""Batches that mix pre-training sources by task: each batch holds detection samples and
re-ID samples in a fixed share (the paper samples x^D and x^R together). Within a task, every
sample is equally likely by default, so each source is drawn in proportion to its size;
`source_weights` multiplies the chance of every sample of a source, so a source's share of its
task's draws is weight x size over the task's sum of weight x size.

The order depends only on (seed, epoch): a resumed run repeats the uninterrupted one. Under
torch.distributed every process draws the same global batches and takes its own `batch_size`
slice of each, so the processes' shares are disjoint.
"""

from __future__ import annotations

import math
from typing import Iterator, Mapping, Sequence

import torch
from torch.utils.data import Sampler

from personsearch.data.unify import TASKS


def check_source_weights(source_weights: Mapping[str, float], names: Sequence[str]) -> None:
    """Raise ValueError naming the sources of `source_weights` not in `names` and the weights that
    are not finite numbers >= 0."""
    unknown = sorted(set(source_weights) - set(names))
    if unknown:
        raise ValueError(f"source_weights names unknown source(s) {unknown}; the sources are {', '.join(names)}")
    bad = {name: w for name, w in source_weights.items()
           if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0}
    if bad:
        raise ValueError(f"source_weights must be finite numbers >= 0; got {bad}")


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
        sources: Sequence[str] | None = None,
        source_weights: Mapping[str, float] | None = None,
    ) -> None:
        """`batches_per_epoch` None: one pass over the samples' count; a number makes epochs (and so
        checkpoints) that long whatever the data size, pools being drawn on across the epoch.
        `sources`: each sample's source name, needed with `source_weights` (source name -> weight
        >= 0, 1 for a source left out)."""
        unknown = sorted(set(tasks) - set(TASKS))
        if unknown:
            raise ValueError(f"unknown tasks {unknown}; valid: {', '.join(TASKS)}")
        if batch_size < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"need batch_size >= 1 and 0 <= rank < num_replicas; got {batch_size}, {rank}, {num_replicas}")
        if not 0.0 <= detection_fraction <= 1.0:
            raise ValueError(f"detection_fraction must be in [0, 1]; got {detection_fraction}")
        self.pools = {task: [i for i, t in enumerate(tasks) if t == task] for task in TASKS}
        self.source_pools = self._weighted_source_pools(tasks, sources, source_weights)
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

    @staticmethod
    def _weighted_source_pools(tasks: Sequence[str], sources: Sequence[str] | None,
                               source_weights: Mapping[str, float] | None
                               ) -> dict[str, tuple[list[list[int]], torch.Tensor]] | None:
        """Per task, each source's samples and the source's share of the task's draws; None when
        every sample is equally likely (the plain pools then give the same draws as without weights)."""
        if not source_weights:
            return None
        if sources is None or len(sources) != len(tasks):
            raise ValueError("source_weights needs `sources`: the source name of every sample")
        names = list(dict.fromkeys(sources))
        check_source_weights(source_weights, names)
        weights = {name: float(source_weights.get(name, 1.0)) for name in names}
        by_source: dict[str, dict[str, list[int]]] = {task: {} for task in TASKS}
        for index, (task, name) in enumerate(zip(tasks, sources)):
            by_source[task].setdefault(name, []).append(index)
        pools: dict[str, tuple[list[list[int]], torch.Tensor]] = {}
        for task, members in by_source.items():
            if len({weights[name] for name in members}) <= 1 and all(weights[name] > 0 for name in members):
                continue  # equal weights within the task: every sample equally likely, as without weights
            mass = torch.tensor([weights[name] * len(pool) for name, pool in members.items()], dtype=torch.float64)
            if mass.sum() <= 0:
                raise ValueError(f"source_weights: every {task} source ({', '.join(members)}) has weight 0")
            pools[task] = (list(members.values()), mass / mass.sum())
        return pools

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
        weighted = {}
        for task, (per_source, shares) in (self.source_pools or {}).items():
            weighted[task] = ([self._stream(pool, generator) for pool in per_source], shares)
            del streams[task]
        counts = {"detection": self.detection_per_batch, "reid": self.batch_size - self.detection_per_batch}
        for _ in range(self.num_batches):
            for replica in range(self.num_replicas):
                batch = []
                for task in TASKS:
                    if counts[task] == 0:
                        continue
                    if task in weighted:
                        source_streams, shares = weighted[task]
                        picks = torch.multinomial(shares, counts[task], replacement=True, generator=generator)
                        batch += [next(source_streams[pick]) for pick in picks.tolist()]
                    else:
                        batch += [next(streams[task]) for _ in range(counts[task])]
                if replica == self.rank:
                    yield batch
