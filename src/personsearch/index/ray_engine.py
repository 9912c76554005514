"""Indexing shards on Ray: a pool of actors, each loading the model once, runs `process_shard`.

    engine = RayEngine(SearchModelSpec(checkpoint="model.pth"), workers=4, address="auto")
    index_gallery(engine, "archive/", model_id=spec.model_id(), work_dir="archive.shards")

`address` is passed to `ray.init`: None starts a local Ray instance with `workers` CPUs (or
uses the one this process already started), "auto" joins the cluster this machine belongs
to, "ray://head:10001" connects to a remote cluster's client server. Workers read the
pictures themselves, so on a cluster the gallery must be at the same path on every node
(a shared file system). A shard whose task raises or whose actor dies is run again, up to
`retries` times, on a fresh actor if its actor died; results come back to this process.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

from tqdm import tqdm

from personsearch.index.embedders import Embedder
from personsearch.index.shards import Shard, ShardResult, process_shard


class EmbedderSpec(Protocol):
    """Something small and picklable that builds the embedder inside a worker (`SearchModelSpec`)."""

    def build(self) -> Embedder: ...


class ShardFailedError(RuntimeError):
    pass


def _ray():
    try:
        import ray
    except ImportError:
        raise ImportError("the ray engine needs Ray: pip install 'personsearch[ray]'") from None
    return ray


class _ShardWorker:
    """One Ray actor: builds the embedder once, then runs shards."""

    def __init__(self, spec: EmbedderSpec, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.embedder = spec.build()

    def run(self, root: str, shard: Shard) -> ShardResult:
        return process_shard(self.embedder, root, shard)


class RayEngine:
    def __init__(self, spec: EmbedderSpec, *, workers: int = 2, address: str | None = None,
                 cpus_per_worker: int = 1, retries: int = 2, init_kwargs: dict[str, Any] | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.spec = spec
        self.workers = workers
        self.address = address
        self.cpus_per_worker = cpus_per_worker
        self.retries = retries
        self.init_kwargs = dict(init_kwargs or {})

    def _init(self, ray) -> bool:
        """Connect (or start a local instance); True when this engine must shut it down."""
        if ray.is_initialized():
            return False
        kwargs = dict(self.init_kwargs)
        if self.address is None:
            kwargs.setdefault("num_cpus", self.workers * self.cpus_per_worker)
        ray.init(address=self.address, **kwargs)
        return True

    def run(self, root: Path, shards: Sequence[Shard], *, progress: bool) -> Iterator[ShardResult]:
        if not shards:
            return
        ray = _ray()
        started = self._init(ray)
        worker_class = ray.remote(num_cpus=self.cpus_per_worker)(_ShardWorker)

        def new_actor():
            return worker_class.remote(self.spec, self.cpus_per_worker)

        idle = [new_actor() for _ in range(min(self.workers, len(shards)))]
        actors = list(idle)
        queue = deque(shards)
        failures: dict[str, int] = {}
        running: dict[Any, tuple[Any, Shard]] = {}
        bar = tqdm(total=sum(len(shard.pictures) for shard in shards), desc="indexing (ray)", unit="img",
                   disable=not progress)
        try:
            while queue or running:
                while queue and idle:
                    actor, shard = idle.pop(), queue.popleft()
                    running[actor.run.remote(str(root), shard)] = (actor, shard)
                (ref,), _ = ray.wait(list(running), num_returns=1)
                actor, shard = running.pop(ref)
                try:
                    result = ray.get(ref)
                except (ray.exceptions.RayTaskError, ray.exceptions.RayActorError) as exc:
                    failures[shard.key] = failures.get(shard.key, 0) + 1
                    if failures[shard.key] > self.retries:
                        raise ShardFailedError(
                            f"shard {shard.pictures[0].name} .. {shard.pictures[-1].name} failed "
                            f"{failures[shard.key]} times; last error: {exc}") from None
                    if isinstance(exc, ray.exceptions.RayActorError):
                        actor = new_actor()
                        actors.append(actor)
                    queue.appendleft(shard)
                    idle.append(actor)
                    continue
                idle.append(actor)
                bar.update(len(shard.pictures))
                yield result
        finally:
            bar.close()
            for actor in actors:
                ray.kill(actor)
            if started:
                ray.shutdown()
