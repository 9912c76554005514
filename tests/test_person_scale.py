import numpy as np
import pytest
import torch

from personsearch.data.records import SceneRecord
from personsearch.models.detect_then_embed import DetectThenEmbed
from personsearch.models.person_scale import (
    MAX_SIDE,
    embed_at_person_scale,
    input_scale,
    person_scale_factors,
    training_person_height,
)
from personsearch.models.search_model import build_search_model
from test_demo import TINY_MODEL


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_search_model(**TINY_MODEL).eval()


def test_factors_bring_each_box_to_the_person_height_in_half_octave_steps():
    boxes = torch.tensor([[0, 0, 10, 40], [0, 0, 10, 160], [0, 0, 10, 56], [0, 0, 10, 80]], dtype=torch.float32)
    factors = person_scale_factors(boxes, 80.0, (200, 300)).tolist()
    assert factors[:2] == pytest.approx([2.0, 0.5])
    assert factors[2] == pytest.approx(2 ** 0.5)  # 80 / 56 = 1.43 rounds to the nearest half octave
    assert factors[3] == pytest.approx(1.0)
    huge = person_scale_factors(torch.tensor([[0, 0, 5, 5]], dtype=torch.float32), 80.0, (1000, 1000))
    assert huge.item() == pytest.approx(MAX_SIDE / 1000)  # never a picture above MAX_SIDE pixels


def test_input_scale_resizes_by_the_factor_and_restores_the_model(model):
    image = torch.rand(3, 90, 120)
    with input_scale(model, image.shape[-2:], 2.0):
        resized, _ = model.transform([image])
        assert resized.image_sizes == [(180, 240)]
    assert model.transform.min_size == (TINY_MODEL["min_size"],) and model.transform.max_size == TINY_MODEL["max_size"]
    resized, _ = model.transform([image])
    assert resized.image_sizes == [(128, 170)]


def test_a_box_gets_the_same_feature_whatever_else_is_in_the_picture(model):
    torch.manual_seed(1)
    image = torch.rand(3, 120, 160)
    small, large = torch.tensor([[10.0, 10.0, 30.0, 40.0]]), torch.tensor([[60.0, 5.0, 120.0, 115.0]])
    with torch.inference_mode():
        both = embed_at_person_scale(model, [image], [torch.cat([small, large])], 60.0)
        alone = embed_at_person_scale(model, [image], [small], 60.0)
        with input_scale(model, image.shape[-2:], 2.0):  # 30 px tall -> 60 px
            by_hand = model.extract_query_features([image], [small])
        plain = model.extract_query_features([image], [small])
    assert both.shape == (2, TINY_MODEL["embedding_dim"])
    assert torch.allclose(both[0], alone[0], atol=1e-5) and torch.allclose(alone, by_hand, atol=1e-5)
    assert not torch.allclose(alone, plain, atol=1e-3)


def test_detect_then_embed_uses_the_person_scale_for_gallery_and_query(model):
    class TwoPeople(torch.nn.Module):
        def forward(self, images):
            boxes = torch.tensor([[10.0, 10.0, 30.0, 40.0], [60.0, 5.0, 120.0, 115.0]])
            return [{"boxes": boxes, "scores": torch.tensor([0.9, 0.8])} for _ in images]

    pipeline = DetectThenEmbed(detector=TwoPeople(), search_model=model, person_height=60.0)
    image = torch.rand(3, 120, 160)
    found = pipeline([image])[0]
    query = pipeline.extract_query_features([image], [found["boxes"][1:]])
    assert torch.allclose(found["embeddings"][1], query[0], atol=1e-5)
    with pytest.raises(ValueError, match="person_height"):
        DetectThenEmbed(detector=TwoPeople(), search_model=model, person_height=0.0)


def test_training_person_height_is_the_median_at_the_model_input_size(tmp_path):
    records = [SceneRecord(name=f"{i}.jpg", image_path="", boxes=np.array(boxes, np.float32), pids=np.zeros(len(boxes)),
                           width=800, height=400)
               for i, boxes in enumerate([[[0, 0, 10, 100], [0, 0, 10, 300]], [[0, 0, 10, 200]], []])]
    # min side 400 -> 200: factor 0.5, heights 50, 150, 100
    assert training_person_height(records, min_size=(100, 200), max_size=1000) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="no person boxes"):
        training_person_height(records[2:], min_size=200, max_size=1000)
