import json

import numpy as np

from personsearch import cli
from personsearch.index import GalleryIndex, SearchModelSpec
from test_index_fake_model import paint_scene

RED, GREEN, BLUE = (230, 30, 30), (30, 220, 40), (20, 40, 230)


def test_index_command_builds_then_updates_in_place(tmp_path, fake_loader, capsys):
    gallery = tmp_path / "archive"
    gallery.mkdir()
    for i, colours in enumerate([[RED, GREEN], [GREEN, BLUE], [BLUE, RED], [RED, RED], [GREEN, GREEN]]):
        paint_scene(gallery / f"{i}.png", colours)
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"fake weights")
    out = tmp_path / "archive.index.npz"
    argv = ["index", "--gallery", str(gallery), "--out", str(out), "--checkpoint", str(checkpoint),
            "--score-threshold", "0.1", "--shard-size", "2"]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["pictures"] == 5 and summary["boxes"] == 10 and summary["processed"] == 5 and summary["exact"]
    model_id = SearchModelSpec(checkpoint=str(checkpoint)).model_id()
    index = GalleryIndex.load(out, model_id=model_id)
    assert not (tmp_path / "archive.index.npz.shards").exists()

    (gallery / "1.png").unlink()
    paint_scene(gallery / "5.png", [BLUE, BLUE])
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["processed"], summary["reused"], summary["pictures"]) == (1, 4, 5)
    assert fake_loader[-1].images_seen == 1
    updated = GalleryIndex.load(out, model_id=model_id)
    assert [image.name for image in updated.images] == ["0.png", "2.png", "3.png", "4.png", "5.png"]
    kept = updated.ids[updated.image_index == 0]
    assert np.array_equal(kept, index.ids[index.image_index == 0])  # unchanged pictures keep their ids


def test_index_command_input_errors(tmp_path, fake_loader, capsys):
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"fake weights")
    assert cli.main(["index", "--gallery", str(tmp_path / "nope"), "--out", str(tmp_path / "x.npz"),
                     "--checkpoint", str(checkpoint)]) == 1
    assert "gallery not found" in capsys.readouterr().err
    assert cli.main(["index", "--gallery", str(tmp_path), "--out", str(tmp_path / "x.npz"),
                     "--checkpoint", str(tmp_path / "missing.pth")]) == 1
    assert "checkpoint not found" in capsys.readouterr().err
