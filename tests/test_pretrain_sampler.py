"""The multi-source sampler's per-source weights (`data.source_weights`): shares, reproducibility,
the plain order when weights are equal, disjoint process slices, and errors naming the problem."""

from collections import Counter

import pytest

from personsearch.config import ConfigError
from personsearch.data.multi_source_sampler import MultiSourceBatchSampler
from personsearch.methods.pretrain import active_source_weights

# detection: "crowd" 10 samples, "street" 10; re-ID: "msmt" 30, "lup" 10
SOURCES = ["crowd"] * 10 + ["street"] * 10 + ["msmt"] * 30 + ["lup"] * 10
TASKS = ["detection"] * 20 + ["reid"] * 40


def _sampler(**kwargs):
    options = dict(tasks=TASKS, sources=SOURCES, batch_size=4, seed=5, batches_per_epoch=500)
    return MultiSourceBatchSampler(**{**options, **kwargs})


def _shares(batches):
    counts = Counter(SOURCES[i] for batch in batches for i in batch)
    return {name: count / sum(counts.values()) for name, count in counts.items()}


def test_weights_set_each_sources_share_of_its_task():
    batches = list(_sampler(source_weights={"street": 3.0, "lup": 0.0}))
    assert all(sum(TASKS[i] == "detection" for i in b) == 2 for b in batches)  # the task share stays
    shares = _shares(batches)
    # detection: equal sizes, street 3x per sample -> 3/4 of the detection half; lup never drawn
    assert shares["street"] == pytest.approx(0.375, abs=0.03) and shares["crowd"] == pytest.approx(0.125, abs=0.03)
    assert shares["msmt"] == pytest.approx(0.5) and "lup" not in shares
    # unweighted: sources in proportion to their size (msmt 3/4 of the re-ID half)
    plain = _shares(list(_sampler()))
    assert plain["msmt"] == pytest.approx(0.375, abs=0.03) and plain["lup"] == pytest.approx(0.125, abs=0.03)


def test_weighted_order_is_a_function_of_seed_and_epoch():
    weights = {"crowd": 2.0, "msmt": 0.5}
    first = list(_sampler(source_weights=weights))
    assert list(_sampler(source_weights=weights)) == first
    other_epoch = _sampler(source_weights=weights)
    other_epoch.set_epoch(1)
    assert list(other_epoch) != first
    assert list(_sampler(source_weights=weights, seed=6)) != first


def test_equal_weights_give_the_unweighted_order():
    plain = list(_sampler())
    assert list(_sampler(source_weights={"crowd": 2.0, "street": 2.0, "msmt": 1.0})) == plain
    assert list(_sampler(source_weights=None)) == plain


def test_processes_take_disjoint_slices_of_the_same_weighted_batches():
    weights = {"street": 3.0, "lup": 0.0}
    ranks = [list(_sampler(batch_size=2, num_replicas=2, rank=r, source_weights=weights, batches_per_epoch=8))
             for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 8
    for first, second in zip(*ranks):
        assert not set(first) & set(second)  # no sample twice in a global batch of 4 (pools hold 10 and more)
        assert [TASKS[i] for i in first] == [TASKS[i] for i in second] == ["detection", "reid"]
    assert not any(SOURCES[i] == "lup" for rank in ranks for batch in rank for i in batch)


def test_bad_weights_are_named():
    with pytest.raises(ValueError, match=r"unknown source\(s\) \['ecp'\]; the sources are crowd, street, msmt, lup"):
        _sampler(source_weights={"ecp": 1.0})
    with pytest.raises(ValueError, match=r">= 0; got \{'msmt': -1.0\}"):
        _sampler(source_weights={"msmt": -1.0, "crowd": 2.0})
    with pytest.raises(ValueError, match="every detection source"):
        _sampler(source_weights={"crowd": 0.0, "street": 0})
    with pytest.raises(ValueError, match="needs `sources`"):
        MultiSourceBatchSampler(tasks=TASKS, batch_size=4, source_weights={"crowd": 2.0})


def test_config_weights_of_switched_off_sources_are_dropped_and_unknown_ones_refused():
    data = {"sources": {"crowd": {"format": "crowdhuman"}, "street": None}, "source_weights": {"crowd": 2, "street": 3}}
    assert active_source_weights(data) == {"crowd": 2}
    assert active_source_weights({"sources": {"crowd": {}}, "source_weights": None}) is None
    with pytest.raises(ConfigError, match=r"data.source_weights names unknown source\(s\) \['lup'\]; the sources are crowd"):
        active_source_weights({"sources": {"crowd": {}}, "source_weights": {"lup": 1.0}})
    with pytest.raises(ConfigError, match=r"data.source_weights must be finite numbers >= 0; got \{'crowd': -2\}"):
        active_source_weights({"sources": {"crowd": {}}, "source_weights": {"crowd": -2}})


def test_the_command_refuses_bad_weights_before_reading_any_data(tmp_path, capsys):
    from personsearch.cli import main

    missing = [f"data.sources.{s}.root={tmp_path / 'absent' / s}" for s in ("crowdhuman", "ecp", "msmt17", "cuhk03")]
    argv = ["pretrain", "--config", "preset:pretrain_tiny", f"output_dir={tmp_path / 'run'}", "data.sources.luperson=null",
            "data.source_weights={ecp: -1}", *missing]
    assert main(argv) == 1
    assert "data.source_weights must be finite numbers >= 0; got {'ecp': -1}" in capsys.readouterr().err
    assert not (tmp_path / "absent").exists() and not (tmp_path / "run").exists()
