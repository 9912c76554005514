"""PretrainPS: data unification, crop placement, the multi-source sampler, SimSiam, gradient reversal,
domain classifiers, a few pre-training iterations over mixed tiny sources, exports and model.init_from."""

import json

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from personsearch.cli import main
from personsearch.config import load_config
from personsearch.data.canvas import place_crop
from personsearch.data.catalog import load_dataset
from personsearch.data.multi_source_sampler import MultiSourceBatchSampler
from personsearch.data.records import UNLABELLED, DetectionData, DetectionRecord
from personsearch.data.unify import unify_sources
from personsearch.models.domain_alignment import (
    ImageDomainClassifier,
    InstanceDomainClassifier,
    IntraTaskAlignment,
    reverse_gradient,
)
from personsearch.models.init_from import InitFromError, initialise_from
from personsearch.models.losses.simsiam import simsiam_loss
from personsearch.models.search_model import build_search_model

SOURCES = ("crowdhuman", "ecp", "msmt17", "cuhk03", "luperson")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Two short pre-training epochs over the five tiny synthetic sources (written by the preset)."""
    folder = tmp_path_factory.mktemp("pretrain")
    roots = [f"data.sources.{s}.root={folder / 'sources' / s}" for s in SOURCES]
    overrides = roots + [f"output_dir={folder / 'run'}", "method.iterations_per_epoch=3", "train.epochs=1",
                         "data.source_weights={luperson: 2.0, ecp: 0.5}"]
    torch.manual_seed(0)
    assert main(["pretrain", "--config", "preset:pretrain_tiny", *overrides]) == 0
    return folder, overrides


def _sources(folder):
    return {s: (s, load_dataset(s, folder / "sources" / s)) for s in SOURCES}


def test_unification_gives_each_source_its_identities(tiny_run):
    folder, _ = tiny_run
    datasets = _sources(folder)
    unified = unify_sources(datasets)
    by_source = {info.name: [s for s in unified.samples if s.source == i] for i, info in enumerate(unified.sources)}
    tasks = {info.name: (info.task, info.real_ids) for info in unified.sources}
    assert tasks == {"crowdhuman": ("detection", False), "ecp": ("detection", False), "msmt17": ("reid", True),
                     "cuhk03": ("reid", True), "luperson": ("reid", False)}
    ranges = {}
    for name, samples in by_source.items():
        pids = np.concatenate([s.pids for s in samples])
        assert (pids >= 0).all()
        ranges[name] = set(pids.tolist())
    # detection boxes and unlabelled crops: every one its own identity
    for name in ("crowdhuman", "ecp", "luperson"):
        count = sum(len(s.pids) for s in by_source[name])
        assert len(ranges[name]) == count
    # labelled crops keep their identities: as many global ids as training identities, crops shared
    msmt = datasets["msmt17"][1]
    assert len(ranges["msmt17"]) == msmt.num_train_pids < len(by_source["msmt17"])
    same = [r.pid for r in msmt.train]
    globals_ = [int(s.pids[0]) for s in by_source["msmt17"]]
    assert all((a == b) == (ga == gb) for a, ga in zip(same, globals_) for b, gb in zip(same, globals_))
    # no two sources share an identity, and the table covers them all
    names = list(ranges)
    assert all(not ranges[a] & ranges[b] for i, a in enumerate(names) for b in names[i + 1:])
    assert unified.num_pids == sum(len(r) for r in ranges.values())
    assert all(s.is_crop for name in ("msmt17", "cuhk03", "luperson") for s in by_source[name])
    # queue mode: instance identities become unlabelled, real ones stay
    queued = unify_sources(datasets, instance_ids="queue")
    for sample in queued.samples:
        real = queued.sources[sample.source].real_ids
        assert (sample.pids >= 0).all() if real else (sample.pids == UNLABELLED).all()
    assert queued.num_pids == len(ranges["msmt17"]) + len(ranges["cuhk03"])


def test_detection_ignore_regions_are_left_out(tmp_path):
    record = DetectionRecord(image_path=str(tmp_path / "a.jpg"),
                             boxes=np.array([[0, 0, 10, 20], [5, 5, 30, 40], [1, 1, 9, 9]], np.float32),
                             ignore=np.array([False, True, False]))
    unified = unify_sources({"det": ("crowdhuman", DetectionData(name="crowdhuman", root=str(tmp_path),
                                                                   train=[record], val=[]))})
    sample = unified.samples[0]
    assert sample.boxes.tolist() == [[0, 0, 10, 20], [1, 1, 9, 9]] and sample.pids.tolist() == [0, 1]


def test_crop_placement():
    crop = Image.new("RGB", (20, 40), (250, 0, 0))
    rng = np.random.default_rng(0)
    for _ in range(20):
        canvas, box = place_crop(crop, placement="expand_resize", size=(50, 100), ratio_range=(2.0, 3.0), rng=rng)
        assert canvas.size == (50, 100)
        w, h = box[2] - box[0], box[3] - box[1]
        assert 50 / 3.0 - 1 <= w <= 50 / 2.0 + 1 and 100 / 3.0 - 1 <= h <= 100 / 2.0 + 1  # scale follows the ratio
        assert 0 <= box[0] and box[2] <= 50 and 0 <= box[1] and box[3] <= 100
        inner = np.asarray(canvas)[int(box[1]) + 2:int(box[3]) - 2, int(box[0]) + 2:int(box[2]) - 2]
        assert (inner[..., 0] > 200).all()  # the crop is where its box says
    canvas, box = place_crop(crop, placement="random_paste", size=(64, 64), rng=rng)
    assert canvas.size == (64, 64) and (box[2] - box[0], box[3] - box[1]) == (20, 40)
    with pytest.raises(ValueError, match="placement"):
        place_crop(crop, placement="tile", size=(64, 64), rng=rng)


def test_multi_source_sampler_mixes_tasks_reproducibly():
    tasks = ["detection"] * 6 + ["reid"] * 14
    sampler = MultiSourceBatchSampler(tasks=tasks, batch_size=4, detection_fraction=0.5, seed=3)
    first = list(sampler)
    assert len(first) == len(sampler) == 5
    for batch in first:
        assert sum(tasks[i] == "detection" for i in batch) == 2 and len(batch) == 4
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    # two processes split every global batch between them, each with its detection share
    ranks = [list(MultiSourceBatchSampler(tasks=tasks, batch_size=2, seed=3, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 5
    assert all(sum(tasks[i] == "detection" for i in b) == 1 for rank in ranks for b in rank)
    only_reid = MultiSourceBatchSampler(tasks=["reid"] * 8, batch_size=4, batches_per_epoch=7)
    assert len(list(only_reid)) == 7


def test_simsiam_loss_values_and_stop_gradient():
    h = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
    z = torch.tensor([[3.0, 0.0], [0.0, 1.0]], requires_grad=True)
    loss = simsiam_loss(h, h, z, z)
    assert loss.item() == pytest.approx(-1.0)
    loss.backward()
    assert h.grad is None  # the targets are constants
    orthogonal = simsiam_loss(h, h, torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert orthogonal.item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="pair row for row"):
        simsiam_loss(h, h[:1], z, z)


def test_gradient_reversal_sign_and_scale():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = reverse_gradient(x, 0.25)
    assert torch.equal(y, x)
    (y * torch.tensor([2.0, 4.0, -8.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.5, -1.0, 2.0]))


def test_domain_classifier_shapes_and_losses():
    assert ImageDomainClassifier(in_channels=8, num_domains=3, hidden_channels=[4])(torch.rand(2, 8, 5, 7)).shape == (2, 3, 5, 7)
    assert InstanceDomainClassifier(in_features=6, num_domains=3, hidden_features=[5, 5])(torch.rand(4, 6)).shape == (4, 3)
    torch.manual_seed(0)
    module = IntraTaskAlignment(num_domains=2, map_channels=8, instance_features=6, image_hidden_channels=[4],
                                instance_hidden_features=[5], grl_weight=1.0)
    maps = torch.rand(3, 8, 4, 4, requires_grad=True)
    instances = torch.rand(5, 6, requires_grad=True)
    losses = module(maps=maps, map_group=torch.arange(3), instances=instances,
                    instance_group=torch.tensor([0, 0, 1, 2, 2]), group_domain=torch.tensor([0, 1, 1]))
    assert set(losses) == {"loss_domain_image", "loss_domain_instance", "loss_domain_consistency"}
    assert losses["loss_domain_image"].item() == pytest.approx(np.log(2), abs=1e-2)  # near-zero init: a fair guess
    assert losses["loss_domain_consistency"].item() >= 0
    sum(losses.values()).backward()
    assert maps.grad is not None and instances.grad is not None
    # the features get the classifier's gradient reversed: a step along them raises the domain loss
    with pytest.raises(ValueError, match="at least 2"):
        IntraTaskAlignment(num_domains=1, map_channels=8, instance_features=6)


def test_gradient_reversal_makes_features_confuse_the_classifier():
    torch.manual_seed(0)
    module = IntraTaskAlignment(num_domains=2, map_channels=4, instance_features=4, image_hidden_channels=[],
                                instance_hidden_features=[], grl_weight=1.0, dropout=0.0)
    with torch.no_grad():
        module.instance_classifier.layers[0].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]))
    instances = torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]], requires_grad=True)
    groups = torch.arange(2)

    def loss(x):
        return module(maps=torch.zeros(2, 4, 1, 1), map_group=groups, instances=x, instance_group=groups,
                      group_domain=torch.tensor([0, 1]))["loss_domain_instance"]

    loss(instances).backward()
    stepped = instances - 0.5 * instances.grad  # gradient descent on the reversed gradient
    assert loss(stepped).item() > loss(instances).item()


def test_pretraining_iterations_write_checkpoints_with_metadata(tiny_run):
    folder, overrides = tiny_run
    run = folder / "run"
    rows = (run / "iterations.csv").read_text().splitlines()
    header = rows[0].split(",")
    for term in ("loss_oim", "loss_contrast", "loss_det_domain_image", "loss_det_domain_instance",
                 "loss_det_domain_consistency", "loss_reid_domain_image", "loss_reid_domain_instance"):
        assert term in header
    values = [float(v) for row in rows[1:] for v in row.split(",")[2:]]
    assert len(rows) == 4 and all(np.isfinite(values))
    exported = torch.load(run / "pretrained.pth", weights_only=True)
    assert exported["format"] == "personsearch-pretrained" and exported["parts"] == "all"
    assert exported["backbone"] == "shufflenet_v2_x1_0" and exported["model_name"] == "nae"
    assert [s["name"] for s in exported["pretrain"]["sources"]] == list(SOURCES)
    assert exported["pretrain"]["steps"] == 3
    # the prediction MLP and the two domain-alignment modules are clipped apart from the search model
    groups = torch.load(run / "last.pth", weights_only=True)["optimizer"]["param_groups"]
    assert [bool(g.get("own_clip")) for g in groups] == [False, True, True, True]
    assert len(groups[1]["params"]) == 5  # the MLP: two linear layers and a batch norm
    assert not any(k.startswith(("predictor.", "detection_alignment.", "model.")) for k in exported["model"])
    # resuming continues from the saved epoch
    assert main(["pretrain", "--config", "preset:pretrain_tiny", "--resume", "auto",
                 *[o for o in overrides if not o.startswith("train.epochs")], "train.epochs=2"]) == 0
    assert json.loads(json.dumps(torch.load(run / "last.pth", weights_only=True)["iteration"])) == 6


def test_init_from_backbone_and_whole_model(tiny_run, tmp_path):
    folder, _ = tiny_run
    run = folder / "run"
    backbone_file = tmp_path / "backbone.pth"
    assert main(["pretrain", "--export", str(run / "last.pth"), "--parts", "backbone", "--out", str(backbone_file)]) == 0
    exported = torch.load(run / "pretrained.pth", weights_only=True)
    kwargs = dict(exported["model_kwargs"], num_pids=7, queue_size=5)
    source = exported["model"]
    whole = build_search_model(**kwargs)
    initialise_from(whole, run / "pretrained.pth", "all")
    own = whole.state_dict()
    for key, value in source.items():
        if not key.startswith("roi_heads.reid_loss."):
            assert torch.equal(own[key], value), key
    assert own["roi_heads.reid_loss.lut"].shape[0] == 7  # the target's own table
    seqnet = build_search_model(**dict(kwargs, name="seqnet"))
    before = {k: v.clone() for k, v in seqnet.state_dict().items()}
    initialise_from(seqnet, backbone_file, "backbone")
    after = seqnet.state_dict()
    key = "roi_heads.reid_head.layers.conv5.0.weight"
    assert torch.equal(after["backbone.conv1.0.weight"], source["backbone.conv1.0.weight"])
    assert torch.equal(after[key], source["roi_heads.box_head.layers.conv5.0.weight"])  # both copies of the last stage
    assert torch.equal(after["roi_heads.embedding_head.projectors.feat_res4.0.weight"],
                       before["roi_heads.embedding_head.projectors.feat_res4.0.weight"])  # heads untouched
    with pytest.raises(InitFromError, match="backbone only"):
        initialise_from(seqnet, backbone_file, "all")
    # the backbone export uses torchvision's key names: it loads into the classification network
    network = torchvision.models.get_model("shufflenet_v2_x1_0")
    result = network.load_state_dict(torch.load(backbone_file, weights_only=True)["model"], strict=False)
    assert set(result.missing_keys) == {"fc.weight", "fc.bias"} and not result.unexpected_keys
    assert torch.equal(network.conv5[0].weight, source["roi_heads.box_head.layers.conv5.0.weight"])
    # and a plain torchvision state dict initialises a search model's backbone
    mobilenet = torchvision.models.get_model("mobilenet_v2").state_dict()
    model = build_search_model(**dict(kwargs, backbone="mobilenet_v2"))
    initialise_from(model, {"state_dict": mobilenet}, "backbone", backbone="mobilenet_v2")
    assert torch.equal(model.state_dict()["roi_heads.box_head.layers.0.conv.0.0.weight"],
                       mobilenet["features.14.conv.0.0.weight"])
    with pytest.raises(InitFromError, match="must be named"):
        initialise_from(model, mobilenet, "backbone")
    with pytest.raises(InitFromError, match=r"missing from the file: roi_heads\.box_predictor"):
        initialise_from(build_search_model(**dict(kwargs, name="seqnet")), run / "pretrained.pth", "all")
    with pytest.raises(InitFromError, match=r"'shufflenet_v2_x1_0'.*missing from the file: backbone\.conv1\.weight"):
        initialise_from(build_search_model(**dict(kwargs, backbone="resnet18")), backbone_file, "backbone")


def test_presets_read():
    for name in ("pretrain_hybrid", "pretrain_synth", "pretrain_tiny"):
        cfg = load_config(f"preset:{name}")
        assert cfg["method"]["name"] == "pretrain" and set(cfg["data"]["sources"]) == set(SOURCES)
    synth = load_config("preset:pretrain_synth")["data"]["sources"]
    seeds = [s["synth"]["seed"] for s in synth.values()]
    assert len(set(seeds)) == 5 and min(seeds) >= 1000  # never a target world's seed


def test_missing_source_root_is_named(tmp_path, capsys):
    assert main(["pretrain", "--config", "preset:pretrain_hybrid", f"output_dir={tmp_path}"]) == 1
    assert "data.sources.crowdhuman.root=" in capsys.readouterr().err
