"""Searching with the SSDLite person detector in front of the shipped one-step model."""

import numpy as np
import torch

from personsearch.api import PersonSearcher
from personsearch.commands.search import default_checkpoint
from personsearch.data.synth.world import SynthWorld
from personsearch.index import image_to_tensor
from personsearch.models import load_ssdlite_person_detector


def test_gallery_boxes_come_from_the_detector_and_features_from_the_model(tmp_path):
    gallery = tmp_path / "scenes"
    gallery.mkdir()
    scene = SynthWorld(size="demo", seed=5).scene(4)  # a crowded street scene
    scene.image.save(gallery / "scene.png")
    searcher = PersonSearcher.from_checkpoint(default_checkpoint(), detector="ssdlite", score_threshold=0.3,
                                              progress=False)
    assert searcher.model_id.endswith("+ssdlite")
    index = searcher.index(gallery)

    tensor = image_to_tensor(scene.image, "cpu")
    with torch.inference_mode():
        detections = load_ssdlite_person_detector()([tensor])[0]
    keep = detections["scores"] >= 0.3
    assert index.num_detections == int(keep.sum()) >= 3
    np.testing.assert_allclose(index.boxes, detections["boxes"][keep].numpy(), atol=1e-4)

    # a gallery detection's feature is the model's feature of that box, so querying it finds itself first
    box = tuple(float(v) for v in index.boxes[1])
    hits = searcher.search(gallery / "scene.png", box, top_k=3)
    assert hits[0].box == box and abs(hits[0].score - 1.0) < 1e-4
