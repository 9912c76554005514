"""A source's random subset of training images (`max_images`, `subset_seed`), as the paper's
LUPerson30k: its size, its seed, the loading order kept, and its errors."""

import pytest
from PIL import Image

from personsearch.config import load_config
from personsearch.data.unify import load_sources


def _luperson_folder(root, count=12):
    root.mkdir()
    for i in range(count):
        Image.new("RGB", (8, 16), (i * 20, 0, 0)).save(root / f"crop{i:02d}.png")
    return root


def _paths(unified):
    return [sample.image_path for sample in unified.samples]


def test_max_images_keeps_a_seeded_subset_in_loading_order(tmp_path):
    root = _luperson_folder(tmp_path / "lup")
    everything = _paths(load_sources({"lup": {"format": "luperson", "root": str(root)}}))
    assert len(everything) == 12

    def subset(**options):
        return load_sources({"lup": {"format": "luperson", "root": str(root), **options}})

    first = subset(max_images=5, subset_seed=3)
    assert len(first.samples) == 5 and first.sources[0].num_images == 5 and first.num_pids == 5
    paths = _paths(first)
    assert paths == sorted(paths) and set(paths) <= set(everything)
    assert _paths(subset(max_images=5, subset_seed=3)) == paths
    assert _paths(subset(max_images=5, subset_seed=4)) != paths
    assert _paths(subset(max_images=5)) == _paths(subset(max_images=5, subset_seed=0))
    assert _paths(subset(max_images=30)) == everything  # a smaller folder is taken whole
    assert _paths(subset(max_images=None)) == everything
    with pytest.raises(ValueError, match=r"source 'lup': max_images must be a whole number >= 1; got 0"):
        subset(max_images=0)


def test_the_paper_preset_takes_30k_luperson_crops():
    luperson = load_config("preset:pretrain_hybrid")["data"]["sources"]["luperson"]
    assert (luperson["max_images"], luperson["subset_seed"]) == (30000, 0)
