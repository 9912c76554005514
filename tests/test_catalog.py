import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fixtures.fake_world import FakeWorld
from fixtures.real_formats import make_prw

from personsearch.cli import main
from personsearch.data.catalog import dataset_kind, list_datasets, load_dataset, write_dataset
from personsearch.data.records import CaptionData, CropData, DetectionData, SceneRecord, SceneSearchData
from personsearch.data.stats import dataset_stats, format_stats

NAMES = ["crowdhuman", "cuhk-pedes", "cuhk-sysu", "cuhk03", "ecp", "icfg-pedes", "luperson", "market1501", "msmt17", "prw", "rstpreid"]
RECORDS = {"scene": SceneSearchData, "caption": CaptionData, "crop": CropData, "detection": DetectionData}


def test_names_kinds_and_unknown_name(tmp_path):
    assert list_datasets() == NAMES
    assert [dataset_kind(n) for n in ("prw", "rstpreid", "msmt17", "ecp")] == ["scene", "caption", "crop", "detection"]
    with pytest.raises(KeyError, match="unknown dataset 'sysu'; valid choices: crowdhuman, cuhk-pedes"):
        load_dataset("sysu", tmp_path)


@pytest.fixture(scope="module")
def tiny_world():
    world_module = pytest.importorskip("personsearch.data.synth.world")
    return world_module.SynthWorld(size="tiny", seed=1)


@pytest.mark.parametrize("name", NAMES)
def test_every_format_round_trips_a_tiny_world(tmp_path, tiny_world, name):
    result = write_dataset(name, tiny_world, tmp_path, workers=1, show_progress=False)
    data = load_dataset(name, tmp_path, **({"include_val": True} if name == "msmt17" else {}))
    assert isinstance(data, RECORDS[dataset_kind(name)])
    stats = {s.split: s for s in dataset_stats(data)}
    scene = isinstance(data, (SceneSearchData, DetectionData))
    counted = sum(s.images for s in stats.values() if not (scene and s.split == "query"))
    assert result.num_images == counted == (tiny_world.num_scenes if scene else tiny_world.num_crops)
    if isinstance(data, SceneSearchData):
        assert data.queries and data.num_train_pids > 0
        assert stats["query"].boxes == len(data.queries)
    if isinstance(data, CaptionData):
        assert stats["train"].caption_words[1] > 0
    if name != "luperson" and isinstance(data, CropData):
        assert data.query and all(any(g.pid == q.pid for g in data.gallery) for q in data.query)


def test_stats_table_of_a_fixture():
    scenes = [
        SceneRecord(name="a", image_path="a", boxes=np.zeros((3, 4), np.float32), pids=np.array([0, 0, -1]), camera=1),
        SceneRecord(name="b", image_path="b", boxes=np.zeros((2, 4), np.float32), pids=np.array([0, 1]), camera=2),
    ]
    data = SceneSearchData(name="x", root="r", train=scenes, gallery=[], queries=[], num_train_pids=2)
    train, gallery, query = dataset_stats(data)
    assert (train.images, train.boxes, train.identities, train.boxes_per_identity, train.cameras) == (2, 5, 2, (2.0, 1, 3), 2)
    assert gallery.images == 0 and gallery.boxes_per_identity is None
    table = format_stats([train, gallery, query]).splitlines()
    assert table[0].split()[:4] == ["split", "images", "boxes", "identities"]
    assert table[2].split()[:8] == ["train", "2", "5", "2", "2.0", "/", "1", "/"]


