import numpy as np
import pytest
import torch
from PIL import Image

from personsearch.data.errors import DatasetFormatError
from personsearch.data.records import UNLABELLED, SceneRecord
from personsearch.data.scene_dataset import SceneDataset, collate_scenes


def _record(path, boxes, pids):
    return SceneRecord(name=path.name, image_path=str(path), boxes=np.asarray(boxes, np.float32),
                       pids=np.asarray(pids, np.int64))


def test_image_tensor_target_and_flip(tmp_path):
    pixels = np.zeros((10, 20, 3), dtype=np.uint8)
    pixels[:, :5] = (255, 0, 0)  # red band on the left
    Image.fromarray(pixels).save(tmp_path / "a.png")
    record = _record(tmp_path / "a.png", [[1, 2, 6, 9]], [4])
    image, target = SceneDataset([record])[0]
    assert image.dtype == torch.float32 and image.shape == (3, 10, 20)
    assert image[0, 0, 0] == 1.0 and image[1, 0, 0] == 0.0 and image.max() <= 1.0
    assert target["boxes"].dtype == torch.float32 and target["pids"].tolist() == [4]
    flipped, target = SceneDataset([record], flip_prob=1.0)[0]
    assert torch.equal(flipped, image.flip(-1))
    assert target["boxes"].tolist() == [[14.0, 2.0, 19.0, 9.0]]


def test_flip_coin_follows_torch_seed_and_empty_scenes_work(tmp_path):
    Image.new("L", (8, 6), 128).save(tmp_path / "g.jpg")  # greyscale becomes RGB
    record = _record(tmp_path / "g.jpg", np.zeros((0, 4)), [])
    dataset = SceneDataset([record] * 20, flip_prob=0.5)
    torch.manual_seed(0)
    first = [dataset[i][1]["boxes"].shape for i in range(20)]
    image, target = dataset[0]
    assert image.shape == (3, 6, 8) and target["boxes"].shape == (0, 4) and target["pids"].shape == (0,)
    assert first == [(0, 4)] * 20
    boxed = SceneDataset([_record(tmp_path / "g.jpg", [[0, 0, 2, 2]], [UNLABELLED])] * 40, flip_prob=0.5)
    torch.manual_seed(1)
    a = [boxed[i][1]["boxes"][0, 0].item() for i in range(40)]
    torch.manual_seed(1)
    b = [boxed[i][1]["boxes"][0, 0].item() for i in range(40)]
    assert a == b and set(a) == {0.0, 6.0}  # both outcomes occur, reproducibly


def test_unreadable_image_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetFormatError, match="broken.jpg: cannot read image"):
        SceneDataset([_record(bad, [[0, 0, 1, 1]], [0])])[0]
    with pytest.raises(DatasetFormatError, match="missing.jpg"):
        SceneDataset([_record(tmp_path / "missing.jpg", [[0, 0, 1, 1]], [0])])[0]
    with pytest.raises(ValueError, match="flip_prob"):
        SceneDataset([], flip_prob=2.0)


def test_collate_keeps_lists():
    batch = [(torch.zeros(3, 4, 5), {"boxes": torch.zeros(1, 4)}), (torch.zeros(3, 6, 2), {"boxes": torch.zeros(0, 4)})]
    images, targets = collate_scenes(batch)
    assert [tuple(i.shape) for i in images] == [(3, 4, 5), (3, 6, 2)] and len(targets) == 2
