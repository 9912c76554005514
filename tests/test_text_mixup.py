import random

import pytest
import torch

from personsearch.text.losses import target_matrix
from personsearch.text.mixup import pixel_caption_mixup, sample_feature_mix
from personsearch.text.training_model import soft_identity_labels


def test_feature_mix_is_deterministic_and_mixes_tokens_masks_and_labels_per_sample():
    mix = sample_feature_mix(8, p=0.5, alpha=1.0, rng=random.Random(3))
    again = sample_feature_mix(8, p=0.5, alpha=1.0, rng=random.Random(3))
    assert torch.equal(mix.lam, again.lam) and torch.equal(mix.perm, again.perm)
    assert sorted(mix.perm.tolist()) == list(range(8))
    mixed_rows = (mix.lam < 1).nonzero().flatten().tolist()
    assert 0 < len(mixed_rows) < 8  # some samples mixed, some not, in the same batch
    tokens = torch.randn(8, 7, 16)
    out = mix.tokens(tokens)
    maps = mix.tokens(torch.randn(8, 3, 5, 4))  # CNN maps broadcast too
    assert maps.shape == (8, 3, 5, 4)
    for i in range(8):
        lam, j = float(mix.lam[i]), int(mix.perm[i])
        assert torch.allclose(out[i], lam * tokens[i] + (1 - lam) * tokens[j], atol=1e-6)
        if i not in mixed_rows:
            assert torch.equal(out[i], tokens[i])
    mask = torch.tensor([[1, 1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0]] * 4).float()
    got = mix.mask(mask)
    for i in range(8):
        want = torch.maximum(mask[i], mask[mix.perm[i]]) if i in mixed_rows else mask[i]
        assert torch.equal(got[i], want)
    ids, weights = mix.slots(torch.arange(8)[:, None], torch.ones(8, 1))
    assert ids.shape == (8, 2) and torch.equal(ids[:, 1], mix.perm)
    assert torch.allclose(weights.sum(1), torch.ones(8))
    assert torch.allclose(weights[:, 0], mix.lam)
    soft = soft_identity_labels(ids, weights, 8)
    targets = target_matrix(soft)
    assert torch.allclose(targets.sum(1), torch.ones(8))
    assert (targets.diagonal() > 0).all()


def test_mixup_probability_is_per_sample():
    mixed = [float((sample_feature_mix(64, p=0.5, alpha=1.0, rng=random.Random(s)).lam < 1).float().mean())
             for s in range(20)]
    assert all(0.25 < share < 0.75 for share in mixed), mixed
    assert (sample_feature_mix(16, p=0.0, alpha=1.0, rng=random.Random(0)).lam == 1).all()


def test_beta_weight_follows_alpha():
    small = [float(sample_feature_mix(1, p=1.0, alpha=0.1, rng=random.Random(s)).lam) for s in range(200)]
    large = [float(sample_feature_mix(1, p=1.0, alpha=8.0, rng=random.Random(s)).lam) for s in range(200)]
    extreme = lambda xs: sum(x < 0.1 or x > 0.9 for x in xs)  # noqa: E731
    assert extreme(small) > 120 and extreme(large) < 20
    with pytest.raises(ValueError):
        sample_feature_mix(2, p=0.5, alpha=0.0, rng=random.Random(0))


def test_pixel_caption_mixup_averages_and_concatenates():
    a, b = torch.zeros(3, 4, 2), torch.ones(3, 4, 2)
    image, caption = pixel_caption_mixup(a, "a man in red.", b, "a woman in blue.")
    assert torch.allclose(image, torch.full((3, 4, 2), 0.5))
    assert caption == "a man in red. a woman in blue."
