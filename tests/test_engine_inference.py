"""run_search_inference on a toy 'detector' that finds coloured rectangles on a grey
background and describes each by its mean colour: results must score perfectly."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from personsearch.data.records import SceneQuery, SceneRecord, SceneSearchData
from personsearch.engine.inference import run_search_inference
from personsearch.evaluation import GalleryDetections, QueryDetections, SearchResults, evaluate_search_results

BACKGROUND = 128
COLOURS = {0: (255, 0, 0), 1: (0, 255, 0), 2: (0, 0, 255), 3: (255, 255, 0)}


class ColourBoxModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def _feats(self, image, boxes):
        crops = [image[:, int(b[1]):int(b[3]), int(b[0]):int(b[2])].mean((1, 2)) - 0.5 for b in boxes]
        return F.normalize(torch.stack(crops) * self.scale, dim=1) if crops else torch.zeros(0, 3)

    def forward(self, images, targets=None):
        out = []
        for image in images:
            fg = (image - BACKGROUND / 255).abs().sum(0) > 0.1
            cols = fg.any(0).int().tolist() + [0]
            boxes, start = [], None
            for x, on in enumerate(cols):
                if on and start is None:
                    start = x
                elif not on and start is not None:
                    rows = torch.nonzero(fg[:, start:x].any(1)).flatten()
                    boxes.append([start, rows.min().item(), x, rows.max().item() + 1])
                    start = None
            boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
            out.append({"boxes": boxes, "scores": torch.full((len(boxes),), 0.9), "embeddings": self._feats(image, boxes)})
        return out

    def extract_query_features(self, images, boxes_list):
        return torch.cat([self._feats(image, boxes) for image, boxes in zip(images, boxes_list)])


def _scene(folder, name, people):
    pixels = np.full((40, 60, 3), BACKGROUND, dtype=np.uint8)
    boxes, pids = [], []
    for pid, x in people:
        pixels[5:35, x:x + 10] = COLOURS[pid]
        boxes.append([x, 5, x + 10, 35])
        pids.append(pid)
    Image.fromarray(pixels).save(folder / name)
    return SceneRecord(name=name, image_path=str(folder / name), boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
                       pids=np.asarray(pids, np.int64), camera=int(name[1]))


def test_inference_arrays_score_perfectly_and_context_excludes_the_query(tmp_path):
    gallery = [
        _scene(tmp_path, "c1_a.png", [(0, 5), (1, 30)]),
        _scene(tmp_path, "c2_b.png", [(0, 40)]),
        _scene(tmp_path, "c2_c.png", [(1, 10), (2, 25)]),
        _scene(tmp_path, "c3_d.png", []),
    ]
    outside = _scene(tmp_path, "c3_q.png", [(2, 5), (3, 20), (0, 40)])  # a query image not in the gallery
    queries = [
        SceneQuery(name="c1_a.png", image_path=gallery[0].image_path, box=gallery[0].boxes[0], pid=0, camera=1),
        SceneQuery(name="c3_q.png", image_path=outside.image_path, box=outside.boxes[0], pid=2, camera=3),
    ]
    data = SceneSearchData(name="toy", root=str(tmp_path), train=[], gallery=gallery, queries=queries, num_train_pids=0)
    arrays = run_search_inference(ColourBoxModel(), data, torch.device("cpu"), batch_size=2, progress=False)

    assert arrays["gallery_names"].tolist() == ["c1_a.png", "c2_b.png", "c2_c.png", "c3_d.png"]
    assert arrays["det_image_index"].tolist() == [0, 0, 1, 2, 2]
    assert arrays["det_boxes"].dtype == np.float32 and arrays["det_feats"].shape == (5, 3)
    np.testing.assert_allclose(arrays["det_boxes"][2], [40, 5, 50, 35])
    assert arrays["query_feats"].shape == (2, 3)
    # Context people of each query image: everyone but the query person.
    assert arrays["query_det_image_index"].tolist() == [0, 1, 1]
    np.testing.assert_allclose(arrays["query_det_boxes"], [[30, 5, 40, 35], [20, 5, 30, 35], [40, 5, 50, 35]])

    results = SearchResults(
        GalleryDetections(*(arrays[k] for k in ("gallery_names", "det_image_index", "det_boxes", "det_scores", "det_feats"))),
        arrays["query_feats"],
        QueryDetections(*(arrays[k] for k in ("query_det_image_index", "query_det_boxes", "query_det_scores", "query_det_feats"))),
    )
    report = evaluate_search_results(results, data)
    assert report["num_queries"] == 2 and report["mAP"] == pytest.approx(100.0) and report["top1"] == 100.0
    assert report["det_recall"] == pytest.approx(100.0)