def test_cli_stats_and_errors(tmp_path, capsys):
    make_prw(tmp_path)
    assert main(["data", "stats", "--format", "prw", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "gallery" in out and "query" in out
    assert main(["data", "stats", "--format", "prw", str(tmp_path / "missing")]) == 1
    assert "frame_train.mat: file not found" in capsys.readouterr().err


def test_cli_generate_prints_caps(tmp_path, capsys):
    pytest.importorskip("personsearch.data.synth.world")
    out = tmp_path / "sysu"
    assert main(["data", "generate", "--format", "cuhk-sysu", "--size", "tiny", "--seed", "0", "--out", str(out), "--workers", "2"]) == 0
    printed = capsys.readouterr().out
    assert "wrote cuhk-sysu: 30 images" in printed and "note: TestG4000: gallery capped at" in printed
    assert (out / "annotation" / "test" / "train_test" / "TestG4000.mat").is_file()
    assert main(["data", "stats", "--format", "cuhk-sysu", str(out)]) == 0
    assert "note: gallery size 100 capped at" in capsys.readouterr().out


def test_cli_generate_world_overrides(tmp_path, capsys):
    out = tmp_path / "prw"
    assert main(["data", "generate", "--format", "prw", "--size", "tiny", "--out", str(out), "--workers", "1",
                 "--world", "num_cameras=2", "--world", "near_twin_fraction=0"]) == 0
    data = load_dataset("prw", out)
    assert {r.camera for r in data.train + data.gallery} == {1, 2}
    assert main(["data", "generate", "--format", "prw", "--out", str(tmp_path / "x"), "--world", "near_twins=0"]) == 1
    assert "world override 'near_twins=0': expected KEY=VALUE with KEY one of" in capsys.readouterr().err


def test_parse_world_overrides_reads_yaml_values():
    from personsearch.data.world_cache import parse_world_overrides, world_fields

    parsed = parse_world_overrides(["camera_cast=[1.1, 1, 0.9]", "near_twin_fraction=0.5"])
    assert parsed == {"camera_cast": [1.1, 1, 0.9], "near_twin_fraction": 0.5}
    assert world_fields(parsed)["camera_cast"] == (1.1, 1, 0.9)
    with pytest.raises(ValueError, match="'num_cameras': expected KEY=VALUE"):
        parse_world_overrides(["num_cameras"])


def test_worlds_carry_a_content_digest_and_older_generators_worlds_are_rewritten(tmp_path, capsys):
    from personsearch.data.world_cache import WORLD_MARKER, content_digest, ensure_synthetic_dataset, world_record

    def ensure(root, seed=5):
        return ensure_synthetic_dataset("luperson", root, size="tiny", seed=seed, workers=1, show_progress=False)

    a, b = ensure(tmp_path / "a"), ensure(tmp_path / "b")
    record = world_record(a)
    assert record["content_digest"] == world_record(b)["content_digest"] == content_digest(a)
    assert set(record["written_with"]) == {"personsearch", "numpy", "pillow", "scipy"}
    assert world_record(ensure(tmp_path / "c", seed=6))["content_digest"] != record["content_digest"]
    image = sorted(a.rglob("*.jpg"))[0]
    changed = bytearray(image.read_bytes())
    changed[-3] ^= 1
    image.write_bytes(bytes(changed))
    assert content_digest(a) != record["content_digest"]
    capsys.readouterr()
    ensure(b)
    assert "reusing" in capsys.readouterr().out
    # a world of an older generator (its marker has no version or another one) is written again, whole
    (b / WORLD_MARKER).write_text(json.dumps({"format": "luperson", "size": "tiny", "seed": 5}))
    (b / "stale.jpg").write_bytes(b"x")
    ensure(b)
    assert "written by generator version 1" in capsys.readouterr().out and not (b / "stale.jpg").exists()
    assert world_record(b)["content_digest"] == record["content_digest"]


def test_a_world_another_process_is_writing_is_waited_for(tmp_path, capsys):
    from filelock import FileLock

    from personsearch.data.world_cache import WORLD_MARKER, ensure_synthetic_dataset

    root = tmp_path / "world"
    writer = FileLock(f"{root}.lock")  # another open of the lock file: held as another process would hold it
    writer.acquire()
    thread = threading.Thread(target=ensure_synthetic_dataset, args=("luperson", root),
                              kwargs=dict(size="tiny", seed=5, workers=1, show_progress=False))
    thread.start()
    out = ""
    for _ in range(1200):  # up to a minute on a loaded machine
        out += capsys.readouterr().out
        if "waiting for another process" in out:
            break
        time.sleep(0.05)
    assert "waiting for another process writing the synthetic world" in out
    assert not root.exists()
    writer.release()
    thread.join(timeout=120)
    assert not thread.is_alive() and (root / WORLD_MARKER).is_file()
    assert "writing a synthetic luperson-format world" in capsys.readouterr().out


def test_an_interrupted_world_write_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    import personsearch.data.catalog as catalog
    from personsearch.data.world_cache import ensure_synthetic_dataset, world_record

    def ensure(seed):
        return ensure_synthetic_dataset("luperson", root, size="tiny", seed=seed, workers=1, show_progress=False)

    def interrupted(name, world, out, **kwargs):
        (Path(out) / "images").mkdir(parents=True)
        (Path(out) / "images" / "half.jpg").write_bytes(b"x")
        raise KeyboardInterrupt

    root = tmp_path / "world"
    write = catalog.write_dataset
    monkeypatch.setattr(catalog, "write_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ensure(5)
    assert not root.exists()
    monkeypatch.setattr(catalog, "write_dataset", write)
    ensure(5)
    assert world_record(root)["seed"] == 5 and not list(root.rglob("half.jpg"))
    old = sorted(p.relative_to(root) for p in root.rglob("*"))
    # rewriting it with another spec: the old world stays whole until the new one is complete
    monkeypatch.setattr(catalog, "write_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ensure(6)
    assert world_record(root)["seed"] == 5 and sorted(p.relative_to(root) for p in root.rglob("*")) == old
    monkeypatch.setattr(catalog, "write_dataset", write)
    ensure(6)
    assert world_record(root)["seed"] == 6 and not (tmp_path / ".world.writing").exists()


def test_a_folder_with_other_files_is_not_written_into(tmp_path):
    from personsearch.data.world_cache import WORLD_MARKER, ensure_synthetic_dataset

    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=f"{root}: holds files but no {WORLD_MARKER}"):
        ensure_synthetic_dataset("luperson", root, size="tiny", seed=5, workers=1, show_progress=False)
    assert [p.name for p in root.iterdir()] == ["notes.txt"]


def test_write_dataset_passes_options(tmp_path):
    result = write_dataset("luperson", FakeWorld(), tmp_path, show_progress=False)
    assert result.num_images == 17
