"""DICL end to end on a tiny synthetic world: training never reads identities, memory slots stay
aligned with boxes, resume is exact, and checkpoints evaluate through the shared evaluator."""

import inspect

import numpy as np
import pytest
import torch

from personsearch.cli import main
from personsearch.config import ConfigError, load_config
from personsearch.data.catalog import load_dataset, write_dataset
from personsearch.data.synth.world import SynthWorld
from personsearch.engine import TrainSettings
from personsearch.engine.checkpoint import load_checkpoint
from personsearch.methods.dicl import recipe
from personsearch.methods.dicl.hooks import SEARCH_MODEL_FILE, memory_features
from personsearch.methods.dicl.siamese import DICLTrainingModel, InstanceAveragedSearch
from personsearch.methods.dicl.weak_data import WeakSceneDataset, count_slots, strip_identities
from personsearch.methods.supervised import EvalSettings
from personsearch.models.search_model import build_search_model, build_seqnet, load_search_model
from personsearch.models.seqnet import SeqNet

PRESETS = ("dicl_cuhk_sysu", "dicl_prw", "dicl_synth_prw", "dicl_tiny")


class IdentityFreeRecord:
    """A training scene whose identities must not be read: touching `pids` fails the test."""

    def __init__(self, record):
        self.name, self.image_path, self.boxes, self.camera = record.name, record.image_path, record.boxes, record.camera

    @property
    def pids(self):
        raise AssertionError(f"weak training read the identities of {self.name}")


@pytest.fixture(scope="module")
def tiny_prw(tmp_path_factory):
    root = tmp_path_factory.mktemp("dicl") / "prw"
    write_dataset("prw", SynthWorld(size="tiny", seed=0), root, workers=1, show_progress=False)
    return root


@pytest.mark.parametrize("name", PRESETS)
def test_presets_hold_only_known_settings(name):
    cfg = load_config(f"preset:{name}")
    settings = recipe.DICLSettings.from_section(cfg["method"])
    assert settings.name == "dicl" and cfg["data"]["root"] is None
    TrainSettings.from_section(cfg["train"])
    EvalSettings.from_section(cfg["eval"])
    model = dict(cfg["model"])
    assert model.pop("name") == "seqnet"
    accepted = set(inspect.signature(SeqNet.__init__).parameters) | set(inspect.signature(build_seqnet).parameters)
    assert set(model) <= accepted - {"self", "kwargs"}


def test_paper_recipes_follow_the_released_schedule():
    cuhk, prw = load_config("preset:dicl_cuhk_sysu"), load_config("preset:dicl_prw")
    for cfg in (cuhk, prw):
        t, m = cfg["train"], cfg["method"]
        assert (t["lr"], t["batch_size"], t["epochs"], t["milestones"]) == (0.001, 4, 26, [16, 22])
        assert (m["memory_temperature"], m["memory_momentum"], m["hard_negative_mass"]) == (0.05, 0.2, 0.6)
        assert (m["cluster_k1"], m["cluster_k2"], m["cluster_eps"], m["instance_size"]) == (30, 6, 0.7, [224, 96])
        assert cfg["model"]["anchor_aspect_ratios"] == [1.0, 2.0, 3.0] and cfg["model"]["min_size"][-1] == 900
    assert (cuhk["method"]["cluster_min_samples"], prw["method"]["cluster_min_samples"]) == (2, 4)


def test_training_never_reads_identities_and_memory_follows_boxes(tiny_prw, tmp_path, monkeypatch):
    data = load_dataset("prw", tiny_prw)
    data.train = [IdentityFreeRecord(r) for r in data.train[:6]]
    monkeypatch.setattr(recipe, "load_scene_data", lambda _cfg: data)
    out = tmp_path / "run"
    cfg = load_config("preset:dicl_tiny", [f"data.root={tiny_prw}", f"output_dir={out}", "eval.period=-1",
                                           "train.epochs=1", "method.score_clusters=false"])
    history = recipe.train_from_config(cfg)
    assert history[-1]["iteration"] == 3 and np.isfinite(history[-1]["loss"])
    assert history[-1]["cluster/num_clusters"] >= 1 and history[-1]["loss_cluster"] > 0

    state = load_checkpoint(out / "last.pth")
    slots = count_slots(strip_identities(data.train))
    assert state["model"]["memory.features"].shape[0] == slots and state["model"]["memory.labels"].shape == (slots,)
    assert (out / SEARCH_MODEL_FILE).is_file()
    load_search_model(load_checkpoint(out / SEARCH_MODEL_FILE))  # the export is a plain search model


