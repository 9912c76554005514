"""A PNG of training curves: losses per iteration (and per epoch), learning rate, and
evaluation metrics per epoch. Drawn with matplotlib's Agg canvas (no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

from personsearch.engine.csvfiles import read_rows_csv
from personsearch.utils.atomic import atomic_path

_NOT_CURVES = {"epoch", "iteration", "lr", "time_s", "images_per_s"}


def _series(rows: list[dict[str, float]], x: str, y: str) -> tuple[list[float], list[float]]:
    pairs = [(row[x], row[y]) for row in rows if x in row and y in row]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_training_curves(
    *, epochs_csv: str | os.PathLike, iterations_csv: str | os.PathLike, out_path: str | os.PathLike
) -> Path:
    """Draw the curves found in the two metric CSV files into `out_path` (written atomically)."""
    # imported here: matplotlib is only needed when a figure is drawn, not by every process
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    by_epoch = read_rows_csv(Path(epochs_csv))
    by_iter = read_rows_csv(Path(iterations_csv))
    loss_rows, loss_x = (by_iter, "iteration") if len(by_iter) >= 2 else (by_epoch, "iteration")
    loss_names = sorted({k for row in loss_rows for k in row if k not in _NOT_CURVES and not k.startswith("eval/")})
    eval_names = sorted({k for row in by_epoch for k in row if k.startswith("eval/")})

    panels = 3 if eval_names else 2  # no empty evaluation panel for runs that never evaluated
    figure = Figure(figsize=(4 * panels, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels)
    for name in loss_names:
        xs, ys = _series(loss_rows, loss_x, name)
        axes[0].plot(xs, ys, label=name, linewidth=2.0 if name == "loss" else 1.0)
    axes[0].set_title("training losses")
    axes[0].set_xlabel(loss_x)
    xs, ys = _series(loss_rows if loss_rows else by_epoch, loss_x, "lr")
    axes[1].plot(xs, ys)
    axes[1].set_title("learning rate")
    axes[1].set_xlabel(loss_x)
    for name in eval_names:
        xs, ys = _series(by_epoch, "epoch", name)
        axes[2].plot(xs, ys, marker="o", label=name[len("eval/"):])
    if eval_names:
        axes[2].set_title("evaluation")
        axes[2].set_xlabel("epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    figure.subplots_adjust(left=0.05, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    out_path = Path(out_path)
    with atomic_path(out_path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png")
    return out_path
