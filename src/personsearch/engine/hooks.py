"""Trainer hooks: evaluation every N epochs, checkpoints every epoch, training-curve plots.

Hooks run on every process; those that write files do so on rank 0 only.
Order matters at the end of an epoch: evaluation adds its metrics to the epoch's
row before writers and checkpoints record it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from torch import nn

from personsearch.engine import distributed as du
from personsearch.engine.checkpoint import CheckpointSaver
from personsearch.engine.curves import plot_training_curves

if TYPE_CHECKING:
    from personsearch.engine.trainer import Trainer

Evaluator = Callable[[nn.Module], Mapping[str, float]]
EVAL_PREFIX = "eval/"


class HookBase:
    def before_train(self, trainer: "Trainer") -> None:
        pass

    def before_epoch(self, trainer: "Trainer") -> None:
        pass

    def after_step(self, trainer: "Trainer") -> None:
        pass

    def after_epoch(self, trainer: "Trainer") -> None:
        pass

    def after_train(self, trainer: "Trainer") -> None:
        pass


class EvalHook(HookBase):
    """Calls `evaluator(model)` on rank 0 every `period` epochs and after the last epoch
    (period 0: only after the last); its metrics join the epoch row as `eval/NAME`."""

    def __init__(self, *, evaluator: Evaluator, period: int = 1) -> None:
        if period < 0:
            raise ValueError(f"eval period must be >= 0, got {period}")
        self.evaluator = evaluator
        self.period = period

    def after_epoch(self, trainer: "Trainer") -> None:
        due = trainer.epoch == trainer.epochs or (self.period > 0 and trainer.epoch % self.period == 0)
        if not due:
            return
        if du.is_main_process():
            model = du.unwrap_model(trainer.model)
            model.eval()
            metrics = self.evaluator(model)
            model.train()
            for name, value in metrics.items():
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError(f"evaluator returned a non-finite {name!r} = {value}")
                trainer.history[-1][EVAL_PREFIX + name] = value
        du.barrier()


class CheckpointHook(HookBase):
    """Writes the trainer state plus `model_kwargs` (the model builder's exact arguments) and
    the resolved `config` after every epoch."""

    def __init__(
        self,
        *,
        output_dir: str | os.PathLike,
        model_kwargs: Mapping[str, Any],
        config: Mapping[str, Any],
        keep_last: int = 3,
    ) -> None:
        self.saver = CheckpointSaver(folder=output_dir, keep_last=keep_last)
        self.model_kwargs = dict(model_kwargs)
        self.config = dict(config)
        self.last_path: Path | None = None

    def after_epoch(self, trainer: "Trainer") -> None:
        state = trainer.state_dict()  # collective on every process (RNG states)
        if du.is_main_process():
            state["model_kwargs"] = self.model_kwargs
            state["config"] = self.config
            self.last_path = self.saver.save(state, trainer.epoch)


class CurvesHook(HookBase):
    """Redraws the training-curve PNG from the metric CSV files every epoch and at the end."""

    def __init__(self, *, output_dir: str | os.PathLike, epochs_csv: str, iterations_csv: str, png: str) -> None:
        folder = Path(output_dir)
        self.epochs_csv = folder / epochs_csv
        self.iterations_csv = folder / iterations_csv
        self.png = folder / png
        self._drawn_at: int | None = None  # iteration of the latest drawing

    def _draw(self, trainer: "Trainer") -> None:
        if self._drawn_at == trainer.iteration or not du.is_main_process():
            return
        if self.epochs_csv.is_file() or self.iterations_csv.is_file():
            plot_training_curves(epochs_csv=self.epochs_csv, iterations_csv=self.iterations_csv, out_path=self.png)
            self._drawn_at = trainer.iteration

    def after_epoch(self, trainer: "Trainer") -> None:
        self._draw(trainer)

    def after_train(self, trainer: "Trainer") -> None:
        self._draw(trainer)  # a run stopped mid-epoch still gets its curves up to the stop