def test_memory_slots_are_the_boxes_in_record_order_and_a_step_updates_only_its_boxes(tiny_prw):
    torch.manual_seed(0)
    data = load_dataset("prw", tiny_prw)
    weak = strip_identities([IdentityFreeRecord(r) for r in data.train[:4]])
    cfg = load_config("preset:dicl_tiny")
    search = build_search_model(**recipe.search_model_kwargs(cfg["model"]))
    settings = recipe.DICLSettings.from_section(cfg["method"])
    model = DICLTrainingModel(search_model=search, num_slots=count_slots(weak), **settings.training_model_kwargs()).eval()
    features = memory_features(model, weak, torch.device("cpu"), progress=False)
    dataset = WeakSceneDataset(weak)
    image, target = dataset[2]
    assert target["slots"].tolist() == list(range(weak[2].first_slot, weak[2].first_slot + len(weak[2].boxes)))
    assert torch.allclose(features[target["slots"]], model.box_features([image], [target["boxes"]]), atol=1e-5)

    model.memory.initialise(features)
    model.train()
    before = model.memory.features.clone()
    model([image], [target])
    changed = (model.memory.features != before).any(dim=1).nonzero().flatten().tolist()
    assert changed and set(changed) <= set(target["slots"].tolist())


def test_test_time_instance_branch_gives_unit_embeddings(tiny_prw):
    data = load_dataset("prw", tiny_prw)
    cfg = load_config("preset:dicl_tiny")
    search = build_search_model(**recipe.search_model_kwargs(cfg["model"])).eval()
    averaged = InstanceAveragedSearch(search_model=search, instance_size=(64, 32)).eval()
    from personsearch.data.scene_dataset import SceneDataset

    image, target = SceneDataset(data.gallery[:1])[0]
    query = averaged.extract_query_features([image], [target["boxes"]])
    assert query.shape == (len(target["boxes"]), search.roi_heads.embedding_head.dim)
    assert torch.allclose(query.norm(dim=1), torch.ones(len(query)), atol=1e-5)
    found = averaged([image])[0]
    assert torch.allclose(found["embeddings"].norm(dim=1), torch.ones(len(found["boxes"])), atol=1e-5)


def test_model_init_from_starts_dicl_from_a_pretrained_model(tiny_prw, tmp_path):
    data = load_dataset("prw", tiny_prw)
    data.train = data.train[:3]
    cfg = load_config("preset:dicl_tiny")
    torch.manual_seed(1)
    source = build_search_model(**dict(recipe.search_model_kwargs(cfg["model"]), num_pids=5, queue_size=3))
    file = tmp_path / "pretrained.pth"
    torch.save({"model_kwargs": {}, "model": source.state_dict()}, file)
    wanted = source.state_dict()
    embedding = "roi_heads.embedding_head.projectors.feat_res5.0.weight"

    def search_state(*overrides):
        run = load_config("preset:dicl_tiny", [f"output_dir={tmp_path / 'run'}", *overrides])
        trainer, kwargs = recipe.build_dicl_trainer(run, data, device=torch.device("cpu"))
        assert "init_from" not in kwargs and "init_parts" not in kwargs  # not model arguments
        return trainer.model.search_model.state_dict()

    whole = search_state(f"+model.init_from={file}")
    assert all(torch.equal(whole[k], v) for k, v in wanted.items() if not k.startswith("roi_heads.reid_loss."))
    backbone = search_state(f"+model.init_from={file}", "+model.init_parts=backbone")
    assert torch.equal(backbone["backbone.conv1.0.weight"], wanted["backbone.conv1.0.weight"])
    assert not torch.equal(backbone[embedding], wanted[embedding])  # the heads keep their fresh weights
    with pytest.raises(ConfigError, match="init_checkpoint and model.init_from"):
        search_state(f"+model.init_from={file}", f"method.init_checkpoint={file}")


@pytest.mark.slow
def test_resume_continues_exactly_and_eval_command_scores_the_checkpoint(tiny_prw, tmp_path, capsys):
    common = ["--config", "preset:dicl_tiny", f"data.root={tiny_prw}", "eval.period=-1"]
    assert main(["train", *common, f"output_dir={tmp_path / 'straight'}"]) == 0
    assert main(["train", *common, f"output_dir={tmp_path / 'stopped'}", "train.epochs=1"]) == 0
    assert main(["train", *common, f"output_dir={tmp_path / 'stopped'}", "--resume", "auto"]) == 0
    straight = load_checkpoint(tmp_path / "straight" / "last.pth")["model"]
    resumed = load_checkpoint(tmp_path / "stopped" / "last.pth")["model"]
    for key in ("memory.features", "memory.labels", "search_model.roi_heads.embedding_head.projectors.feat_res5.0.weight"):
        assert torch.equal(straight[key], resumed[key]), key
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(tmp_path / "straight" / "last.pth")]) == 0
    assert '"mAP"' in capsys.readouterr().out
