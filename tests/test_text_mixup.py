import random

import pytest
import torch

from personsearch.text.losses import target_matrix
from personsearch.text.mixup import pixel_caption_mixup, sample_feature_mix


def test_feature_mix_is_deterministic_and_mixes_tokens_masks_and_labels():
    mix = sample_feature_mix(4, alpha=1.0, rng=random.Random(3))
    again = sample_feature_mix(4, alpha=1.0, rng=random.Random(3))
    assert mix.lam == again.lam and torch.equal(mix.perm, again.perm)
    assert 0.0 < mix.lam < 1.0 and sorted(mix.perm.tolist()) == [0, 1, 2, 3]
    tokens = torch.randn(4, 7, 16)
    mixed = mix.tokens(tokens)
    assert mixed.shape == tokens.shape
    assert torch.allclose(mixed[1], mix.lam * tokens[1] + (1 - mix.lam) * tokens[mix.perm[1]])
    mask = torch.tensor([[1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0]] * 2).float()
    assert torch.equal(mix.mask(mask)[0], torch.maximum(mask[0], mask[mix.perm[0]]))
    labels = torch.eye(4)
    soft = mix.labels(labels)
    assert torch.allclose(soft.sum(1), torch.ones(4))
    for i in range(4):
        j = int(mix.perm[i])
        if j != i:
            assert soft[i, i] == pytest.approx(mix.lam) and soft[i, j] == pytest.approx(1 - mix.lam)
    targets = target_matrix(soft)
    assert torch.allclose(targets.sum(1), torch.ones(4))
    assert (targets.diagonal() > 0).all()


def test_beta_weight_follows_alpha():
    small = [sample_feature_mix(2, alpha=0.1, rng=random.Random(s)).lam for s in range(200)]
    large = [sample_feature_mix(2, alpha=8.0, rng=random.Random(s)).lam for s in range(200)]
    extreme = lambda xs: sum(x < 0.1 or x > 0.9 for x in xs)  # noqa: E731
    assert extreme(small) > 120 and extreme(large) < 20
    with pytest.raises(ValueError):
        sample_feature_mix(2, alpha=0.0, rng=random.Random(0))


def test_pixel_caption_mixup_averages_and_concatenates():
    a, b = torch.zeros(3, 4, 2), torch.ones(3, 4, 2)
    image, caption = pixel_caption_mixup(a, "a man in red.", b, "a woman in blue.")
    assert torch.allclose(image, torch.full((3, 4, 2), 0.5))
    assert caption == "a man in red. a woman in blue."
