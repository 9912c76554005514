"""A small epoch-based trainer with hooks.

The model follows the torchvision detection contract: `model(images, targets)` in
training mode returns a dict of scalar losses. The trainer sums them (optionally
weighted), back-propagates, clips gradients, steps SGD and the per-iteration LR
schedule, and calls hooks (evaluation, metrics writers, checkpoints) around it.
Random generator states are captured at the end of every epoch, so a run resumed
from an epoch checkpoint continues exactly as the uninterrupted run would.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import torch
from torch import nn
from tqdm import tqdm

from personsearch.engine import distributed as du
from personsearch.engine.rng import capture_rng_state, restore_rng_state

# A parameter group whose dict holds OWN_CLIP: True is clipped to train.clip_grad_norm on its own,
# apart from the other groups (e.g. a small head whose gradient the backbone's would drown).
OWN_CLIP = "own_clip"

if TYPE_CHECKING:
    from personsearch.engine.hooks import HookBase


class NonFiniteLossError(FloatingPointError):
    """Training stopped before the update because a loss term was NaN or infinite."""

    def __init__(self, *, iteration: int, epoch: int, terms: Mapping[str, float]) -> None:
        self.iteration = iteration
        self.epoch = epoch
        self.terms = dict(terms)
        bad = ", ".join(f"{name}={value}" for name, value in terms.items() if not math.isfinite(value))
        super().__init__(
            f"non-finite loss at iteration {iteration} (epoch {epoch}): {bad}; "
            "no update was applied and no checkpoint was written for this epoch "
            "(lower train.lr, enable train.clip_grad_norm, or check the data of this batch)"
        )


def _to_device(images: list[torch.Tensor], targets: list[dict[str, Any]], device: torch.device):
    images = [image.to(device, non_blocking=True) for image in images]
    targets = [
        {key: value.to(device, non_blocking=True) if torch.is_tensor(value) else value for key, value in t.items()}
        for t in targets
    ]
    return images, targets


class Trainer:
    def __init__(
        self,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        train_loader: Iterable,
        device: torch.device,
        epochs: int,
        hooks: Iterable["HookBase"] = (),
        clip_grad_norm: float | None = None,
        amp: bool = False,
        loss_weights: Mapping[str, float] | None = None,
        show_progress: bool = True,
    ) -> None:
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.train_loader = train_loader
        self.device = device
        self.epochs = epochs
        self.hooks = list(hooks)
        self.clip_grad_norm = clip_grad_norm if clip_grad_norm and clip_grad_norm > 0 else None
        self.use_amp = bool(amp) and device.type == "cuda"  # mixed precision on GPU only
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.use_amp)
        self.loss_weights = dict(loss_weights or {})
        self.show_progress = show_progress
        self.epoch = 0  # completed epochs
        self.iteration = 0  # completed iterations
        self.history: list[dict[str, float]] = []  # one row of metrics per completed epoch
        self.last_step: dict[str, float] = {}  # losses and lr of the latest iteration
        self.resumed_from: str | None = None
        self._epoch_rng: list[dict[str, Any]] | None = None

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (RNG states of every process, as of the epoch end)."""
        return {
            "model": du.unwrap_model(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "history": [dict(row) for row in self.history],
            "rng": self._epoch_rng if self._epoch_rng is not None else du.all_gather_object(capture_rng_state()),
        }

    def load_state_dict(self, checkpoint: Mapping[str, Any], source: str | None = None) -> None:
        du.unwrap_model(self.model).load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.epoch = int(checkpoint["epoch"])
        self.iteration = int(checkpoint["iteration"])
        self.history = [dict(row) for row in checkpoint.get("history", [])]
        rng = checkpoint.get("rng")
        if rng:
            restore_rng_state(rng[du.get_rank() % len(rng)])
        self.resumed_from = source

    # ------------------------------------------------------------------ loop
    def train(self) -> list[dict[str, float]]:
        """Run the remaining epochs; returns the per-epoch history."""
        for hook in self.hooks:
            hook.before_train(self)
        try:
            while self.epoch < self.epochs:
                self._train_epoch()
        finally:
            for hook in self.hooks:
                hook.after_train(self)
        return self.history

    def _set_sampler_epoch(self) -> None:
        batch_sampler = getattr(self.train_loader, "batch_sampler", None)
        for holder in (self.train_loader, batch_sampler):
            sampler = getattr(holder, "sampler", None)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(self.epoch)
        if hasattr(batch_sampler, "set_epoch"):
            batch_sampler.set_epoch(self.epoch)

    def _train_epoch(self) -> None:
        self._epoch_rng = None
        self._set_sampler_epoch()
        self.model.train()
        for hook in self.hooks:
            hook.before_epoch(self)
        sums: dict[str, float] = defaultdict(float)
        steps = images_seen = 0
        start = time.perf_counter()
        bar = tqdm(
            self.train_loader,
            desc=f"epoch {self.epoch + 1}/{self.epochs}",
            disable=not (self.show_progress and du.is_main_process()),
            dynamic_ncols=True,
            leave=False,
        )
        for images, targets in bar:
            values = self.run_step(images, targets)
            steps += 1
            images_seen += len(images) * du.get_world_size()
            for name, value in values.items():
                sums[name] += value
            rate = images_seen / max(time.perf_counter() - start, 1e-9)
            shown = {name.removeprefix("loss_"): f"{value:.3f}" for name, value in values.items() if name != "lr"}
            bar.set_postfix(shown | {"lr": f"{values['lr']:.2e}", "img/s": f"{rate:.2f}"}, refresh=False)
            for hook in self.hooks:
                hook.after_step(self)
        bar.close()
        if steps == 0:
            raise ValueError("the training loader yielded no batch (fewer images than train.batch_size with drop_last?)")
        elapsed = time.perf_counter() - start
        self.epoch += 1
        row: dict[str, float] = {"epoch": self.epoch, "iteration": self.iteration}
        row.update({name: total / steps for name, total in sums.items() if name != "lr"})
        row.update({"lr": self.last_step["lr"], "time_s": elapsed, "images_per_s": images_seen / max(elapsed, 1e-9)})
        self.history.append(row)
        # Freeze the RNG state of this epoch boundary: hooks (evaluation loaders, ...) may draw from
        # the generators, and a resumed run must start the next epoch from exactly this state.
        self._epoch_rng = du.all_gather_object(capture_rng_state())
        for hook in self.hooks:
            hook.after_epoch(self)
        restore_rng_state(self._epoch_rng[du.get_rank()])
        du.barrier()

    def run_step(self, images: list[torch.Tensor], targets: list[dict[str, Any]]) -> dict[str, float]:
        images, targets = _to_device(images, targets, self.device)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            loss_dict = self.model(images, targets)
        unknown = sorted(set(self.loss_weights) - set(loss_dict))
        if unknown:
            raise ValueError(f"train.loss_weights names unknown loss terms {unknown}; the model returns {sorted(loss_dict)}")
        weighted = {name: loss * self.loss_weights.get(name, 1.0) for name, loss in loss_dict.items()}
        logged = du.reduce_mean(weighted)  # every process sees the same values, so all stop together
        total_value = sum(logged.values())
        if not all(math.isfinite(value) for value in logged.values()) or not math.isfinite(total_value):
            raise NonFiniteLossError(iteration=self.iteration + 1, epoch=self.epoch + 1, terms=logged)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(sum(weighted.values())).backward()
        if self.clip_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            joint = [p for group in self.optimizer.param_groups if not group.get(OWN_CLIP) for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(joint, self.clip_grad_norm)
            for group in self.optimizer.param_groups:
                if group.get(OWN_CLIP):
                    torch.nn.utils.clip_grad_norm_(group["params"], self.clip_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.iteration += 1
        self.last_step = {"loss": total_value, **logged, "lr": lr}
        return self.last_step
