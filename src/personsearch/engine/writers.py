"""Metric writers (rank 0 only): a per-epoch CSV rewritten atomically, a per-iteration CSV
appended line by line every `period` iterations, optional TensorBoard scalars, and a
one-line epoch summary on the console."""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from tqdm import tqdm

from personsearch.engine import distributed as du
from personsearch.engine.hooks import HookBase
from personsearch.engine.csvfiles import read_text_rows, write_rows_csv

if TYPE_CHECKING:
    from personsearch.engine.trainer import Trainer

EPOCHS_CSV = "metrics.csv"
ITERATIONS_CSV = "iterations.csv"


def _open_tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is an optional extra
        return None
    return SummaryWriter(log_dir=str(folder))


class MetricsWriter(HookBase):
    def __init__(self, *, output_dir: str | os.PathLike, period: int = 20, tensorboard: bool = True) -> None:
        if period < 1:
            raise ValueError(f"log period must be >= 1, got {period}")
        self.folder = Path(output_dir)
        self.period = period
        self.use_tensorboard = tensorboard
        self._tb = None
        self._file = None
        self._writer: csv.DictWriter | None = None
        self._header: list[str] | None = None  # of the rows kept from an interrupted run
        self._window: dict[str, float] = defaultdict(float)
        self._window_steps = 0

    def before_train(self, trainer: "Trainer") -> None:
        if not du.is_main_process():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / ITERATIONS_CSV
        # Rows written after the checkpoint we resume from belong to a run that was cut short.
        kept = [row for row in read_text_rows(path) if float(row["iteration"]) <= trainer.iteration]
        if kept:
            write_rows_csv(path, kept)
            self._header = list(kept[0])
        elif path.exists():
            path.unlink()
        if self.use_tensorboard:
            self._tb = _open_tensorboard(self.folder / "tensorboard")

    def after_step(self, trainer: "Trainer") -> None:
        if not du.is_main_process():
            return
        for name, value in trainer.last_step.items():
            self._window[name] += value
        self._window_steps += 1
        if trainer.iteration % self.period:
            return
        row = {"iteration": trainer.iteration, "epoch": trainer.epoch + 1}
        row.update({name: total / self._window_steps for name, total in self._window.items()})
        row["lr"] = trainer.last_step["lr"]
        self._window.clear()
        self._window_steps = 0
        self._append(row)
        if self._tb is not None:
            for name, value in row.items():
                if name not in ("iteration", "epoch"):
                    self._tb.add_scalar(f"train/{name}", value, trainer.iteration)

    def _append(self, row: Mapping[str, float]) -> None:
        if self._writer is None:
            self._file = open(self.folder / ITERATIONS_CSV, "a", newline="", encoding="utf-8", buffering=1)
            header = self._header or list(row)
            self._writer = csv.DictWriter(self._file, fieldnames=header, lineterminator="\n", extrasaction="ignore")
            if self._header is None:
                self._writer.writeheader()
        self._writer.writerow(row)

    def after_epoch(self, trainer: "Trainer") -> None:
        if not du.is_main_process():
            return
        write_rows_csv(self.folder / EPOCHS_CSV, trainer.history)
        row = trainer.history[-1]
        if self._tb is not None:
            for name, value in row.items():
                if name not in ("epoch", "iteration"):
                    self._tb.add_scalar(name if "/" in name else f"epoch/{name}", value, trainer.epoch)
            self._tb.flush()
        shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "iteration"))
        tqdm.write(f"epoch {trainer.epoch}/{trainer.epochs} (iteration {trainer.iteration}): {shown}")

    def after_train(self, trainer: "Trainer") -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
