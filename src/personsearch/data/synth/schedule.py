"""Who appears where: the split, camera, sequence and frame of every scene and the labelled
identities in it. Computed once for the whole world (integers only), so any scene can then
be rendered on its own."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScenePlan:
    index: int
    camera: int
    sequence: int
    frame: int
    split: str
    pids: tuple[int, ...]  # labelled identities
    num_unlabelled: int


def _people_counts(rng: np.random.Generator, n: int, min_people: int, max_people: int,
                   labelled_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    total = np.clip(np.round(np.exp(rng.normal(np.log(4.5), 0.65, size=n))), min_people, max_people).astype(int)
    labelled = np.maximum(1, rng.binomial(total, labelled_fraction))
    labelled = np.minimum(labelled, total)
    return total, labelled


def _assign(rng: np.random.Generator, scenes: list[int], cameras: np.ndarray, capacity: dict[int, int],
            pids: list[int], num_cameras: int, home_cameras: dict[int, list[int]]) -> dict[int, list[int]]:
    """Fill labelled slots: every identity first gets two appearances in two cameras, then the
    remaining slots go to identities that usually walk past that camera."""
    members: dict[int, list[int]] = {s: [] for s in scenes}
    free: dict[int, list[int]] = {c: [] for c in range(num_cameras)}
    for s in scenes:
        free[int(cameras[s])].extend([s] * capacity[s])
    for c in free:
        rng.shuffle(free[c])

    def take(pid: int, camera: int) -> bool:
        pool = free[camera]
        for k in range(len(pool) - 1, -1, -1):
            s = pool[k]
            if pid not in members[s]:
                members[s].append(pid)
                pool.pop(k)
                return True
        return False

    for pid in rng.permutation(pids).tolist():
        placed_cameras: list[int] = []
        for camera in home_cameras[pid] + rng.permutation(num_cameras).tolist():
            if len(placed_cameras) == 2:
                break
            if camera not in placed_cameras and take(pid, camera):
                placed_cameras.append(camera)
    by_camera = {c: [p for p in pids if c in home_cameras[p]] or list(pids) for c in range(num_cameras)}
    for camera, pool in free.items():
        while pool:
            s = pool.pop()
            for pool_of_pids in (by_camera[camera], pids):
                picks = rng.integers(len(pool_of_pids), size=8)
                chosen = next((pool_of_pids[int(k)] for k in picks if pool_of_pids[int(k)] not in members[s]), None)
                if chosen is not None:
                    members[s].append(chosen)
                    break
    return members


def plan_scenes(*, num_scenes: int, num_cameras: int, train_pids: list[int], test_pids: list[int],
                train_fraction: float, min_people: int, max_people: int, labelled_fraction: float,
                scenes_per_sequence: int, rng: np.random.Generator) -> list[ScenePlan]:
    cameras = np.arange(num_scenes) % num_cameras
    split = np.array(["train"] * num_scenes, dtype=object)
    for c in range(num_cameras):
        own = np.flatnonzero(cameras == c)
        num_test = int(round(len(own) * (1.0 - train_fraction)))
        split[rng.permutation(own)[:num_test]] = "test"
    total, labelled = _people_counts(rng, num_scenes, min_people, max_people, labelled_fraction)
    members: dict[int, list[int]] = {}
    for name, pids in (("train", train_pids), ("test", test_pids)):
        scenes = [int(s) for s in np.flatnonzero(split == name)]
        if not scenes or not pids:
            members.update({s: [] for s in scenes})
            continue
        capacity = {s: int(labelled[s]) for s in scenes}
        # Every identity needs two appearances; grow the busiest-possible scenes until it fits.
        k = 0
        while sum(capacity.values()) < 2 * len(pids) and k < 50 * len(scenes):
            s = scenes[k % len(scenes)]
            if capacity[s] < max_people:
                capacity[s] += 1
            k += 1
        home = {p: rng.choice(num_cameras, size=min(num_cameras, int(rng.integers(2, 4))), replace=False).tolist()
                for p in pids}
        members.update(_assign(rng, scenes, cameras, capacity, pids, num_cameras, home))
    plans = []
    for s in range(num_scenes):
        within = s // num_cameras
        pids_here = tuple(members[s])
        plans.append(ScenePlan(
            index=s, camera=int(cameras[s]), sequence=within // scenes_per_sequence,
            frame=1 + (within % scenes_per_sequence) * 25, split=str(split[s]), pids=pids_here,
            num_unlabelled=int(max(0, total[s] - len(pids_here))),
        ))
    return plans
