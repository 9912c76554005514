"""Generic training engine: trainer with hooks, SGD + warm-up/step schedule, atomic
checkpoints with exact resume, single-process or torchrun multi-process runs."""

from personsearch.engine.checkpoint import CheckpointSaver, find_resume_checkpoint, load_checkpoint
from personsearch.engine.data_loader import build_test_loader, build_train_loader
from personsearch.engine.hooks import CheckpointHook, CurvesHook, EvalHook, HookBase
from personsearch.engine.inference import detect_scenes, run_search_inference
from personsearch.engine.setup import TrainSettings, build_trainer, prepare_run
from personsearch.engine.solver import WarmupStepLR, build_sgd, build_warmup_step_lr, lr_factor
from personsearch.engine.trainer import NonFiniteLossError, Trainer
from personsearch.engine.writers import MetricsWriter

__all__ = [
    "CheckpointHook",
    "CheckpointSaver",
    "CurvesHook",
    "EvalHook",
    "HookBase",
    "MetricsWriter",
    "NonFiniteLossError",
    "TrainSettings",
    "Trainer",
    "WarmupStepLR",
    "build_sgd",
    "build_test_loader",
    "build_train_loader",
    "build_trainer",
    "build_warmup_step_lr",
    "detect_scenes",
    "find_resume_checkpoint",
    "load_checkpoint",
    "lr_factor",
    "prepare_run",
    "run_search_inference",
]
