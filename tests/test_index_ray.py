"""Indexing on a local Ray instance (two workers) builds the same index as the local engine;
a failing shard is retried; a rerun after an interruption skips the finished shards.

Starting Ray and its workers (each importing torch) takes most of the time: the equality and
retry test runs in CI, the rerun test is marked slow (`python -m pytest -m slow
tests/test_index_ray.py`); resuming from kept shards is also tested with the local engine
(tests/test_index_shards.py).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from personsearch.index import LocalEngine, SearchModelEmbedder, index_gallery  # noqa: E402
from personsearch.index.ray_engine import RayEngine, ShardFailedError  # noqa: E402
from test_index_fake_model import FakeSearchModel, paint_scene  # noqa: E402

TESTS = str(Path(__file__).resolve().parent)
MAGENTA = (250, 0, 250)  # the picture the flaky model fails on


class FlakyEmbedder(SearchModelEmbedder):
    """Fails on a batch holding a magenta picture while `marker` does not exist, then creates it."""

    def __init__(self, marker: Path, failures: int) -> None:
        super().__init__(FakeSearchModel(), score_threshold=0.1, batch_size=2)
        self.marker, self.failures = marker, failures

    def __call__(self, images):
        if any(np.asarray(image)[0, 0].tolist() == list(MAGENTA) for image in images):
            seen = int(self.marker.read_text()) if self.marker.exists() else 0
            if seen < self.failures:
                self.marker.write_text(str(seen + 1))
                raise RuntimeError("simulated worker failure")
        return super().__call__(images)


@dataclass(frozen=True)
class FlakySpec:
    marker: str
    failures: int = 0

    def build(self):
        return FlakyEmbedder(Path(self.marker), self.failures)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": TESTS}})
    yield
    ray.shutdown()


@pytest.fixture
def gallery(tmp_path):
    folder = tmp_path / "gallery"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(11):
        colours = [tuple(int(v) for v in rng.integers(40, 255, 3)) for _ in range(2)]
        paint_scene(folder / f"{i:02d}.png", [MAGENTA, colours[0]] if i == 7 else colours)
    return folder


def build(engine, gallery, out, **kwargs):
    return index_gallery(engine, gallery, model_id="fake", index_path=out, score_threshold=0.1, shard_size=3,
                         progress=False, **kwargs)


def same_index(a, b):
    assert [image.name for image in a.images] == [image.name for image in b.images]
    for name in ("features", "boxes", "scores", "image_index", "ids"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_ray_engine_equals_local_and_retries_a_failed_shard(local_ray, gallery, tmp_path):
    local = build(LocalEngine(FlakySpec(str(tmp_path / "unused")).build()), gallery, tmp_path / "local.npz")
    assert len(local.images) == 11 and local.num_detections == 22

    spec = FlakySpec(str(tmp_path / "marker"), failures=1)
    distributed = build(RayEngine(spec, workers=2, retries=1), gallery, tmp_path / "ray.npz",
                        work_dir=tmp_path / "shards")
    assert (tmp_path / "marker").read_text() == "1"  # the shard with picture 07 failed once, then passed
    same_index(distributed, local)
    assert distributed.stats == {"processed": 11, "resumed": 0, "reused": 0, "skipped": 0}
    assert not (tmp_path / "shards").exists()  # shard results are dropped once the index is saved


@pytest.mark.slow
def test_rerun_after_a_failure_skips_finished_shards(local_ray, gallery, tmp_path):
    local = build(LocalEngine(FlakySpec(str(tmp_path / "unused")).build()), gallery, tmp_path / "local.npz")
    marker = tmp_path / "marker"
    with pytest.raises(ShardFailedError, match="06.png .. 08.png failed 2 times"):
        build(RayEngine(FlakySpec(str(marker), failures=5), workers=2, retries=1), gallery, tmp_path / "ray.npz",
              work_dir=tmp_path / "shards")
    kept = sorted((tmp_path / "shards").glob("*.npz"))
    assert 1 <= len(kept) <= 3  # shards finished before the failure stopped the run (of 4)

    rerun = build(RayEngine(FlakySpec(str(marker), failures=0), workers=2), gallery, tmp_path / "ray.npz",
                  work_dir=tmp_path / "shards")
    assert rerun.stats["resumed"] == 3 * len(kept) and rerun.stats["processed"] == 11 - 3 * len(kept)
    same_index(rerun, local)
