"""`personsearch train` / `personsearch eval` end to end on a tiny synthetic PRW-layout dataset,
and the shipped SeqNet presets against the trainer's and the model's arguments."""

import inspect
import json

import numpy as np
import pytest
import torch

from personsearch.cli import main
from personsearch.config import load_config, section
from personsearch.data.catalog import write_dataset
from personsearch.data.synth.world import SynthWorld
from personsearch.engine import TrainSettings
from personsearch.methods.supervised import EvalSettings
from personsearch.models.init_from import INIT_KEYS
from personsearch.models.search_model import build_seqnet
from personsearch.models.seqnet import SeqNet

PRESETS = ("seqnet_cuhk_sysu", "seqnet_prw", "seqnet_synth_prw", "seqnet_tiny")


@pytest.mark.parametrize("name", PRESETS)
def test_presets_name_only_known_settings(name):
    cfg = load_config(f"preset:{name}")
    assert cfg["method"]["name"] == "supervised" and cfg["data"]["root"] is None
    TrainSettings.from_section(section(cfg, "train"))
    EvalSettings.from_section(section(cfg, "eval"))
    model = dict(cfg["model"])
    assert model.pop("name") == "seqnet"
    accepted = set(inspect.signature(SeqNet.__init__).parameters) | set(inspect.signature(build_seqnet).parameters)
    assert set(model) <= (accepted | set(INIT_KEYS)) - {"self", "kwargs", "backbone_parts"}


def test_paper_recipes_follow_seqnet():
    cuhk, prw = load_config("preset:seqnet_cuhk_sysu"), load_config("preset:seqnet_prw")
    for cfg in (cuhk, prw):
        t = cfg["train"]
        assert (t["lr"], t["momentum"], t["weight_decay"], t["batch_size"], t["clip_grad_norm"]) == (0.003, 0.9, 5e-4, 5, 10.0)
        assert (cfg["model"]["min_size"], cfg["model"]["max_size"], cfg["model"]["oim_scalar"]) == (900, 1500, 30.0)
    assert (cuhk["train"]["epochs"], cuhk["model"]["queue_size"], cuhk["data"]["name"]) == (20, 5000, "cuhk-sysu")
    assert (prw["train"]["epochs"], prw["model"]["queue_size"], prw["data"]["name"]) == (18, 500, "prw")
    for cfg in (cuhk, prw):  # SeqNet's inference: stage-1 scores, confidence-weighted similarity
        assert (cfg["model"]["score_source"], cfg["model"]["box_score_thresh"]) == ("fcs", 0.5)
        assert cfg["eval"]["weight_by_score"] is True and cfg["eval"]["det_thresh"] == 0.5


@pytest.fixture(scope="module")
def synth_prw(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "prw"
    write_dataset("prw", SynthWorld(size="tiny", seed=0), root, workers=1, show_progress=False)
    return root


def test_train_resume_and_eval_commands(synth_prw, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--config", "preset:seqnet_tiny", f"data.root={synth_prw}", f"output_dir={out}", "eval.period=-1"]
    assert main(["train", *common, "train.lr=0.001", "train.seed=5"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epoch"] == 1 and summary["iteration"] == 7 and summary["loss"] > 0  # 15 images, batch 2

    ckpt = torch.load(out / "last.pth", map_location="cpu", weights_only=True)
    assert ckpt["config"]["train"]["lr"] == 0.001 and ckpt["config"]["train"]["seed"] == 5
    assert ckpt["optimizer"]["param_groups"][0]["initial_lr"] == 0.001
    assert ckpt["model_kwargs"]["num_pids"] == 8  # from the dataset
    assert isinstance(ckpt["model_kwargs"]["queue_size"], int) and ckpt["model_kwargs"]["queue_size"] > 0
    assert (out / "metrics.csv").is_file() and (out / "curves.png").is_file()

    assert main(["train", *common, "train.lr=0.001", "train.seed=5", "train.epochs=2", "--resume", "auto"]) == 0
    capsys.readouterr()
    assert torch.load(out / "last.pth", map_location="cpu", weights_only=True)["iteration"] == 14

    report_path = tmp_path / "report.json"
    assert main(["eval", "--checkpoint", str(out / "last.pth"), "--cbgm", "--output", str(report_path),
                 "--save-results", str(tmp_path / "results.npz"), "eval.progress=false"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report == json.loads(report_path.read_text())
    assert report["dataset"] == "prw" and report["cbgm"] is True and report["epoch"] == 2
    assert report["num_queries"] == 8 and 0.0 <= report["mAP"] <= 100.0
    assert main(["eval-results", str(tmp_path / "results.npz"), "--dataset", "prw", "--root", str(synth_prw),
                 "--cbgm"]) == 0
    rescored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rescored["mAP"] == pytest.approx(report["mAP"])

    # inference-time model settings given on the command line are applied, not ignored
    other = {"fcs": "nae", "nae": "fcs"}[ckpt["model_kwargs"]["score_source"]]
    assert main(["eval", "--checkpoint", str(out / "last.pth"), "--save-results", str(tmp_path / "other.npz"),
                 "eval.progress=false", f"model.score_source={other}", "model.rpn_post_nms_top_n_test=5"]) == 0
    changed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert changed["model_overrides"] == {"score_source": other, "rpn_post_nms_top_n_test": 5}
    assert report["model_overrides"] == {}
    before, after = np.load(tmp_path / "results.npz"), np.load(tmp_path / "other.npz")
    per_image = np.bincount(after["det_image_index"], minlength=len(after["gallery_names"]))
    assert per_image.max() <= 5 < np.bincount(before["det_image_index"]).max()
    # settings that need retraining are refused with the reason
    assert main(["eval", "--checkpoint", str(out / "last.pth"), "model.embedding_dim=8"]) == 1
    err = capsys.readouterr().err
    assert "model.embedding_dim=8" in err and "only inference-time settings" in err and "score_source" in err


def test_train_cli_reports_config_errors(synth_prw, tmp_path, capsys):
    assert main(["train", "--config", "preset:seqnet_tiny", "train.lr_rate=1"]) == 1
    assert "unknown config key 'train.lr_rate'" in capsys.readouterr().err
    assert main(["train", "--config", "preset:seqnet_tiny", f"output_dir={tmp_path}"]) == 1
    assert "data.root is required" in capsys.readouterr().err
    assert main(["train", "--config", "preset:seqnet_tiny", "method.name=dicl-typo", f"data.root={synth_prw}"]) == 1
    err = capsys.readouterr().err
    assert "unknown method 'dicl-typo'; valid methods:" in err and "supervised" in err
