"""Trainer hooks of DICL: memory initialisation, re-clustering every epoch, a loadable search model.

Under torch.distributed the memory is initialised and clustered on rank 0 and the result is
broadcast, so every rank trains with the same memory and pseudo labels.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from personsearch.data.scene_dataset import image_to_tensor, read_rgb_image
from personsearch.engine import distributed as du
from personsearch.engine.hooks import HookBase
from personsearch.methods.dicl.clustering import ClusteringSettings, cluster_memory_features
from personsearch.methods.dicl.siamese import DICLTrainingModel
from personsearch.methods.dicl.weak_data import WeakSceneRecord
from personsearch.utils.atomic import atomic_torch_save

if TYPE_CHECKING:
    from personsearch.engine.trainer import Trainer

SEARCH_MODEL_FILE = "search_model.pth"
ClusterScorer = Callable[[np.ndarray], Mapping[str, float]]


def broadcast_from_main(tensor: torch.Tensor) -> torch.Tensor:
    if du.is_distributed():
        dist.broadcast(tensor, src=0)
    return tensor


@torch.no_grad()
def memory_features(model: DICLTrainingModel, records: Sequence[WeakSceneRecord], device: torch.device,
                    progress: bool = True) -> torch.Tensor:
    """(num_slots, D) features of every training box, in slot order (model in eval mode)."""
    rows = []
    for record in tqdm(records, desc="memory init", disable=not progress, leave=False):
        if len(record.boxes) == 0:
            continue
        image = image_to_tensor(read_rgb_image(record.image_path)).to(device)
        boxes = torch.from_numpy(record.boxes.copy()).to(device)
        rows.append(model.box_features([image], [boxes]).float())
    return torch.cat(rows)


class ClusteringHook(HookBase):
    """Before training: fill an uninitialised memory from the boxes' features (a resumed memory is
    kept). Before every epoch: cluster the memory (with optional must-link groups of slots) and set
    its pseudo labels. The epoch's row of the history gets cluster/num_clusters, cluster/singletons,
    cluster/largest, cluster/seconds and whatever `scorer(labels)` returns (e.g. pairwise precision /
    recall when true identities are known)."""

    def __init__(self, *, records: Sequence[WeakSceneRecord], image_of_slot: np.ndarray,
                 settings: ClusteringSettings, device: torch.device, scorer: ClusterScorer | None = None,
                 progress: bool = True, must_links: Sequence[np.ndarray] | None = None) -> None:
        self.records = list(records)
        self.image_of_slot = image_of_slot
        self.settings = settings
        self.device = device
        self.scorer = scorer
        self.progress = progress
        self.must_links = must_links
        self.epoch_stats: dict[str, float] = {}

    def before_train(self, trainer: "Trainer") -> None:
        model: DICLTrainingModel = du.unwrap_model(trainer.model)
        if bool(model.memory.initialised):
            return
        features = torch.zeros_like(model.memory.features)
        if du.is_main_process():
            model.eval()
            features = memory_features(model, self.records, self.device, self.progress).to(features)
            model.train()
        model.memory.initialise(broadcast_from_main(features))

    def find_clusters(self, features: torch.Tensor) -> np.ndarray:
        """(num_slots,) contiguous cluster labels of the memory `features`."""
        return cluster_memory_features(features, self.image_of_slot, self.settings, must_links=self.must_links)

    def before_epoch(self, trainer: "Trainer") -> None:
        memory = du.unwrap_model(trainer.model).memory
        labels = torch.zeros_like(memory.labels)
        stats: dict[str, Any] = {}
        if du.is_main_process():
            start = time.perf_counter()
            found = self.find_clusters(memory.features.detach().cpu())
            sizes = np.bincount(found)
            stats = {"cluster/seconds": time.perf_counter() - start, "cluster/num_clusters": float(sizes.size),
                     "cluster/singletons": float((sizes == 1).sum()),
                     "cluster/largest": float(sizes.max())}
            if self.scorer is not None:
                stats.update({f"cluster/{k}": float(v) for k, v in self.scorer(found).items()})
            labels = torch.from_numpy(found).to(labels)
            if self.progress:
                tqdm.write(f"epoch {trainer.epoch + 1}: {int(sizes.size)} clusters "
                           f"({int((sizes == 1).sum())} singletons) in {stats['cluster/seconds']:.1f} s")
        memory.set_labels(broadcast_from_main(labels))
        self.epoch_stats = stats

    def after_epoch(self, trainer: "Trainer") -> None:
        trainer.history[-1].update(self.epoch_stats)


class SearchModelExportHook(HookBase):
    """Writes OUTPUT_DIR/search_model.pth after every epoch: the search model alone, loadable by
    `load_search_model` (and so by `personsearch search`, `index` and `adapt`), with `extra` entries
    (e.g. "person_height") beside the weights."""

    def __init__(self, *, output_dir: str | Path, model_kwargs: Mapping[str, Any],
                 extra: Mapping[str, Any] | None = None) -> None:
        self.path = Path(output_dir) / SEARCH_MODEL_FILE
        self.model_kwargs = dict(model_kwargs)
        self.extra = dict(extra or {})

    def after_epoch(self, trainer: "Trainer") -> None:
        if du.is_main_process():
            model: DICLTrainingModel = du.unwrap_model(trainer.model)
            atomic_torch_save(self.path, {**self.extra, "model_kwargs": self.model_kwargs, "epoch": trainer.epoch,
                                          "model": model.search_model.state_dict()})
