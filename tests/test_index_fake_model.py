"""A tiny deterministic stand-in for the person search model, and functions that paint galleries.

Contract (same as personsearch.models.search_model): in eval mode `model(images)` takes
float CHW RGB tensors in [0, 1] and returns per image {"boxes", "scores", "embeddings"};
`extract_query_features(images, boxes_list)` returns (Q, D) normalised features.
Here the boxes are the cells of a `columns` x `rows` grid, a cell's score is its mean
brightest channel, and its embedding is its mean colour minus grey, L2-normalised (D = 3).
Other test modules import this one (`from test_index_fake_model import ...`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


class FakeSearchModel(torch.nn.Module):
    def __init__(self, *, columns: int = 2, rows: int = 1, grey: float = 0.5) -> None:
        super().__init__()
        self.columns = columns
        self.rows = rows
        self.register_buffer("grey", torch.full((3,), grey))
        self.images_seen = 0
        self.calls = 0

    def grid_boxes(self, height: int, width: int) -> torch.Tensor:
        xs = torch.linspace(0, width, self.columns + 1).round()
        ys = torch.linspace(0, height, self.rows + 1).round()
        return torch.tensor(
            [[xs[c], ys[r], xs[c + 1], ys[r + 1]] for r in range(self.rows) for c in range(self.columns)],
            dtype=torch.float32,
        )

    def _crop(self, image: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        return image[:, y1:y2, x1:x2]

    def _embed(self, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        means = torch.stack([self._crop(image, box).mean(dim=(1, 2)) for box in boxes]) if len(boxes) else torch.zeros(0, 3)
        return F.normalize(means - self.grey, dim=1)

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        assert not self.training, "the fake model only implements eval mode"
        self.calls += 1
        self.images_seen += len(images)
        outputs = []
        for image in images:
            boxes = self.grid_boxes(image.shape[1], image.shape[2]).to(image.device)
            scores = torch.stack([self._crop(image, box).amax(dim=0).mean() for box in boxes])
            outputs.append({"boxes": boxes, "scores": scores, "embeddings": self._embed(image, boxes)})
        return outputs

    def extract_query_features(self, images: list[torch.Tensor], boxes_list: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([self._embed(image, boxes) for image, boxes in zip(images, boxes_list)])


def embedding_of(colour: tuple[int, int, int]) -> np.ndarray:
    vector = np.asarray(colour, dtype=np.float64) / 255.0 - 0.5
    return vector / np.linalg.norm(vector)


def paint_scene(path: str | Path | None, colours: list[tuple[int, int, int]], *, size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A scene of vertical stripes, one per colour (the fake model's grid cells when columns match)."""
    width, height = size
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    edges = np.linspace(0, width, len(colours) + 1).round().astype(int)
    for colour, left, right in zip(colours, edges[:-1], edges[1:]):
        pixels[:, left:right] = colour
    image = Image.fromarray(pixels)
    if path is not None:
        image.save(path)
    return image


def test_fake_model_follows_the_contract():
    model = FakeSearchModel(columns=2).eval()
    image = torch.from_numpy(np.array(paint_scene(None, [(255, 0, 0), (0, 0, 0)]))).permute(2, 0, 1).float() / 255
    (out,) = model([image])
    assert out["boxes"].tolist() == [[0, 0, 32, 48], [32, 0, 64, 48]]
    assert out["scores"].tolist() == [1.0, 0.0]
    assert torch.allclose(out["embeddings"].norm(dim=1), torch.ones(2))
    assert np.allclose(out["embeddings"][0].numpy(), embedding_of((255, 0, 0)), atol=1e-6)
    query = model.extract_query_features([image], [torch.tensor([[4.0, 4.0, 20.0, 40.0]])])
    assert query.shape == (1, 3)
    assert np.allclose(query[0].numpy(), embedding_of((255, 0, 0)), atol=1e-6)
    assert model.images_seen == 1
