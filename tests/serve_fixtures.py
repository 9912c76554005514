"""Tiny galleries and services for the web app tests (the fake search model, a tiny text model)."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from personsearch.api import PersonSearcher
from personsearch.serve.service import SearchService
from test_index_fake_model import FakeSearchModel, paint_scene

RED, GREEN, BLUE = (230, 30, 30), (30, 220, 40), (20, 40, 230)


def paint_gallery(root: Path) -> Path:
    """Two scenes of two people each (the fake model's grid cells), and a query picture beside the gallery."""
    gallery = root / "photos"
    gallery.mkdir()
    paint_scene(gallery / "a.png", [GREEN, BLUE])
    paint_scene(gallery / "b.png", [BLUE, RED])
    paint_scene(root / "query.png", [RED, GREEN], size=(80, 60))
    return gallery


def png_bytes(colours, size=(80, 60)) -> bytes:
    buffer = io.BytesIO()
    paint_scene(None, colours, size=size).save(buffer, format="PNG")
    return buffer.getvalue()


def text_checkpoint(path: Path) -> Path:
    """A randomly initialised tiny text model (ctlg_tiny's encoders) saved as a training checkpoint."""
    from personsearch.config import load_config
    from personsearch.text.training_model import build_text_training_model

    config = load_config("preset:ctlg_tiny")
    kwargs = {"encoder": config["model"]["encoder"], "loss": config["model"]["loss"]}
    torch.manual_seed(0)
    model = build_text_training_model(**kwargs, pretrained=False)
    torch.save({"model_kwargs": kwargs, "model": model.state_dict()}, path)
    return path


def fake_service(gallery: Path, *, text_searcher=None, frame_stride: int = 1) -> SearchService:
    searcher = PersonSearcher(model=FakeSearchModel(), score_threshold=0.1, progress=False)
    searcher.index(gallery, frame_stride=frame_stride)
    return SearchService(person_searcher=searcher, text_searcher=text_searcher)
