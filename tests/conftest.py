import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def fake_loader(monkeypatch):
    """Route checkpoint loading (`personsearch.models.search_model.load_search_model`) to the
    fake search model of test_index_fake_model; returns the list of models built so far."""
    from personsearch.models import search_model
    from test_index_fake_model import FakeSearchModel

    models = []

    def load_search_model(path, device="cpu"):
        models.append(FakeSearchModel())
        return models[-1]

    monkeypatch.setattr(search_model, "load_search_model", load_search_model)
    return models
